package getbill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

const (
	testClientID = "client-1"
	testSecret   = "s3cr3t-Th4t-Must-N0t-Leak"
	testToken    = "static-T0ken-That-Must-Not-Leak"
)

// seedUsers are the users of getbill's own example answer
// (testdata/company-users.json, from the vendor's page).
var seedUsers = []driver.User{
	{
		ID: "abc123def456ghi789", Email: "john.manager@company.com", Emails: []string{"john.manager@company.com"},
		FirstName: "John", LastName: "Manager", Active: true,
		CreatedAt:      time.Date(2023, 1, 15, 10, 30, 0, 0, time.UTC),
		LastActivityAt: time.Date(2024, 1, 22, 14, 22, 0, 0, time.UTC),
	},
	{
		ID: "xyz789mno012pqr345", Email: "jane.agent@company.com", Emails: []string{"jane.agent@company.com"},
		FirstName: "Jane", LastName: "Agent", Active: true,
		CreatedAt:      time.Date(2023, 3, 22, 9, 15, 0, 0, time.UTC),
		LastActivityAt: time.Date(2024, 1, 22, 11, 45, 0, 0, time.UTC),
	},
	{
		ID: "stu678vwx901yzab234", Email: "bob.analyst@company.com", Emails: []string{"bob.analyst@company.com"},
		FirstName: "Bob", LastName: "Analyst", Active: false,
		CreatedAt:      time.Date(2023, 6, 10, 16, 20, 0, 0, time.UTC),
		LastActivityAt: time.Date(2023, 12, 15, 13, 30, 0, 0, time.UTC),
	},
}

// fixedClock is a settable clock for the emulator.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// serve starts an httptest server for e.
func serve(t *testing.T, e *Emulator) string {
	t.Helper()
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts.URL
}

// newEmulator returns an emulator of seedUsers that knows the test client
// and the test token.
func newEmulator(opts EmulatorOptions) *Emulator {
	opts.ClientID, opts.ClientSecret = testClientID, testSecret
	opts.StaticTokens = append(opts.StaticTokens, testToken)
	if opts.Users == nil {
		opts.Users = seedUsers
	}
	return NewEmulator(opts)
}

func newClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

var sec = vendorhttp.NewSecret

func creds(base string) Config {
	return Config{BaseURL: base, ClientID: testClientID, ClientSecret: sec(testSecret)}
}

func static(base string) Config { return Config{BaseURL: base, Token: sec(testToken)} }

// readAll reads the whole directory as the portable layer does: the
// chained answers, one request each, through a Source that caches
// nothing and does not retry.
func readAll(ctx context.Context, c *Client) ([]driver.User, error) {
	src, err := providers.NewSource(providers.Info{Key: "getbill", Kind: "getbill"}, c, &providers.SourceOptions{MaxAttempts: 1})
	if err != nil {
		return nil, err
	}
	run, err := src.List(ctx, driver.Filter{}, providers.Position{}, 1<<20)
	if err != nil {
		var pe *providers.Error
		if errors.As(err, &pe) {
			return nil, pe.Err // the adapter's own error
		}
		return nil, err
	}
	return run.Users, nil
}

// list lists the users and fails the test on an error.
func list(t *testing.T, c *Client) []driver.User {
	t.Helper()
	users, err := readAll(t.Context(), c)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	return users
}

// listErr lists the users, expects an error, and checks that it leaks no
// secret.
func listErr(t *testing.T, c *Client) error {
	t.Helper()
	_, err := readAll(t.Context(), c)
	if err == nil {
		t.Fatal("ListUsers: no error")
	}
	checkNoSecrets(t, err)
	return err
}

func checkNoSecrets(t *testing.T, err error, extra ...string) {
	t.Helper()
	for _, s := range append([]string{testSecret, testToken}, extra...) {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q contains a secret", err)
		}
	}
}

func TestSeedAnswer(t *testing.T) {
	body, err := os.ReadFile("testdata/company-users.json")
	if err != nil {
		t.Fatal(err)
	}
	e := newEmulator(EmulatorOptions{Users: []driver.User{}})
	e.SetFault(Fault{Status: http.StatusOK, Body: string(body)})
	c := newClient(t, static(serve(t, e)))
	if d := providertest.Diff(list(t, c), seedUsers); d != "" {
		t.Error(d)
	}
}

func TestStaticToken(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	c := newClient(t, static(serve(t, e)))
	if d := providertest.Diff(list(t, c), seedUsers); d != "" {
		t.Error(d)
	}
	if tok, users := e.Calls(); tok != 0 || users != 1 {
		t.Errorf("Calls() = %d, %d, want 0, 1", tok, users)
	}
}

// TestTokenWithClientCredentials: a token beside client credentials is a
// configuration error, not a silent choice of the token (issue 15, item 4).
func TestTokenWithClientCredentials(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	cfg := creds(serve(t, e))
	cfg.Token = sec(testToken)
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "token: set together with clientID/clientSecret") {
		t.Errorf("New = %v, want an error naming token", err)
	}
	if tok, users := e.Calls(); tok != 0 || users != 0 {
		t.Errorf("Calls() = %d, %d, want none", tok, users)
	}
}

func TestClientCredentialsReuseToken(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	c := newClient(t, creds(serve(t, e)))
	for range 3 {
		if d := providertest.Diff(list(t, c), seedUsers); d != "" {
			t.Error(d)
		}
	}
	if tok, users := e.Calls(); tok != 1 || users != 3 {
		t.Errorf("Calls() = %d, %d, want 1, 3", tok, users)
	}
}

func TestClientCredentialsConcurrent(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	c := newClient(t, creds(serve(t, e)))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.ListUsers(t.Context(), driver.ListRequest{}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if tok, users := e.Calls(); tok != 1 || users != 8 {
		t.Errorf("Calls() = %d, %d, want 1, 8", tok, users)
	}
}

func TestExpiredTokenIsReplaced(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	c := newClient(t, creds(serve(t, e)))
	list(t, c)
	e.ExpireTokens()
	if d := providertest.Diff(list(t, c), seedUsers); d != "" {
		t.Error(d)
	}
	// The second call met a 401, got a new token and tried once more.
	if tok, users := e.Calls(); tok != 2 || users != 3 {
		t.Errorf("Calls() = %d, %d, want 2, 3", tok, users)
	}
}

func TestUnauthorizedAfterRetry(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	e.SetFault(Fault{Status: http.StatusUnauthorized})
	c := newClient(t, creds(serve(t, e)))
	err := listErr(t, c)
	if !errors.Is(err, driver.ErrAuth) {
		t.Errorf("ListUsers() = %v, want ErrAuth", err)
	}
	if tok, users := e.Calls(); tok != 2 || users != 2 {
		t.Errorf("Calls() = %d, %d, want 2, 2 (one retry)", tok, users)
	}
}

// TestTokenRefreshedBeforeExpiry runs on a fake clock, through an
// in-memory transport: the token is reused for most of its hour and
// replaced shortly before it expires, without a 401.
func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEmulator(EmulatorOptions{})
		c, err := New(creds("http://getbill.test"), &Options{HTTP: vendorhttp.New(vendorhttp.Options{HTTP: &http.Client{Transport: handlerTransport{e}}})})
		if err != nil {
			t.Fatal(err)
		}
		list(t, c)
		time.Sleep(55 * time.Minute)
		list(t, c)
		if tok, _ := e.Calls(); tok != 1 {
			t.Errorf("after 55m: %d token calls, want 1", tok)
		}
		time.Sleep(4*time.Minute + 30*time.Second)
		list(t, c)
		if tok, users := e.Calls(); tok != 2 || users != 3 {
			t.Errorf("after 59m30s: Calls() = %d, %d, want 2, 3", tok, users)
		}
	})
}

// handlerTransport serves requests with a handler, in memory.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	w := httptest.NewRecorder()
	t.h.ServeHTTP(w, r)
	return w.Result(), nil
}

func TestPagination(t *testing.T) {
	users := providertest.Dataset(250)
	carried := make([]driver.User, len(users))
	for i, u := range users {
		carried[i] = carries(u)
	}
	e := newEmulator(EmulatorOptions{Users: users, Paginate: true})
	c := newClient(t, static(serve(t, e)))
	if d := providertest.Diff(list(t, c), carried); d != "" {
		t.Error(d)
	}
	if _, calls := e.Calls(); calls != 3 {
		t.Errorf("%d users calls, want 3", calls)
	}
}

func TestPaginationSeed(t *testing.T) {
	e := newEmulator(EmulatorOptions{Paginate: true})
	c := newClient(t, creds(serve(t, e)))
	if d := providertest.Diff(list(t, c), seedUsers); d != "" {
		t.Error(d)
	}
}

func TestPaginationIgnored(t *testing.T) {
	// A vendor that says there are more pages but answers page 1 again.
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"error":false,"message":"Success","data":[{"id":"a"}],"pagination":{"total":2,"page":1,"limit":1,"pages":2}}`)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, static(ts.URL))
	if err := listErr(t, c); !errors.Is(err, driver.ErrBadResponse) {
		t.Errorf("ListUsers() = %v, want ErrBadResponse", err)
	}
}

func TestRateLimited(t *testing.T) {
	clock := &fixedClock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}
	e := newEmulator(EmulatorOptions{RateLimit: 2, RateWindow: 30 * time.Minute, Now: clock.Now})
	c := newClient(t, creds(serve(t, e)))
	list(t, c)
	list(t, c)
	err := listErr(t, c)
	var rl *driver.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, driver.ErrRateLimited) {
		t.Fatalf("ListUsers() = %v, want a *RateLimitError", err)
	}
	if rl.RetryAfter != 30*time.Minute {
		t.Errorf("RetryAfter = %v, want 30m", rl.RetryAfter)
	}
	limit, remaining, reset, ok := c.RateLimit()
	if want := clock.Now().Add(30 * time.Minute); limit != 2 || remaining != 0 || !reset.Equal(want) || !ok {
		t.Errorf("RateLimit() = %d, %d, %v, %v; want 2, 0, %v, true", limit, remaining, reset, ok, want)
	}
}

func TestRateLimitSlides(t *testing.T) {
	clock := &fixedClock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}
	e := newEmulator(EmulatorOptions{RateLimit: 2, RateWindow: time.Hour, Now: clock.Now})
	c := newClient(t, static(serve(t, e)))
	list(t, c)
	clock.t = clock.t.Add(40 * time.Minute)
	list(t, c)
	var rl *driver.RateLimitError
	if err := listErr(t, c); !errors.As(err, &rl) || rl.RetryAfter != 20*time.Minute {
		t.Fatalf("ListUsers() = %v, want retry after 20m", err)
	}
	clock.t = clock.t.Add(20 * time.Minute) // the first call leaves the window
	list(t, c)
	if _, remaining, _, _ := c.RateLimit(); remaining != 0 {
		t.Errorf("remaining = %d, want 0", remaining)
	}
}

func TestRateLimitHeaders(t *testing.T) {
	clock := &fixedClock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}
	e := newEmulator(EmulatorOptions{Now: clock.Now})
	c := newClient(t, static(serve(t, e)))
	if _, _, _, ok := c.RateLimit(); ok {
		t.Error("RateLimit() ok before any call")
	}
	list(t, c)
	limit, remaining, reset, ok := c.RateLimit()
	if want := clock.Now().Add(time.Hour); limit != 1000 || remaining != 999 || !reset.Equal(want) || !ok {
		t.Errorf("RateLimit() = %d, %d, %v, %v; want 1000, 999, %v, true", limit, remaining, reset, ok, want)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429}`)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, static(ts.URL))
	var rl *driver.RateLimitError
	if err := listErr(t, c); !errors.As(err, &rl) || rl.RetryAfter != 2*time.Minute {
		t.Errorf("ListUsers() = %v, want retry after 2m", err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name string
		give Fault
		want error
	}{
		{"500", Fault{Status: 500}, driver.ErrUnavailable},
		{"502", Fault{Status: 502}, driver.ErrUnavailable},
		{"503", Fault{Status: 503}, driver.ErrUnavailable},
		{"504 html", Fault{Status: 504, Body: "<html>Gateway Timeout</html>"}, driver.ErrUnavailable},
		{"404", Fault{Status: 404}, driver.ErrUnavailable},
		{"403", Fault{Status: 403}, driver.ErrAuth},
		{"422", Fault{Status: 422}, driver.ErrBadResponse},
		{"429 without details", Fault{Status: 429}, driver.ErrRateLimited},
		{"not JSON", Fault{Status: 200, Body: "<html>hello</html>"}, driver.ErrBadResponse},
		{"truncated JSON", Fault{Status: 200, Body: `{"error":false,"data":[{"id":"a"`}, driver.ErrBadResponse},
		{"bare list", Fault{Status: 200, Body: `[{"id":"a"}]`}, driver.ErrBadResponse},
		{"other envelope", Fault{Status: 200, Body: `{"users":[{"id":"a"}]}`}, driver.ErrBadResponse},
		{"no data", Fault{Status: 200, Body: `{"error":false,"message":"Success"}`}, driver.ErrBadResponse},
		{"data not a list", Fault{Status: 200, Body: `{"error":false,"data":{"id":"a"}}`}, driver.ErrBadResponse},
		// An error envelope on a 200 is classified by its code.
		{"error true on 200", Fault{Status: 200, Body: `{"error":true,"message":"Something broke","code":500}`}, driver.ErrUnavailable},
		{"429 envelope on 200", Fault{Status: 200, Body: `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429,"details":{"retry_after":1800}}`}, driver.ErrRateLimited},
		{"403 envelope on 200", Fault{Status: 200, Body: `{"error":true,"message":"Required scope \"users:read\" not found in token","code":"403"}`}, driver.ErrAuth},
		{"error envelope on 200 without code", Fault{Status: 200, Body: `{"error":true,"message":"Something broke"}`}, driver.ErrBadResponse},
		{"error envelope on 200 with code 200", Fault{Status: 200, Body: `{"error":true,"message":"Something broke","code":200}`}, driver.ErrBadResponse},
		{"error not a boolean", Fault{Status: 200, Body: `{"error":"invalid_token","data":[]}`}, driver.ErrBadResponse},
		{"400 envelope", Fault{Status: 400, Body: `{"error":true,"message":"Validation failed","code":400,"details":{"limit":["bad"]}}`}, driver.ErrBadResponse},
		{"pagination total beyond the answer", Fault{Status: 200, Body: `{"error":false,"data":[{"id":"a"}],"pagination":{"total":150,"page":1}}`}, driver.ErrBadResponse},
		{"user without id", Fault{Status: 200, Body: `{"error":false,"data":[{"id":"a"},{"email":"x@example.com"}]}`}, driver.ErrBadResponse},
		{"null user", Fault{Status: 200, Body: `{"error":false,"data":[null]}`}, driver.ErrBadResponse},
		{"bad is_active", Fault{Status: 200, Body: `{"error":false,"data":[{"id":"a","is_active":"maybe"}]}`}, driver.ErrBadResponse},
		{"bad pagination", Fault{Status: 200, Body: `{"error":false,"data":[],"pagination":{"page":"x"}}`}, driver.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEmulator(EmulatorOptions{})
			e.SetFault(tt.give)
			c := newClient(t, creds(serve(t, e)))
			if err := listErr(t, c); !errors.Is(err, tt.want) {
				t.Errorf("ListUsers() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFaultCleared(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	c := newClient(t, static(serve(t, e)))
	e.SetFault(Fault{Status: 503})
	listErr(t, c)
	e.SetFault(Fault{})
	list(t, c)
}

func TestMissingScope(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	base := serve(t, e)
	resp, err := http.PostForm(base+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret},
		"scope": {"debts:read company:read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %v, %+v", err, tok)
	}
	c := newClient(t, Config{BaseURL: base, Token: sec(tok.AccessToken)})
	err = listErr(t, c)
	if !errors.Is(err, driver.ErrAuth) {
		t.Errorf("ListUsers() = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), tok.AccessToken) {
		t.Errorf("error %q contains the token", err)
	}
	if !strings.Contains(err.Error(), "users:read") {
		t.Errorf("error %q does not name the missing scope", err)
	}
}

func TestBadCredentials(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	base := serve(t, e)
	for _, cfg := range []Config{
		{BaseURL: base, ClientID: testClientID, ClientSecret: sec(testSecret + "x")},
		{BaseURL: base, ClientID: "nobody", ClientSecret: sec(testSecret)},
		{BaseURL: base, Token: sec(testToken + "x")},
	} {
		c := newClient(t, cfg)
		err := listErr(t, c)
		if !errors.Is(err, driver.ErrAuth) {
			t.Errorf("ListUsers() = %v, want ErrAuth", err)
		}
		for _, s := range []string{cfg.ClientSecret.Reveal(), cfg.Token.Reveal()} {
			if s != "" && strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains a secret", err)
			}
		}
	}
}

func TestTokenEndpointFaults(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"503", 503, `{"error":true,"message":"Service unavailable","code":503}`, driver.ErrUnavailable},
		{"429", 429, `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429,"details":{"retry_after":60}}`, driver.ErrRateLimited},
		{"400 echoing the secret", 400, `{"error":"invalid_request","error_description":"bad secret ` + testSecret + `"}`, driver.ErrAuth},
		{"200 not JSON", 200, `<html></html>`, driver.ErrBadResponse},
		{"200 without token", 200, `{"token_type":"Bearer"}`, driver.ErrBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				fmt.Fprint(w, tt.body)
			}))
			t.Cleanup(ts.Close)
			c := newClient(t, creds(ts.URL))
			if err := listErr(t, c); !errors.Is(err, tt.want) {
				t.Errorf("ListUsers() = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	base := ts.URL
	ts.Close()
	for _, cfg := range []Config{static(base), creds(base)} {
		c := newClient(t, cfg)
		if err := listErr(t, c); !errors.Is(err, driver.ErrUnavailable) {
			t.Errorf("ListUsers() = %v, want ErrUnavailable", err)
		}
	}
}

func TestCanceled(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	base := serve(t, e)
	for _, cfg := range []Config{static(base), creds(base)} {
		c := newClient(t, cfg)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := c.ListUsers(ctx, driver.ListRequest{})
		if !errors.Is(err, driver.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Errorf("ListUsers(canceled) = %v, want ErrUnavailable and context.Canceled", err)
		}
	}
}

func TestTolerantDecoding(t *testing.T) {
	body := `{"error":false,"message":null,"data":[
		{"id":"a","email":null,"firstname":null,"lastname":null,"is_active":null,"created_at":null,"last_activity":null},
		{"id":"b","email":" b@example.com ","is_active":1,"created_at":"2023-01-15T10:30:00+02:00","last_activity":"yesterday"},
		{"id":"c","is_active":"false","created_at":"2023-01-15 10:30:00","last_activity":42},
		{"id":42,"is_active":"true","created_at":"2023-01-15T10:30:00.250Z","extra":{"x":[1]}},
		{"id":"e","is_active":0,"firstname":7}
	]}`
	want := []driver.User{
		{ID: "a"},
		{ID: "b", Email: "b@example.com", Emails: []string{"b@example.com"}, Active: true, CreatedAt: time.Date(2023, 1, 15, 8, 30, 0, 0, time.UTC)},
		{ID: "c", CreatedAt: time.Date(2023, 1, 15, 10, 30, 0, 0, time.UTC)},
		{ID: "42", Active: true, CreatedAt: time.Date(2023, 1, 15, 10, 30, 0, 250e6, time.UTC)},
		{ID: "e", FirstName: "7"},
	}
	e := newEmulator(EmulatorOptions{})
	e.SetFault(Fault{Status: http.StatusOK, Body: body})
	c := newClient(t, static(serve(t, e)))
	got := list(t, c)
	if d := providertest.Diff(got, want); d != "" {
		t.Error(d)
	}
	for i, u := range got {
		if u.CreatedAt.Location() != time.UTC {
			t.Errorf("user %d: CreatedAt in %v, want UTC", i, u.CreatedAt.Location())
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		give    Config
		wantErr string // "" for none
	}{
		{"token", Config{Token: sec(testToken)}, ""},
		{"client credentials", Config{ClientID: testClientID, ClientSecret: sec(testSecret)}, ""},
		{"base URL", Config{BaseURL: "http://localhost:8080/", Token: sec(testToken)}, ""},
		{"nothing", Config{}, `missing required key "token" (or "clientID" and "clientSecret")`},
		{"no secret", Config{ClientID: testClientID}, `missing required key "clientSecret"`},
		{"no id", Config{ClientSecret: sec(testSecret)}, `missing required key "clientID"`},
		{"token beside client credentials", Config{Token: sec(testToken), ClientID: testClientID}, "token: set together with clientID/clientSecret"},
		{"a token too short to be real", Config{Token: sec("tok")}, "token is too short"},
		{"a secret too short to be real", Config{ClientID: testClientID, ClientSecret: sec("t")}, "clientSecret is too short"},
		{"relative base URL", Config{BaseURL: "getbill.io", Token: sec(testToken)}, "baseURL"},
		{"base URL with credentials", Config{BaseURL: "https://u:" + testSecret + "@getbill.io", Token: sec(testToken)}, "baseURL"},
		{"ftp base URL", Config{BaseURL: "ftp://getbill.io", Token: sec(testToken)}, "baseURL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.give, nil)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Errorf("New() = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
			if err != nil && (strings.Contains(err.Error(), testSecret) || strings.Contains(err.Error(), testToken)) {
				t.Errorf("New() error %q contains a secret", err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	c := newClient(t, Config{Token: sec(testToken)})
	if got := c.Describe().Paging; got != driver.PagingSnapshot {
		t.Errorf("Describe().Paging = %v, want snapshot", got)
	}
}

// apiCall makes one raw request to the emulator.
func apiCall(t *testing.T, method, u, token string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v", method, u, err)
	}
	return resp, v
}

func TestEmulatorWire(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	base := serve(t, e)
	users := base + usersPath
	tests := []struct {
		name       string
		method, u  string
		token      string
		form       url.Values
		wantStatus int
		wantBody   map[string]any // keys that must be there, with their values
	}{
		{"users", "GET", users, testToken, nil, 200,
			map[string]any{"error": false, "message": "Success"}},
		{"no token", "GET", users, "", nil, 401,
			map[string]any{"error": true, "message": "Authentication credentials are missing or invalid", "code": 401.0}},
		{"bad token", "GET", users, "nope", nil, 401,
			map[string]any{"error": true, "code": 401.0}},
		{"unknown route", "GET", base + "/external-api/v1/company/nothing", testToken, nil, 404,
			map[string]any{"error": true, "code": 404.0}},
		{"wrong method", "DELETE", users, testToken, nil, 404,
			map[string]any{"error": true, "code": 404.0}},
		{"token by form", "POST", base + "/token", "",
			url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}, "scope": {"users:read"}}, 200,
			map[string]any{"token_type": "Bearer", "expires_in": 3600.0, "scope": "users:read"}},
		{"bad client", "POST", base + "/token", "",
			url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {"x"}}, 401,
			map[string]any{"error": "invalid_client"}},
		{"bad grant", "POST", base + "/token", "",
			url.Values{"grant_type": {"password"}, "client_id": {testClientID}, "client_secret": {testSecret}}, 400,
			map[string]any{"error": "unsupported_grant_type"}},
		{"unknown scope", "POST", base + "/token", "",
			url.Values{"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testSecret}, "scope": {"users:write"}}, 400,
			map[string]any{"error": "invalid_scope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := apiCall(t, tt.method, tt.u, tt.token, tt.form)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			for k, want := range tt.wantBody {
				if body[k] != want {
					t.Errorf("body[%q] = %#v, want %#v", k, body[k], want)
				}
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if !strings.HasSuffix(tt.u, "/token") {
				for _, h := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Window"} {
					if resp.Header.Get(h) == "" {
						t.Errorf("no %s header", h)
					}
				}
			}
		})
	}
}

func TestEmulatorBasicAuth(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	base := serve(t, e)
	req, err := http.NewRequestWithContext(t.Context(), "POST", base+"/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"users:read"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testClientID, testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("token with Basic auth: status %d", resp.StatusCode)
	}
}

func TestEmulatorPagination(t *testing.T) {
	e := newEmulator(EmulatorOptions{Users: providertest.Dataset(45), Paginate: true})
	base := serve(t, e) + usersPath
	tests := []struct {
		query      string
		wantStatus int
		wantLen    int
		wantPage   map[string]any
	}{
		{"", 200, 20, map[string]any{"total": 45.0, "page": 1.0, "limit": 20.0, "pages": 3.0}},
		{"?page=3", 200, 5, map[string]any{"total": 45.0, "page": 3.0, "limit": 20.0, "pages": 3.0}},
		{"?page=2&limit=40", 200, 5, map[string]any{"total": 45.0, "page": 2.0, "limit": 40.0, "pages": 2.0}},
		{"?limit=500", 200, 45, map[string]any{"total": 45.0, "page": 1.0, "limit": 100.0, "pages": 1.0}},
		{"?page=9", 200, 0, map[string]any{"total": 45.0, "page": 9.0, "limit": 20.0, "pages": 3.0}},
		{"?page=0", 400, 0, nil},
		{"?limit=x", 400, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := apiCall(t, "GET", base+tt.query, testToken, nil)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if data, _ := body["data"].([]any); len(data) != tt.wantLen {
				t.Errorf("%d users, want %d", len(data), tt.wantLen)
			}
			p, _ := body["pagination"].(map[string]any)
			for k, want := range tt.wantPage {
				if p[k] != want {
					t.Errorf("pagination[%q] = %v, want %v", k, p[k], want)
				}
			}
		})
	}
}

func TestEmulatorWireUser(t *testing.T) {
	e := newEmulator(EmulatorOptions{Users: []driver.User{
		{ID: "x", Email: "x@example.com", FirstName: "X", LastName: "Y", Active: true,
			CreatedAt: time.Date(2023, 1, 15, 12, 30, 0, 0, time.FixedZone("", 2*3600))},
	}})
	_, body := apiCall(t, "GET", serve(t, e)+usersPath, testToken, nil)
	if _, ok := body["pagination"]; ok {
		t.Error("pagination present with Paginate off")
	}
	got, _ := json.Marshal(body["data"])
	want := `[{"created_at":"2023-01-15T10:30:00Z","email":"x@example.com","firstname":"X","id":"x","is_active":true,"last_activity":null,"lastname":"Y"}]`
	if string(got) != want {
		t.Errorf("data = %s, want %s", got, want)
	}
}

func TestEmulatorRateLimitBody(t *testing.T) {
	clock := &fixedClock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}
	e := newEmulator(EmulatorOptions{RateLimit: 1, Now: clock.Now})
	u := serve(t, e) + usersPath
	apiCall(t, "GET", u, testToken, nil)
	resp, body := apiCall(t, "GET", u, testToken, nil)
	if resp.StatusCode != 429 {
		t.Fatalf("status = %d, want 429", resp.StatusCode)
	}
	got, _ := json.Marshal(body)
	want := `{"code":429,"details":{"limit":1,"reset_time":"2024-01-15T11:00:00Z","retry_after":3600},"error":true,"message":"Rate limit exceeded. Please try again later."}`
	if string(got) != want {
		t.Errorf("body = %s, want %s", got, want)
	}
	if h := resp.Header.Get("X-RateLimit-Reset"); h != fmt.Sprint(clock.Now().Add(time.Hour).Unix()) {
		t.Errorf("X-RateLimit-Reset = %s", h)
	}
	if h := resp.Header.Get("X-RateLimit-Window"); h != "3600" {
		t.Errorf("X-RateLimit-Window = %s, want 3600", h)
	}
}

// carries maps a user onto what getbill holds.
func carries(u driver.User) driver.User {
	c := driver.User{
		ID:             u.ID,
		Email:          u.Email,
		FirstName:      u.FirstName,
		LastName:       u.LastName,
		Active:         u.Active,
		CreatedAt:      u.CreatedAt.Truncate(time.Second).UTC(),
		LastActivityAt: u.LastActivityAt.Truncate(time.Second).UTC(),
	}
	if u.CreatedAt.IsZero() {
		c.CreatedAt = time.Time{}
	}
	if u.LastActivityAt.IsZero() {
		c.LastActivityAt = time.Time{}
	}
	if u.Email != "" {
		c.Emails = []string{u.Email}
	}
	return c
}

// harness wires a Client to an Emulator over loopback HTTP, with the
// suite's faults in front of it.
type harness struct {
	t        *testing.T
	paginate bool
	vendor   *providertest.Vendor
	emu      *Emulator
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, _ *driver.Company) (driver.Provider, error) {
	if users == nil {
		users = []driver.User{}
	}
	h.emu = newEmulator(EmulatorOptions{Users: users, Paginate: h.paginate})
	h.vendor = providertest.NewVendor(h.emu, func(r *http.Request) bool { return r.URL.Path == tokenPath })
	return New(creds(serveHandler(h.t, h.vendor)), nil)
}

func (h *harness) SetUsers(users []driver.User)    { h.emu.SetUsers(users) }
func (h *harness) Fault(f providertest.Fault) bool { h.vendor.SetFault(f); return true }
func (h *harness) Requests() int                   { return h.vendor.Requests() }
func (h *harness) Secrets() []string               { return []string{testSecret, testToken} }
func (h *harness) Close()                          { h.vendor.Release() }

// serveHandler starts an httptest server for h.
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestConformance runs the suite; getbill names no company, so the
// company checks are skipped.
func TestConformance(t *testing.T) {
	for _, paginate := range []bool{false, true} {
		t.Run(fmt.Sprintf("paginate=%v", paginate), func(t *testing.T) {
			providertest.Run(t, func(_ context.Context, t *testing.T) (providertest.Harness, error) {
				return &harness{t: t, paginate: paginate}, nil
			}, &providertest.Options{Carries: carries, NoCompany: true})
		})
	}
}

func TestPaginationPartialObject(t *testing.T) {
	// A vendor that pages by 2 whatever it is asked, and names no page
	// count: the pages follow from total and limit.
	ids := []string{"a", "b", "c", "d", "e"}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var page int
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		lo, hi := min((page-1)*2, len(ids)), min(page*2, len(ids))
		var data []map[string]string
		for _, id := range ids[lo:hi] {
			data = append(data, map[string]string{"id": id})
		}
		b, _ := json.Marshal(map[string]any{
			"error": false, "data": data,
			"pagination": map[string]any{"total": len(ids), "page": page, "limit": 2},
		})
		w.Write(b)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, static(ts.URL))
	var got []string
	for _, u := range list(t, c) {
		got = append(got, u.ID)
	}
	if strings.Join(got, ",") != "a,b,c,d,e" {
		t.Errorf("ids = %v, want a..e", got)
	}
}

func TestEmulatorNotFoundOverLimit(t *testing.T) {
	e := newEmulator(EmulatorOptions{RateLimit: 1})
	u := serve(t, e) + "/nowhere"
	if resp, _ := apiCall(t, "GET", u, "", nil); resp.StatusCode != 404 {
		t.Errorf("first call: status %d, want 404", resp.StatusCode)
	}
	resp, body := apiCall(t, "GET", u, "", nil)
	if resp.StatusCode != 429 || body["code"] != 429.0 {
		t.Errorf("second call: status %d, body %v; want 429", resp.StatusCode, body)
	}
}

// TestTemporary: the failures worth retrying soon (502, 503, 504, a
// network failure) are *driver.TemporaryError; the others are final.
func TestTemporary(t *testing.T) {
	isTemp := func(err error) bool {
		var te *driver.TemporaryError
		return errors.As(err, &te)
	}
	for _, tt := range []struct {
		give Fault
		want bool
	}{
		{Fault{Status: 502}, true}, {Fault{Status: 503}, true}, {Fault{Status: 504, Body: "<html></html>"}, true},
		{Fault{Status: 500}, false}, {Fault{Status: 404}, false}, {Fault{Status: 429}, false}, {Fault{Status: 401}, false},
		{Fault{Status: 200, Body: `{"error":true,"code":503}`}, true},
	} {
		e := newEmulator(EmulatorOptions{})
		e.SetFault(tt.give)
		err := listErr(t, newClient(t, static(serve(t, e))))
		if isTemp(err) != tt.want || (tt.want && !errors.Is(err, driver.ErrUnavailable)) {
			t.Errorf("%+v: %v, temporary %t, want %t", tt.give, err, isTemp(err), tt.want)
		}
	}
	ts := httptest.NewServer(http.NotFoundHandler())
	base := ts.URL
	ts.Close()
	for _, cfg := range []Config{static(base), creds(base)} {
		if err := listErr(t, newClient(t, cfg)); !isTemp(err) {
			t.Errorf("unreachable: %v is not temporary", err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	e := newEmulator(EmulatorOptions{})
	if _, err := newClient(t, static(serve(t, e))).ListUsers(ctx, driver.ListRequest{}); isTemp(err) {
		t.Errorf("canceled: %v is temporary", err)
	}
	// A 503 with Retry-After says how long.
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(ts.Close)
	var te *driver.TemporaryError
	if err := listErr(t, newClient(t, static(ts.URL))); !errors.As(err, &te) || te.RetryAfter != 7*time.Second {
		t.Errorf("503 with Retry-After: %v, want temporary, retry after 7s", err)
	}
}

// TestRateLimitEnvelopeOn200: a 429 envelope on a 200 carries its
// retry_after.
func TestRateLimitEnvelopeOn200(t *testing.T) {
	e := newEmulator(EmulatorOptions{})
	e.SetFault(Fault{Status: 200, Body: `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429,"details":{"retry_after":"90"}}`})
	var rl *driver.RateLimitError
	if err := listErr(t, newClient(t, creds(serve(t, e)))); !errors.As(err, &rl) || rl.RetryAfter != 90*time.Second {
		t.Errorf("ListUsers() = %v, want retry after 90s", err)
	}
}

// FuzzAnswer: whatever getbill answers, with whatever status, the client
// returns users or a classified error, and never panics. (go test runs the
// seeds; go test -fuzz=FuzzAnswer explores.)
func FuzzAnswer(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
	}{
		{200, `{"error":false,"message":"Success","data":[{"id":"a","is_active":true}]}`},
		{200, `{"error":false,"data":[{"id":"a"}],"pagination":{"total":3,"page":1,"limit":1,"pages":3}}`},
		{200, `{"error":false,"data":[{"id":"a"}],"pagination":{"total":"1e9","page":1,"limit":0}}`},
		{200, `{"error":true,"code":429,"details":{"retry_after":1e300}}`},
		{200, `{"error":true,"code":"x","details":[]}`},
		{429, `{"error":true,"details":{"retry_after":-5}}`},
		{503, `<html>`},
		{200, `{"error":false,"data":[{"id":{"x":1}},{"id":null}]}`},
		{200, `null`},
		{401, ``},
	} {
		f.Add(s.status, s.body)
	}
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 599 {
			return
		}
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprint(w, body)
		}))
		defer ts.Close()
		c, err := New(static(ts.URL), nil)
		if err != nil {
			t.Fatal(err)
		}
		page, err := c.ListUsers(t.Context(), driver.ListRequest{})
		if err != nil {
			for _, s := range []error{driver.ErrUnavailable, driver.ErrRateLimited, driver.ErrAuth, driver.ErrBadResponse} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		for _, u := range page.Users {
			if u.ID == "" {
				t.Fatal("a user without an id")
			}
		}
	})
}

// TestTokenRequestFollowsNoRedirect: the token request carries the client
// secret, so a redirect from the token endpoint is not followed to another
// host.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	var elsewhere int
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere++ }))
	defer other.Close()
	e := newEmulator(EmulatorOptions{})
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
			return
		}
		e.ServeHTTP(w, r)
	}))
	defer redirecting.Close()
	err := listErr(t, newClient(t, creds(redirecting.URL)))
	if err == nil || elsewhere != 0 {
		t.Errorf("ListUsers = %v; the other host got %d requests, want an error and none", err, elsewhere)
	}
	if strings.Contains(err.Error(), testSecret) {
		t.Errorf("error %q contains the secret", err)
	}
}

// FuzzDecodePage: whatever getbill answers with 200, decoding a page gives
// users with ids, or a classified error; it never panics. The seeds
// (testdata/fuzz) hold the attacks of the hardening issue.
func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"error":false,"data":[{"id":"a","is_active":true}],"pagination":{"total":3,"page":1,"limit":1,"pages":3}}`), 1, false)
	f.Fuzz(func(t *testing.T, body []byte, n int, chained bool) {
		if n < 1 || n > 1<<20 {
			return
		}
		c := newClient(t, Config{Token: sec(testToken)})
		page, err := c.decodePage(http.Header{}, body, n, 100, chained)
		if err != nil {
			for _, s := range []error{driver.ErrUnavailable, driver.ErrRateLimited, driver.ErrAuth, driver.ErrBadResponse} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		for _, u := range page.Users {
			if u.ID == "" {
				t.Fatal("a user without an id")
			}
		}
		if page.NextCursor != "" {
			if p, _, err := parseCursor(page.NextCursor); err != nil || p != n+1 {
				t.Fatalf("next cursor %q after page %d", page.NextCursor, n)
			}
		}
	})
}
