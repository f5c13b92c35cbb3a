package graph

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dirgate/dirgate/graph/model"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// slicePages is an offset provider that costs nearly nothing: it answers
// with a window of its slice, so that a benchmark measures what is above
// it.
type slicePages []driver.User

func (s slicePages) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, MaxPageSize: 1000, Totals: true, Fields: driver.AllFields,
		Filters: driver.Fields(driver.FieldEmail, driver.FieldID)}
}

func (s slicePages) ListUsers(_ context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	lo := min(req.Offset, len(s))
	hi := min(lo+req.Limit, len(s))
	return &driver.ListPage{Users: s[lo:hi:hi], Total: len(s)}, nil
}

// BenchmarkUsersConnection resolves users(first: 100) (one op): the
// directory's page, the connection's edges, nodes and cursors, and the
// loaders primed with the users listed. It is what the users resolver
// costs before gqlgen marshals the selection.
//
//	go test -run '^$' -bench UsersConnection -benchmem ./graph
func BenchmarkUsersConnection(b *testing.B) {
	src, err := providers.NewSource(providers.Info{Key: "concur", Kind: "concur"}, slicePages(providertest.Dataset(2400)), nil)
	if err != nil {
		b.Fatal(err)
	}
	dir, err := providers.NewDirectory(src)
	if err != nil {
		b.Fatal(err)
	}
	r := &Resolver{Dir: dir, Cursors: relay.NewCursors([]byte("0123456789abcdef")), Logger: slog.New(slog.DiscardHandler), DefaultPageSize: 50, MaxPageSize: 1000}
	first := 100
	filter := &model.UserFilter{Providers: []string{"concur"}}
	for b.Loop() {
		conn, err := r.users(b.Context(), &first, nil, nil, nil, filter)
		if err != nil || len(conn.Edges) != first {
			b.Fatalf("users: %v", err)
		}
	}
}
