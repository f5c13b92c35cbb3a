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
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

const (
	testClientID     = "0f1e2d3c-client"
	testClientSecret = "s3cr3t-client-secret-value"
	testCompanyUUID  = "c0ffee00-company-uuid"
	testRequestToken = "rq-tok-1234567890abcdef"
)

var testCompanyInfo = &driver.Company{Name: "Company Name LLC", Address: "601 108th ave NE", City: "Bellevue", State: "WA", Zip: "98004", Country: "US"}

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

	mu      sync.Mutex
	queries []url.Values // of /users, in the order they arrived
}

// usersQueries returns the queries /users has received so far, and
// forgets them.
func (f *fixture) usersQueries() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queries
	f.queries = nil
	return q
}

// newFixture starts an emulator serving users; mod may change its options.
func newFixture(t *testing.T, users []driver.User, mod func(*EmulatorOptions)) *fixture {
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
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/users") {
			f.mu.Lock()
			f.queries = append(f.queries, r.URL.Query())
			f.mu.Unlock()
		}
		f.emu.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) config() Config {
	return Config{Auth: companyauth.Config{TokenURL: f.srv.URL + tokenPath, ClientID: testClientID, ClientSecret: sec(testClientSecret), CompanyUUID: testCompanyUUID, RequestToken: sec(testRequestToken), TokenStore: f.store}}
}

var sec = vendorhttp.NewSecret

// httpClient is a vendorhttp.Client over hc on the clock now.
func httpClient(hc *http.Client, now func() time.Time) *vendorhttp.Client {
	return vendorhttp.New(vendorhttp.Options{HTTP: hc, Now: now})
}

// client returns a Client for the fixture's emulator; mod may change its
// config.
func (f *fixture) client(t *testing.T, mod func(*Config)) *Client {
	t.Helper()
	cfg := f.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg, &Options{HTTP: httpClient(f.srv.Client(), f.clock.Now)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// source puts c behind the portable layer, as dirgate does.
func source(t *testing.T, c *Client, opts *providers.SourceOptions) *providers.Source {
	t.Helper()
	s, err := providers.NewSource(providers.Info{Key: "concur", Kind: "concur"}, c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func makeUsers(n int) []driver.User {
	return providertest.Dataset(n)
}

func ids(us []driver.User) []string {
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

// list lists limit users matching f from offset on through s, as dirgate
// does: a walk reaches offset by listing the users before it.
func list(t *testing.T, s *providers.Source, f driver.Filter, offset, limit int) *providers.Run {
	t.Helper()
	pos := providers.Position{}
	if offset > 0 {
		run, err := s.List(t.Context(), f, pos, offset)
		if err != nil {
			t.Fatalf("List(limit %d): %v", offset, err)
		}
		pos = run.Next
	}
	run, err := s.List(t.Context(), f, pos, limit)
	if err != nil {
		t.Fatalf("List(offset %d, limit %d): %v", offset, limit, err)
	}
	return run
}

// listOnce is list through a Source of its own.
func listOnce(t *testing.T, c *Client, offset, limit int) *providers.Run {
	t.Helper()
	return list(t, source(t, c, nil), driver.Filter{}, offset, limit)
}

func TestNewValidates(t *testing.T) {
	good := Config{Auth: companyauth.Config{ClientID: "id", ClientSecret: sec(testClientSecret), CompanyUUID: "co", RequestToken: sec(testRequestToken)}}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // in the error; "" for success
	}{
		{"ok", func(*Config) {}, ""},
		{"no client id", func(c *Config) { c.Auth.ClientID = "" }, `"clientID"`},
		{"no client secret", func(c *Config) { c.Auth.ClientSecret = sec(" ") }, `"clientSecret"`},
		{"a client secret too short to be real", func(c *Config) { c.Auth.ClientSecret = sec("t") }, "clientSecret is too short"},
		{"a request token too short to be real", func(c *Config) { c.Auth.RequestToken = sec("rq") }, "requestToken is too short"},
		{"no company", func(c *Config) { c.Auth.CompanyUUID = "" }, `"companyUUID"`},
		{"no request token", func(c *Config) { c.Auth.RequestToken = sec("") }, `"requestToken"`},
		{"store instead of request token", func(c *Config) { c.Auth.RequestToken, c.Auth.TokenStore = sec(""), "/tmp/x" }, ""},
		{"page size too big", func(c *Config) { c.PageSize = 1001 }, "pageSize"},
		{"negative page size", func(c *Config) { c.PageSize = -1 }, "pageSize"},
		{"relative token url", func(c *Config) { c.Auth.TokenURL = "/oauth2/v0/token" }, "tokenURL"},
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
		if err == nil && (c.cfg.PageSize != DefaultPageSize || c.cfg.Auth.TokenURL != companyauth.DefaultTokenURL || c.Describe().PageSize != DefaultPageSize) {
			t.Errorf("%s: defaults not applied: %+v", tt.name, c.cfg)
		}
	}
}

func TestFirstLoginSendsDocumentedForm(t *testing.T) {
	f := newFixture(t, makeUsers(3), nil)
	c := f.client(t, nil)
	listOnce(t, c, 0, 10)

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
	src := source(t, c, &providers.SourceOptions{MaxConcurrency: 16})

	// Without a total yet, the request is planned whole at once: pages of
	// 7 for 100 users, concurrently.
	p := list(t, src, driver.Filter{}, 0, 100)
	if !reflect.DeepEqual(ids(p.Users), ids(users)) {
		t.Errorf("walk = %v, want %v", ids(p.Users), ids(users))
	}
	if p.Total != 23 || p.Next.Offset != 23 || p.More {
		t.Errorf("Total, Next, More = %d, %d, %t, want 23, 23, false", p.Total, p.Next.Offset, p.More)
	}
	if !reflect.DeepEqual(p.Company, testCompanyInfo) {
		t.Errorf("Company = %+v, want %+v", p.Company, testCompanyInfo)
	}
	if got := offsets(f.usersQueries()); got != "0+7 7+7 14+7 21+7 28+7 35+7 42+7 49+7 56+7 63+7 70+7 77+7 84+7 91+7 98+2" {
		t.Errorf("queries = %s, want pages of 7 up to 100", got)
	}

	// Once the total is known, only the pages the directory has.
	p = list(t, src, driver.Filter{}, 0, 100)
	if !reflect.DeepEqual(ids(p.Users), ids(users)) {
		t.Errorf("walk = %v, want %v", ids(p.Users), ids(users))
	}
	if got := offsets(f.usersQueries()); got != "0+7 7+7 14+7 21+2" {
		t.Errorf("queries = %s, want 0+7 7+7 14+7 21+2", got)
	}

	// From a walk's place: the user before it is read again, to check
	// that the directory did not change before it.
	p = list(t, src, driver.Filter{}, 5, 10)
	if !reflect.DeepEqual(ids(p.Users), ids(users[5:15])) || p.Next.Offset != 15 {
		t.Errorf("offset 5 limit 10 = %v next %d, want %v next 15", ids(p.Users), p.Next.Offset, ids(users[5:15]))
	}
	if got := offsets(f.usersQueries()); got != "0+5 4+7 11+4" {
		t.Errorf("queries = %s, want 0+5, then 4+7 11+4", got)
	}

	end := list(t, src, driver.Filter{}, 0, 23).Next
	p, err := src.List(t.Context(), driver.Filter{}, end, 10)
	if err != nil || len(p.Users) != 0 || p.Total != 23 || p.Next.Offset != 23 || p.More {
		t.Errorf("past the end: %d users, Total %d, Next %d, More %t, %v; want 0, 23, 23, false", len(p.Users), p.Total, p.Next.Offset, p.More, err)
	}
}

// offsets returns "offset+limit" of each query, sorted by offset, and
// fails if a query has a parameter other than the documented lower-case
// ones.
func offsets(qs []url.Values) string {
	var out []string
	sort.Slice(qs, func(i, j int) bool { return atoi(qs[i].Get("offset")) < atoi(qs[j].Get("offset")) })
	for _, q := range qs {
		for k := range q {
			if !usersParams[k] {
				return "undocumented parameter " + k
			}
		}
		out = append(out, q.Get("offset")+"+"+q.Get("limit"))
	}
	return strings.Join(out, " ")
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func TestVendorSmallerPagesThanAsked(t *testing.T) {
	users := makeUsers(23)
	f := newFixture(t, users, func(o *EmulatorOptions) { o.MaxLimit = 5 })
	c := f.client(t, func(c *Config) { c.PageSize = 7 })
	p := list(t, source(t, c, nil), driver.Filter{}, 2, 13)
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
	c := f.client(t, func(c *Config) { c.Auth.TokenURL = srv.URL + tokenPath; c.PageSize = 3 })
	p := list(t, source(t, c, nil), driver.Filter{}, 1, 4)
	if !reflect.DeepEqual(ids(p.Users), ids(users[1:5])) || p.Next.Offset != 5 {
		t.Errorf("got %v next %d, want %v next 5", ids(p.Users), p.Next.Offset, ids(users[1:5]))
	}
}

func TestLimitZeroReturnsTotal(t *testing.T) {
	f := newFixture(t, makeUsers(12), nil)
	c := f.client(t, nil)
	p, err := c.ListUsers(t.Context(), driver.ListRequest{Offset: 4, Limit: 0})
	if err != nil || len(p.Users) != 0 || p.Total != 12 || p.Company == nil {
		t.Errorf("limit 0 = %d users, Total %d, Company %v, %v; want 0, 12, set", len(p.Users), p.Total, p.Company, err)
	}
	if q := f.emu.LastQuery(); q.Get("limit") != "1" {
		t.Errorf("limit 0 asked Concur for limit %q, want 1", q.Get("limit"))
	}
}

func TestFiltersArePushedDown(t *testing.T) {
	users := makeUsers(20)
	f := newFixture(t, users, nil)
	c := f.client(t, func(c *Config) { c.PageSize = 7 })
	with := func(f driver.Field, v string) driver.Filter { return driver.Filter{}.With(f, v) }
	tests := []struct {
		name      string
		give      driver.Filter
		wantQuery url.Values
	}{
		{"active", with(driver.FieldActive, "true"), url.Values{"isactive": {"true"}}},
		{"inactive", with(driver.FieldActive, "FALSE"), url.Values{"isactive": {"false"}}},
		{"email", with(driver.FieldEmail, " "+strings.ToUpper(users[3].Email)+" "), url.Values{"primaryemail": {strings.ToUpper(users[3].Email)}}},
		{"loginId", with(driver.FieldLoginID, users[4].LoginID), url.Values{"loginid": {users[4].LoginID}}},
		{"lastName", with(driver.FieldLastName, "smith"), url.Values{"lastname": {"smith"}}},
		{"employeeId", with(driver.FieldEmployeeID, users[5].EmployeeID), url.Values{"employeeid": {users[5].EmployeeID}}},
		{"countryCode", with(driver.FieldCountryCode, "fr"), url.Values{"countrycode": {"fr"}}},
		{"id", with(driver.FieldID, users[6].ID), url.Values{"id": {users[6].ID}}},
		{"active lastName", with(driver.FieldActive, "true").With(driver.FieldLastName, "Martin"), url.Values{"isactive": {"true"}, "lastname": {"Martin"}}},
	}
	for _, tt := range tests {
		p, err := c.ListUsers(t.Context(), driver.ListRequest{Filter: tt.give, Limit: 100})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var want []string
		for i := range users {
			if tt.give.Match(&users[i]) {
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
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			f := newFixture(t, makeUsers(4), func(o *EmulatorOptions) { o.ExpiredTokenStatus = status })
			c := f.client(t, nil)
			listOnce(t, c, 0, 10)
			f.emu.ExpireAccessTokens()
			if p := listOnce(t, c, 0, 10); len(p.Users) != 4 {
				t.Errorf("after expiry: %d users, want 4", len(p.Users))
			}
			if tok, users := f.emu.Calls(); tok != 2 || users != 3 {
				t.Errorf("Calls() = %d, %d, want 2, 3 (a refused call, a refresh, a retry)", tok, users)
			}
			if g := f.emu.LastTokenRequest().Form.Get("grant_type"); g != "refresh_token" {
				t.Errorf("renewal used grant %q, want refresh_token", g)
			}
		})
	}
}

func TestEmulatorStorm(t *testing.T) {
	f := newFixture(t, makeUsers(3), nil)
	tok := getToken(t, f)
	get(t, f, tok, "/users/") // before the storm
	for _, tt := range []struct {
		storm      Storm
		want       string // the statuses of six calls
		retryAfter string
	}{
		{Storm{Status: 429, RetryAfter: "2", Every: 3}, "429 200 200 429 200 200", "2"},
		{Storm{Status: 503, Every: 4, Burst: 2}, "503 503 200 200 503 503", ""},
		{Storm{Status: 502, Every: 1}, "502 502 502 502 502 502", ""},
		{Storm{}, "200 200 200 200 200 200", ""},
	} {
		f.emu.SetStorm(tt.storm)
		var got []string
		for range 6 {
			req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/users/", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got = append(got, strconv.Itoa(resp.StatusCode))
			if resp.StatusCode != 200 && resp.Header.Get("Retry-After") != tt.retryAfter {
				t.Errorf("%+v: Retry-After = %q, want %q", tt.storm, resp.Header.Get("Retry-After"), tt.retryAfter)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("%+v: statuses %s, want %s", tt.storm, g, tt.want)
		}
	}
	if n := f.emu.Failures(); n != 2+4+6 {
		t.Errorf("Failures() = %d, want 12", n)
	}
}

func TestEmulatorLimitAboveMax(t *testing.T) {
	for _, reject := range []bool{false, true} {
		f := newFixture(t, makeUsers(5), func(o *EmulatorOptions) { o.MaxLimit, o.RejectLimitAboveMax = 2, reject })
		status, body := get(t, f, getToken(t, f), "/users/?limit=3")
		if reject && (status != 400 || !strings.Contains(body, "invalid query params")) {
			t.Errorf("reject: GET limit=3 = %d %s, want 400 invalid query params", status, body)
		}
		if !reject && (status != 200 || !strings.Contains(body, `"limit":2`)) {
			t.Errorf("clamp: GET limit=3 = %d %s, want 200 with limit 2", status, body)
		}
	}
}

func TestRenewalBeforeExpiry(t *testing.T) {
	f := newFixture(t, makeUsers(4), func(o *EmulatorOptions) { o.ExpiresInNumber = true })
	c := f.client(t, nil)
	listOnce(t, c, 0, 10)
	f.clock.Add(59*time.Minute + time.Second) // within the one-minute margin
	listOnce(t, c, 0, 10)
	if tok, users := f.emu.Calls(); tok != 2 || users != 2 {
		t.Errorf("Calls() = %d, %d, want 2, 2 (a refresh before the call)", tok, users)
	}
	if g := f.emu.LastTokenRequest().Form; g.Get("grant_type") != "refresh_token" || g.Get("refresh_token") == "" {
		t.Errorf("renewal form = %v, want a refresh grant", g)
	}
}

// TestOneRenewalForManyCallers: 100 concurrent requests arriving when the
// access token expires (by the clock, or refused by Concur) make exactly
// one renewal between them. See also TestManyRequestsAtExpiryMakeOneRenewal.
func TestOneRenewalForManyCallers(t *testing.T) {
	f := newFixture(t, makeUsers(30), nil)
	c := f.client(t, func(c *Config) { c.PageSize = 15 })
	run := func() {
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if p, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 30}); err != nil || len(p.Users) != 30 {
					t.Errorf("ListUsers = %v, %v; want 30 users", p, err)
				}
			})
		}
		wg.Wait()
	}
	run()
	if tok, _ := f.emu.Calls(); tok != 1 {
		t.Errorf("token calls = %d, want 1", tok)
	}
	f.clock.Add(time.Hour) // the access token's hour is up
	run()
	if tok, _ := f.emu.Calls(); tok != 2 {
		t.Errorf("token calls after expiry = %d, want 2", tok)
	}
	f.emu.ExpireAccessTokens() // Concur refuses it before its time
	run()
	if tok, _ := f.emu.Calls(); tok != 3 {
		t.Errorf("token calls after a refusal = %d, want 3", tok)
	}
}

// storedToken is what the token store keeps, as the file says it.
type storedToken struct {
	ClientID         string    `json:"client_id"`
	CompanyUUID      string    `json:"company_uuid"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	Geolocation      string    `json:"geolocation"`
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
	listOnce(t, c, 0, 10)

	st := readStore(t, f.store)
	if st.RefreshToken == "" || st.Geolocation != f.srv.URL || st.RefreshExpiresAt.Before(f.clock.Now().Add(150*24*time.Hour)) {
		t.Errorf("token store = %+v, want a refresh token, geolocation %s and an expiry months ahead", st, f.srv.URL)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(f.store), ".*tmp")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}

	// A restart with a request token that no longer works uses the store.
	f.emu.SetRequestToken("regenerated")
	c2 := f.client(t, func(c *Config) { c.Auth.RequestToken = sec("expired-request-token") })
	if p := listOnce(t, c2, 0, 10); len(p.Users) != 4 {
		t.Errorf("after restart: %d users, want 4", len(p.Users))
	}
	if g := f.emu.LastTokenRequest().Form; g.Get("grant_type") != "refresh_token" || g.Get("refresh_token") != st.RefreshToken {
		t.Errorf("restart token form = %v, want the stored refresh token", g)
	}

	// No request token at all: the store is enough.
	c3 := f.client(t, func(c *Config) { c.Auth.RequestToken = sec("") })
	listOnce(t, c3, 0, 10)

	// A stored refresh token past its expiry is not used: the (new)
	// request token is, and its refresh token replaces the stored one.
	old := readStore(t, f.store)
	f.clock.Add(old.RefreshExpiresAt.Sub(f.clock.Now()) + time.Second)
	c4 := f.client(t, func(c *Config) { c.Auth.RequestToken = sec("regenerated") })
	listOnce(t, c4, 0, 10)
	if g := f.emu.LastTokenRequest().Form.Get("grant_type"); g != "password" {
		t.Errorf("with an expired stored refresh token, grant = %q, want password", g)
	}
	if st := readStore(t, f.store); st.RefreshToken == old.RefreshToken {
		t.Error("the store still holds the expired refresh token")
	}
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
			listOnce(t, c, 0, 10)
			first := readStore(t, f.store).RefreshToken
			for range 2 {
				f.emu.ExpireAccessTokens()
				listOnce(t, c, 0, 10)
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
	listOnce(t, c, 0, 10)
	f.emu.RevokeRefreshTokens()
	f.emu.ExpireAccessTokens()
	listOnce(t, c, 0, 10)
	if g := f.emu.LastTokenRequest().Form.Get("grant_type"); g != "password" {
		t.Errorf("fallback grant = %q, want password", g)
	}

	// Neither works: a person must act.
	f.emu.RevokeRefreshTokens()
	f.emu.ExpireAccessTokens()
	f.emu.SetRequestToken("regenerated")
	refresh := readStore(t, f.store).RefreshToken
	_, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 10})
	if !errors.Is(err, driver.ErrAuth) || !strings.Contains(err.Error(), "a new company request token is needed") {
		t.Errorf("err = %v, want ErrAuth asking for a new request token", err)
	}
	noSecrets(t, err, refresh)
}

func TestUserLivesElsewhere(t *testing.T) {
	f := newFixture(t, makeUsers(3), nil)
	glz := NewEmulator(EmulatorOptions{Elsewhere: f.srv.URL})
	glzSrv := httptest.NewServer(glz)
	defer glzSrv.Close()
	c := f.client(t, func(c *Config) { c.Auth.TokenURL = glzSrv.URL + tokenPath })
	if p := listOnce(t, c, 0, 10); len(p.Users) != 3 {
		t.Errorf("got %d users, want 3", len(p.Users))
	}
	glzCalls, _ := glz.Calls()
	tok, users := f.emu.Calls()
	if glzCalls != 1 || tok != 1 || users != 1 {
		t.Errorf("calls: GLZ %d, data center %d token and %d users; want 1, 1, 1", glzCalls, tok, users)
	}
	if st := readStore(t, f.store); st.Geolocation != f.srv.URL {
		t.Errorf("stored geolocation = %q, want the data center %q", st.Geolocation, f.srv.URL)
	}

	// The refresh goes to the data center, not to GLZ.
	f.emu.ExpireAccessTokens()
	listOnce(t, c, 0, 10)
	glzCalls, _ = glz.Calls()
	if tok, _ := f.emu.Calls(); glzCalls != 1 || tok != 2 || f.emu.LastTokenRequest().Form.Get("grant_type") != "refresh_token" {
		t.Errorf("after expiry: GLZ %d, data center %d token calls, want 1, 2 (a refresh at the data center)", glzCalls, tok)
	}

	// A refresh sent to the wrong data center follows code 16 too, and
	// later calls go where it leads.
	other := NewEmulator(EmulatorOptions{Elsewhere: f.srv.URL})
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	// A restart whose store names that data center: the refresh goes
	// there first.
	st := readStore(t, f.store)
	st.Geolocation = otherSrv.URL
	b, _ := json.Marshal(st)
	if err := os.WriteFile(f.store, b, 0o600); err != nil {
		t.Fatal(err)
	}
	listOnce(t, f.client(t, nil), 0, 10)
	if n, _ := other.Calls(); n != 1 || readStore(t, f.store).Geolocation != f.srv.URL {
		t.Errorf("refresh at the wrong data center: %d calls there, geolocation now %q; want 1, %q", n, readStore(t, f.store).Geolocation, f.srv.URL)
	}
}

// TestShortPageMidway: when one of several concurrent pages comes back
// shorter than asked, the client fetches the gap rather than skip it.
func TestShortPageMidway(t *testing.T) {
	users := makeUsers(50)
	f := newFixture(t, users, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); r.URL.Path == "/users/" && q.Get("offset") == "20" {
			q.Set("limit", "4") // this page happens to be short
			r.URL.RawQuery = q.Encode()
		}
		f.emu.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c := f.client(t, func(c *Config) { c.Auth.TokenURL = srv.URL + tokenPath; c.PageSize = 10 })
	src := source(t, c, nil)
	list(t, src, driver.Filter{}, 0, 1) // learn the total
	p := list(t, src, driver.Filter{}, 0, 50)
	if !reflect.DeepEqual(ids(p.Users), ids(users)) || p.Next.Offset != 50 {
		t.Errorf("got %d users, next %d; want all 50 in order", len(p.Users), p.Next.Offset)
	}
}

// TestLimitAboveMaximum: with pageSize 1000 against a tenant whose maximum
// is 100, the walk is complete whether Concur clamps the limit or refuses
// it, and later calls ask for 100.
func TestLimitAboveMaximum(t *testing.T) {
	for _, reject := range []bool{false, true} {
		t.Run(fmt.Sprintf("reject=%v", reject), func(t *testing.T) {
			users := makeUsers(250)
			f := newFixture(t, users, func(o *EmulatorOptions) { o.RejectLimitAboveMax = reject })
			c := f.client(t, func(c *Config) { c.PageSize = MaxPageSize })
			src := source(t, c, nil)
			p := list(t, src, driver.Filter{}, 0, 250)
			if !reflect.DeepEqual(ids(p.Users), ids(users)) {
				t.Errorf("got %d users, want all 250 in order", len(p.Users))
			}
			f.usersQueries()
			p = list(t, src, driver.Filter{}, 10, 240)
			if !reflect.DeepEqual(ids(p.Users), ids(users[10:])) {
				t.Errorf("got %d users, want 240 in order", len(p.Users))
			}
			// 10 users to reach the place, then from the user before it.
			if got := offsets(f.usersQueries()); got != "0+10 9+100 109+100 209+41" {
				t.Errorf("later queries = %s, want pages of 100", got)
			}
		})
	}
}

// TestTokenErrorAdvice: each documented token-endpoint error code becomes
// a message that says what to do, echoes no secret, and is ErrAuth.
func TestTokenErrorAdvice(t *testing.T) {
	for _, tt := range []struct {
		code int
		want string
	}{
		{5, "a new company request token is needed"},
		{19, "a new company request token is needed"},
		{136, "a new company request token is needed"},
		{53, "a Concur administrator must connect it, and a new company request token is needed"},
		{14, "contact SAP Concur support"},
		{20, "IP restriction"},
		{61, "check clientID"},
		{64, "check clientSecret"},
		{59, "App Management"},
		{120, "please report it"},
		{135, "please report it"},
		{16, "geolocation could not be followed"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			w.WriteHeader(http.StatusBadRequest)
			// A vendor that echoes what it was sent.
			fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"no good: %s / %s","code":%d}`,
				r.PostForm.Get("client_secret"), r.PostForm.Get("password"), tt.code)
		}))
		c, err := New(Config{Auth: companyauth.Config{TokenURL: srv.URL + tokenPath, ClientID: testClientID, ClientSecret: sec(testClientSecret), CompanyUUID: testCompanyUUID, RequestToken: sec(testRequestToken)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListUsers(t.Context(), driver.ListRequest{Limit: 1})
		srv.Close()
		if !errors.Is(err, driver.ErrAuth) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "no good") ||
			!strings.Contains(err.Error(), fmt.Sprintf("(code %d)", tt.code)) {
			t.Errorf("code %d: err = %v, want ErrAuth with the code and %q, and none of the vendor's text", tt.code, err, tt.want)
		}
		noSecrets(t, err)
	}
}

// TestRefreshExpiresInAsString: refresh_expires_in as a JSON string is
// read, and kept in the token store.
func TestRefreshExpiresInAsString(t *testing.T) {
	f := newFixture(t, makeUsers(2), func(o *EmulatorOptions) { o.RefreshExpiresInString, o.ExpiresInNumber = true, true })
	c := f.client(t, nil)
	listOnce(t, c, 0, 10)
	want := f.clock.Now().Add(183 * 24 * time.Hour)
	if st := readStore(t, f.store); !st.RefreshExpiresAt.Equal(want) {
		t.Errorf("stored refresh expiry = %v, want %v", st.RefreshExpiresAt, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		wantIs    error
		wantRetry time.Duration
	}{
		{"503", Fault{Status: 503, Body: `{"Error":{"Message":"Service Unavailable"}}`}, driver.ErrUnavailable, 0},
		{"500", Fault{Status: 500, Body: "oops"}, driver.ErrUnavailable, 0},
		{"429", Fault{Status: 429, RetryAfter: "7"}, driver.ErrRateLimited, 7 * time.Second},
		{"429 without Retry-After", Fault{Status: 429}, driver.ErrRateLimited, 0},
		{"bad JSON", Fault{Status: 200, Body: `{"total": 1, "Items": [`}, driver.ErrBadResponse, 0},
		{"wrong shape", Fault{Status: 200, Body: `{"total": 1, "Items": {"ID": "x"}}`}, driver.ErrBadResponse, 0},
		{"no Items", Fault{Status: 200, Body: `{"total": 1}`}, driver.ErrBadResponse, 0},
		{"user without ID", Fault{Status: 200, Body: `{"total": 1, "Items": [{"ID": null}]}`}, driver.ErrBadResponse, 0},
		{"401 after renewal", Fault{Status: 401, Body: `{"Error":{"Message":"Authorization Required"}}`}, driver.ErrAuth, 0},
		{"403 after renewal", Fault{Status: 403}, driver.ErrAuth, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, makeUsers(3), nil)
			c := f.client(t, nil)
			f.emu.SetFault(tt.fault)
			_, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 10})
			if !errors.Is(err, tt.wantIs) {
				t.Fatalf("err = %v, want %v", err, tt.wantIs)
			}
			var rl *driver.RateLimitError
			if errors.As(err, &rl) && rl.RetryAfter != tt.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", rl.RetryAfter, tt.wantRetry)
			}
			if tt.wantIs == driver.ErrRateLimited && rl == nil {
				t.Errorf("err = %v, want a *RateLimitError", err)
			}
			tok, users := f.emu.Calls()
			wantTok, wantUsers := 1, 1
			if tt.wantIs == driver.ErrAuth {
				wantTok, wantUsers = 2, 2 // one renewal, one retry
			}
			if tok != wantTok || users != wantUsers {
				t.Errorf("Calls() = %d, %d, want %d, %d (no retries)", tok, users, wantTok, wantUsers)
			}
			noSecrets(t, err, readStore(t, f.store).RefreshToken)
			if strings.Contains(err.Error(), "Unavailable\"") || strings.Contains(err.Error(), "Required") {
				t.Errorf("err = %v: it quotes the vendor's body", err)
			}
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
		{"wrong secret", func(c *Config) { c.Auth.ClientSecret = sec("wrong-secret-value") }, "code 64"},
		{"unknown client", func(c *Config) { c.Auth.ClientID = "other-client" }, "code 61"},
		{"wrong request token", func(c *Config) { c.Auth.RequestToken = sec("wrong-request-token") }, "a new company request token is needed"},
	} {
		c := f.client(t, func(c *Config) { c.Auth.TokenStore = ""; tt.mod(c) })
		_, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 1})
		if !errors.Is(err, driver.ErrAuth) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want ErrAuth mentioning %q", tt.name, err, tt.want)
		}
		noSecrets(t, err, c.cfg.Auth.ClientSecret.Reveal(), c.cfg.Auth.RequestToken.Reveal())
	}

	// The token service failing is unavailability.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	c := f.client(t, func(c *Config) { c.Auth.TokenURL = down.URL + tokenPath; c.Auth.TokenStore = "" })
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 1}); !errors.Is(err, driver.ErrUnavailable) {
		t.Errorf("token 503: err = %v, want ErrUnavailable", err)
	}

	// So is a server that cannot be reached.
	down.Close()
	if _, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 1}); !errors.Is(err, driver.ErrUnavailable) {
		t.Errorf("closed server: err = %v, want ErrUnavailable", err)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t, makeUsers(1), nil)
	c := f.client(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.ListUsers(ctx, driver.ListRequest{Limit: 1})
	if !errors.Is(err, driver.ErrUnavailable) || !errors.Is(err, context.Canceled) {
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
	c, err := New(Config{Auth: companyauth.Config{TokenURL: echo.URL + tokenPath, ClientID: testClientID, ClientSecret: sec(testClientSecret), CompanyUUID: testCompanyUUID, RequestToken: sec(testRequestToken)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListUsers(t.Context(), driver.ListRequest{Limit: 1})
	if !errors.Is(err, driver.ErrAuth) || strings.Contains(err.Error(), "refused\"") || strings.Contains(err.Error(), "is not for secret") {
		t.Fatalf("err = %v, want ErrAuth without the vendor's text", err)
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
	store := &vendorhttp.MemoryStore{}
	c, err := New(Config{Auth: companyauth.Config{TokenURL: srv.URL + tokenPath, ClientID: "id", ClientSecret: sec(testClientSecret), CompanyUUID: "co", RequestToken: sec(testRequestToken)}}, &Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.User{
		{ID: "U1", Email: "a@x.com", Emails: []string{"a@x.com", "b@x.com"}, FirstName: "Al", LastName: "Doe", Active: true, LoginID: "al", EmployeeID: "106"},
		{ID: "U2", Emails: []string{"c@x.com"}, EmployeeID: "7"},
	}
	if !reflect.DeepEqual(p.Users, want) {
		t.Errorf("users =\n%+v\nwant\n%+v", p.Users, want)
	}
	wantCo := &driver.Company{Name: "ACME", City: "Paris", Zip: "75001", Country: "FR"}
	if p.Total != 2 || !reflect.DeepEqual(p.Company, wantCo) {
		t.Errorf("Total, Company = %d, %+v, want 2, %+v", p.Total, p.Company, wantCo)
	}
	// No geolocation: API calls go to the token URL's host (they did),
	// and it is kept as the geolocation; the refresh expiry came as a
	// string.
	var st storedToken
	if b, err := store.Load(t.Context()); err != nil || json.Unmarshal(b, &st) != nil ||
		st.Geolocation != srv.URL || !st.RefreshExpiresAt.Equal(time.Unix(1900000000, 0)) {
		t.Errorf("stored geolocation, refresh expiry = %s, %v", st.Geolocation, st.RefreshExpiresAt)
	}

	// Nulls where numbers and arrays belong: no users, no total.
	for _, body := range []string{
		`{"total":null,"offset":null,"limit":null,"company":null,"Items":null,"NextPage":null}`,
		`{"total":"0","offset":"0","limit":"100","Items":[]}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == tokenPath {
				fmt.Fprint(w, `{"access_token":"at","expires_in":"3600","refresh_expires_in":null,"refresh_token":null}`)
				return
			}
			fmt.Fprint(w, body)
		}))
		c, err := New(Config{Auth: companyauth.Config{TokenURL: srv.URL + tokenPath, ClientID: "id", ClientSecret: sec(testClientSecret), CompanyUUID: "co", RequestToken: sec(testRequestToken)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.ListUsers(t.Context(), driver.ListRequest{Limit: 10})
		srv.Close()
		if err != nil || len(p.Users) != 0 || p.Company != nil {
			t.Errorf("%s: ListUsers = %+v, %v; want an empty page", body, p, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	c, err := New(Config{Auth: companyauth.Config{ClientID: "id", ClientSecret: sec(testClientSecret), CompanyUUID: "co", RequestToken: sec(testRequestToken)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := c.Describe()
	if d.Paging != driver.PagingOffset || d.Filters != driver.Filterable || !d.Totals || d.PageSize != DefaultPageSize ||
		d.Fields.Has(driver.FieldCreatedAt) || !d.Fields.Has(driver.FieldCellPhone) {
		t.Errorf("Describe() = %+v", d)
	}
}

// carries maps a user onto what Concur holds and the adapter returns.
func carries(u driver.User) driver.User {
	u.CreatedAt, u.LastActivityAt = time.Time{}, time.Time{}
	u.Emails = userEmails(u.Email, u.Emails)
	return u
}

// harness wires a Client to an Emulator over loopback HTTP, with the
// suite's faults in front of it.
type harness struct {
	t      *testing.T
	tmc    bool
	vendor *providertest.Vendor
	emu    *Emulator
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, company *driver.Company) (driver.Provider, error) {
	f := newFixture(h.t, users, func(o *EmulatorOptions) { o.Company, o.TMCShape = company, h.tmc })
	h.emu = f.emu
	h.vendor = providertest.NewVendor(f.emu, func(r *http.Request) bool { return r.URL.Path == tokenPath })
	srv := httptest.NewServer(h.vendor)
	h.t.Cleanup(srv.Close)
	cfg := f.config()
	cfg.Auth.TokenURL, cfg.PageSize = srv.URL+tokenPath, 7
	return New(cfg, &Options{HTTP: httpClient(srv.Client(), nil)})
}

func (h *harness) SetUsers(users []driver.User)    { h.emu.SetUsers(users) }
func (h *harness) Fault(f providertest.Fault) bool { h.vendor.SetFault(f); return true }
func (h *harness) Requests() int                   { return h.vendor.Requests() }
func (h *harness) Secrets() []string               { return []string{testClientSecret, testRequestToken} }
func (h *harness) Close()                          { h.vendor.Release() }

func TestConformance(t *testing.T) {
	for _, tmc := range []bool{false, true} {
		t.Run(fmt.Sprintf("tmc=%v", tmc), func(t *testing.T) {
			providertest.Run(t, func(_ context.Context, t *testing.T) (providertest.Harness, error) {
				return &harness{t: t, tmc: tmc}, nil
			}, &providertest.Options{Carries: carries})
		})
	}
}
