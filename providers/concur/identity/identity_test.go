package identity

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/scim"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// fixture is a Concur data center emulating the token service and
// Identity v4.1, and a client of it.
type fixture struct {
	concur   *concur.Emulator
	identity *Emulator
	srv      *httptest.Server
}

func newFixture(t *testing.T, users []driver.User, wrap func(http.Handler) http.Handler) *fixture {
	t.Helper()
	f := &fixture{concur: concur.NewEmulator(concur.EmulatorOptions{
		ClientID: clientID, ClientSecret: clientSecret, CompanyUUID: companyUUID, RequestToken: requestToken,
	})}
	f.identity = NewEmulator(EmulatorOptions{Concur: f.concur, CompanyUUID: companyUUID, CompanyName: "Acme", Users: users})
	var h http.Handler = f.identity
	if wrap != nil {
		h = wrap(h)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) client(t *testing.T, pageSize int) *Client {
	t.Helper()
	c, err := New(Config{Auth: companyauth.Config{
		TokenURL: f.srv.URL + companyauth.TokenPath, ClientID: clientID, ClientSecret: vendorhttp.NewSecret(clientSecret),
		CompanyUUID: companyUUID, RequestToken: vendorhttp.NewSecret(requestToken),
	}, PageSize: pageSize}, &Options{HTTP: vendorhttp.New(vendorhttp.Options{HTTP: f.srv.Client()})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// walk follows the cursors to the end.
func walk(t *testing.T, c *Client, f driver.Filter) ([]driver.User, int) {
	t.Helper()
	var got []driver.User
	req := driver.ListRequest{Filter: f, Limit: c.Describe().PageSize}
	total := -1
	for calls := 0; ; calls++ {
		if calls > 200 {
			t.Fatal("no end")
		}
		page, err := c.ListUsers(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		total = page.Total
		got = append(got, page.Users...)
		if page.NextCursor == "" {
			return got, total
		}
		req.Cursor = page.NextCursor
	}
}

func TestClientWalksAndSearches(t *testing.T) {
	users := providertest.Dataset(37)
	var mu sync.Mutex
	var requests []string
	taken := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := requests
		requests = nil
		return out
	}
	f := newFixture(t, users, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			requests = append(requests, r.Method+" "+r.URL.Path)
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	c := f.client(t, 10)
	if d := c.Describe(); d.Paging != driver.PagingCursor || !d.Totals || d.MaxPageSize != MaxCount || d.PageSize != 10 ||
		d.Filters.Has(driver.FieldCountryCode) || !d.Filters.Has(driver.FieldEmail) {
		t.Errorf("Describe() = %+v", d)
	}
	got, total := walk(t, c, driver.Filter{})
	if d := providertest.Diff(got, asIdentity(users)); d != "" || total != 37 {
		t.Errorf("total %d: %s", total, d)
	}
	for _, r := range taken() {
		if strings.HasPrefix(r, "POST "+Base) {
			t.Errorf("an unfiltered list searched: %s", r)
		}
	}
	u := users[13]
	for _, filter := range []driver.Filter{
		driver.Filter{}.With(driver.FieldEmail, strings.ToUpper(u.Email)),
		driver.Filter{}.With(driver.FieldEmail, u.Emails[1]), // not the work email: nobody
		driver.Filter{}.With(driver.FieldLoginID, u.LoginID).With(driver.FieldActive, "false"),
		driver.Filter{}.With(driver.FieldLastName, "o'brien").With(driver.FieldActive, "true"),
		driver.Filter{}.With(driver.FieldEmployeeID, u.EmployeeID),
		driver.Filter{}.With(driver.FieldID, u.ID),
		driver.Filter{}.With(driver.FieldLoginID, `x" or active eq true or userName eq "`),
	} {
		got, total := walk(t, c, filter)
		var want []driver.User
		for _, w := range asIdentity(users) {
			if filter.Match(&w) {
				want = append(want, w)
			}
		}
		if d := providertest.Diff(got, want); d != "" || total != len(want) {
			t.Errorf("%s: total %d: %s", filter, total, d)
		}
	}
	for _, r := range taken() {
		if !strings.HasPrefix(r, "POST "+Base+"/Users/.search") {
			t.Errorf("a filtered list did not search: %s", r)
		}
	}
	// A filter on a field Identity does not filter for dirgate.
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Filter: driver.Filter{}.With(driver.FieldCountryCode, "FR"), Limit: 5}); !errors.Is(err, driver.ErrBadResponse) {
		t.Errorf("a filter on countryCode: %v", err)
	}
}

func TestClientFailures(t *testing.T) {
	users := providertest.Dataset(5)
	f := newFixture(t, users, nil)
	c := f.client(t, 2)
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2}); err != nil {
		t.Fatal(err)
	}
	var rl *driver.RateLimitError
	f.identity.SetFault(scim.Fault{Status: http.StatusTooManyRequests, RetryAfter: "0", Body: RateLimitBody})
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2}); !errors.As(err, &rl) || rl.RetryAfter != 0 {
		t.Errorf("429, retry-after 0: %v", err)
	}
	var te *driver.TemporaryError
	f.identity.SetFault(scim.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "4"})
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2}); !errors.As(err, &te) || te.RetryAfter != 4*time.Second {
		t.Errorf("503: %v", err)
	}
	f.identity.SetFault(scim.Fault{})
	// Concur refuses the access token before its time: renewed once.
	f.concur.ExpireAccessTokens()
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2}); err != nil {
		t.Errorf("after the token was refused: %v", err)
	}
	if tokens, _ := f.concur.Calls(); tokens != 2 {
		t.Errorf("token calls = %d, want 2 (the login, then a refresh)", tokens)
	}
	// The company's credentials refused for good.
	f.concur.ExpireAccessTokens()
	f.concur.RevokeRefreshTokens()
	f.concur.SetRequestToken("regenerated-elsewhere")
	_, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2})
	if !errors.Is(err, driver.ErrAuth) || strings.Contains(err.Error(), requestToken) || strings.Contains(err.Error(), clientSecret) {
		t.Errorf("refused credentials: %v", err)
	}
}

// harness wires a Client to the emulators over loopback HTTP, with the
// suite's faults in front of them.
type harness struct {
	t      *testing.T
	vendor *providertest.Vendor
	f      *fixture
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, _ *driver.Company) (driver.Provider, error) {
	h.f = newFixture(h.t, users, func(next http.Handler) http.Handler {
		h.vendor = providertest.NewVendor(next, func(r *http.Request) bool { return r.URL.Path == companyauth.TokenPath })
		return h.vendor
	})
	return h.f.client(h.t, 7), nil
}

func (h *harness) SetUsers(users []driver.User)    { h.f.identity.SetUsers(users) }
func (h *harness) Fault(f providertest.Fault) bool { h.vendor.SetFault(f); return true }
func (h *harness) Requests() int                   { return h.vendor.Requests() }
func (h *harness) Secrets() []string               { return []string{clientSecret, requestToken} }
func (h *harness) Close()                          { h.vendor.Release() }

// TestConformance runs the conformance suite over real HTTP.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(_ context.Context, t *testing.T) (providertest.Harness, error) {
		return &harness{t: t}, nil
	}, &providertest.Options{
		Carries:   func(u driver.User) driver.User { u.LastActivityAt = time.Time{}; return u },
		NoCompany: true,
	})
}
