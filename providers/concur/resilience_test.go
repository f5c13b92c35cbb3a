package concur

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Tests where time matters (expiry, backoff, latency) run in a synctest
// bubble, where time moves only when every goroutine waits, so they never
// sleep. Loopback sockets do not work in a bubble, so the client reaches
// the emulator through memTransport, which serves each request with the
// emulator's ServeHTTP: the same requests and answers as over a socket.

// memTransport is an http.RoundTripper that serves requests with h.
type memTransport struct{ h http.Handler }

func (m memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	sr := r.Clone(r.Context())
	sr.Host, sr.RequestURI, sr.RemoteAddr = r.URL.Host, r.URL.RequestURI(), "192.0.2.1:4321"
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, sr)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// flakyTransport fails every nth request to /users with a network error,
// before it reaches Concur.
type flakyTransport struct {
	next     http.RoundTripper
	every    int64
	calls    atomic.Int64
	failures atomic.Int64
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.Path, "/users") && f.calls.Add(1)%f.every == 0 {
		f.failures.Add(1)
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("read tcp 192.0.2.1:4321: connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// inBubble returns an emulator serving users and a client wired to it
// through memTransport. Call it inside a synctest bubble: both use the
// bubble's clock.
func inBubble(t *testing.T, users []driver.User, emu func(*EmulatorOptions), cfg func(*Config), wrap func(http.RoundTripper) http.RoundTripper) (*Emulator, *Client) {
	t.Helper()
	opts := EmulatorOptions{
		ClientID: testClientID, ClientSecret: testClientSecret,
		CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
		Users: users, Company: testCompanyInfo,
	}
	if emu != nil {
		emu(&opts)
	}
	e := NewEmulator(opts)
	var rt http.RoundTripper = memTransport{e}
	if wrap != nil {
		rt = wrap(rt)
	}
	config := Config{Auth: companyauth.Config{TokenURL: "https://glz.concur.test" + tokenPath, ClientID: testClientID, ClientSecret: sec(testClientSecret), CompanyUUID: testCompanyUUID, RequestToken: sec(testRequestToken), TokenStore: filepath.Join(t.TempDir(), "concur-token.json")}}
	if cfg != nil {
		cfg(&config)
	}
	c, err := New(config, &Options{HTTP: httpClient(&http.Client{Transport: rt}, nil)})
	if err != nil {
		t.Fatal(err)
	}
	return e, c
}

// TestManyRequestsAtExpiryMakeOneRenewal: 100 requests that arrive when
// the access token runs out share one renewal, whether the client sees
// the expiry coming or Concur refuses the token first.
func TestManyRequestsAtExpiryMakeOneRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		users := makeUsers(30)
		emu, c := inBubble(t, users, func(o *EmulatorOptions) {
			o.RotateRefreshToken = true
			o.Latency = 50 * time.Millisecond // so that the requests overlap the renewal
		}, func(c *Config) { c.PageSize = 10 }, nil)
		src := source(t, c, nil)
		burst := func(phase string) {
			t.Helper()
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					p, err := src.List(t.Context(), driver.Filter{}, providers.Position{}, 30)
					if err != nil {
						t.Errorf("%s: %v", phase, err)
						return
					}
					if !reflect.DeepEqual(ids(p.Users), ids(users)) {
						t.Errorf("%s: got %d users, want all 30", phase, len(p.Users))
					}
				})
			}
			wg.Wait()
		}

		burst("first login")
		if tok, _ := emu.Calls(); tok != 1 {
			t.Fatalf("first login: %d token calls, want 1", tok)
		}
		for i, phase := range []struct {
			name    string
			advance func()
		}{
			// Within renewMargin of the expiry: renewed before use.
			{"in the renewal margin", func() { time.Sleep(time.Hour - 30*time.Second) }}, // renewed a minute early
			// At the very instant the access token dies, for both sides.
			{"at expiry", func() { time.Sleep(time.Hour) }},
			// Concur refuses the token before its time: 100 requests
			// meet a 401 and share one renewal.
			{"refused early", emu.ExpireAccessTokens},
		} {
			phase.advance()
			burst(phase.name)
			if tok, _ := emu.Calls(); tok != 2+i {
				t.Errorf("%s: %d token calls in all, want %d (one renewal)", phase.name, tok, 2+i)
			}
			if g := emu.LastTokenRequest().Form.Get("grant_type"); g != "refresh_token" {
				t.Errorf("%s: renewal grant %q, want refresh_token", phase.name, g)
			}
		}
	})
}

// TestOneRoundTripForManyPages: a request that needs ten vendor pages
// fetches them at once, not one after another, within the provider's cap
// on requests in flight (MaxConcurrency, 8 by default).
func TestOneRoundTripForManyPages(t *testing.T) {
	const latency = 50 * time.Millisecond
	for _, tt := range []struct {
		concurrency int
		rounds      int
	}{{10, 1}, {0, 2}, {4, 3}, {1, 10}} {
		t.Run(fmt.Sprintf("concurrency=%d", tt.concurrency), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := makeUsers(1000)
				emu, c := inBubble(t, users, func(o *EmulatorOptions) { o.Latency = latency }, nil, nil)
				src := source(t, c, &providers.SourceOptions{MaxConcurrency: tt.concurrency})
				list(t, src, driver.Filter{}, 0, 1) // log in
				_, before := emu.Calls()
				start := time.Now()
				p := list(t, src, driver.Filter{}, 0, 1000)
				took := time.Since(start)
				if !reflect.DeepEqual(ids(p.Users), ids(users)) {
					t.Fatalf("got %d users, want all 1000 in order", len(p.Users))
				}
				if _, after := emu.Calls(); after-before != 10 {
					t.Errorf("%d calls to /users, want 10 pages of 100", after-before)
				}
				if took != time.Duration(tt.rounds)*latency {
					t.Errorf("took %v, want %d round trips (%v)", took, tt.rounds, time.Duration(tt.rounds)*latency)
				}
			})
		})
	}
}

// walkDirectory follows a Directory's connection forwards to its end with
// the given page sizes, in turn, and returns the native ids it saw. A page
// that fails is asked for again with the same cursor, as a client would;
// failures counts those.
func walkDirectory(t *testing.T, dir *providers.Directory, sizes ...int) (got []string, failures int) {
	t.Helper()
	var after *providers.Cut
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("no end")
		}
		p, err := dir.Page(t.Context(), providers.PageRequest{After: after, Count: sizes[pages%len(sizes)]})
		if err != nil {
			t.Fatal(err)
		}
		failures += len(p.Failed)
		for _, e := range p.Edges {
			got = append(got, e.User.ID)
		}
		if !p.HasNextPage {
			return got, failures
		}
		if n := len(p.Edges); n > 0 {
			c := p.Edges[n-1].Cut
			after = &c
		}
	}
}

// TestStormsStillGiveAnExactlyOnceWalk walks 250 Concur users in pages
// that do not divide Concur's, while Concur fails bursts of calls: every
// user comes exactly once, in order, and the retries hide the storm.
func TestStormsStillGiveAnExactlyOnceWalk(t *testing.T) {
	for _, tt := range []struct {
		name      string
		storm     Storm
		flaky     int64 // every nth /users call fails on the network
		opts      *providers.SourceOptions
		wantWaits time.Duration // at least this long in all, for Retry-After
		wantFails bool          // failures reach the walker (retries off)
	}{
		{name: "429 with Retry-After", storm: Storm{Status: 429, RetryAfter: "1", Every: 10, Burst: 2}, wantWaits: time.Second},
		{name: "429 without Retry-After", storm: Storm{Status: 429, Every: 10, Burst: 2}},
		{name: "503 with Retry-After", storm: Storm{Status: 503, RetryAfter: "2", Every: 10, Burst: 2}, wantWaits: 2 * time.Second},
		{name: "503 without Retry-After", storm: Storm{Status: 503, Every: 10, Burst: 2}},
		{name: "502", storm: Storm{Status: 502, Every: 7}},
		{name: "504", storm: Storm{Status: 504, Every: 7}},
		{name: "network errors", flaky: 5},
		{name: "503, retries off", storm: Storm{Status: 503, Every: 3}, opts: &providers.SourceOptions{MaxAttempts: 1}, wantFails: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				users := makeUsers(250)
				var flaky *flakyTransport
				wrap := func(rt http.RoundTripper) http.RoundTripper {
					if tt.flaky == 0 {
						return rt
					}
					flaky = &flakyTransport{next: rt, every: tt.flaky}
					return flaky
				}
				emu, c := inBubble(t, users, func(o *EmulatorOptions) { o.Latency = 20 * time.Millisecond },
					func(c *Config) { c.PageSize = 10 }, wrap)
				dir, err := providers.NewDirectory(source(t, c, tt.opts))
				if err != nil {
					t.Fatal(err)
				}
				emu.SetStorm(tt.storm)
				start := time.Now()
				got, failures := walkDirectory(t, dir, 37, 45, 13)
				if !reflect.DeepEqual(got, ids(users)) {
					t.Errorf("walk saw %d users, want each of the 250 exactly once, in order (first difference at %d)",
						len(got), firstDiff(got, ids(users)))
				}
				injected := emu.Failures()
				if flaky != nil {
					injected = int(flaky.failures.Load())
				}
				if injected < 5 {
					t.Errorf("only %d calls failed: no storm", injected)
				}
				if tt.wantFails != (failures > 0) {
					t.Errorf("%d failed pages reached the walker, want failures = %v", failures, tt.wantFails)
				}
				if took := time.Since(start); took < tt.wantWaits {
					t.Errorf("walk took %v: Retry-After %v was not honoured", took, tt.wantWaits)
				}
			})
		})
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRateLimitBeyondTheDeadline: a 429 whose Retry-After the request
// cannot wait out comes back at once, as a rate limit with the vendor's
// retry-after.
func TestRateLimitBeyondTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu, c := inBubble(t, makeUsers(5), nil, nil, nil)
		src := source(t, c, nil)
		emu.SetFault(Fault{Status: 429, RetryAfter: "30"})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		_, err := src.List(ctx, driver.Filter{}, providers.Position{}, 5)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != errcode.ProviderRateLimited || pe.RetryAfter != 30*time.Second {
			t.Fatalf("err = %v, want PROVIDER_RATE_LIMITED with retryAfter 30s", err)
		}
		if _, users := emu.Calls(); users != 1 || time.Since(start) != 0 {
			t.Errorf("%d calls in %v, want 1 call and no wait", users, time.Since(start))
		}
		noSecrets(t, err)

		// One it can wait out is waited out.
		emu.SetFault(Fault{Status: 429, RetryAfter: "3"})
		time.AfterFunc(2*time.Second, func() { emu.SetFault(Fault{}) })
		start = time.Now()
		if _, err := src.List(ctx, driver.Filter{}, providers.Position{}, 5); err != nil {
			t.Fatalf("err = %v, want success after the Retry-After", err)
		}
		if took := time.Since(start); took < 3*time.Second || took > 3*time.Second+providers.DefaultRetryBase {
			t.Errorf("took %v, want the 3s Retry-After", took)
		}
	})
}

// TestCallTimeout: a request that Concur does not answer in time is
// abandoned when the provider's timeout ends, and is a temporary failure,
// retried within the caller's deadline; when the caller's own deadline
// ends it, it is final.
func TestCallTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		emu, c := inBubble(t, makeUsers(5), func(o *EmulatorOptions) { o.Latency = time.Hour }, nil, nil)
		src := source(t, c, &providers.SourceOptions{Timeout: 2 * time.Second, MaxAttempts: 2, RetryBase: time.Millisecond})
		start := time.Now()
		_, err := src.List(t.Context(), driver.Filter{}, providers.Position{}, 5)
		var pe *providers.Error
		var te *driver.TemporaryError
		if !errors.As(err, &pe) || pe.Code != errcode.ProviderUnavailable || !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want a temporary PROVIDER_UNAVAILABLE after the timeout", err)
		}
		if took := time.Since(start); took < 4*time.Second || took > 4*time.Second+time.Millisecond {
			t.Errorf("took %v, want two attempts of 2s", took)
		}
		if tok, _ := emu.Calls(); tok != 0 {
			t.Errorf("%d token calls answered, want none", tok)
		}

		// When the caller's own deadline ends the call, it is not worth
		// retrying.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = c.ListUsers(ctx, driver.ListRequest{Limit: 5})
		if errors.As(err, &te) || !errors.Is(err, driver.ErrUnavailable) {
			t.Errorf("err = %v, want a final ErrUnavailable", err)
		}
		// The token renewal the callers gave up on is bounded too: it ends
		// with the token timeout, leaving no goroutine behind.
		time.Sleep(vendorhttp.DefaultTokenTimeout)
	})
}

// TestTokenServiceHiccup: a token endpoint that answers 503 twice is
// retried by the portable layer, and the login then succeeds.
func TestTokenServiceHiccup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tokenCalls atomic.Int64
		emu, c := inBubble(t, makeUsers(5), nil, nil, func(rt http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(r *http.Request) (*http.Response, error) {
				if r.URL.Path == tokenPath && tokenCalls.Add(1) <= 2 {
					rec := httptest.NewRecorder()
					rec.Header().Set("Retry-After", "1")
					rec.WriteHeader(http.StatusServiceUnavailable)
					return rec.Result(), nil
				}
				return rt.RoundTrip(r)
			})
		})
		src := source(t, c, nil)
		start := time.Now()
		p, err := src.List(t.Context(), driver.Filter{}, providers.Position{}, 5)
		if err != nil || len(p.Users) != 5 {
			t.Fatalf("List = %v, %v; want 5 users after the token service recovers", p, err)
		}
		if tok, _ := emu.Calls(); tokenCalls.Load() != 3 || tok != 1 {
			t.Errorf("token calls: %d sent, %d answered by Concur; want 3, 1", tokenCalls.Load(), tok)
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("took %v, want two Retry-After waits of 1s", took)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
