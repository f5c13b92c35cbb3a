package providers_test

import (
	"testing"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// TestOneDirectoryReadPerRequest: with no cache between requests (cacheTTL
// 0), the reads of one request (a page, then two separate lookups) share
// one directory call, and another request makes its own.
func TestOneDirectoryReadPerRequest(t *testing.T) {
	users := providertest.Dataset(30)
	p := memory.New(users, &memory.Options{Paging: driver.PagingSnapshot})
	s, err := providers.NewSource(providers.Info{Key: "p", Kind: "memory"}, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	request := func() {
		ctx := providers.WithRequest(t.Context())
		if _, err := s.List(ctx, driver.Filter{}, providers.Position{}, 10); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{users[3].ID, users[20].ID} {
			got, errs := s.UsersByID(ctx, []string{id})
			if errs[0] != nil || got[0] == nil || got[0].ID != id {
				t.Fatalf("UsersByID(%s) = %v, %v", id, got[0], errs[0])
			}
		}
	}
	request()
	if n := p.Calls(); n != 1 {
		t.Errorf("one request: %d directory calls, want 1", n)
	}
	request()
	if n := p.Calls(); n != 2 {
		t.Errorf("two requests: %d directory calls, want 2", n)
	}
}
