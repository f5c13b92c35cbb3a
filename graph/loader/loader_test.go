package loader_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

func newDir(t *testing.T, paging driver.Paging, users []driver.User, opts *providers.SourceOptions) (*providers.Directory, *memory.Provider) {
	t.Helper()
	m := memory.New(users, &memory.Options{Paging: paging, Company: &driver.Company{Name: "Co"}})
	src, err := providers.NewSource(providers.Info{Key: "m"}, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := providers.NewDirectory(src)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

// TestUserLookupsAlignAndDeduplicate: concurrent lookups, repeated and
// missing ids among them, each get their own user (or nil), and cost one
// call per distinct id (offset vendor) or one directory read (snapshot,
// cached as dirgate caches whole directories: the read, and its index,
// serve every batch until it is refreshed).
func TestUserLookupsAlignAndDeduplicate(t *testing.T) {
	users := providertest.Dataset(30)
	for _, tt := range []struct {
		paging    driver.Paging
		wantCalls int
	}{{driver.PagingOffset, 11}, {driver.PagingSnapshot, 1}} {
		t.Run(tt.paging.String(), func(t *testing.T) {
			dir, m := newDir(t, tt.paging, users, &providers.SourceOptions{CacheTTL: time.Minute})
			l := loader.New(dir)
			ids := make([]string, 60)
			for i := range ids {
				ids[i] = users[(i*3)%30].ID // 10 distinct ids
				if i%7 == 6 {
					ids[i] = "missing" // and one that does not exist
				}
			}
			got := make([]*driver.User, len(ids))
			errs := make([]error, len(ids))
			var wg sync.WaitGroup
			for i, id := range ids {
				wg.Go(func() { got[i], errs[i] = l.User(t.Context(), "m", id) })
			}
			wg.Wait()
			for i, id := range ids {
				switch {
				case errs[i] != nil:
					t.Errorf("User(%q): %v", id, errs[i])
				case id == "missing" && got[i] != nil:
					t.Errorf("User(missing) = %+v, want nil", got[i])
				case id != "missing" && (got[i] == nil || got[i].ID != id):
					t.Errorf("User(%q) = %+v", id, got[i])
				}
			}
			if m.Calls() != tt.wantCalls {
				t.Errorf("provider calls = %d, want %d", m.Calls(), tt.wantCalls)
			}
		})
	}
}

// TestTransientErrorsAreNotMemoised: a lookup that failed because the
// vendor was down is asked again later in the same request.
func TestTransientErrorsAreNotMemoised(t *testing.T) {
	for _, paging := range []driver.Paging{driver.PagingOffset, driver.PagingSnapshot} {
		t.Run(paging.String(), func(t *testing.T) { testTransientErrors(t, paging) })
	}
}

func testTransientErrors(t *testing.T, paging driver.Paging) {
	users := providertest.Dataset(5)
	dir, m := newDir(t, paging, users, nil)
	l := loader.New(dir)
	m.SetError(fmt.Errorf("down: %w", driver.ErrUnavailable))
	if _, err := l.User(t.Context(), "m", users[2].ID); err == nil {
		t.Fatal("no error while the provider is down")
	}
	if _, err := l.ByEmail(t.Context(), "m", []string{providers.NormalizeEmail(users[3].Email)}); err == nil {
		t.Fatal("no error while the provider is down")
	}
	m.SetError(nil)
	if u, err := l.User(t.Context(), "m", users[2].ID); err != nil || u == nil || u.ID != users[2].ID {
		t.Errorf("after recovery: User = %+v, %v", u, err)
	}
	if got, err := l.ByEmail(t.Context(), "m", []string{providers.NormalizeEmail(users[3].Email)}); err != nil || len(got) != 1 {
		t.Errorf("after recovery: ByEmail = %+v, %v", got, err)
	}
}

// TestListed: the users of a page listed before, or between, lookups cost
// no call to look up, by id or by email; the others are asked for.
func TestListed(t *testing.T) {
	users := providertest.Dataset(8)
	dir, m := newDir(t, driver.PagingOffset, users, nil)
	page, err := dir.Page(t.Context(), providers.PageRequest{Count: 3})
	if err != nil || len(page.Edges) != 3 {
		t.Fatalf("page: %v, %d edges", err, len(page.Edges))
	}
	calls := m.Calls()
	l := loader.New(dir)
	l.Listed(page.Edges[:2])
	lookUp := func(u driver.User) {
		t.Helper()
		if got, err := l.User(t.Context(), "m", u.ID); err != nil || got == nil || got.ID != u.ID {
			t.Errorf("User(%q) = %+v, %v", u.ID, got, err)
		}
		if got, err := l.ByEmail(t.Context(), "m", []string{providers.NormalizeEmail(u.Email)}); err != nil || len(got) != 1 || got[0].ID != u.ID {
			t.Errorf("ByEmail(%q) = %+v, %v", u.Email, got, err)
		}
	}
	lookUp(users[0])
	lookUp(users[1])
	l.Listed(page.Edges[2:]) // listed after the first lookups
	lookUp(users[2])
	if got := m.Calls() - calls; got != 0 {
		t.Errorf("provider calls for listed users = %d, want 0", got)
	}
	lookUp(users[5])
	if got := m.Calls() - calls; got != 2 {
		t.Errorf("provider calls for a user not listed = %d, want 2 (by id, by email)", got)
	}
	if c, err := l.Company(t.Context(), "m"); err != nil || c == nil || c.Name != "Co" {
		t.Errorf("Company = %+v, %v", c, err)
	}
}
