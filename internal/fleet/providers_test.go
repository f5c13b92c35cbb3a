package fleet_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/internal/redistest"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// TestConcurSharedTokens runs the Concur adapter on the token store in
// Redis, as two replicas: the second takes the first's token instead of
// logging in; and a refresh token that a renewal which never finished may
// have used (its claim is left in Redis) is not sent again: the next
// renewal logs in with the request token.
func TestConcurSharedTokens(t *testing.T) {
	srv := redistest.Start(t)
	cl := srv.Client()
	ctx := t.Context()
	em := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: "client-secret-1", CompanyUUID: "company", RequestToken: "request-token-1",
		Users: providertest.Dataset(5), RotateRefreshToken: true,
	})
	hs := httptest.NewServer(em)
	defer hs.Close()
	replica := func() driver.Provider {
		c, err := concur.New(concur.Config{Auth: companyauth.Config{TokenURL: hs.URL + "/oauth2/v0/token", ClientID: "cid", ClientSecret: vendorhttp.NewSecret("client-secret-1"), CompanyUUID: "company", RequestToken: vendorhttp.NewSecret("request-token-1")}}, &concur.Options{Store: open(t, srv, nil).Tokens("concur")})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	list := func(p driver.Provider) {
		t.Helper()
		if _, err := p.ListUsers(ctx, driver.ListRequest{Limit: 5}); err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
	}

	list(replica())
	second := replica()
	list(second)
	if tok, _ := em.Calls(); tok != 1 {
		t.Errorf("two replicas made %d token requests, want 1: the second takes the stored token", tok)
	}

	// A renewal began on a replica whose lease then ran out: its claim
	// (an older fence than any to come) stays on the stored token.
	cl.HSet(ctx, "dirgate:secret:token:concur", "c", "0")
	em.ExpireAccessTokens()
	list(second)
	if got := em.LastTokenRequest().Form.Get("grant_type"); got != "password" {
		t.Errorf("the renewal after an unfinished one used the %s grant, want password: the refresh token may be spent", got)
	}
	if c, _ := cl.HExists(ctx, "dirgate:secret:token:concur", "c").Result(); c {
		t.Error("the claim is still on the stored token after a renewal stored a new one")
	}
	third := replica()
	list(third) // the new token is stored: a third replica uses it
	if tok, _ := em.Calls(); tok != 2 {
		t.Errorf("%d token requests in all, want 2", tok)
	}

	// Concur revokes the access tokens twice; the second replica renews
	// after the first time, the third only after the second: the token it
	// takes from Redis (the second replica's) is revoked too, and it
	// renews once more rather than failing.
	em.ExpireAccessTokens()
	list(second)
	em.ExpireAccessTokens()
	list(third)
	if tok, _ := em.Calls(); tok != 4 {
		t.Errorf("%d token requests in all, want 4", tok)
	}
	dump, _ := srv.Dump(ctx)
	for k, v := range dump {
		for _, secret := range []string{"client-secret-1", "request-token-1", `"refresh_token"`, `"access_token"`} {
			if strings.Contains(v, secret) {
				t.Errorf("Redis key %s holds %s in the clear", k, secret)
			}
		}
	}
}
