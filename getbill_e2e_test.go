package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
)

// End-to-end tests of getbill's cache, through dirgate's real handler and
// both emulators over real HTTP. The caches run on a settable clock
// (config.Config.Now), so TTLs and staleness bounds are exact and nothing
// sleeps.

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now().UTC().Truncate(time.Second)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// cachedOn configures getbill's cache as in production (TTL 1m, maxStale
// 15m) on clock.
func cachedOn(clock *testClock) func(*config.Config) {
	return func(c *config.Config) {
		c.Now = clock.Now
		c.Providers[1].CacheTTL = config.DefaultCacheTTL
		c.Providers[1].MaxStale = config.DefaultMaxStale
	}
}

const statusQuery = `{ providers { key fetchedAt stale status {
  state cached fetchedAt ageSeconds refreshAt servedUntil retryAt
  lastError { code message at } rateLimit { limit remaining resetAt } } } }`

type providerStatus struct {
	Key       string
	FetchedAt *time.Time
	Stale     bool
	Status    struct {
		State                           string
		Cached                          bool
		FetchedAt                       *time.Time
		AgeSeconds                      *int
		RefreshAt, ServedUntil, RetryAt *time.Time
		LastError                       *struct {
			Code, Message string
			At            time.Time
		}
		RateLimit *struct {
			Limit, Remaining int
			ResetAt          time.Time
		}
	}
}

// status returns the providers' status, by key.
func (g *gateway) status(t *testing.T) map[string]providerStatus {
	t.Helper()
	r := g.query(t, statusQuery, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("status: %+v", r.Errors)
	}
	var d struct{ Providers []providerStatus }
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string]providerStatus{}
	for _, p := range d.Providers {
		out[p.Key] = p
	}
	return out
}

// allUsers asks for every user in one page and returns them, and the
// errors.
func (g *gateway) allUsers(t *testing.T) ([]string, []gqlError) {
	t.Helper()
	p, errs := g.page(t, map[string]any{"first": 1000})
	return p.names(), errs
}

func sameTime(a *time.Time, b time.Time) bool { return a != nil && a.Equal(b) }

// TestGetbillThousandConcurrentRequests: 1,000 GraphQL requests at the
// same time over a cold cache make exactly one getbill directory call (and
// one token request). The one call is held until every request has been
// sent, so the requests really do miss together.
func TestGetbillThousandConcurrentRequests(t *testing.T) {
	const n = 1000
	clock := newTestClock()
	release := make(chan struct{})
	var gated atomic.Int64
	g := newGateway(t, func(c *config.Config) {
		cachedOn(clock)(c)
		// Put a gate before getbill's users endpoint.
		gb := c.Providers[1].Settings.(*getbill.Config)
		target, err := url.Parse(gb.BaseURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(target)
		gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/company/users") {
				gated.Add(1)
				<-release
			}
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(gate.Close)
		gb.BaseURL = gate.URL
	})

	// One connection per request, so that all of them are in flight.
	tr := &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	body, _ := json.Marshal(map[string]any{
		"query": `{ users(first: 5, filter: {providers: ["getbill"]}) { totalCount edges { node { nativeId } } } }`,
	})
	type result struct {
		status int
		resp   struct {
			Data struct {
				Users struct {
					TotalCount int
					Edges      []struct{ Node struct{ NativeID string } }
				}
			}
			Errors []gqlError
		}
		err error
	}
	results := make([]result, n)
	var sent sync.WaitGroup
	sent.Add(n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &results[i]
			once := sync.OnceFunc(sent.Done)
			defer once() // a request that fails before it is sent
			req, err := http.NewRequest(http.MethodPost, g.url+"/query", &onEOF{r: bytes.NewReader(body), f: once})
			if err != nil {
				r.err = err
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				r.err = err
				return
			}
			defer resp.Body.Close()
			r.status = resp.StatusCode
			r.err = json.NewDecoder(resp.Body).Decode(&r.resp)
		})
	}
	sent.Wait()
	close(release)
	wg.Wait()

	if _, users := g.getbill.Calls(); users != 1 {
		t.Errorf("%d getbill users calls for %d concurrent requests over a cold cache, want 1", users, n)
	}
	if tok, _ := g.getbill.Calls(); tok != 1 {
		t.Errorf("%d getbill token requests, want 1", tok)
	}
	if gated.Load() != 1 {
		t.Errorf("%d calls reached the gate, want 1", gated.Load())
	}
	if _, concurCalls := g.concur.Calls(); concurCalls != 0 {
		t.Errorf("%d Concur calls for getbill-only requests", concurCalls)
	}
	bad := 0
	for i, r := range results {
		u := r.resp.Data.Users
		if r.err != nil || r.status != http.StatusOK || len(r.resp.Errors) > 0 || u.TotalCount != getbillN ||
			len(u.Edges) != 5 || u.Edges[0].Node.NativeID != g.billUsers[0].ID {
			if bad++; bad <= 3 {
				t.Errorf("request %d: status %d, err %v, errors %+v, totalCount %d, %d edges", i, r.status, r.err, r.resp.Errors, u.TotalCount, len(u.Edges))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d requests went wrong", bad, n)
	}
	st := g.status(t)["getbill"]
	if st.Status.State != "OK" || !st.Status.Cached || !sameTime(st.FetchedAt, clock.Now()) || st.Stale {
		t.Errorf("getbill status after the burst: %+v", st)
	}
}

// onEOF is a request body that calls f once it has been read to the end:
// the request has then been sent.
type onEOF struct {
	r *bytes.Reader
	f func()
}

func (b *onEOF) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if b.r.Len() == 0 {
		b.f()
	}
	return n, err
}

// TestGetbillDown: getbill goes down. Within the staleness bound its data
// keeps coming, without an error, and its status says it is stale and
// why; past the bound, the getbill part of the answer fails with a coded
// error while Concur's users still come back; when getbill returns, so do
// its users.
func TestGetbillDown(t *testing.T) {
	clock := newTestClock()
	g := newGateway(t, cachedOn(clock))
	t0 := clock.Now()
	all := g.truth(nil)
	onlyConcur := g.truth(func(key string, _ *driver.User) bool { return key == "concur" })

	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(all) {
		t.Fatalf("healthy: %d users, errors %+v", len(got), errs)
	}
	st := g.status(t)
	if gb := st["getbill"]; gb.Status.State != "OK" || gb.Stale || !sameTime(gb.FetchedAt, t0) || gb.Status.LastError != nil ||
		gb.Status.RateLimit == nil || gb.Status.RateLimit.Limit != 1000 {
		t.Errorf("healthy getbill: %+v", gb)
	}
	if c := st["concur"]; c.Status.State != "OK" || c.Status.Cached || c.FetchedAt != nil || c.Stale {
		t.Errorf("healthy concur: %+v", c)
	}

	g.getbill.SetFault(getbill.Fault{Status: http.StatusServiceUnavailable})
	clock.Add(4 * time.Minute)
	got, errs := g.allUsers(t)
	if len(errs) > 0 || strings.Join(got, ",") != strings.Join(all, ",") {
		t.Fatalf("getbill down 4m into a copy: %d users, errors %+v; want all %d, no error", len(got), errs, len(all))
	}
	gb := g.status(t)["getbill"]
	if gb.Status.State != "STALE" || !gb.Stale || !sameTime(gb.FetchedAt, t0) || gb.Status.AgeSeconds == nil || *gb.Status.AgeSeconds != 240 ||
		!sameTime(gb.Status.ServedUntil, t0.Add(15*time.Minute)) {
		t.Errorf("getbill down, 4m: %+v", gb.Status)
	}
	if e := gb.Status.LastError; e == nil || e.Code != "PROVIDER_UNAVAILABLE" || !e.At.Equal(clock.Now()) || e.Message != `provider "getbill" is unavailable` {
		t.Errorf("getbill down, 4m: lastError %+v", e)
	}
	// While it backs off, requests get the copy without asking getbill.
	_, before := g.getbill.Calls()
	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(all) {
		t.Errorf("again: %d users, errors %+v", len(got), errs)
	}
	if _, after := g.getbill.Calls(); after != before {
		t.Errorf("%d getbill calls during the back-off", after-before)
	}

	clock.Add(10*time.Minute + 59*time.Second) // 14m59s
	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(all) {
		t.Errorf("14m59s: %d users, errors %+v; want all, no error", len(got), errs)
	}

	clock.Add(time.Second) // 15m: the bound
	p, errs := g.page(t, map[string]any{"first": 1000})
	if strings.Join(p.names(), ",") != strings.Join(onlyConcur, ",") {
		t.Errorf("past the bound: %d users, want Concur's %d", len(p.names()), len(onlyConcur))
	}
	if len(errs) != 1 || codes(errs)[0] != "PROVIDER_UNAVAILABLE@getbill" || !strings.Contains(errs[0].Message, "getbill") {
		t.Errorf("past the bound: errors %+v, want one PROVIDER_UNAVAILABLE for getbill", errs)
	}
	if !p.Users.PageInfo.HasNextPage {
		t.Error("past the bound: hasNextPage false while getbill fails")
	}
	gb = g.status(t)["getbill"]
	if gb.Status.State != "FAILING" || gb.Stale || !sameTime(gb.FetchedAt, t0) || gb.Status.LastError == nil {
		t.Errorf("past the bound: %+v", gb.Status)
	}

	g.getbill.SetFault(getbill.Fault{})
	clock.Add(time.Minute)
	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(all) {
		t.Errorf("recovered: %d users, errors %+v", len(got), errs)
	}
	gb = g.status(t)["getbill"]
	if gb.Status.State != "OK" || gb.Stale || !sameTime(gb.FetchedAt, clock.Now()) || gb.Status.LastError == nil {
		t.Errorf("recovered: %+v (want OK, the last error kept)", gb.Status)
	}
}

// TestGetbillRateLimited: a 429 on a cold cache is PROVIDER_RATE_LIMITED
// with extensions.retryAfter at once, not a half-hour wait, and getbill is
// not called again before that time; with a copy cached, the copy is
// served.
func TestGetbillRateLimited(t *testing.T) {
	const body429 = `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429,"details":{"retry_after":1800,"limit":1000,"reset_time":"2024-01-15T10:30:00Z"}}`
	clock := newTestClock()
	g := newGateway(t, cachedOn(clock))
	onlyConcur := g.truth(func(key string, _ *driver.User) bool { return key == "concur" })
	g.getbill.SetFault(getbill.Fault{Status: http.StatusTooManyRequests, Body: body429})

	got, errs := g.allUsers(t)
	if strings.Join(got, ",") != strings.Join(onlyConcur, ",") {
		t.Errorf("cold 429: %d users, want Concur's %d", len(got), len(onlyConcur))
	}
	if len(errs) != 1 || codes(errs)[0] != "PROVIDER_RATE_LIMITED@getbill" || errs[0].Extensions["retryAfter"] != 1800.0 {
		t.Fatalf("cold 429: errors %+v, want PROVIDER_RATE_LIMITED for getbill, retryAfter 1800", errs)
	}
	_, calls := g.getbill.Calls()
	clock.Add(10 * time.Minute)
	_, errs = g.allUsers(t)
	if len(errs) != 1 || codes(errs)[0] != "PROVIDER_RATE_LIMITED@getbill" || errs[0].Extensions["retryAfter"] != 1200.0 {
		t.Errorf("10m later: errors %+v, want retryAfter 1200", errs)
	}
	if _, now := g.getbill.Calls(); now != calls {
		t.Errorf("%d getbill calls before the retry-after passed", now-calls)
	}
	gb := g.status(t)["getbill"]
	if gb.Status.State != "FAILING" || gb.Status.LastError == nil || gb.Status.LastError.Code != "PROVIDER_RATE_LIMITED" ||
		!sameTime(gb.Status.RetryAt, clock.Now().Add(20*time.Minute)) {
		t.Errorf("status: %+v", gb.Status)
	}

	g.getbill.SetFault(getbill.Fault{})
	clock.Add(20 * time.Minute)
	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(g.truth(nil)) {
		t.Fatalf("after the retry-after: %d users, errors %+v", len(got), errs)
	}
	// Now with a copy: a 429 serves it, stale.
	g.getbill.SetFault(getbill.Fault{Status: http.StatusTooManyRequests, Body: body429})
	clock.Add(time.Minute)
	if got, errs := g.allUsers(t); len(errs) > 0 || len(got) != len(g.truth(nil)) {
		t.Errorf("warm 429: %d users, errors %+v; want the copy", len(got), errs)
	}
	if gb := g.status(t)["getbill"]; !gb.Stale || gb.Status.State != "STALE" || gb.Status.RetryAt == nil {
		t.Errorf("warm 429: %+v", gb.Status)
	}
}

// TestGetbillPaged: when getbill pages its answer, dirgate walks every
// page and serves the whole directory.
func TestGetbillPaged(t *testing.T) {
	all := providertest.Dataset(260)
	g := newGatewayWith(t, all[:10], all[10:], cachedOn(newTestClock()))
	g.getbill.SetPaginate(true)
	if got, want := g.walk(t, 100, false, nil), g.truth(nil); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("walk: %d users, want %d", len(got), len(want))
	}
	if _, calls := g.getbill.Calls(); calls != 3 {
		t.Errorf("%d getbill calls, want one walk of 3 pages", calls)
	}
}
