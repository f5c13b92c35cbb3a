package providers_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// fixture is a directory of memory providers, one per paging style, and
// the merged ground truth.
type fixture struct {
	dir   *providers.Directory
	mems  []*memory.Provider
	truth []string // "key/id" in merged order
}

func newFixture(t *testing.T, sizes ...int) *fixture {
	t.Helper()
	styles := []driver.Paging{driver.PagingOffset, driver.PagingSnapshot, driver.PagingCursor}
	f := &fixture{}
	var sources []*providers.Source
	all := providertest.Dataset(slices.Max(sizes))
	for i, n := range sizes {
		key := fmt.Sprintf("p%d", i)
		m := memory.New(all[:n], &memory.Options{Paging: styles[i%len(styles)], MaxPageSize: 10})
		f.mems = append(f.mems, m)
		sources = append(sources, mustSource(t, providers.Info{Key: key}, m, nil))
		for _, u := range all[:n] {
			f.truth = append(f.truth, key+"/"+u.ID)
		}
	}
	dir, err := providers.NewDirectory(sources...)
	if err != nil {
		t.Fatal(err)
	}
	f.dir = dir
	return f
}

func names(edges []providers.Edge) []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = e.Source.Key + "/" + e.User.ID
	}
	return out
}

// walk follows the connection to its end, forwards or backwards, and
// returns the users in merged order.
func walk(t *testing.T, dir *providers.Directory, n int, backward bool) []string {
	t.Helper()
	var got []string
	var cut *providers.Cut
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("no end")
		}
		req := providers.PageRequest{Count: n, Backward: backward}
		if backward {
			req.Before = cut
		} else {
			req.After = cut
		}
		p, err := dir.Page(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Failed) > 0 {
			t.Fatalf("failed: %v", p.Failed[0])
		}
		more := p.HasNextPage
		if backward {
			more = p.HasPreviousPage
		}
		if more && len(p.Edges) != n {
			t.Fatalf("page %d has %d users, want %d (more follow)", pages, len(p.Edges), n)
		}
		if backward {
			got = append(names(p.Edges), got...)
		} else {
			got = append(got, names(p.Edges)...)
		}
		if !more {
			return got
		}
		if backward {
			cut = &p.Edges[0].Cut
		} else {
			cut = &p.Edges[len(p.Edges)-1].Cut
		}
	}
}

func TestWalkEqualsGroundTruth(t *testing.T) {
	f := newFixture(t, 23, 0, 41, 17)
	for _, n := range []int{1, 3, 7, 16, 23, 24, 40, 81, 100, 1000} {
		for _, backward := range []bool{false, true} {
			got := walk(t, f.dir, n, backward)
			if !slices.Equal(got, f.truth) {
				t.Errorf("walk(n=%d, backward=%t) = %d users, want %d in order\n got %v\nwant %v", n, backward, len(got), len(f.truth), got, f.truth)
			}
		}
	}
}

func TestPageInfo(t *testing.T) {
	f := newFixture(t, 5, 5)
	first, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !first.HasNextPage || first.HasPreviousPage {
		t.Errorf("first page: next %t prev %t, want true false", first.HasNextPage, first.HasPreviousPage)
	}
	// A page that ends exactly at the end of the last provider.
	last, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 6, After: &first.Edges[3].Cut})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(last.Edges); !slices.Equal(got, f.truth[4:]) {
		t.Errorf("page after 4th = %v, want %v", got, f.truth[4:])
	}
	if last.HasNextPage || !last.HasPreviousPage {
		t.Errorf("last page: next %t prev %t, want false true", last.HasNextPage, last.HasPreviousPage)
	}
	// Between two cursors, both ways.
	for _, backward := range []bool{false, true} {
		p, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 10, After: &first.Edges[1].Cut, Before: &last.Edges[3].Cut, Backward: backward})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(p.Edges); !slices.Equal(got, f.truth[2:7]) {
			t.Errorf("between 2nd and 8th (backward %t) = %v, want %v", backward, got, f.truth[2:7])
		}
	}
	// Bounded by cursors of a backward page, which mark providers they
	// never reached as wholly before them.
	back, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 3, Backward: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, backward := range []bool{false, true} {
		p, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 10, After: &back.Edges[0].Cut, Backward: backward})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(p.Edges); !slices.Equal(got, f.truth[8:]) || p.HasPreviousPage != !backward || p.HasNextPage {
			t.Errorf("after the first edge of the last 3 (backward %t) = %v (prev %t, next %t), want %v (prev %t, next false)",
				backward, got, p.HasPreviousPage, p.HasNextPage, f.truth[8:], !backward)
		}
	}
	// first: 0 still tells whether there is anything.
	empty, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 0})
	if err != nil {
		t.Fatal(err)
	}
	if len(empty.Edges) != 0 || !empty.HasNextPage {
		t.Errorf("first 0: %d edges, next %t; want 0, true", len(empty.Edges), empty.HasNextPage)
	}
}

func TestFilterAndTotal(t *testing.T) {
	f := newFixture(t, 30, 20, 25)
	active := driver.Filter{}.With(driver.FieldActive, "true")
	smith := driver.Filter{}.With(driver.FieldLastName, "  SMITH ")
	for _, tt := range []struct {
		name   string
		filter driver.Filter
		keys   []string
	}{
		{"all", driver.Filter{}, nil},
		{"active", active, nil},
		{"lastName", smith, nil},
		{"active smiths of p0 and p2", active.With(driver.FieldLastName, "  SMITH "), []string{"p2", "p0"}},
	} {
		var want []string
		data := providertest.Dataset(30)
		for i, n := range []int{30, 20, 25} {
			key := fmt.Sprintf("p%d", i)
			if tt.keys != nil && !slices.Contains(tt.keys, key) {
				continue
			}
			for _, u := range data[:n] {
				if tt.filter.Match(&u) {
					want = append(want, key+"/"+u.ID)
				}
			}
		}
		p, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 1000, Filter: tt.filter, Keys: tt.keys})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(p.Edges); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, want)
		}
		small, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 2, Filter: tt.filter, Keys: tt.keys})
		if err != nil {
			t.Fatal(err)
		}
		if total, errs := small.TotalCount(t.Context()); total != len(want) || len(errs) > 0 {
			t.Errorf("%s: TotalCount = %d, %v; want %d", tt.name, total, errs, len(want))
		}
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t, 3, 3)
	p, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	good := p.Edges[1].Cut
	var unknown *providers.UnknownProviderError
	if _, err := f.dir.Page(t.Context(), providers.PageRequest{Count: 2, Keys: []string{"p0", "nope"}}); !errors.As(err, &unknown) || unknown.Key != "nope" {
		t.Errorf("unknown key: err = %v, want UnknownProviderError nope", err)
	}
	for _, tt := range []struct {
		name string
		cut  providers.Cut
		keys []string
	}{
		{"too few positions", providers.Cut{Edge: 0, Pos: good.Pos[:1]}, nil},
		{"edge out of range", providers.Cut{Edge: 2, Pos: good.Pos}, nil},
		{"negative offset", providers.Cut{Edge: 0, Pos: []providers.Position{{Offset: -5}, {}}}, nil},
		{"negative vendor position", providers.Cut{Edge: 0, Pos: []providers.Position{{Offset: 1, Vendor: -1}, {}}}, nil},
		{"too many anchors", providers.Cut{Edge: 0, Pos: []providers.Position{{Offset: 1, Anchor: make([]uint64, providers.Anchors+1)}, {}}}, nil},
		{"edge on no user", providers.Cut{Edge: 1, Pos: []providers.Position{{Offset: 2}, {}}}, nil},
		{"cut of another provider set", good, []string{"p1"}},
	} {
		for _, backward := range []bool{false, true} {
			req := providers.PageRequest{Count: 2, Keys: tt.keys, Backward: backward}
			if backward {
				req.Before = &tt.cut
			} else {
				req.After = &tt.cut
			}
			if _, err := f.dir.Page(t.Context(), req); !errors.Is(err, providers.ErrBadCut) {
				t.Errorf("%s (backward %t): err = %v, want ErrBadCut", tt.name, backward, err)
			}
		}
	}
}

// TestResumeAfterFailure walks while one provider fails for a while: the
// others' users keep coming, each page names the failed provider, and once
// it recovers, following the cursors yields every user exactly once.
func TestResumeAfterFailure(t *testing.T) {
	for _, backward := range []bool{false, true} {
		for failing := range 3 {
			t.Run(fmt.Sprintf("backward=%t/failing=p%d", backward, failing), func(t *testing.T) {
				f := newFixture(t, 20, 13, 17)
				seen := map[string]int{}
				var cut *providers.Cut
				var failedPages int
				for pages := 0; ; pages++ {
					if pages > 200 {
						t.Fatal("no end")
					}
					switch pages {
					case 2:
						f.mems[failing].SetError(fmt.Errorf("down: %w", driver.ErrUnavailable))
					case 8:
						f.mems[failing].SetError(nil)
					}
					req := providers.PageRequest{Count: 6, Backward: backward}
					if backward {
						req.Before = cut
					} else {
						req.After = cut
					}
					p, err := f.dir.Page(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					for _, e := range p.Failed {
						failedPages++
						if e.Provider != fmt.Sprintf("p%d", failing) || e.Code != errcode.ProviderUnavailable {
							t.Errorf("page %d: failure %v (%s), want p%d unavailable", pages, e.Provider, e.Code, failing)
						}
					}
					for _, n := range names(p.Edges) {
						seen[n]++
					}
					more := p.HasNextPage
					if backward {
						more = p.HasPreviousPage
					}
					if !more {
						break
					}
					if len(p.Edges) > 0 {
						// Follow endCursor (startCursor backwards); with no
						// edges, a client asks again with the same cursor.
						if backward {
							cut = &p.Edges[0].Cut
						} else {
							cut = &p.Edges[len(p.Edges)-1].Cut
						}
					}
				}
				if failedPages == 0 {
					t.Fatal("the failure was never seen")
				}
				for _, n := range f.truth {
					if seen[n] != 1 {
						t.Errorf("%s seen %d times, want 1", n, seen[n])
					}
				}
				if len(seen) != len(f.truth) {
					t.Errorf("saw %d users, want %d", len(seen), len(f.truth))
				}
			})
		}
	}
}

// mustSource puts p behind the portable layer.
func mustSource(t testing.TB, info providers.Info, p driver.Provider, opts *providers.SourceOptions) *providers.Source {
	t.Helper()
	s, err := providers.NewSource(info, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
