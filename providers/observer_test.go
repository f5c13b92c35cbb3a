package providers_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	calls   []string // the outcome of each call: "ok" or the code
	retries int
	cache   []providers.CacheResult
}

func (r *recorder) Call(_ string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	outcome := "ok"
	var pe *providers.Error
	if errors.As(err, &pe) {
		outcome = string(pe.Code)
	}
	r.calls = append(r.calls, outcome)
}

func (r *recorder) Retry(string) {
	r.mu.Lock()
	r.retries++
	r.mu.Unlock()
}

func (r *recorder) Cache(_ string, c providers.CacheResult) {
	r.mu.Lock()
	r.cache = append(r.cache, c)
	r.mu.Unlock()
}

// errScript answers each call with the next error of its script (nil:
// success), then succeeds.
type errScript struct {
	paging driver.Paging
	mu     sync.Mutex
	errs   []error
}

func (s *errScript) Describe() driver.Description {
	return driver.Description{Paging: s.paging, Totals: true, MaxPageSize: 10}
}

func (s *errScript) ListUsers(context.Context, driver.ListRequest) (*driver.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		if err != nil {
			return nil, err
		}
	}
	return &driver.ListPage{Users: []driver.User{{ID: "1"}}, Total: 1}, nil
}

func TestObserverCallsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		temp := &driver.TemporaryError{Err: errors.New("503")}
		p := &errScript{paging: driver.PagingOffset, errs: []error{temp, temp, nil, driver.ErrAuth}}
		rec := &recorder{}
		s := mustSource(t, providers.Info{Key: "p"}, p, &providers.SourceOptions{Observer: rec})
		if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 1); err == nil {
			t.Fatal("the auth failure did not come through")
		}
		if rec.retries != 2 || len(rec.calls) != 2 || rec.calls[0] != "ok" || rec.calls[1] != string(errcode.ProviderAuthFailed) {
			t.Errorf("retries %d, calls %v; want 2 retries, then ok and PROVIDER_AUTH_FAILED", rec.retries, rec.calls)
		}
	})
}

func TestObserverCache(t *testing.T) {
	c := newClock()
	p := &errScript{paging: driver.PagingSnapshot}
	rec := &recorder{}
	s := mustSource(t, providers.Info{Key: "p"}, p, &providers.SourceOptions{
		CacheTTL: time.Minute, MaxStale: time.Hour, Now: c.Now, Observer: rec, MaxAttempts: 1,
	})
	list := func() error {
		_, err := s.List(t.Context(), driver.Filter{}, providers.Position{}, 10)
		return err
	}
	list() // miss: first fetch
	list() // hit
	c.Add(2 * time.Minute)
	p.mu.Lock()
	p.errs = []error{&driver.TemporaryError{Err: errors.New("503")}}
	p.mu.Unlock()
	list() // miss: the refresh fails, the stale copy is served
	list() // stale: calls are held back
	want := []providers.CacheResult{providers.CacheMiss, providers.CacheHit, providers.CacheMiss, providers.CacheStale}
	if len(rec.cache) != len(want) {
		t.Fatalf("cache results %v, want %v", rec.cache, want)
	}
	for i := range want {
		if rec.cache[i] != want[i] {
			t.Errorf("cache results %v, want %v", rec.cache, want)
			break
		}
	}

	// Without a copy, a held-back failure.
	c2 := newClock()
	p2 := &errScript{paging: driver.PagingSnapshot, errs: []error{driver.ErrAuth}}
	rec2 := &recorder{}
	s2 := mustSource(t, providers.Info{Key: "q"}, p2, &providers.SourceOptions{CacheTTL: time.Minute, Now: c2.Now, Observer: rec2})
	s2.List(t.Context(), driver.Filter{}, providers.Position{}, 10)
	s2.List(t.Context(), driver.Filter{}, providers.Position{}, 10)
	if len(rec2.cache) != 2 || rec2.cache[1] != providers.CacheHeld {
		t.Errorf("cache results %v, want miss then held", rec2.cache)
	}
}
