// Package health answers /readyz: whether dirgate should get traffic,
// from the state of each provider.
//
// A provider is up while the portable layer reports it OK (its last call
// succeeded) or STALE (it serves a cached copy while refreshing fails);
// it is down otherwise: FAILING, or UNKNOWN while it has never been
// reached. dirgate is
//
//   - ready (200) while every provider is up;
//   - degraded while some providers, not all, are up;
//   - starting while none is up and the probe dirgate makes of each at
//     start-up has not ended for every one;
//   - unavailable while none is up, every one tried.
//
// With Options.DegradedReady, dirgate is ready (200) while at least
// Options.MinUp providers are up (0: as soon as it serves), so that one
// vendor down during a deploy does not keep every replica out of the load
// balancer; without it, only while every provider is up.
//
// With state shared in Redis (several replicas), the report shows Redis's
// health too. A degraded Redis makes the status "degraded" but never takes
// dirgate out of the load balancer: every replica sees the same Redis, and
// each serves from its local state meanwhile.
//
// Asking /readyz starts a probe (one cheap call) of each provider that is
// not up and has not been probed within Options.ProbeInterval, in the
// background, so that readiness follows a provider that fails and
// recovers even while no traffic reaches it. The answer is the state
// before those probes end: the next one shows their outcome.
package health

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/fleet"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// Target is one provider as readiness sees it.
type Target struct {
	Key string
	// Status reports the provider's state without calling it.
	Status func() providers.SourceStatus
	// Probe makes one cheap call to the provider.
	Probe func(ctx context.Context) error
}

// SourceTarget makes a Target of a provider behind the portable layer: its
// probe asks for the number of users only.
func SourceTarget(s *providers.Source) Target {
	return Target{
		Key:    s.Key,
		Status: s.Status,
		Probe: func(ctx context.Context) error {
			_, err := s.Total(ctx, driver.Filter{})
			return err
		},
	}
}

// Options configure a Checker.
type Options struct {
	// DegradedReady makes a dirgate with MinUp providers up ready (200)
	// though others are down; otherwise only every provider up is ready.
	DegradedReady bool
	// MinUp is how many providers must be up for DegradedReady.
	MinUp int
	// ProbeInterval is the least time between two probes of a provider.
	ProbeInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log gets the outcome of failed probes at debug level.
	Log *slog.Logger
	// Shared is the connection to the state shared with other replicas;
	// nil for a single replica.
	Shared Shared
}

// Shared is the connection to the state the replicas share.
type Shared interface {
	// Status reports its health without calling it.
	Status() fleet.Status
	// Probe tries it again when it is degraded and due to be tried.
	Probe(ctx context.Context)
}

// The overall states.
const (
	Starting    = "starting"
	Ready       = "ready"
	Degraded    = "degraded"
	Unavailable = "unavailable"
)

// Checker tracks readiness. It is safe for concurrent use.
type Checker struct {
	targets []Target
	opts    Options
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu     sync.Mutex
	seen   []bool      // up at least once
	probe  []time.Time // when the last probe started
	busy   []bool      // a probe is running
	probed []bool      // a probe has ended
}

// New returns a Checker of targets. Close stops its probes.
func New(targets []Target, opts Options) *Checker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	c := &Checker{
		targets: targets, opts: opts,
		seen: make([]bool, len(targets)), probe: make([]time.Time, len(targets)), busy: make([]bool, len(targets)),
		probed: make([]bool, len(targets)),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Close cancels running probes and waits for them to end.
func (c *Checker) Close() {
	c.cancel()
	c.wg.Wait()
}

// Wait waits for the probes running now to end.
func (c *Checker) Wait() { c.wg.Wait() }

// Report is the body of /readyz.
type Report struct {
	Status    string           `json:"status"`
	Ready     bool             `json:"ready"`
	Providers []ProviderReport `json:"providers"`
	// Redis is the health of the state shared with other replicas, when
	// there are.
	Redis *fleet.Status `json:"redis,omitempty"`
}

// ProviderReport is one provider's part of a Report.
type ProviderReport struct {
	Key string `json:"key"`
	// State is the portable layer's: UNKNOWN, OK, STALE or FAILING.
	State providers.State `json:"state"`
	Up    bool            `json:"up"`
	// Authenticated: it has been up at least once since dirgate started.
	// A provider never reached is down, with state UNKNOWN, or FAILING
	// once a call to it failed.
	Authenticated bool `json:"authenticated"`
	// LastError is the latest failure, which may be over.
	LastError *ErrorReport `json:"lastError,omitempty"`
}

// ErrorReport is a provider failure, as safe for clients as GraphQL
// errors are.
type ErrorReport struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
	At      time.Time    `json:"at"`
}

// Check reports readiness now. It makes no call.
func (c *Checker) Check() Report {
	r := Report{Providers: make([]ProviderReport, len(c.targets))}
	up, pending := 0, 0
	c.mu.Lock()
	for i, t := range c.targets {
		st := t.Status()
		p := ProviderReport{Key: t.Key, State: st.State, Up: st.State == providers.StateOK || st.State == providers.StateStale}
		if p.Up {
			c.seen[i] = true
			up++
		}
		p.Authenticated = c.seen[i]
		if !p.Authenticated && st.State == providers.StateUnknown && !c.probed[i] {
			pending++ // its first probe has not ended
		}
		if e := st.LastError; e != nil {
			p.LastError = &ErrorReport{Code: e.Code, Message: e.Error(), At: st.LastErrorAt}
		}
		r.Providers[i] = p
	}
	c.mu.Unlock()
	switch {
	case up == len(c.targets):
		r.Status = Ready
	case up > 0:
		r.Status = Degraded
	case pending > 0:
		r.Status = Starting
	default:
		r.Status = Unavailable
	}
	r.Ready = up == len(c.targets) || c.opts.DegradedReady && up >= c.opts.MinUp
	if c.opts.Shared != nil {
		st := c.opts.Shared.Status()
		r.Redis = &st
		if st.State != fleet.StateOK && r.Status == Ready {
			r.Status = Degraded // and still ready: see the package doc
		}
	}
	return r
}

// ProbeDown starts, in the background, a probe of each provider that is
// not up, not being probed, and not probed within the probe interval;
// and of Redis, which pings when it is due (see fleet.Redis.Probe).
func (c *Checker) ProbeDown() {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh := c.opts.Shared; sh != nil && c.ctx.Err() == nil { // Probe pings only when due
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			sh.Probe(c.ctx)
		}()
	}
	for i, t := range c.targets {
		if c.busy[i] || c.ctx.Err() != nil {
			continue
		}
		if st := t.Status().State; st == providers.StateOK || st == providers.StateStale {
			continue
		}
		if !c.probe[i].IsZero() && now.Sub(c.probe[i]) < c.opts.ProbeInterval {
			continue
		}
		c.busy[i], c.probe[i] = true, now
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			err := t.Probe(c.ctx)
			if err != nil {
				// Like the error presenter, log the cause, which adapters
				// keep free of secrets.
				var pe *providers.Error
				if errors.As(err, &pe) && pe.Err != nil {
					err = pe.Err
				}
				c.opts.Log.LogAttrs(c.ctx, slog.LevelDebug, "readiness probe failed", slog.String("provider", t.Key), slog.Any("err", err))
			}
			c.mu.Lock()
			c.busy[i], c.probed[i] = false, true
			c.mu.Unlock()
		}()
	}
}

// ServeHTTP answers /readyz with the Report as JSON, 200 when ready and
// 503 otherwise, and starts the probes ProbeDown starts.
func (c *Checker) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r := c.Check()
	c.ProbeDown()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !r.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(r)
}

// Collectors export readiness as metrics: dirgate_ready (1 or 0) and
// dirgate_provider_up per provider (1 or 0).
func (c *Checker) Collectors() []prometheus.Collector {
	cs := []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dirgate_ready", Help: "1 when /readyz answers 200, else 0.",
	}, func() float64 { return b2f(c.Check().Ready) })}
	for _, t := range c.targets {
		cs = append(cs, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dirgate_provider_up", ConstLabels: prometheus.Labels{"provider": t.Key},
			Help: "1 while the provider's last call succeeded or it serves a cached copy, else 0.",
		}, func() float64 {
			st := t.Status().State
			return b2f(st == providers.StateOK || st == providers.StateStale)
		}))
	}
	return cs
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
