package providers_test

import (
	"context"
	"testing"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// slicePages is an offset provider that costs nearly nothing: it answers
// with a window of its slice, unfiltered, so that a benchmark measures
// what is above it.
type slicePages []providers.User

func (s slicePages) Describe() providers.Description {
	return providers.Description{Paging: providers.PagingOffset}
}

func (s slicePages) ListUsers(_ context.Context, req providers.ListRequest) (*providers.ListPage, error) {
	lo := min(req.Start.Offset, len(s))
	hi := min(lo+req.Limit, len(s))
	return &providers.ListPage{Users: s[lo:hi:hi], Total: len(s)}, nil
}

// BenchmarkPage assembles one merged page of 100 users (one op) from an
// offset provider and a cached snapshot provider, as users(first: 100)
// asks the directory for it: the edges and their cuts.
//
//	go test -run '^$' -bench Page -benchmem ./providers
func BenchmarkPage(b *testing.B) {
	users := providertest.Dataset(2700)
	offset := providers.NewSource(providers.Info{Key: "concur"}, slicePages(users[:2400]), nil)
	snapshot := providers.NewSource(providers.Info{Key: "getbill"},
		memory.New(users[2400:], &memory.Options{Paging: providers.PagingSnapshot}), &providers.SourceOptions{CacheTTL: 1 << 62})
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
