package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/fleet"
	"github.com/dirgate/dirgate/providers"
)

// fake is a provider whose state the test sets; a probe turns it into
// what next says, and counts.
type fake struct {
	mu     sync.Mutex
	state  providers.State
	next   providers.State
	probes int
}

func (f *fake) target(key string) Target {
	return Target{
		Key: key,
		Status: func() providers.SourceStatus {
			f.mu.Lock()
			defer f.mu.Unlock()
			st := providers.SourceStatus{State: f.state}
			if f.state == providers.StateFailing {
				st.LastError = &providers.Error{Provider: key, Code: errcode.ProviderAuthFailed, Err: errors.New("secret cause")}
			}
			return st
		},
		Probe: func(context.Context) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.probes++
			f.state = f.next
			if f.state == providers.StateFailing {
				return errors.New("probe failed")
			}
			return nil
		},
	}
}

func (f *fake) set(state, next providers.State) {
	f.mu.Lock()
	f.state, f.next = state, next
	f.mu.Unlock()
}

func (f *fake) probeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probes
}

func readyz(t *testing.T, c *Checker) (int, Report) {
	t.Helper()
	w := httptest.NewRecorder()
	c.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	var r Report
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return w.Code, r
}

// TestReadiness: a provider that was never reached is down, not
// "starting" for ever: with whenDegraded ready, one provider up makes
// dirgate ready (issue 15, item 9a), and with minProvidersUp 0 it is
// ready as soon as it serves.
func TestReadiness(t *testing.T) {
	for _, policy := range []struct {
		degradedReady bool
		minUp         int
	}{{true, 1}, {false, 1}, {true, 0}} {
		t.Run(fmt.Sprintf("degradedReady=%t,minUp=%d", policy.degradedReady, policy.minUp), func(t *testing.T) {
			status := func(ready bool) int {
				if ready {
					return 200
				}
				return 503
			}
			noneUp := status(policy.degradedReady && policy.minUp == 0)
			someUp := status(policy.degradedReady)
			a, b := &fake{}, &fake{}
			a.set(providers.StateUnknown, providers.StateOK)
			b.set(providers.StateUnknown, providers.StateFailing)
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c := New([]Target{a.target("a"), b.target("b")}, Options{
				DegradedReady: policy.degradedReady, MinUp: policy.minUp, ProbeInterval: time.Minute, Now: func() time.Time { return now },
			})
			defer c.Close()

			// Nothing called yet: starting; the answer starts probes.
			if code, r := readyz(t, c); code != noneUp || r.Status != Starting {
				t.Errorf("first: %d %+v, want %d starting", code, r, noneUp)
			}
			c.Wait()
			// a answered, b was never reached: b is down, and dirgate
			// degraded, not starting.
			code, r := readyz(t, c)
			if code != someUp || r.Status != Degraded || !r.Providers[0].Up || r.Providers[1].Up || r.Providers[1].Authenticated || r.Providers[1].State != providers.StateFailing {
				t.Errorf("b never up: %d %+v, want %d degraded, b down", code, r, someUp)
			}
			if e := r.Providers[1].LastError; e == nil || e.Code != errcode.ProviderAuthFailed || strings.Contains(e.Message, "secret cause") {
				t.Errorf("b's last error = %+v, want PROVIDER_AUTH_FAILED without its internal cause", e)
			}
			c.Wait()
			if n := b.probeCount(); n != 1 {
				t.Errorf("b probed %d times within the interval, want 1", n)
			}
			// After the interval, b is probed again and recovers.
			now = now.Add(time.Minute)
			b.set(providers.StateFailing, providers.StateOK)
			readyz(t, c)
			c.Wait()
			if code, r := readyz(t, c); code != 200 || r.Status != Ready || !r.Ready {
				t.Errorf("both up: %d %+v, want 200 ready", code, r)
			}
			// b fails again: degraded, ready or not by policy.
			b.set(providers.StateFailing, providers.StateFailing)
			if code, r := readyz(t, c); code != someUp || r.Status != Degraded || r.Providers[1].Up || !r.Providers[1].Authenticated {
				t.Errorf("b down: %d %+v, want %d degraded", code, r, someUp)
			}
			// Both down: unavailable; ready only when none is required.
			a.set(providers.StateFailing, providers.StateFailing)
			if code, r := readyz(t, c); code != noneUp || r.Status != Unavailable {
				t.Errorf("both down: %d %+v, want %d unavailable", code, r, noneUp)
			}
			// A stale copy counts as up.
			a.set(providers.StateStale, providers.StateStale)
			b.set(providers.StateOK, providers.StateOK)
			if code, r := readyz(t, c); code != 200 || r.Status != Ready {
				t.Errorf("a stale: %d %+v, want 200 ready", code, r)
			}
			c.Wait()
		})
	}
}

// TestNeverReachedIsUnavailable: when no provider can be reached at all,
// dirgate is unavailable once its start-up probes end, not starting.
func TestNeverReachedIsUnavailable(t *testing.T) {
	a := &fake{}
	a.set(providers.StateUnknown, providers.StateUnknown) // a probe that ends without a call
	c := New([]Target{a.target("a")}, Options{DegradedReady: true, MinUp: 1, ProbeInterval: time.Minute})
	defer c.Close()
	if _, r := readyz(t, c); r.Status != Starting {
		t.Errorf("before the probe: %+v, want starting", r)
	}
	c.Wait()
	if code, r := readyz(t, c); code != 503 || r.Status != Unavailable || r.Providers[0].Up {
		t.Errorf("after the probe: %d %+v, want 503 unavailable", code, r)
	}
}

func TestProbeDownSkipsUpAndBusy(t *testing.T) {
	up, down := &fake{}, &fake{}
	up.set(providers.StateOK, providers.StateOK)
	down.set(providers.StateFailing, providers.StateFailing)
	gate := make(chan struct{})
	slow := down.target("down")
	probe := slow.Probe
	slow.Probe = func(ctx context.Context) error { <-gate; return probe(ctx) }
	c := New([]Target{up.target("up"), slow}, Options{ProbeInterval: 0})
	c.ProbeDown()
	c.ProbeDown() // the first probe of "down" is still running
	close(gate)
	c.Wait()
	if up.probeCount() != 0 || down.probeCount() != 1 {
		t.Errorf("probes: up %d, down %d; want 0 and 1", up.probeCount(), down.probeCount())
	}
	c.Close()
	c.ProbeDown() // closed: no more probes
	c.Wait()
	if down.probeCount() != 1 {
		t.Errorf("probed after Close")
	}
}

// fakeShared is the connection to Redis, as readiness sees it.
type fakeShared struct {
	mu     sync.Mutex
	state  string
	probes int
}

func (s *fakeShared) Status() fleet.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fleet.Status{State: s.state}
}

func (s *fakeShared) Probe(context.Context) {
	s.mu.Lock()
	s.probes++
	s.state = fleet.StateOK
	s.mu.Unlock()
}

// TestSharedDegraded: a degraded Redis shows in the report and makes the
// status degraded, and leaves dirgate ready even under notReady: every
// replica shares that Redis. Asking /readyz probes it.
func TestSharedDegraded(t *testing.T) {
	p := &fake{state: providers.StateOK}
	sh := &fakeShared{state: fleet.StateDegraded}
	c := New([]Target{p.target("concur")}, Options{DegradedReady: false, Shared: sh})
	defer c.Close()
	r := c.Check()
	if r.Status != Degraded || !r.Ready || r.Redis == nil || r.Redis.State != fleet.StateDegraded {
		t.Fatalf("Check = %+v, want degraded, ready, with redis DEGRADED", r)
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	c.Wait()
	if rec.Code != 200 || sh.probes != 1 {
		t.Errorf("/readyz = %d after %d probes of Redis, want 200 and 1", rec.Code, sh.probes)
	}
	if r := c.Check(); r.Status != Ready || r.Redis.State != fleet.StateOK {
		t.Errorf("after the probe: %+v, want ready with redis OK", r)
	}
	if r := New([]Target{p.target("concur")}, Options{}).Check(); r.Redis != nil {
		t.Errorf("a single replica's report shows redis: %+v", r.Redis)
	}
}
