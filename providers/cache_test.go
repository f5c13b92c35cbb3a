package providers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// dirStub is a whole-directory provider whose failures, rate budget and
// speed the test controls. When budget is set, it is a RateBudgeter: each
// call spends cost calls of it.
type dirStub struct {
	users []driver.User
	calls atomic.Int64
	gate  chan struct{} // when set, calls wait for it to close

	mu     sync.Mutex
	err    error
	budget bool
	limit  int
	remain int
	reset  time.Time
	cost   int
}

func (d *dirStub) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingSnapshot}
}

func (d *dirStub) ListUsers(ctx context.Context, _ driver.ListRequest) (*driver.ListPage, error) {
	d.calls.Add(1)
	if d.gate != nil {
		select {
		case <-d.gate:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", driver.ErrUnavailable, ctx.Err())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.budget {
		d.remain = max(d.remain-max(d.cost, 1), 0)
	}
	if d.err != nil {
		return nil, d.err
	}
	return &driver.ListPage{Users: d.users, Total: len(d.users)}, nil
}

func (d *dirStub) setErr(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
}

func (d *dirStub) setBudget(limit, remaining, cost int, reset time.Time) {
	d.mu.Lock()
	d.budget, d.limit, d.remain, d.cost, d.reset = true, limit, remaining, cost, reset
	d.mu.Unlock()
}

// budgetStub is a dirStub that reports its budget.
type budgetStub struct{ *dirStub }

func (b budgetStub) RateLimit() (limit, remaining int, reset time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limit, b.remain, b.reset, b.budget
}

var errDown = fmt.Errorf("vendor down: %w", driver.ErrUnavailable)

// cacheFixture is a Source over a dirStub on a fake clock.
type cacheFixture struct {
	stub *dirStub
	src  *providers.Source
	clk  *clock
	t    *testing.T
}

func newCacheFixture(t *testing.T, budget bool, opts providers.SourceOptions) *cacheFixture {
	f := &cacheFixture{stub: &dirStub{users: providertest.Dataset(7)}, clk: newClock(), t: t}
	if opts.Now == nil {
		opts.Now = f.clk.Now
	}
	var p driver.Provider = f.stub
	if budget {
		p = budgetStub{f.stub}
	}
	f.src = mustSource(t, providers.Info{Key: "bill", Kind: "getbill"}, p, &opts)
	return f
}

// list lists the whole directory and returns the number of users, or the
// error.
func (f *cacheFixture) list() (int, *providers.Error) {
	f.t.Helper()
	page, err := f.src.List(f.t.Context(), driver.Filter{}, providers.Position{}, 100)
	if err != nil {
		var pe *providers.Error
		if !errors.As(err, &pe) {
			f.t.Fatalf("List: %v is not a *providers.Error", err)
		}
		return 0, pe
	}
	return len(page.Users), nil
}

// expect lists and checks the outcome and the number of vendor calls so
// far.
func (f *cacheFixture) expect(what string, wantUsers bool, wantCode errcode.Code, wantCalls int) *providers.Error {
	f.t.Helper()
	n, err := f.list()
	switch {
	case wantUsers && (err != nil || n != len(f.stub.users)):
		f.t.Errorf("%s: %d users, error %v; want %d users", what, n, err, len(f.stub.users))
	case !wantUsers && (err == nil || err.Code != wantCode):
		f.t.Errorf("%s: %d users, error %v; want a %s error", what, n, err, wantCode)
	}
	if got := int(f.stub.calls.Load()); got != wantCalls {
		f.t.Errorf("%s: %d vendor calls so far, want %d", what, got, wantCalls)
	}
	return err
}

func (f *cacheFixture) expectState(what string, want providers.State) providers.SourceStatus {
	f.t.Helper()
	st := f.src.Status()
	if st.State != want || st.Stale() != (want == providers.StateStale) {
		f.t.Errorf("%s: state %s (stale %t), want %s", what, st.State, st.Stale(), want)
	}
	return st
}

func TestCacheTTL(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute})
	f.expectState("before any call", providers.StateUnknown)
	t0 := f.clk.Now()
	f.expect("cold", true, "", 1)
	f.clk.Add(59 * time.Second)
	f.expect("at 59s", true, "", 1)
	st := f.expectState("at 59s", providers.StateOK)
	if !st.Cached || !st.FetchedAt.Equal(t0) || st.Age != 59*time.Second || !st.RefreshAt.Equal(t0.Add(time.Minute)) || st.LastError != nil {
		t.Errorf("status at 59s = %+v", st)
	}
	f.clk.Add(time.Second)
	f.expect("at 60s", true, "", 2)
	if st := f.src.Status(); !st.FetchedAt.Equal(t0.Add(time.Minute)) || st.Age != 0 {
		t.Errorf("after the refresh: fetched %v, age %v", st.FetchedAt, st.Age)
	}
}

func TestCacheZeroTTL(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{})
	f.expect("first", true, "", 1)
	f.expect("second, same instant", true, "", 2)
	// No back-off without a cache: the vendor is asked again at once.
	f.stub.setErr(errDown)
	f.expect("failing", false, errcode.ProviderUnavailable, 3)
	f.expect("failing again", false, errcode.ProviderUnavailable, 4)
	f.stub.setErr(nil)
	f.expect("recovered", true, "", 5)
}

// TestCacheConcurrentMisses: many requests that miss at once make one
// vendor call, and requests that come after it get the copy.
func TestCacheConcurrentMisses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute})
		f.stub.gate = make(chan struct{})
		var wg sync.WaitGroup
		var ok atomic.Int64
		for range 200 {
			wg.Go(func() {
				if n, err := f.list(); err == nil && n == 7 {
					ok.Add(1)
				}
			})
		}
		synctest.Wait() // every request is waiting on the one call
		if got := f.stub.calls.Load(); got != 1 {
			t.Errorf("%d vendor calls while 200 requests wait, want 1", got)
		}
		close(f.stub.gate)
		wg.Wait()
		f.expect("after", true, "", 1)
		if ok.Load() != 200 {
			t.Errorf("%d of 200 requests got the directory", ok.Load())
		}
	})
}

// TestCacheWaiterGivesUp: a request that gives up does not cancel the
// call the others wait for.
func TestCacheWaiterGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute})
		f.stub.gate = make(chan struct{})
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() {
			_, err := f.src.List(ctx, driver.Filter{}, providers.Position{}, 10)
			errc <- err
		}()
		done := make(chan int, 1)
		go func() { n, _ := f.list(); done <- n }()
		synctest.Wait()
		cancel()
		var pe *providers.Error
		if err := <-errc; !errors.As(err, &pe) || pe.Code != errcode.ProviderUnavailable || !errors.Is(err, context.Canceled) {
			t.Errorf("canceled request: %v, want PROVIDER_UNAVAILABLE wrapping context.Canceled", err)
		}
		close(f.stub.gate)
		if n := <-done; n != 7 {
			t.Errorf("the other request got %d users, want 7", n)
		}
		f.expectState("after", providers.StateOK)
	})
}

// TestCacheStaleWhileError: when a refresh fails, the copy is served,
// marked stale, while it is younger than MaxStale; after that the failure
// is returned. Between failures the vendor is left alone for a back-off.
func TestCacheStaleWhileError(t *testing.T) {
	var logs bytes.Buffer
	f := newCacheFixture(t, false, providers.SourceOptions{
		CacheTTL: time.Minute, MaxStale: 10 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	t0 := f.clk.Now()
	f.expect("cold", true, "", 1)
	f.stub.setErr(errDown)
	f.clk.Add(2 * time.Minute)
	f.expect("refresh fails at 2m", true, "", 2)
	st := f.expectState("at 2m", providers.StateStale)
	if st.LastError == nil || st.LastError.Code != errcode.ProviderUnavailable || !st.LastErrorAt.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("status at 2m: last error %v at %v", st.LastError, st.LastErrorAt)
	}
	if !st.FetchedAt.Equal(t0) || st.Age != 2*time.Minute || !st.ServedUntil.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("status at 2m: fetched %v age %v served until %v", st.FetchedAt, st.Age, st.ServedUntil)
	}
	if !st.RetryAt.Equal(t0.Add(2*time.Minute + time.Second)) {
		t.Errorf("status at 2m: retry at %v, want 1s later", st.RetryAt)
	}
	if msg := st.LastError.Error(); msg != `provider "bill" is unavailable` {
		t.Errorf("last error message %q", msg)
	}
	// The back-off: 1s after the first failure, then 2s, 4s...
	f.expect("during the back-off", true, "", 2)
	f.clk.Add(time.Second)
	f.expect("after 1s", true, "", 3)
	f.clk.Add(time.Second)
	f.expect("1s into a 2s back-off", true, "", 3)
	f.clk.Add(time.Second)
	f.expect("after 2s", true, "", 4)
	// Past MaxStale: the failure.
	f.clk.Set(t0.Add(10*time.Minute - time.Nanosecond))
	f.expect("just inside MaxStale", true, "", 5)
	f.clk.Set(t0.Add(10 * time.Minute))
	f.expect("at MaxStale, still backing off", false, errcode.ProviderUnavailable, 5)
	st = f.expectState("past MaxStale", providers.StateFailing)
	if st.FetchedAt != t0 {
		t.Errorf("failing status keeps the copy's fetch time, got %v", st.FetchedAt)
	}
	f.clk.Add(time.Hour)
	f.expect("an hour later", false, errcode.ProviderUnavailable, 6)
	// Recovery.
	f.stub.setErr(nil)
	f.clk.Add(time.Hour)
	f.expect("recovered", true, "", 7)
	st = f.expectState("recovered", providers.StateOK)
	if st.LastError == nil || st.RetryAt != (time.Time{}) {
		t.Errorf("recovered: last error %v (want kept), retry at %v (want none)", st.LastError, st.RetryAt)
	}
	f.clk.Add(59 * time.Second)
	f.expect("fresh again", true, "", 7)
	// One log line per failed refresh, none per request served stale.
	if n := strings.Count(logs.String(), "provider refresh failed"); n != 5 {
		t.Errorf("%d log lines for 5 failed refreshes:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "vendor down") {
		t.Errorf("the log does not carry the cause:\n%s", logs.String())
	}
}

// TestCacheBackoffCappedByTTL: failing for long, the vendor is asked once
// per CacheTTL.
func TestCacheBackoffCappedByTTL(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: 10 * time.Second})
	f.stub.setErr(errDown)
	f.expect("cold", false, errcode.ProviderUnavailable, 1)
	for _, d := range []time.Duration{1, 2, 4, 8, 10, 10} {
		f.clk.Add(d*time.Second - time.Nanosecond)
		before := int(f.stub.calls.Load())
		f.expect(fmt.Sprintf("just before %ds", d), false, errcode.ProviderUnavailable, before)
		f.clk.Add(time.Nanosecond)
		f.expect(fmt.Sprintf("after %ds", d), false, errcode.ProviderUnavailable, before+1)
	}
}

func TestCacheRateLimitedCold(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
	f.stub.setErr(fmt.Errorf("429: %w", &driver.RateLimitError{RetryAfter: 30 * time.Minute}))
	err := f.expect("cold", false, errcode.ProviderRateLimited, 1)
	if err != nil && err.RetryAfter != 30*time.Minute {
		t.Errorf("RetryAfter = %v, want 30m", err.RetryAfter)
	}
	// Until the retry-after passes, no call, and the wait left.
	f.clk.Add(10 * time.Minute)
	err = f.expect("10m later", false, errcode.ProviderRateLimited, 1)
	if err != nil && err.RetryAfter != 20*time.Minute {
		t.Errorf("RetryAfter = %v, want 20m", err.RetryAfter)
	}
	if st := f.expectState("10m later", providers.StateFailing); !st.RetryAt.Equal(f.clk.Now().Add(20 * time.Minute)) {
		t.Errorf("RetryAt = %v", st.RetryAt)
	}
	f.stub.setErr(nil)
	f.clk.Add(20*time.Minute - time.Nanosecond)
	f.expect("just before", false, errcode.ProviderRateLimited, 1)
	f.clk.Add(time.Nanosecond)
	f.expect("after the retry-after", true, "", 2)
}

func TestCacheRateLimitedWarm(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
	t0 := f.clk.Now()
	f.expect("cold", true, "", 1)
	f.stub.setErr(fmt.Errorf("429: %w", &driver.RateLimitError{RetryAfter: 30 * time.Minute}))
	f.clk.Add(time.Minute)
	f.expect("429 at 1m: the copy", true, "", 2)
	st := f.expectState("at 1m", providers.StateStale)
	if st.LastError == nil || st.LastError.Code != errcode.ProviderRateLimited || !st.RetryAt.Equal(t0.Add(31*time.Minute)) {
		t.Errorf("status: %+v", st)
	}
	f.clk.Add(13 * time.Minute)
	f.expect("at 14m: the copy, no call", true, "", 2)
	f.clk.Add(time.Minute)
	err := f.expect("at 15m: past MaxStale, no call", false, errcode.ProviderRateLimited, 2)
	if err != nil && err.RetryAfter != 16*time.Minute {
		t.Errorf("RetryAfter = %v, want 16m", err.RetryAfter)
	}
}

// TestCacheRateLimitWithoutRetryAfter: a 429 that does not say when falls
// back on the budget's reset, else on the back-off.
func TestCacheRateLimitWithoutRetryAfter(t *testing.T) {
	f := newCacheFixture(t, true, providers.SourceOptions{CacheTTL: time.Minute})
	f.stub.setBudget(100, 50, 1, f.clk.Now().Add(20*time.Minute))
	f.stub.setErr(fmt.Errorf("429: %w", driver.ErrRateLimited))
	err := f.expect("cold", false, errcode.ProviderRateLimited, 1)
	if err != nil && err.RetryAfter != 20*time.Minute {
		t.Errorf("RetryAfter = %v, want the reset, 20m", err.RetryAfter)
	}

	g := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute})
	g.stub.setErr(fmt.Errorf("429: %w", driver.ErrRateLimited))
	err = g.expect("cold, no budget", false, errcode.ProviderRateLimited, 1)
	if err != nil && err.RetryAfter != time.Second {
		t.Errorf("RetryAfter = %v, want the back-off, 1s", err.RetryAfter)
	}
}

// TestCacheBudget: as the rate budget runs low, the copy is refreshed less
// often, so that what is left lasts until the reset.
func TestCacheBudget(t *testing.T) {
	tests := []struct {
		name      string
		limit     int
		remaining int // before the first call
		cost      int // calls per refresh
		reset     time.Duration
		want      time.Duration // how long the first copy stays fresh
	}{
		// 1000 an hour, 990 left: plenty; the TTL.
		{"plenty", 1000, 990, 1, time.Hour, time.Minute},
		// 15 left after the call, reserve 5: 10 refreshes for 1h.
		{"low", 100, 16, 1, time.Hour, 6 * time.Minute},
		// 3 calls a refresh (a paged answer): 35 left, 30 spare, 10 refreshes.
		{"low, paged", 100, 38, 3, time.Hour, 6 * time.Minute},
		// 5 left, all reserve: until the reset, capped by MaxStale.
		{"reserve", 100, 6, 1, time.Hour, 15 * time.Minute},
		{"reserve, reset soon", 100, 6, 1, 5 * time.Minute, 5 * time.Minute},
		// The reset is past: the reading is stale, the TTL.
		{"reset past", 100, 3, 1, -time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newCacheFixture(t, true, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 15 * time.Minute})
			t0 := f.clk.Now()
			f.stub.setBudget(tt.limit, tt.remaining, tt.cost, t0.Add(tt.reset))
			f.expect("cold", true, "", 1)
			st := f.expectState("cold", providers.StateOK)
			if !st.RefreshAt.Equal(t0.Add(tt.want)) {
				t.Errorf("fresh until %v, want %v", st.RefreshAt.Sub(t0), tt.want)
			}
			if rl := st.RateLimit; rl == nil || rl.Limit != tt.limit || rl.Remaining != max(tt.remaining-tt.cost, 0) {
				t.Errorf("status rate limit %+v", rl)
			}
			f.clk.Add(tt.want - time.Nanosecond)
			f.expect("just before", true, "", 1)
			f.expectState("just before", providers.StateOK)
			f.clk.Add(time.Nanosecond)
			f.expect("refresh", true, "", 2)
		})
	}
	t.Run("cost measured", func(t *testing.T) {
		f := newCacheFixture(t, true, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: time.Hour})
		t0 := f.clk.Now()
		f.stub.setBudget(100, 100, 3, t0.Add(time.Hour))
		f.expect("cold", true, "", 1) // 97 left: 30 refreshes, 2m each
		if st := f.src.Status(); !st.RefreshAt.Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("first copy fresh until %v, want 2m", st.RefreshAt.Sub(t0))
		}
		f.clk.Add(2 * time.Minute)
		f.expect("refresh", true, "", 2) // 94 left over 58m, 3 a refresh: 29 refreshes, 2m each
		if st := f.src.Status(); !st.RefreshAt.Equal(f.clk.Now().Add(2 * time.Minute)) {
			t.Errorf("second copy fresh until %v, want 2m", st.RefreshAt.Sub(f.clk.Now()))
		}
	})
}

// TestCacheBudgetSpent: when the vendor said no calls remain until its
// reset, dirgate does not call it: the copy is served while it may be,
// else PROVIDER_RATE_LIMITED with the time to the reset.
func TestCacheBudgetSpent(t *testing.T) {
	f := newCacheFixture(t, true, providers.SourceOptions{CacheTTL: time.Minute, MaxStale: 10 * time.Minute})
	t0 := f.clk.Now()
	f.stub.setBudget(100, 100, 1, t0.Add(time.Hour))
	f.expect("cold", true, "", 1)
	f.stub.setBudget(100, 0, 1, t0.Add(time.Hour)) // someone else spent it
	f.clk.Add(time.Minute)
	f.expect("budget spent: the copy", true, "", 1)
	st := f.expectState("budget spent", providers.StateStale)
	if st.LastError == nil || st.LastError.Code != errcode.ProviderRateLimited || !st.RetryAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("status %+v", st)
	}
	f.clk.Add(9 * time.Minute)
	err := f.expect("past MaxStale", false, errcode.ProviderRateLimited, 1)
	if err != nil && err.RetryAfter != 50*time.Minute {
		t.Errorf("RetryAfter = %v, want 50m", err.RetryAfter)
	}
	f.stub.setBudget(100, 100, 1, t0.Add(2*time.Hour))
	f.clk.Add(50 * time.Minute)
	f.expect("after the reset", true, "", 2)
}

// TestStatusLive: a provider asked on every request reports the outcome
// of its last call.
func TestStatusLive(t *testing.T) {
	f := newFixture(t, 5)
	src := f.dir.Sources()[0]
	if st := src.Status(); st.State != providers.StateUnknown || st.Cached {
		t.Errorf("before any call: %+v", st)
	}
	list := func(ctx context.Context, filter driver.Filter) error {
		_, err := src.List(ctx, filter, providers.Position{}, 10)
		return err
	}
	if err := list(t.Context(), driver.Filter{}); err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.State != providers.StateOK || !st.FetchedAt.IsZero() || st.LastError != nil {
		t.Errorf("after a call: %+v", st)
	}
	f.mems[0].SetError(errDown)
	list(t.Context(), driver.Filter{})
	st := src.Status()
	if st.State != providers.StateFailing || st.LastError == nil || st.LastError.Code != errcode.ProviderUnavailable || st.LastErrorAt.IsZero() {
		t.Errorf("after a failure: %+v", st)
	}
	// A caller that gave up, and a list that needs no call, say nothing.
	f.mems[0].SetError(nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	list(ctx, driver.Filter{})
	if st := src.Status(); st.State != providers.StateFailing {
		t.Errorf("after a canceled call: %s, want FAILING still", st.State)
	}
	if err := list(t.Context(), driver.Filter{}); err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); st.State != providers.StateOK || st.LastError == nil {
		t.Errorf("recovered: %+v, want OK with the last error kept", st)
	}
}

// TestCacheHoldCapped: a vendor that says to come back in a year is asked
// again within the hour.
func TestCacheHoldCapped(t *testing.T) {
	f := newCacheFixture(t, false, providers.SourceOptions{CacheTTL: time.Minute})
	f.stub.setErr(fmt.Errorf("429: %w", &driver.RateLimitError{RetryAfter: 365 * 24 * time.Hour}))
	if err := f.expect("cold", false, errcode.ProviderRateLimited, 1); err != nil && err.RetryAfter != time.Hour {
		t.Errorf("RetryAfter = %v, want 1h", err.RetryAfter)
	}
	f.clk.Add(time.Hour)
	f.expect("an hour later", false, errcode.ProviderRateLimited, 2)
}

// TestCacheBogusReset: a spent budget whose reset is years away does not
// stop dirgate from asking.
func TestCacheBogusReset(t *testing.T) {
	f := newCacheFixture(t, true, providers.SourceOptions{CacheTTL: time.Minute})
	f.stub.setBudget(100, 0, 1, f.clk.Now().Add(10*365*24*time.Hour))
	f.expect("spent, reset in ten years", true, "", 1)
}
