package concur

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/providertest"
)

const (
	testClientID     = "0f1e2d3c-client"
	testClientSecret = "s3cr3t-client-secret-value"
	testCompanyUUID  = "c0ffee00-company-uuid"
	testRequestToken = "rq-tok-1234567890abcdef"
)

var testCompanyInfo = &providers.Company{Name: "Company Name LLC", Address: "601 108th ave NE", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}

// clock is a settable clock shared by an emulator and a client.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	emu   *Emulator
	srv   *httptest.Server
	clock *clock
	store string
}

// newFixture starts an emulator serving users; mod may change its options.
func newFixture(t *testing.T, users []providers.User, mod func(*EmulatorOptions)) *fixture {
	t.Helper()
	f := &fixture{clock: newClock(), store: filepath.Join(t.TempDir(), "concur-token.json")}
	opts := EmulatorOptions{
		ClientID: testClientID, ClientSecret: testClientSecret,
		CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
		Users: users, Company: testCompanyInfo, Now: f.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	f.emu = NewEmulator(opts)
	f.srv = httptest.NewServer(f.emu)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) config() Config {
	return Config{
		TokenURL: f.srv.URL + tokenPath, ClientID: testClientID, ClientSecret: testClientSecret,
		CompanyUUID: testCompanyUUID, RequestToken: testRequestToken, TokenStore: f.store,
	}
}

// client returns a Client for the fixture's emulator; mod may change its
// config.
func (f *fixture) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := f.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, &Options{HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.now = f.clock.Now
	return c
}

func makeUsers(n int) []providers.User {
	return providertest.Dataset(n)
}

func ids(us []providers.User) []string {
	var s []string
	for _, u := range us {
		s = append(s, u.ID)
	}
	return s
}

// noSecrets fails the test if err's message holds a credential.
func noSecrets(t *testing.T, err error, extra ...string) {
	t.Helper()
	if err == nil {
		return
	}
	t.Logf("error: %v", err)
	for _, s := range append([]string{testClientSecret, testRequestToken}, extra...) {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a credential", err)
		}
	}
}

func list(t *testing.T, c *Client, f providers.Filter, offset, limit int) *providers.ListPage {
	t.Helper()
	p, err := c.ListUsers(t.Context(), providers.ListRequest{Filter: f, Start: providers.Position{Offset: offset}, Limit: limit})
	if err != nil {
		t.Fatalf("ListUsers(offset %d, limit %d): %v", offset, limit, err)
	}
	return p
}

func TestNewValidates(t *testing.T) {
	good := Config{ClientID: "id", ClientSecret: testClientSecret, CompanyUUID: "co", RequestToken: testRequestToken}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // in the error; "" for success
	}{
		{"ok", func(*Config) {}, ""},
		{"no client id", func(c *Config) { c.ClientID = "" }, "ClientID"},
		{"no client secret", func(c *Config) { c.ClientSecret = " " }, "ClientSecret"},
		{"no company", func(c *Config) { c.CompanyUUID = "" }, "CompanyUUID"},
		{"no request token", func(c *Config) { c.RequestToken = "" }, "RequestToken"},
		{"store instead of request token", func(c *Config) { c.RequestToken, c.TokenStore = "", "/tmp/x" }, ""},
		{"page size too big", func(c *Config) { c.PageSize = 1001 }, "PageSize"},
		{"negative page size", func(c *Config) { c.PageSize = -1 }, "PageSize"},
		{"relative token url", func(c *Config) { c.TokenURL = "/oauth2/v0/token" }, "TokenURL"},
	}
	for _, tt := range tests {
		cfg := good
		tt.mod(&cfg)
		c, err := New(cfg, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: New = %v, want success", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: New = %v, want an error naming %s", tt.name, err, tt.want)
		}
		noSecrets(t, err)
		if err == nil && (c.cfg.PageSize != DefaultPageSize || c.cfg.TokenURL != DefaultTokenURL || c.hc.Timeout == 0) {
			t.Errorf("%s: defaults not applied: %+v", tt.name, c.cfg)
		}
	}
}

func TestFirstLoginSendsDocumentedForm(t *testing.T) {
	f := newFixture(t, makeUsers(3), nil)
	c := f.client(t, nil)
	list(t, c, providers.Filter{}, 0, 10)

	got := f.emu.LastTokenRequest()
	if got.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q, want application/x-www-form-urlencoded", got.ContentType)
	}
	want := url.Values{
		"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"password"},
		"username": {testCompanyUUID}, "password": {testRequestToken}, "credtype": {"authtoken"},
	}
	if !reflect.DeepEqual(got.Form, want) {
		t.Errorf("token form = %v, want %v", got.Form, want)
	}
	if tok, users := f.emu.Calls(); tok != 1 || users != 1 {
		t.Errorf("Calls() = %d, %d, want 1, 1", tok, users)
	}
}

func TestPaging(t *testing.T) {
	users := makeUsers(23)
	f := newFixture(t, users, nil)
	c := f.client(t, func(c *Config) { c.PageSize = 7 })

	p := list(t, c, providers.Filter{}, 0, 100)
	if !reflect.DeepEqual(ids(p.Users), ids(users)) {
		t.Errorf("walk = %v, want %v", ids(p.Users), ids(users))
	}
	if p.Total != 23 || p.Next.Offset != 23 {
		t.Errorf("Total, Next = %d, %d, want 23, 23", p.Total, p.Next.Offset)
	}
	if !reflect.DeepEqual(p.Company, testCompanyInfo) {
		t.Errorf("Company = %+v, want %+v", p.Company, testCompanyInfo)
	}
	if _, calls := f.emu.Calls(); calls != 4 {
		t.Errorf("/users calls = %d, want 4 (pages of 7)", calls)
	}

	p = list(t, c, providers.Filter{}, 5, 10)
	if !reflect.DeepEqual(ids(p.Users), ids(users[5:15])) || p.Next.Offset != 15 {
		t.Errorf("offset 5 limit 10 = %v next %d, want %v next 15", ids(p.Users), p.Next.Offset, ids(users[5:15]))
	}
	if q := f.emu.LastQuery(); q.Get("offset") != "12" || q.Get("limit") != "3" {
		t.Errorf("last query = %v, want offset 12, limit 3", q)
	}

	p = list(t, c, providers.Filter{}, 30, 10)
	if len(p.Users) != 0 || p.Total != 23 || p.Next.Offset != 30 {
		t.Errorf("past the end: %d users, Total %d, Next %d; want 0, 23, 30", len(p.Users), p.Total, p.Next.Offset)
	}
}

func TestVendorSmallerPagesThanAsked(t *testing.T) {
	users := makeUsers(23)
	f := newFixture(t, users, func(o *EmulatorOptions) { o.MaxLimit = 5 })
	c := f.client(t, func(c *Config) { c.PageSize = 7 })
	p := list(t, c, providers.Filter{}, 2, 13)
	if !reflect.DeepEqual(ids(p.Users), ids(users[2:15])) || p.Next.Offset != 15 {
		t.Errorf("got %v next %d, want %v next 15", ids(p.Users), p.Next.Offset, ids(users[2:15]))
	}
}

func TestVendorLargerPagesThanAsked(t *testing.T) {
	users := makeUsers(10)
	f := newFixture(t, users, nil)
	// A vendor that ignores limit and always sends everything from offset.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/users/" {
			q := r.URL.Query()
			q.Del("limit")
			r.URL.RawQuery = q.Encode()
		}
		f.emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := f.client(t, func(c *Config) { c.TokenURL = srv.URL + tokenPath; c.PageSize = 3 })
	p := list(t, c, providers.Filter{}, 1, 4)
	if !reflect.DeepEqual(ids(p.Users), ids(users[1:5])) || p.Next.Offset != 5 {
		t.Errorf("got %v next %d, want %v next 5", ids(p.Users), p.Next.Offset, ids(users[1:5]))
	}
}

func TestLimitZeroReturnsTotal(t *testing.T) {
	f := newFixture(t, makeUsers(12), nil)
	c := f.client(t, nil)
	p := list(t, c, providers.Filter{}, 4, 0)
	if len(p.Users) != 0 || p.Total != 12 || p.Next.Offset != 4 || p.Company == nil {
		t.Errorf("limit 0 = %d users, Total %d, Next %d, Company %v; want 0, 12, 4, set", len(p.Users), p.Total, p.Next.Offset, p.Company)
	}
	if q := f.emu.LastQuery(); q.Get("limit") != "1" {
		t.Errorf("limit 0 asked Concur for limit %q, want 1", q.Get("limit"))
	}
}

func TestFiltersArePushedDown(t *testing.T) {
	users := makeUsers(20)
	f := newFixture(t, users, nil)
	c := f.client(t, func(c *Config) { c.PageSize = 7 })
	str := func(s string) *string { return &s }
	yes, no := true, false
	tests := []struct {
		name      string
		give      providers.Filter
		wantQuery url.Values
	}{
		{"active", providers.Filter{Active: &yes}, url.Values{"isactive": {"true"}}},
		{"inactive", providers.Filter{Active: &no}, url.Values{"isactive": {"false"}}},
		{"email", providers.Filter{Email: str(" " + strings.ToUpper(users[3].Email) + " ")}, url.Values{"primaryemail": {strings.ToUpper(users[3].Email)}}},
		{"loginId", providers.Filter{LoginID: str(users[4].LoginID)}, url.Values{"loginid": {users[4].LoginID}}},
		{"lastName", providers.Filter{LastName: str("smith")}, url.Values{"lastname": {"smith"}}},
		{"employeeId", providers.Filter{EmployeeID: str(users[5].EmployeeID)}, url.Values{"employeeid": {users[5].EmployeeID}}},
		{"countryCode", providers.Filter{CountryCode: str("fr")}, url.Values{"countrycode": {"fr"}}},
		{"id", providers.Filter{ID: str(users[6].ID)}, url.Values{"id": {users[6].ID}}},
		{"active lastName", providers.Filter{Active: &yes, LastName: str("Martin")}, url.Values{"isactive": {"true"}, "lastname": {"Martin"}}},
	}
	for _, tt := range tests {
		p, err := c.ListUsers(t.Context(), providers.ListRequest{Filter: tt.give, Limit: 100})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want []string
		nf := tt.give.Normalize()
		for i := range users {
			if providers.Match(&users[i], nf) {
				want = append(want, users[i].ID)
			}
		}
		if !reflect.DeepEqual(ids(p.Users), want) || p.Total != len(want) {
			t.Errorf("%s: got %v (Total %d), want %v", tt.name, ids(p.Users), p.Total, want)
		}
		q := f.emu.LastQuery()
		q.Del("offset")
		q.Del("limit")
		if !reflect.DeepEqual(q, tt.wantQuery) {
			t.Errorf("%s: Concur saw filters %v, want %v", tt.name, q, tt.wantQuery)
		}
	}
}

// getToken logs in directly, for tests of the emulator itself.
func getToken(t *testing.T, f *fixture) string {
	t.Helper()
	resp, err := f.srv.Client().PostForm(f.srv.URL+tokenPath, url.Values{
		"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"password"},
		"username": {testCompanyUUID}, "password": {testRequestToken}, "credtype": {"authtoken"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   string `json:"expires_in"`
		Geolocation string `json:"geolocation"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.AccessToken == "" {
		t.Fatalf("token response: %v, %+v", err, v)
	}
	if v.ExpiresIn != "3600" || v.Geolocation != f.srv.URL {
		t.Errorf("expires_in, geolocation = %q, %q, want \"3600\", %q", v.ExpiresIn, v.Geolocation, f.srv.URL)
	}
	return v.AccessToken
}

func get(t *testing.T, f *fixture, tok, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("concur-correlationid") == "" {
		t.Errorf("GET %s: no concur-correlationid header", path)
	}
	return resp.StatusCode, string(b)
}

func TestEmulatorUsers(t *testing.T) {
	f := newFixture(t, makeUsers(5), func(o *EmulatorOptions) { o.MaxLimit = 2 })
	tok := getToken(t, f)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/users/", 200, `"NextPage":"` + f.srv.URL + `/users/?limit=2\u0026offset=2"`},
		{"/users?offset=4", 200, `"NextPage":null`},
		{"/users/?limit=50", 200, `"limit":2`},
		{"/users/?offset=9", 200, `"Items":[]`},
		{"/users/?isactive=false&limit=1", 200, `"total":1`},
		{"/users/?lastname=MARTIN&offset=0", 200, `"total":1`},
		{"/users/?Offset=0", 400, "invalid query params"},
		{"/users/?foo=1", 400, "invalid query params"},
		{"/users/?uuid=1", 400, "invalid query params"},
		{"/users/?limit=x", 400, "invalid query params"},
		{"/users/?offset=-1", 400, "invalid query params"},
		{"/users/?isactive=yes", 400, "invalid query params"},
		{"/nope", 404, `"Server-Time"`},
	}
	for _, tt := range tests {
		status, body := get(t, f, tok, tt.path)
		if status != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
			t.Errorf("GET %s = %d %s, want %d with %s", tt.path, status, body, tt.wantStatus, tt.wantBody)
		}
	}
	if status, body := get(t, f, "", "/users/"); status != 401 || !strings.Contains(body, `"Message":"Authorization Required"`) {
		t.Errorf("GET without a token = %d %s, want 401 in the v3 error shape", status, body)
	}
	if status, _ := get(t, f, "not-a-token", "/users/"); status != 401 {
		t.Errorf("GET with an unknown token = %d, want 401", status)
	}
	f.clock.Add(time.Hour)
	if status, _ := get(t, f, tok, "/users/"); status != 401 {
		t.Errorf("GET with an expired token = %d, want 401", status)
	}
}

func TestEmulatorTokenErrors(t *testing.T) {
	f := newFixture(t, nil, nil)
	full := url.Values{
		"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"password"},
		"username": {testCompanyUUID}, "password": {testRequestToken}, "credtype": {"authtoken"},
	}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range full {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name string
		give url.Values
		want int
	}{
		{"no username", with("username", ""), 51},
		{"no password", with("password", ""), 52},
		{"no client_id", with("client_id", ""), 62},
		{"no client_secret", with("client_secret", ""), 63},
		{"no grant_type", with("grant_type", ""), 65},
		{"unknown client", with("client_id", "other"), 61},
		{"wrong secret", with("client_secret", "wrong"), 64},
		{"wrong request token", with("password", "wrong"), 5},
		{"wrong company", with("username", "wrong"), 5},
		{"no credtype means password", with("credtype", ""), 5},
		{"bad credtype", with("credtype", "magic"), 120},
		{"no refresh token", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"refresh_token"}}, 106},
		{"bad refresh token", url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 108},
	}
	for _, tt := range tests {
		resp, err := f.srv.Client().PostForm(f.srv.URL+tokenPath, tt.give)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Error string `json:"error"`
			Code  int    `json:"code"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 400 || v.Code != tt.want || v.Error == "" {
			t.Errorf("%s: HTTP %d code %d (%q), want 400 code %d", tt.name, resp.StatusCode, v.Code, v.Error, tt.want)
		}
		if resp.Header.Get("concur-correlationid") == "" {
			t.Errorf("%s: no concur-correlationid header", tt.name)
		}
	}
}

func TestRenewalAfterTokensExpire(t *testing.T) {
	f := newFixture(t, makeUsers(4), nil)
	c := f.client(t, nil)
	list(t, c, providers.Filter{}, 0, 10)
	f.emu.ExpireAccessTokens()
	if p := list(t, c, providers.Filter{}, 0, 10); len(p.Users) != 4 {
		t.Errorf("after expiry: %d users, want 4", len(p.Users))
	}
	if tok, users := f.emu.Calls(); tok != 2 || users != 3 {
		t.Errorf("Calls() = %d, %d, want 2, 3 (a refused call, a refresh, a retry)", tok, users)
	}
	if g := f.emu.LastTokenRequest().Form.Get("grant_type"); g != "refresh_token" {
		t.Errorf("renewal used grant %q, want refresh_token", g)
	}
}

func TestRenewalBeforeExpiry(t *testing.T) {
	f := newFixture(t, makeUsers(4), func(o *EmulatorOptions) { o.ExpiresInNumber = true })
	c := f.client(t, nil)
	list(t, c, providers.Filter{}, 0, 10)
	f.clock.Add(59*time.Minute + time.Second) // within the one-minute margin
	list(t, c, providers.Filter{}, 0, 10)
	if tok, users := f.emu.Calls(); tok != 2 || users != 2 {
		t.Errorf("Calls() = %d, %d, want 2, 2 (a refresh before the call)", tok, users)
	}
	if g := f.emu.LastTokenRequest().Form; g.Get("grant_type") != "refresh_token" || g.Get("refresh_token") == "" {
		t.Errorf("renewal form = %v, want a refresh grant", g)
	}
}

func TestOneRenewalForManyCallers(t *testing.T) {
	f := newFixture(t, makeUsers(30), nil)
	c := f.client(t, func(c *Config) { c.PageSize = 7 })
	run := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 30}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	run()
	if tok, _ := f.emu.Calls(); tok != 1 {
		t.Errorf("token calls = %d, want 1", tok)
	}
	f.emu.ExpireAccessTokens()
	run()
	if tok, _ := f.emu.Calls(); tok != 2 {
		t.Errorf("token calls after expiry = %d, want 2", tok)
	}
}

func readStore(t *testing.T, name string) storedToken {
	t.Helper()
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatalf("token store: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token store mode = %v, want 0600", fi.Mode().Perm())
	}
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var st storedToken
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("token store: %v", err)
	}
	return st
}

func TestTokenStore(t *testing.T) {
	f := newFixture(t, makeUsers(4), nil)
	c := f.client(t, nil)
	list(t, c, providers.Filter{}, 0, 10)

	st := readStore(t, f.store)
	if st.RefreshToken == "" || st.Geolocation != f.srv.URL || st.RefreshExpiresAt.Before(f.clock.Now().Add(150*24*time.Hour)) {
		t.Errorf("token store = %+v, want a refresh token, geolocation %s and an expiry months ahead", st, f.srv.URL)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(f.store), ".*tmp")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	// A restart with a request token that no longer works uses the store.
	f.emu.SetRequestToken("regenerated")
	c2 := f.client(t, func(c *Config) { c.RequestToken = "expired-request-token" })
	if p := list(t, c2, providers.Filter{}, 0, 10); len(p.Users) != 4 {
		t.Errorf("after restart: %d users, want 4", len(p.Users))
	}
	if g := f.emu.LastTokenRequest().Form; g.Get("grant_type") != "refresh_token" || g.Get("refresh_token") != st.RefreshToken {
		t.Errorf("restart token form = %v, want the stored refresh token", g)
	}

	// No request token at all: the store is enough.
	c3 := f.client(t, func(c *Config) { c.RequestToken = "" })
	list(t, c3, providers.Filter{}, 0, 10)
}

func TestRefreshTokenRotationAndOmission(t *testing.T) {
	for _, tt := range []struct {
		name         string
		rotate, omit bool
	}{
		{"rotate", true, false},
		{"omit", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, makeUsers(2), func(o *EmulatorOptions) { o.RotateRefreshToken, o.OmitRefreshToken = tt.rotate, tt.omit })
			c := f.client(t, nil)
			list(t, c, providers.Filter{}, 0, 10)
			first := readStore(t, f.store).RefreshToken
			for range 2 {
				f.emu.ExpireAccessTokens()
				list(t, c, providers.Filter{}, 0, 10)
			}
			got := readStore(t, f.store).RefreshToken
			if tt.rotate == (got == first) {
				t.Errorf("stored refresh token changed = %v, want %v", got != first, tt.rotate)
			}
			if tok, _ := f.emu.Calls(); tok != 3 {
				t.Errorf("token calls = %d, want 3 (login and two refreshes, no fallback)", tok)
			}
		})
	}
}

func TestRefused108FallsBackToRequestToken(t *testing.T) {
	f := newFixture(t, makeUsers(2), nil)
	c := f.client(t, nil)
	list(t, c, providers.Filter{}, 0, 10)
	f.emu.RevokeRefreshTokens()
	f.emu.ExpireAccessTokens()
	list(t, c, providers.Filter{}, 0, 10)
	if g := f.emu.LastTokenRequest().Form.Get("grant_type"); g != "password" {
		t.Errorf("fallback grant = %q, want password", g)
	}

	// Neither works: a person must act.
	f.emu.RevokeRefreshTokens()
	f.emu.ExpireAccessTokens()
	f.emu.SetRequestToken("regenerated")
	refresh := readStore(t, f.store).RefreshToken
	_, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 10})
	if !errors.Is(err, providers.ErrAuth) || !strings.Contains(err.Error(), "a new company request token is needed") {
		t.Errorf("err = %v, want ErrAuth asking for a new request token", err)
	}
	noSecrets(t, err, refresh)
}

func TestUserLivesElsewhere(t *testing.T) {
	f := newFixture(t, makeUsers(3), nil)
	glz := NewEmulator(EmulatorOptions{Elsewhere: f.srv.URL})
	glzSrv := httptest.NewServer(glz)
	defer glzSrv.Close()
	c := f.client(t, func(c *Config) { c.TokenURL = glzSrv.URL + tokenPath })
	if p := list(t, c, providers.Filter{}, 0, 10); len(p.Users) != 3 {
		t.Errorf("got %d users, want 3", len(p.Users))
	}
	glzCalls, _ := glz.Calls()
	tok, users := f.emu.Calls()
	if glzCalls != 1 || tok != 1 || users != 1 {
		t.Errorf("calls: GLZ %d, data center %d token and %d users; want 1, 1, 1", glzCalls, tok, users)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		wantIs    error
		wantRetry time.Duration
	}{
		{"503", Fault{Status: 503, Body: `{"Error":{"Message":"Service Unavailable"}}`}, providers.ErrUnavailable, 0},
		{"500", Fault{Status: 500, Body: "oops"}, providers.ErrUnavailable, 0},
		{"429", Fault{Status: 429, RetryAfter: "7"}, providers.ErrRateLimited, 7 * time.Second},
		{"429 without Retry-After", Fault{Status: 429}, providers.ErrRateLimited, 0},
		{"bad JSON", Fault{Status: 200, Body: `{"total": 1, "Items": [`}, providers.ErrBadResponse, 0},
		{"wrong shape", Fault{Status: 200, Body: `{"total": 1, "Items": {"ID": "x"}}`}, providers.ErrBadResponse, 0},
		{"no Items", Fault{Status: 200, Body: `{"total": 1}`}, providers.ErrBadResponse, 0},
		{"user without ID", Fault{Status: 200, Body: `{"total": 1, "Items": [{"ID": null}]}`}, providers.ErrBadResponse, 0},
		{"401 after renewal", Fault{Status: 401, Body: `{"Error":{"Message":"Authorization Required"}}`}, providers.ErrAuth, 0},
		{"403 after renewal", Fault{Status: 403}, providers.ErrAuth, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, makeUsers(3), nil)
			c := f.client(t, nil)
			f.emu.SetFault(tt.fault)
			_, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 10})
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			var rl *providers.RateLimitError
			if errors.As(err, &rl) && rl.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", rl.RetryAfter, tt.wantRetry)
			}
			if tt.wantIs == providers.ErrRateLimited && rl == nil {
				t.Errorf("err = %v, want a *RateLimitError", err)
			}
			tok, users := f.emu.Calls()
			wantTok, wantUsers := 1, 1
			if tt.wantIs == providers.ErrAuth {
				wantTok, wantUsers = 2, 2 // one renewal, one retry
			}
			if tok != wantTok || users != wantUsers {
				t.Errorf("Calls() = %d, %d, want %d, %d (no retries)", tok, users, wantTok, wantUsers)
			}
			noSecrets(t, err, readStore(t, f.store).RefreshToken)
		})
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	f := newFixture(t, makeUsers(1), nil)
	for _, tt := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "wrong-secret-value" }, "code 64"},
		{"unknown client", func(c *Config) { c.ClientID = "other-client" }, "code 61"},
		{"wrong request token", func(c *Config) { c.RequestToken = "wrong-request-token" }, "a new company request token is needed"},
	} {
		c := f.client(t, func(c *Config) { c.TokenStore = ""; tt.mod(c) })
		_, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 1})
		if !errors.Is(err, providers.ErrAuth) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrAuth mentioning %q", tt.name, err, tt.want)
		}
		noSecrets(t, err, c.cfg.ClientSecret, c.cfg.RequestToken)
	}

	// The token service failing is unavailability.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	c := f.client(t, func(c *Config) { c.TokenURL = down.URL + tokenPath; c.TokenStore = "" })
	if _, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 1}); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("token 503: err = %v, want ErrUnavailable", err)
	}

	// So is a server that cannot be reached.
	down.Close()
	if _, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 1}); !errors.Is(err, providers.ErrUnavailable) {
		t.Errorf("closed server: err = %v, want ErrUnavailable", err)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t, makeUsers(1), nil)
	c := f.client(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.ListUsers(ctx, providers.ListRequest{Limit: 1})
	if !errors.Is(err, providers.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want ErrUnavailable and context.Canceled", err)
	}
}

// TestErrorsHideEchoedCredentials uses a vendor that echoes the token it
// was given in its error messages.
func TestErrorsHideEchoedCredentials(t *testing.T) {
	var (
		emu  *Emulator
		mu   sync.Mutex
		seen []string
	)
	see := func(s ...string) {
		mu.Lock()
		seen = append(seen, s...)
		mu.Unlock()
	}
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			r.ParseForm()
			see(r.PostForm.Get("client_secret"), r.PostForm.Get("password"), r.PostForm.Get("refresh_token"))
			if r.PostForm.Get("grant_type") == "refresh_token" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"refresh token %s is not for secret %s","code":105}`,
					r.PostForm.Get("refresh_token"), r.PostForm.Get("client_secret"))
				return
			}
			emu.ServeHTTP(w, r)
			return
		}
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		see(tok)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"Error":{"Message":"token %s refused"}}`, tok)
	}))
	defer echo.Close()
	emu = NewEmulator(EmulatorOptions{
		ClientID: testClientID, ClientSecret: testClientSecret, CompanyUUID: testCompanyUUID,
		RequestToken: testRequestToken, Geolocation: echo.URL,
	})
	c, err := New(Config{
		TokenURL: echo.URL + tokenPath, ClientID: testClientID, ClientSecret: testClientSecret,
		CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListUsers(t.Context(), providers.ListRequest{Limit: 1})
	if !errors.Is(err, providers.ErrAuth) || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("err = %v, want ErrAuth with redacted credentials", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 4 {
		t.Fatalf("saw only %d credentials", len(seen))
	}
	noSecrets(t, err, seen...)
}

func TestTolerantDecoding(t *testing.T) {
	// The shape of a Concur TMC guide, with nulls and numbers.
	const body = `{"total":"2","offset":"0","limit":"100",
	  "companyinfo":{"name":"ACME","address":null,"city":"Paris","state":null,"zip":75001,"country":"FR"},
	  "Items":[
	    {"Active":"true","CountryCode":null,"CellPhoneNumber":null,"PrimaryEmail":"a@x.com","EmployeeID":106,
	     "ID":"U1","Emails":{"PrimaryEmail":"a@x.com","VerifiedEmail":null,"email2":"A@X.COM","email3":"b@x.com","email4":""},
	     "OrganizationUnit":null,"MiddleName":null,"LastName":"Doe","FirstName":"Al","LoginID":"al"},
	    {"Active":false,"ID":"U2","Emails":["PrimaryEmail","VerifiedEmail","c@x.com"],"PrimaryEmail":null,"EmployeeID":"7"}
	  ]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			fmt.Fprint(w, `{"access_token":"at","expires_in":3600,"refresh_token":"rt","refresh_expires_in":"1900000000","token_type":"Bearer"}`)
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	c, err := New(Config{TokenURL: srv.URL + tokenPath, ClientID: "id", ClientSecret: "secret", CompanyUUID: "co", RequestToken: "rq"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ListUsers(t.Context(), providers.ListRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []providers.User{
		{ID: "U1", Email: "a@x.com", Emails: []string{"a@x.com", "b@x.com"}, FirstName: "Al", LastName: "Doe", Active: true, LoginID: "al", EmployeeID: "106"},
		{ID: "U2", Emails: []string{"c@x.com"}, EmployeeID: "7"},
	}
	if !reflect.DeepEqual(p.Users, want) {
		t.Errorf("users =\n%+v\nwant\n%+v", p.Users, want)
	}
	wantCo := &providers.Company{Name: "ACME", City: "Paris", Zip: "75001", Country: "FR"}
	if p.Total != 2 || !reflect.DeepEqual(p.Company, wantCo) {
		t.Errorf("Total, Company = %d, %+v, want 2, %+v", p.Total, p.Company, wantCo)
	}
	// No geolocation: API calls go to the token URL's host.
	if c.geo != srv.URL || !c.refreshExp.Equal(time.Unix(1900000000, 0)) {
		t.Errorf("geo, refresh expiry = %s, %v", c.geo, c.refreshExp)
	}
}

func TestDescribe(t *testing.T) {
	c, err := New(Config{ClientID: "id", ClientSecret: "s", CompanyUUID: "co", RequestToken: "rq"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Describe()
	all := providers.FieldEmail | providers.FieldActive | providers.FieldLoginID | providers.FieldLastName |
		providers.FieldEmployeeID | providers.FieldCountryCode | providers.FieldID
	if d.Paging != providers.PagingOffset || d.Filters != all {
		t.Errorf("Describe() = %+v", d)
	}
}

// carries maps a user onto what Concur holds and the adapter returns.
func carries(u providers.User) providers.User {
	u.CreatedAt, u.LastActivityAt = time.Time{}, time.Time{}
	u.Emails = userEmails(u.Email, u.Emails)
	return u
}

func TestConformance(t *testing.T) {
	for _, tmc := range []bool{false, true} {
		t.Run(fmt.Sprintf("tmc=%v", tmc), func(t *testing.T) {
			providertest.Run(t, func(t *testing.T, users []providers.User, company *providers.Company) providers.Provider {
				f := newFixture(t, users, func(o *EmulatorOptions) { o.Company, o.TMCShape = company, tmc })
				return f.client(t, func(c *Config) { c.PageSize = 7 })
			}, providertest.Options{Carries: carries})
		})
	}
}
