package getbill

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// These tests put the Client behind the portable layer (providers.Source),
// as dirgate does, and talk to the emulator over real HTTP. The emulator
// and the Source share one settable clock, so rate-limit windows, TTLs and
// staleness are exact.

func (c *fixedClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type sourceFixture struct {
	t     *testing.T
	e     *Emulator
	c     *Client
	src   *providers.Source
	clock *fixedClock
}

func newSourceFixture(t *testing.T, eopts EmulatorOptions, cfg func(base string) Config, sopts providers.SourceOptions) *sourceFixture {
	t.Helper()
	f := &sourceFixture{t: t, clock: &fixedClock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)}}
	eopts.Now = f.clock.Now
	f.e = newEmulator(eopts)
	f.c = newClient(t, cfg(serve(t, f.e)))
	sopts.Now = f.clock.Now
	src, err := providers.NewSource(providers.Info{Key: "getbill", Kind: "getbill"}, f.c, &sopts)
	if err != nil {
		t.Fatal(err)
	}
	f.src = src
	return f
}

func staticToken(base string) Config { return static(base) }

// list lists every user through the Source.
func (f *sourceFixture) list() ([]driver.User, *providers.Error) {
	f.t.Helper()
	page, err := f.src.List(f.t.Context(), driver.Filter{}, providers.Position{}, 1000)
	if err != nil {
		var pe *providers.Error
		if !errors.As(err, &pe) {
			f.t.Fatalf("List: %v is not a *providers.Error", err)
		}
		for _, s := range []string{testSecret, testToken} {
			if strings.Contains(pe.Error(), s) {
				f.t.Errorf("error %q contains a secret", pe)
			}
		}
		return nil, pe
	}
	return page.Users, nil
}

// usersCalls is the number of calls the emulator's users endpoint served.
func (f *sourceFixture) usersCalls() int {
	_, n := f.e.Calls()
	return n
}

func TestSourceCachesOverHTTP(t *testing.T) {
	f := newSourceFixture(t, EmulatorOptions{}, creds, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
	for range 20 {
		users, err := f.list()
		if err != nil {
			t.Fatal(err)
		}
		if d := providertest.Diff(users, seedUsers); d != "" {
			t.Fatal(d)
		}
	}
	if tok, users := f.e.Calls(); tok != 1 || users != 1 {
		t.Errorf("20 lists: Calls() = %d, %d; want 1, 1", tok, users)
	}
	f.clock.add(time.Minute)
	f.list()
	if tok, users := f.e.Calls(); tok != 1 || users != 2 {
		t.Errorf("after the TTL: Calls() = %d, %d; want 1 (the token is reused), 2", tok, users)
	}
}

// TestSourceBudget: getbill allows 20 calls an hour here, and a dashboard
// polls every 10 seconds for three hours with a 1-minute TTL (which would
// take 60 calls an hour). Reading X-RateLimit-*, dirgate refreshes less
// often: it never meets a 429, every poll gets data, and no copy served
// is older than MaxStale.
func TestSourceBudget(t *testing.T) {
	const maxStale = 30 * time.Minute
	f := newSourceFixture(t, EmulatorOptions{RateLimit: 20, RateWindow: time.Hour}, staticToken,
		providers.SourceOptions{CacheTTL: time.Minute, MaxStale: maxStale})
	t0 := f.clock.Now()
	if _, err := f.list(); err != nil {
		t.Fatal(err)
	}
	st := f.src.Status()
	// 19 left, a reserve of 1: 18 refreshes in the hour, one per 200s.
	if want := t0.Add(200 * time.Second); !st.RefreshAt.Equal(want) {
		t.Errorf("the first copy is fresh until +%v, want +200s", st.RefreshAt.Sub(t0))
	}
	if rl := st.RateLimit; rl == nil || rl.Limit != 20 || rl.Remaining != 19 || !rl.Reset.Equal(t0.Add(time.Hour)) {
		t.Errorf("Status().RateLimit = %+v", rl)
	}
	f.clock.add(199 * time.Second)
	f.list()
	if n := f.usersCalls(); n != 1 {
		t.Errorf("at +199s: %d calls, want 1", n)
	}
	f.clock.add(time.Second)
	f.list()
	if n := f.usersCalls(); n != 2 {
		t.Errorf("at +200s: %d calls, want 2", n)
	}

	var oldest time.Duration
	for range 3 * 360 {
		f.clock.add(10 * time.Second)
		users, err := f.list()
		if err != nil || len(users) != len(seedUsers) {
			t.Fatalf("at +%v: %d users, error %v", f.clock.Now().Sub(t0), len(users), err)
		}
		st := f.src.Status()
		if st.LastError != nil {
			t.Fatalf("at +%v: %v", f.clock.Now().Sub(t0), st.LastError.Err)
		}
		oldest = max(oldest, st.Age)
	}
	if oldest >= maxStale {
		t.Errorf("a copy %v old was served, MaxStale is %v", oldest, maxStale)
	}
	calls := f.usersCalls()
	if calls > 3*20+1 {
		t.Errorf("%d calls in three hours, over the budget", calls)
	}
	t.Logf("%d calls in 3h; oldest copy served %v", calls, oldest)
}

// TestSourceRateLimitedCold: a 429 with nothing cached is
// PROVIDER_RATE_LIMITED with the vendor's retry-after, at once, and
// dirgate does not call getbill again before it has passed.
func TestSourceRateLimitedCold(t *testing.T) {
	f := newSourceFixture(t, EmulatorOptions{RateLimit: 1}, staticToken,
		providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
	// Someone else with the same credentials spends the budget.
	apiCall(t, http.MethodGet, f.c.cfg.BaseURL+usersPath, testToken, nil)
	_, err := f.list()
	if err == nil || err.Code != errcode.ProviderRateLimited || err.RetryAfter != time.Hour {
		t.Fatalf("cold list = %v, want PROVIDER_RATE_LIMITED, retry after 1h", err)
	}
	f.clock.add(20 * time.Minute)
	_, err = f.list()
	if err == nil || err.Code != errcode.ProviderRateLimited || err.RetryAfter != 40*time.Minute {
		t.Errorf("20m later: %v, want PROVIDER_RATE_LIMITED, retry after 40m", err)
	}
	if n := f.usersCalls(); n != 2 {
		t.Errorf("%d users calls, want 2 (no call while told to wait)", n)
	}
	f.clock.add(40 * time.Minute)
	if users, err := f.list(); err != nil || len(users) != len(seedUsers) {
		t.Errorf("after the retry-after: %d users, %v", len(users), err)
	}
}

// TestSourceRateLimitedWarm: a 429 with a copy cached serves the copy,
// marked stale, until MaxStale; getbill is not called again before its
// retry_after.
func TestSourceRateLimitedWarm(t *testing.T) {
	f := newSourceFixture(t, EmulatorOptions{}, creds, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
	t0 := f.clock.Now()
	f.list()
	f.e.SetFault(Fault{Status: http.StatusTooManyRequests, Body: `{"error":true,"message":"Rate limit exceeded. Please try again later.","code":429,"details":{"retry_after":1800,"limit":1000,"reset_time":"2024-01-15T10:31:00Z"}}`})
	f.clock.add(time.Minute)
	if users, err := f.list(); err != nil || len(users) != len(seedUsers) {
		t.Fatalf("429 with a copy: %d users, %v; want the copy", len(users), err)
	}
	st := f.src.Status()
	if st.State != providers.StateStale || st.LastError == nil || st.LastError.Code != errcode.ProviderRateLimited || !st.RetryAt.Equal(t0.Add(31*time.Minute)) {
		t.Errorf("status after the 429: %+v", st)
	}
	f.clock.add(13*time.Minute + 59*time.Second)
	if users, err := f.list(); err != nil || len(users) != len(seedUsers) {
		t.Errorf("at 14m59s: %d users, %v; want the copy", len(users), err)
	}
	f.clock.add(time.Second)
	_, err := f.list()
	if err == nil || err.Code != errcode.ProviderRateLimited || err.RetryAfter != 16*time.Minute {
		t.Errorf("at 15m: %v, want PROVIDER_RATE_LIMITED, retry after 16m", err)
	}
	if st := f.src.Status(); st.State != providers.StateFailing {
		t.Errorf("at 15m: state %s, want FAILING", st.State)
	}
	if n := f.usersCalls(); n != 2 {
		t.Errorf("%d users calls, want 2", n)
	}
	f.e.SetFault(Fault{})
	f.clock.add(16 * time.Minute)
	if _, err := f.list(); err != nil {
		t.Errorf("after the retry-after: %v", err)
	}
	if st := f.src.Status(); st.State != providers.StateOK || !st.FetchedAt.Equal(f.clock.Now()) {
		t.Errorf("recovered: %+v", st)
	}
}

// TestSourcePaginationSwitch: getbill starts paging its answer; the next
// refresh walks every page.
func TestSourcePaginationSwitch(t *testing.T) {
	users := providertest.Dataset(250)
	want := make([]driver.User, len(users))
	for i, u := range users {
		want[i] = carries(u)
	}
	f := newSourceFixture(t, EmulatorOptions{Users: users}, creds, providers.SourceOptions{CacheTTL: time.Minute})
	got, err := f.list()
	if err != nil {
		t.Fatal(err)
	}
	if d := providertest.Diff(got, want); d != "" {
		t.Error(d)
	}
	f.e.SetPaginate(true)
	f.clock.add(time.Minute)
	if got, err = f.list(); err != nil {
		t.Fatal(err)
	}
	if d := providertest.Diff(got, want); d != "" {
		t.Error(d)
	}
	if n := f.usersCalls(); n != 4 {
		t.Errorf("%d users calls, want 1 + 3 pages", n)
	}
}

// TestSourceErrorCodes: getbill's answers map onto the closed set of
// codes, through the portable layer.
func TestSourceErrorCodes(t *testing.T) {
	tests := []struct {
		name string
		give Fault
		want errcode.Code
	}{
		{"401", Fault{Status: 401}, errcode.ProviderAuthFailed},
		{"403 scope", Fault{Status: 403, Body: `{"error":true,"message":"Required scope \"users:read\" not found in token","code":403}`}, errcode.ProviderAuthFailed},
		{"404", Fault{Status: 404}, errcode.ProviderUnavailable},
		{"500", Fault{Status: 500}, errcode.ProviderUnavailable},
		{"503", Fault{Status: 503}, errcode.ProviderUnavailable},
		{"429", Fault{Status: 429}, errcode.ProviderRateLimited},
		{"422", Fault{Status: 422}, errcode.ProviderBadResponse},
		{"HTML", Fault{Status: 200, Body: "<html>maintenance</html>"}, errcode.ProviderBadResponse},
		{"HTML 502", Fault{Status: 502, Body: "<html>bad gateway</html>"}, errcode.ProviderUnavailable},
		{"other JSON", Fault{Status: 200, Body: `{"users":[]}`}, errcode.ProviderBadResponse},
		{"empty", Fault{Status: 200, Body: " "}, errcode.ProviderBadResponse},
		{"503 envelope on 200", Fault{Status: 200, Body: `{"error":true,"message":"Service unavailable","code":503}`}, errcode.ProviderUnavailable},
		{"user without id", Fault{Status: 200, Body: `{"error":false,"data":[{"email":"x@example.com"}]}`}, errcode.ProviderBadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSourceFixture(t, EmulatorOptions{}, creds, providers.SourceOptions{CacheTTL: time.Minute})
			f.e.SetFault(tt.give)
			_, err := f.list()
			if err == nil || err.Code != tt.want || err.Provider != "getbill" {
				t.Fatalf("List() = %v, want %s", err, tt.want)
			}
			if st := f.src.Status(); st.State != providers.StateFailing || st.LastError == nil || st.LastError.Code != tt.want {
				t.Errorf("status %+v", st)
			}
		})
	}
}
