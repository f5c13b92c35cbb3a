package loader_test

import (
	"sync"
	"testing"

	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// BenchmarkLookups is 50 concurrent lookups by id (one op) through fresh
// loaders, as 50 aliased user(id) fields make them: one batch, of
// single-id calls (offset vendor) or from one directory read (snapshot).
// The time includes the loader's batch wait (loader.Wait).
//
//	go test -run '^$' -bench . -benchmem ./graph/loader
func BenchmarkLookups(b *testing.B) {
	users := providertest.Dataset(300)
	for _, paging := range []driver.Paging{driver.PagingOffset, driver.PagingSnapshot} {
		b.Run(paging.String(), func(b *testing.B) {
			m := memory.New(users, &memory.Options{Paging: paging})
			src, err := providers.NewSource(providers.Info{Key: "m"}, m, &providers.SourceOptions{CacheTTL: 1 << 62})
			if err != nil {
				b.Fatal(err)
			}
			dir, err := providers.NewDirectory(src)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				l := loader.New(dir)
				var wg sync.WaitGroup
				for i := range 50 {
					wg.Go(func() {
						id := users[(i*7)%len(users)].ID
						if u, err := l.User(b.Context(), "m", id); err != nil || u == nil || u.ID != id {
							b.Errorf("User(%q) = %v, %v", id, u, err)
						}
					})
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkListed hands fresh loaders a page of 100 listed users (one
// op), as every users page does; they are primed only on a first lookup.
func BenchmarkListed(b *testing.B) {
	users := providertest.Dataset(100)
	src, err := providers.NewSource(providers.Info{Key: "m"}, memory.New(users, nil), nil)
	if err != nil {
		b.Fatal(err)
	}
	dir, err := providers.NewDirectory(src)
	if err != nil {
		b.Fatal(err)
	}
	page, err := dir.Page(b.Context(), providers.PageRequest{Count: len(users)})
	if err != nil || len(page.Edges) != len(users) {
		b.Fatalf("page: %v", err)
	}
	for b.Loop() {
		loader.New(dir).Listed(page.Edges)
	}
}
