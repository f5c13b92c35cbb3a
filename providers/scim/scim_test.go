package scim

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// newClient returns a client of the emulator behind srv.
func newClient(t *testing.T, srv *httptest.Server, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: srv.URL, Token: vendorhttp.NewSecret(testToken), PageSize: 10}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg, &Options{HTTP: vendorhttp.New(vendorhttp.Options{HTTP: srv.Client()})})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// walk reads every user matching f as the portable layer does: by
// cursor, or by offset for paging index. It returns the users and the
// totals the answers gave.
func walk(t *testing.T, c *Client, f driver.Filter) ([]User, []int) {
	t.Helper()
	d := c.Describe()
	var got []User
	var totals []int
	req := driver.ListRequest{Filter: f.Only(d.Filters), Limit: d.PageSize}
	for calls := 0; ; calls++ {
		if calls > 500 {
			t.Fatal("no end")
		}
		page, err := c.ListUsers(t.Context(), req)
		if err != nil {
			t.Fatalf("after %d users: %v", len(got), err)
		}
		totals = append(totals, page.Total)
		got = append(got, page.Users...)
		if d.Paging == driver.PagingOffset {
			req.Offset += len(page.Users)
			if req.Offset >= page.Total || len(page.Users) == 0 {
				break
			}
			continue
		}
		if page.NextCursor == "" {
			break
		}
		req.Cursor = page.NextCursor
	}
	// The rest of the filter, as the portable layer applies it.
	local := f.Without(d.Filters)
	var out []User
	for i := range got {
		if local.Match(&got[i]) {
			out = append(out, got[i])
		}
	}
	return out, totals
}

func matching(users []User, f driver.Filter) []User {
	var out []User
	for i := range users {
		if f.Match(&users[i]) {
			out = append(out, users[i])
		}
	}
	return out
}

func TestClientAutoPaging(t *testing.T) {
	users := dataset(37)
	for _, tt := range []struct {
		name   string
		opts   EmulatorOptions
		paging string
	}{
		{"index only", EmulatorOptions{Index: true}, PagingIndex},
		{"cursor only", EmulatorOptions{Cursor: true}, PagingCursor},
		{"both, index by default", EmulatorOptions{Index: true, Cursor: true}, PagingCursor},
		{"before RFC 9865", EmulatorOptions{Index: true, NoPaginationConfig: true}, PagingIndex},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Users = users
			e, srv := startEmulator(t, tt.opts)
			c := newClient(t, srv, nil)
			if _, ok := c.Discovered(); ok {
				t.Fatal("discovered before the first call")
			}
			got, totals := walk(t, c, driver.Filter{})
			if d := diffUsers(got, asSCIM(users)); d != "" {
				t.Error(d)
			}
			if totals[0] != 37 {
				t.Errorf("totals %v, want 37 first", totals)
			}
			d, ok := c.Discovered()
			if !ok || d.Paging != tt.paging || d.Offered == "" || d.At.IsZero() {
				t.Errorf("discovered %+v, %v; want paging %s", d, ok, tt.paging)
			}
			// One read of the configuration, then only /Users.
			if calls, _ := e.Calls(); len(e.Requests()) != calls-1 {
				t.Errorf("%d calls, %d of them list requests; want one read of /ServiceProviderConfig", calls, len(e.Requests()))
			}
		})
	}
}

// TestClientQuirks walks a server with each quirk, paging by index and by
// cursor: every user comes back exactly once, and no total is believed
// that could count only the page.
func TestClientQuirks(t *testing.T) {
	users := dataset(25)
	for _, q := range []struct {
		name string
		q    Quirks
	}{
		{"none", Quirks{}},
		{"CapCount", Quirks{CapCount: 3}},
		{"NoItemsPerPage", Quirks{NoItemsPerPage: true}},
		{"NoStartIndex", Quirks{NoStartIndex: true}},
		{"NoResourcesWhenEmpty", Quirks{NoResourcesWhenEmpty: true}},
		{"NoTotalResults", Quirks{NoTotalResults: true}},
		{"PageTotalResults", Quirks{PageTotalResults: true}},
		{"NoPrimaryEmail", Quirks{NoPrimaryEmail: true}},
		{"OddCase", Quirks{OddCase: true}},
		{"CapCount and PageTotalResults", Quirks{CapCount: 4, PageTotalResults: true}},
	} {
		for _, mode := range []string{PagingIndex, PagingCursor} {
			t.Run(q.name+"/"+mode, func(t *testing.T) {
				opts := EmulatorOptions{Users: users, Quirks: q.q, Index: mode == PagingIndex, Cursor: mode == PagingCursor}
				_, srv := startEmulator(t, opts)
				c := newClient(t, srv, nil)
				got, totals := walk(t, c, driver.Filter{})
				if d := diffUsers(got, asSCIM(users)); d != "" {
					t.Error(d)
				}
				for _, total := range totals {
					if total != -1 && total != len(users) {
						t.Errorf("a total of %d believed (all: %v)", total, totals)
					}
				}
				// Filters pushed down, on a quirky server.
				f := driver.Filter{}.With(driver.FieldActive, "false").With(driver.FieldLastName, " smith ")
				got, _ = walk(t, c, f)
				if d := diffUsers(got, matching(asSCIM(users), f)); d != "" {
					t.Errorf("inactive Smiths: %s", d)
				}
			})
		}
	}
}

func TestClientIndexPaging(t *testing.T) {
	users := dataset(23)
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, MaxPageSize: 5})
	c := newClient(t, srv, func(cfg *Config) { cfg.Paging = PagingIndex })
	if d := c.Describe(); d.Paging != driver.PagingOffset || !d.Totals {
		t.Fatalf("Describe() = %+v, want offsets with totals", d)
	}
	// Offsets both ways; the server caps the page at 5, silently.
	for _, tt := range []struct{ offset, limit, want int }{{0, 10, 5}, {20, 10, 3}, {7, 2, 2}, {30, 5, 0}} {
		page, err := c.ListUsers(t.Context(), driver.ListRequest{Offset: tt.offset, Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 23 || len(page.Users) != tt.want || (tt.want > 0 && page.Users[0].ID != users[tt.offset].ID) {
			t.Errorf("offset %d: %d users, total %d", tt.offset, len(page.Users), page.Total)
		}
	}
	page, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 0})
	if err != nil || page.Total != 23 || len(page.Users) != 0 {
		t.Errorf("Limit 0: %+v, %v", page, err)
	}

	// A server whose totals paging index cannot trust.
	for _, q := range []Quirks{{NoTotalResults: true}, {PageTotalResults: true}} {
		_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Quirks: q})
		c := newClient(t, srv, func(cfg *Config) { cfg.Paging = PagingIndex })
		_, err := c.ListUsers(t.Context(), driver.ListRequest{Offset: 10, Limit: 5})
		if !errors.Is(err, driver.ErrBadResponse) || !strings.Contains(err.Error(), "paging auto") {
			t.Errorf("%+v: %v", q, err)
		}
	}
}

func TestClientCursorCountStays(t *testing.T) {
	users := dataset(30)
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Cursor: true, StrictCursorCount: true})
	c := newClient(t, srv, func(cfg *Config) { cfg.Paging = PagingCursor; cfg.PageSize = 7 })
	page, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	// The portable layer may ask for another count; the query keeps its
	// own.
	page, err = c.ListUsers(t.Context(), driver.ListRequest{Cursor: page.NextCursor, Limit: 3})
	if err != nil || len(page.Users) != 7 || page.Users[0].ID != users[7].ID {
		t.Errorf("second page: %v", err)
	}
	// Cursors may be read again.
	again, err := c.ListUsers(t.Context(), driver.ListRequest{Cursor: page.NextCursor, Limit: 7})
	again2, err2 := c.ListUsers(t.Context(), driver.ListRequest{Cursor: page.NextCursor, Limit: 7})
	if err != nil || err2 != nil || again.Users[0].ID != again2.Users[0].ID {
		t.Errorf("reading a cursor twice: %v, %v", err, err2)
	}
	// An index server with paging cursor: refused, not truncated.
	_, isrv := startEmulator(t, EmulatorOptions{Users: users, Index: true})
	c = newClient(t, isrv, func(cfg *Config) { cfg.Paging = PagingCursor; cfg.PageSize = 7 })
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 7}); !errors.Is(err, driver.ErrBadResponse) {
		t.Errorf("an index server paged by cursor: %v", err)
	}
	// A cursor from one method is not sent to the other.
	c = newClient(t, srv, func(cfg *Config) { cfg.Paging = PagingCursor })
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Cursor: "i11", Limit: 7}); !errors.Is(err, driver.ErrBadResponse) {
		t.Errorf("an index cursor sent by cursor: %v", err)
	}
}

func TestClientFilters(t *testing.T) {
	users := dataset(40)
	e, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Search: true})
	hostile := `x" or userName pr or "`
	cases := []driver.Filter{
		driver.Filter{}.With(driver.FieldActive, "TRUE"),
		driver.Filter{}.With(driver.FieldLoginID, strings.ToUpper(users[9].LoginID)),
		driver.Filter{}.With(driver.FieldLastName, "o'brien").With(driver.FieldActive, "true"),
		driver.Filter{}.With(driver.FieldEmployeeID, " "+users[31].EmployeeID+" "),
		driver.Filter{}.With(driver.FieldEmail, users[13].Email),
		driver.Filter{}.With(driver.FieldEmail, users[13].Emails[1]), // not the primary one
		driver.Filter{}.With(driver.FieldID, users[5].ID),
		driver.Filter{}.With(driver.FieldID, strings.ToLower(users[5].ID)), // ids are exact: nobody
		driver.Filter{}.With(driver.FieldCountryCode, "fr").With(driver.FieldLastName, "Smith"),
		driver.Filter{}.With(driver.FieldLoginID, hostile),
	}
	for _, search := range []bool{false, true} {
		c := newClient(t, srv, func(cfg *Config) { cfg.Search = search })
		if d := c.Describe(); d.Filters != driver.Fields(driver.FieldActive, driver.FieldLoginID, driver.FieldLastName, driver.FieldEmployeeID, driver.FieldID) {
			t.Fatalf("pushed down: %s", d.Filters)
		}
		for _, f := range cases {
			got, _ := walk(t, c, f)
			if d := diffUsers(got, matching(asSCIM(users), f)); d != "" {
				t.Errorf("search %v, %s: %s", search, f, d)
			}
		}
	}
	var sent, sentID bool
	for _, r := range e.Requests() {
		if strings.Contains(r.Filter, `userName eq "x\" or userName pr or \""`) {
			sent = true
		}
		if strings.Contains(strings.ToLower(r.Filter), "emails") {
			t.Errorf("an email filter was sent to the server: %s", r.Filter)
		}
		if strings.Contains(r.Filter, `id eq "`+users[5].ID+`"`) {
			sentID = true
		}
	}
	if !sent {
		t.Error("the hostile loginId was not sent, quoted and escaped")
	}
	if !sentID {
		t.Error("the id filter was not sent to the server")
	}

	// email, when asked for: emails.value, any of a user's emails.
	c := newClient(t, srv, func(cfg *Config) { cfg.Filters = &[]string{"email"} })
	page, err := c.ListUsers(t.Context(), driver.ListRequest{Filter: driver.Filter{}.With(driver.FieldEmail, users[13].Email), Limit: 10})
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != users[13].ID {
		t.Errorf("email pushed down: %v", err)
	}
	// employeeId from externalId, which SCIM compares with exact case:
	// applied by dirgate.
	_, xsrv := startEmulator(t, EmulatorOptions{Users: users, Index: true, EmployeeIDInExternalID: true})
	c = newClient(t, xsrv, func(cfg *Config) { cfg.Attributes = map[string]string{"employeeId": "externalId"} })
	if c.Describe().Filters.Has(driver.FieldEmployeeID) {
		t.Error("a filter on a case-exact attribute is pushed down")
	}
	f := driver.Filter{}.With(driver.FieldEmployeeID, strings.ToLower(users[12].EmployeeID))
	if got, _ := walk(t, c, f); len(got) != 1 || got[0].ID != users[12].ID {
		t.Errorf("employeeId from externalId, in other case: %d users", len(got))
	}
	// A server that does not filter on an attribute: a clear failure.
	_, lsrv := startEmulator(t, EmulatorOptions{Users: users, Index: true, FilterAttributes: []string{"userName"}})
	c = newClient(t, lsrv, nil)
	_, err = c.ListUsers(t.Context(), driver.ListRequest{Filter: driver.Filter{}.With(driver.FieldLastName, "Smith"), Limit: 10})
	if !errors.Is(err, driver.ErrBadResponse) || !errors.Is(err, &Error{ScimType: "invalidFilter"}) || strings.Contains(err.Error(), "Smith") {
		t.Errorf("an unsupported filter: %v", err)
	}
	// A server that says it does not filter at all.
	_, nsrv := startEmulator(t, EmulatorOptions{Users: users, Index: true, FilterUnsupported: true, IgnoreFilter: true})
	c = newClient(t, nsrv, nil)
	walk(t, c, driver.Filter{})
	_, err = c.ListUsers(t.Context(), driver.ListRequest{Filter: driver.Filter{}.With(driver.FieldLastName, "Smith"), Limit: 10})
	if !errors.Is(err, driver.ErrUnavailable) || !strings.Contains(err.Error(), "filters: []") {
		t.Errorf("a server that does not filter: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	users := dataset(5)
	e, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Cursor: true, CursorTTL: time.Minute})
	c := newClient(t, srv, nil)
	list := func() error {
		_, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 2})
		return err
	}
	// The configuration is read before faults start.
	if err := list(); err != nil {
		t.Fatal(err)
	}
	var rl *driver.RateLimitError
	e.SetFault(Fault{Status: 429, RetryAfter: "0"})
	if err := list(); !errors.As(err, &rl) || rl.RetryAfter != 0 {
		t.Errorf("429, retry-after 0: %v", err)
	}
	e.SetFault(Fault{Status: 429, RetryAfter: "3"})
	if err := list(); !errors.As(err, &rl) || rl.RetryAfter != 3*time.Second {
		t.Errorf("429, retry-after 3: %v", err)
	}
	var te *driver.TemporaryError
	e.SetFault(Fault{Status: 503, RetryAfter: "7"})
	if err := list(); !errors.As(err, &te) || te.RetryAfter != 7*time.Second {
		t.Errorf("503: %v", err)
	}
	e.SetFault(Fault{Status: 500})
	if err := list(); !errors.Is(err, driver.ErrUnavailable) || errors.As(err, &te) {
		t.Errorf("500: %v", err)
	}
	e.SetFault(Fault{Status: 200, Body: "<html>moved</html>"})
	if err := list(); !errors.Is(err, driver.ErrBadResponse) {
		t.Errorf("HTML: %v", err)
	}
	e.SetFault(Fault{})
	bad := newClient(t, srv, func(cfg *Config) { cfg.Token = vendorhttp.NewSecret("not-the-token-at-all") })
	if _, err := bad.ListUsers(t.Context(), driver.ListRequest{Limit: 2}); !errors.Is(err, driver.ErrAuth) || strings.Contains(err.Error(), "not-the-token") {
		t.Errorf("a refused token: %v", err)
	}
	// A cursor the server no longer takes.
	_, cerr := c.ListUsers(t.Context(), driver.ListRequest{Cursor: "c2.forged", Limit: 2})
	if !errors.Is(cerr, driver.ErrBadResponse) || !errors.Is(cerr, ErrInvalidCursor) {
		t.Errorf("a forged cursor: %v", cerr)
	}
	// A cancelled call returns at once.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.ListUsers(ctx, driver.ListRequest{Limit: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestClientCredentials(t *testing.T) {
	users := dataset(12)
	e := NewEmulator(EmulatorOptions{Users: users, Index: true, ClientID: "scim-client", ClientSecret: "scim-client-secret"})
	tokens := 0
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/oauth/token" {
			tokens++
		}
		e.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)
	mk := func(secret string) *Client {
		return newClient(t, counting, func(cfg *Config) {
			cfg.Token = vendorhttp.Secret{}
			cfg.TokenURL, cfg.ClientID, cfg.ClientSecret = counting.URL+"/oauth/token", "scim-client", vendorhttp.NewSecret(secret)
			cfg.Scopes = []string{"users:read"}
		})
	}
	c := mk("scim-client-secret")
	got, _ := walk(t, c, driver.Filter{})
	if d := diffUsers(got, asSCIM(users)); d != "" || tokens != 1 {
		t.Errorf("%d tokens: %s", tokens, d)
	}
	e.ExpireTokens() // the server forgets the token: renewed once, then on
	if got, _ := walk(t, c, driver.Filter{}); len(got) != 12 || tokens != 2 {
		t.Errorf("after the token was revoked: %d users, %d tokens", len(got), tokens)
	}
	_, err := mk("wrong-client-secret").ListUsers(t.Context(), driver.ListRequest{Limit: 2})
	if !errors.Is(err, driver.ErrAuth) || strings.Contains(err.Error(), "wrong-client-secret") {
		t.Errorf("refused credentials: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	ok := func() Config {
		return Config{BaseURL: "https://scim.example.com/scim/v2/", Token: vendorhttp.NewSecret("a-long-token")}
	}
	cfg := ok()
	if err := cfg.Check(); err != nil || cfg.BaseURL != "https://scim.example.com/scim/v2" || cfg.PageSize != DefaultPageSize || cfg.Paging != PagingAuto {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	for _, tt := range []struct {
		mutate func(*Config)
		key    string
	}{
		{func(c *Config) { c.BaseURL = "" }, "baseURL"},
		{func(c *Config) { c.BaseURL = "scim.example.com" }, "baseURL"},
		{func(c *Config) { c.Token = vendorhttp.Secret{} }, "token"},
		{func(c *Config) { c.Token = vendorhttp.NewSecret("short") }, "token"},
		{func(c *Config) { c.ClientID = "x" }, "token"},
		{func(c *Config) {
			c.Token = vendorhttp.Secret{}
			c.ClientID = "x"
			c.ClientSecret = vendorhttp.NewSecret("long-enough")
		}, "tokenURL"},
		{func(c *Config) {
			c.Token = vendorhttp.Secret{}
			c.TokenURL, c.ClientSecret = "https://id.example.com/token", vendorhttp.NewSecret("long-enough")
		}, "clientID"},
		{func(c *Config) { c.PageSize = 5000 }, "pageSize"},
		{func(c *Config) { c.Paging = "offset" }, "paging"},
		{func(c *Config) { c.Filters = &[]string{"cellPhone"} }, "filters"},
		{func(c *Config) { c.Attributes = map[string]string{"employeeId": "external Id"} }, "attributes"},
		{func(c *Config) { c.Attributes = map[string]string{"shoeSize": "externalId"} }, "attributes"},
	} {
		cfg := ok()
		tt.mutate(&cfg)
		if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%+v: %v, want an error naming %s", cfg, err, tt.key)
		}
	}
}
