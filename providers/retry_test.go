package providers_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// scripted is a provider that fails as its script says, one entry per
// call (nil: success), and records when it was called. Past the end of the
// script it repeats the last entry.
type scripted struct {
	mu     sync.Mutex
	script []error
	block  []bool // block until the call's context ends before failing
	times  []time.Time
}

func (p *scripted) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, Totals: true, MaxPageSize: 100}
}

func (p *scripted) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	p.mu.Lock()
	n := len(p.times)
	p.times = append(p.times, time.Now())
	i := min(n, len(p.script)-1)
	err, block := p.script[i], i < len(p.block) && p.block[i]
	p.mu.Unlock()
	if block {
		<-ctx.Done()
	}
	if err != nil {
		return nil, err
	}
	return &driver.ListPage{Users: []driver.User{{ID: "u1"}}, Total: 1}, nil
}

func (p *scripted) calls() []time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.times...)
}

// waits returns the time between successive calls.
func (p *scripted) waits() []time.Duration {
	ts := p.calls()
	var out []time.Duration
	for i := 1; i < len(ts); i++ {
		out = append(out, ts[i].Sub(ts[i-1]))
	}
	return out
}

var (
	temporary = &driver.TemporaryError{Err: fmt.Errorf("test: %w: HTTP 503", driver.ErrUnavailable)}
	http500   = fmt.Errorf("test: %w: HTTP 500", driver.ErrUnavailable)
)

func listOne(ctx context.Context, p driver.Provider, opts *providers.SourceOptions) (*providers.Run, error) {
	s, err := providers.NewSource(providers.Info{Key: "p"}, p, opts)
	if err != nil {
		return nil, err
	}
	return s.List(ctx, driver.Filter{}, providers.Position{}, 10)
}

func TestTemporaryError(t *testing.T) {
	cause := errors.New("connection reset")
	err := fmt.Errorf("adapter: %w", &driver.TemporaryError{Err: cause})
	if !errors.Is(err, driver.ErrUnavailable) || !errors.Is(err, cause) {
		t.Errorf("%v: want ErrUnavailable and its cause", err)
	}
	if got := (&driver.TemporaryError{}).Error(); got != driver.ErrUnavailable.Error() {
		t.Errorf("Error() without a cause = %q", got)
	}
}

func TestRetryTemporaryThenSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &scripted{script: []error{temporary, temporary, nil}}
		page, err := listOne(t.Context(), p, nil)
		if err != nil || len(page.Users) != 1 {
			t.Fatalf("List = %v, %v; want a page after two retries", page, err)
		}
		w := p.waits()
		if len(w) != 2 {
			t.Fatalf("%d calls, want 3", len(w)+1)
		}
		// Exponential backoff with full jitter: at most base, then 2*base.
		if w[0] > providers.DefaultRetryBase || w[1] > 2*providers.DefaultRetryBase {
			t.Errorf("waits = %v, want at most %v and %v", w, providers.DefaultRetryBase, 2*providers.DefaultRetryBase)
		}
	})
}

func TestRetryBackoffIsExponentialWithFullJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const trials = 200
		base := providers.DefaultRetryBase
		lo := []time.Duration{time.Hour, time.Hour, time.Hour}
		hi := make([]time.Duration, 3)
		for range trials {
			p := &scripted{script: []error{temporary}}
			if _, err := listOne(t.Context(), p, nil); !errors.Is(err, driver.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			w := p.waits()
			if len(w) != providers.DefaultMaxAttempts-1 {
				t.Fatalf("%d calls, want %d", len(w)+1, providers.DefaultMaxAttempts)
			}
			for i, d := range w {
				if d > base<<i {
					t.Fatalf("wait %d = %v, above its cap %v", i+1, d, base<<i)
				}
				lo[i], hi[i] = min(lo[i], d), max(hi[i], d)
			}
		}
		// Over 200 trials, each wait spreads over its whole range [0, cap].
		for i := range lo {
			cap := base << i
			if lo[i] > cap/4 || hi[i] < cap*3/4 {
				t.Errorf("wait %d ranged over [%v, %v], want most of [0, %v]", i+1, lo[i], hi[i], cap)
			}
		}
	})
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"429", fmt.Errorf("test: %w", &driver.RateLimitError{RetryAfter: 3 * time.Second})},
		{"503", &driver.TemporaryError{RetryAfter: 3 * time.Second, Err: errors.New("HTTP 503")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &scripted{script: []error{tt.err, nil}}
				if _, err := listOne(t.Context(), p, nil); err != nil {
					t.Fatal(err)
				}
				w := p.waits()
				if len(w) != 1 || w[0] < 3*time.Second || w[0] > 3*time.Second+providers.DefaultRetryBase {
					t.Errorf("waits = %v, want one of 3s plus at most %v of jitter", w, providers.DefaultRetryBase)
				}
			})
		})
	}
}

func TestRetryNeverWaitsPastTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A rate limit longer than the time left fails at once, with the
		// vendor's retry-after for the client.
		p := &scripted{script: []error{&driver.RateLimitError{RetryAfter: 30 * time.Second}, nil}}
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := listOne(ctx, p, nil)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != errcode.ProviderRateLimited || pe.RetryAfter != 30*time.Second {
			t.Fatalf("err = %#v, want errcode.ProviderRateLimited with RetryAfter 30s", err)
		}
		if n := len(p.calls()); n != 1 || time.Since(start) != 0 {
			t.Errorf("%d calls in %v, want 1 call and no wait", n, time.Since(start))
		}

		// Without a deadline, MaxRetryWait bounds the wait the same way.
		p = &scripted{script: []error{&driver.RateLimitError{RetryAfter: 30 * time.Second}, nil}}
		if _, err := listOne(t.Context(), p, &providers.SourceOptions{MaxRetryWait: 10 * time.Second}); !errors.Is(err, driver.ErrRateLimited) {
			t.Fatalf("err = %v, want ErrRateLimited", err)
		}
		if n := len(p.calls()); n != 1 || time.Since(start) != 0 {
			t.Errorf("%d calls in %v, want 1 call and no wait", n, time.Since(start))
		}

		// The second wait would end after the deadline: no third call.
		after2s := &driver.TemporaryError{RetryAfter: 2 * time.Second}
		p = &scripted{script: []error{after2s, after2s, nil}}
		ctx, cancel = context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		if _, err := listOne(ctx, p, nil); !errors.As(err, &pe) || pe.Code != errcode.ProviderUnavailable {
			t.Fatalf("err = %v, want errcode.ProviderUnavailable", err)
		}
		if n, took := len(p.calls()), time.Since(start); n != 2 || took >= 3*time.Second {
			t.Errorf("%d calls in %v, want 2 within the 3s deadline", n, took)
		}
	})
}

func TestRetryStopsWhenTheCallerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &scripted{script: []error{&driver.RateLimitError{RetryAfter: 4 * time.Second}, nil}}
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		if _, err := listOne(ctx, p, nil); !errors.Is(err, driver.ErrRateLimited) {
			t.Fatalf("err = %v, want the rate limit", err)
		}
		if n, took := len(p.calls()), time.Since(start); n != 1 || took != time.Second {
			t.Errorf("%d calls in %v, want 1 and a return as soon as the caller gave up (1s)", n, took)
		}
	})
}

func TestRetryOnlyWhatIsWorthRetrying(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		opts *providers.SourceOptions
		want int // calls
	}{
		{"HTTP 500", http500, nil, 1},
		{"auth", fmt.Errorf("test: %w", driver.ErrAuth), nil, 1},
		{"bad response", fmt.Errorf("test: %w", driver.ErrBadResponse), nil, 1},
		{"bare ErrRateLimited", driver.ErrRateLimited, nil, 1},
		{"temporary", temporary, nil, providers.DefaultMaxAttempts},
		{"rate limited", &driver.RateLimitError{}, nil, providers.DefaultMaxAttempts},
		{"retries off", temporary, &providers.SourceOptions{MaxAttempts: 1}, 1},
		{"two attempts", temporary, &providers.SourceOptions{MaxAttempts: 2}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &scripted{script: []error{tt.err}}
				_, err := listOne(t.Context(), p, tt.opts)
				if !errors.Is(err, tt.err) {
					t.Errorf("err = %v, want %v", err, tt.err)
				}
				if n := len(p.calls()); n != tt.want {
					t.Errorf("%d calls, want %d", n, tt.want)
				}
			})
		})
	}
}

func TestEachAttemptHasItsOwnTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The first attempt hangs until its timeout and the adapter calls
		// that temporary; the second gets a full timeout of its own.
		p := &scripted{script: []error{temporary, nil}, block: []bool{true}}
		start := time.Now()
		if _, err := listOne(t.Context(), p, &providers.SourceOptions{Timeout: time.Second}); err != nil {
			t.Fatal(err)
		}
		if c := p.calls(); len(c) != 2 || c[0] != start || c[1].Sub(start) < time.Second {
			t.Errorf("calls at %v, want one at the start and one after the 1s timeout", c)
		}
	})
}

// TestTimedOutAttemptIsRetried: an attempt that runs out of its own
// timeout while the request still waits is temporary, whatever the adapter
// made of it (here a final HTTP 500 after its context ended), and is
// retried within the request's deadline, never past it.
func TestTimedOutAttemptIsRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hang := []bool{true, true, true, true}
		p := &scripted{script: []error{http500, nil}, block: hang}
		if _, err := listOne(t.Context(), p, &providers.SourceOptions{Timeout: time.Second}); err != nil {
			t.Fatalf("err = %v, want success once an attempt answers in time", err)
		}
		p = &scripted{script: []error{http500}, block: hang}
		_, err := listOne(t.Context(), p, &providers.SourceOptions{Timeout: time.Second})
		var te *driver.TemporaryError
		if !errors.As(err, &te) || !errors.Is(err, driver.ErrUnavailable) {
			t.Errorf("err = %v, want a temporary PROVIDER_UNAVAILABLE", err)
		}
		if n := len(p.calls()); n != providers.DefaultMaxAttempts {
			t.Errorf("%d attempts, want %d: a timed-out attempt is retried", n, providers.DefaultMaxAttempts)
		}

		// With 2.5s left, the attempts at 0s and about 1.1s time out; a
		// third would start after the deadline's reach.
		p = &scripted{script: []error{http500}, block: hang}
		ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := listOne(ctx, p, &providers.SourceOptions{Timeout: time.Second}); !errors.Is(err, driver.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("took %v, past the 2.5s deadline", took)
		}
		if n := len(p.calls()); n < 2 || n > 3 {
			t.Errorf("%d attempts within 2.5s of 1s each, want 2 or 3", n)
		}
	})
}
