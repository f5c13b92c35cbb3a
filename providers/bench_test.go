package providers_test

import (
	"context"
	"testing"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// slicePages is an offset provider that costs nearly nothing: it answers
// with a window of its slice, unfiltered, so that a benchmark measures
// what is above it.
type slicePages []driver.User

func (s slicePages) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, MaxPageSize: 1000, Totals: true, Fields: driver.AllFields}
}

func (s slicePages) ListUsers(_ context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	lo := min(req.Offset, len(s))
	hi := min(lo+req.Limit, len(s))
	return &driver.ListPage{Users: s[lo:hi:hi], Total: len(s)}, nil
}

// BenchmarkPage assembles one merged page of 100 users (one op) from an
// offset provider and a cached snapshot provider, as users(first: 100)
// asks the directory for it: the edges and their cuts.
//
//	go test -run '^$' -bench Page -benchmem ./providers
func BenchmarkPage(b *testing.B) {
	users := providertest.Dataset(2700)
	offset, err := providers.NewSource(providers.Info{Key: "concur"}, slicePages(users[:2400]), nil)
	if err != nil {
		b.Fatal(err)
	}
	snapshot, err := providers.NewSource(providers.Info{Key: "getbill"},
		memory.New(users[2400:], &memory.Options{Paging: driver.PagingSnapshot}), &providers.SourceOptions{CacheTTL: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	dir, err := providers.NewDirectory(offset, snapshot)
	if err != nil {
		b.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		keys []string
	}{{"offset", []string{"concur"}}, {"snapshot", []string{"getbill"}}} {
		b.Run(tt.name, func(b *testing.B) {
			for b.Loop() {
				p, err := dir.Page(b.Context(), providers.PageRequest{Keys: tt.keys, Count: 100})
				if err != nil || len(p.Edges) != 100 || len(p.Failed) > 0 {
					b.Fatalf("page: %v, %d edges, %v", err, len(p.Edges), p.Failed)
				}
			}
		})
	}
}
