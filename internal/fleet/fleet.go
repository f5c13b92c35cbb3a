// Package fleet is the state that the replicas of one dirgate deployment
// share in Redis: a lock with a lease, a store of sealed secrets that
// renewals rotate, a store of whole-directory copies, the vendors' rate
// budgets, and the automatic persisted queries; and, on top of them, what
// the providers use (Directory, a providers.SnapshotStore and
// providers.Shared; Tokens, a vendorhttp.SharedTokenStore).
//
// A single replica needs none of it: its defaults are the providers'
// in-memory copies, the adapters' token file (or memory) and the
// replica's own persisted-query cache. Every store here shares a *Redis,
// which bounds every operation and watches Redis's health:
//
//   - Every operation made for a request runs within the request's Redis
//     budget (Config.Timeout, 200 ms by default, for all its operations
//     together; see Budget): no request waits on Redis longer than that.
//   - When an operation fails or times out, Redis is degraded: for
//     Options.RetryInterval the operations are not even tried (they fail
//     at once with ErrUnavailable), and callers use their local state;
//     then one operation is let through to try Redis again, and the first
//     that succeeds ends the degradation. No restart is needed.
//   - Secrets, and the directories (they hold personal data), are sealed
//     with AES-256-GCM under Config.Key, bound to the key they are stored
//     under. The key itself never reaches Redis.
package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

var quietOnce sync.Once

// ErrUnavailable is returned by a Redis-backed store when Redis did not
// answer in time, failed, or is skipped while degraded: the caller goes
// on with its local state.
var ErrUnavailable = errors.New("fleet: redis is unavailable")

// Defaults.
const (
	DefaultKeyPrefix     = "dirgate:"
	DefaultTimeout       = 200 * time.Millisecond
	DefaultRetryInterval = time.Second
)

// Config configures the connection to Redis.
type Config struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS.
	URL string
	// KeyPrefix starts every key dirgate writes. Default DefaultKeyPrefix.
	KeyPrefix string
	// Timeout bounds how long one request waits on Redis, all its
	// operations together. Default DefaultTimeout.
	Timeout time.Duration
	// Key is the AES-256 key (32 bytes) that seals secrets and
	// directories. Required.
	Key []byte
}

// Options are the optional dependencies of a Redis.
type Options struct {
	// Now is the clock of the degraded state (when to try Redis again);
	// nil means time.Now. Operation deadlines always use real time.
	Now func() time.Time
	// RetryInterval is how long operations are skipped after one fails,
	// before one is let through to try Redis again. Default
	// DefaultRetryInterval.
	RetryInterval time.Duration
	// Log gets a line when Redis turns degraded and when it recovers.
	Log *slog.Logger
}

// Redis is a bounded, health-watched connection to Redis, shared by the
// Redis-backed stores. It is safe for concurrent use.
type Redis struct {
	rdb     *redis.Client
	prefix  string
	timeout time.Duration
	seal    *Sealer
	now     func() time.Time
	retry   time.Duration
	log     *slog.Logger

	mu        sync.Mutex
	degraded  bool
	since     time.Time // when the current state began
	lastErr   string
	lastErrAt time.Time
	nextTry   time.Time // degraded: when an operation may try Redis again
	trying    bool      // degraded: that operation is running
	lastOp    time.Time // when an operation last ended, by r.now
	probing   bool      // a Probe's PING is running

	ops  *prometheus.CounterVec
	wait prometheus.Histogram
}

// Open returns a Redis for cfg. It checks cfg and does no I/O: the first
// operation connects.
func Open(cfg Config, opts *Options) (*Redis, error) {
	o, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	seal, err := NewSealer(cfg.Key)
	if err != nil {
		return nil, err
	}
	// go-redis logs dial failures through a logger of its own, for the
	// whole process; dirgate reports Redis's failures itself (see
	// Status), once per outage rather than once per connection.
	quietOnce.Do(func() { redis.SetLogger(&logging.VoidLogger{}) })
	// The budget bounds each operation through its context; the client's
	// own timeouts only bound what no context covers (its pool, a dial).
	o.ContextTimeoutEnabled = true
	o.DialTimeout = cfg.Timeout
	o.ReadTimeout = cfg.Timeout
	o.WriteTimeout = cfg.Timeout
	o.PoolTimeout = cfg.Timeout
	o.MaxRetries = -1 // a retry would outlast the budget; the next request tries again
	o.DialerRetries = 1
	o.DisableIdentity = true
	o.Protocol = 2
	r := &Redis{
		rdb: redis.NewClient(o), prefix: cfg.KeyPrefix, timeout: cfg.Timeout, seal: seal,
		now: time.Now, retry: DefaultRetryInterval, log: slog.New(slog.DiscardHandler),
	}
	if opts != nil {
		if opts.Now != nil {
			r.now = opts.Now
		}
		if opts.RetryInterval > 0 {
			r.retry = opts.RetryInterval
		}
		if opts.Log != nil {
			r.log = opts.Log
		}
	}
	r.since = r.now()
	r.ops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_redis_operations_total",
		Help: "Operations on Redis by store and outcome: ok, error, timeout, or skipped (Redis degraded, or the request's Redis budget spent).",
	}, []string{"store", "outcome"})
	r.wait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dirgate_redis_request_wait_seconds",
		Help:    "Per request that used Redis, the time it waited on Redis, all operations together (at most redis.timeout).",
		Buckets: waitBuckets(cfg.Timeout),
	})
	return r, nil
}

// parseURL reads a redis:// or rediss:// URL. Its errors never quote the
// URL, which may hold a password.
func parseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("fleet: the Redis URL is not a URL")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, errors.New("fleet: the Redis URL must start with redis:// or rediss://")
	}
	if u.Host == "" {
		return nil, errors.New("fleet: the Redis URL has no host")
	}
	if u.RawQuery != "" {
		return nil, errors.New("fleet: the Redis URL must have no query parameters: dirgate sets the timeouts itself")
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, errors.New("fleet: the Redis URL is not valid: redis://[user:password@]host:port/db")
	}
	if u.Scheme == "rediss" && o.TLSConfig == nil {
		host, _, _ := net.SplitHostPort(o.Addr)
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return o, nil
}

// waitBuckets are the request wait histogram's buckets: fractions of the
// bound, and the bound itself.
func waitBuckets(bound time.Duration) []float64 {
	s := bound.Seconds()
	return []float64{s / 100, s / 20, s / 10, s / 4, s / 2, s * 3 / 4, s, 2 * s}
}

// Close closes the connections.
func (r *Redis) Close() error { return r.rdb.Close() }

// Timeout is the bound of one request's waiting on Redis.
func (r *Redis) Timeout() time.Duration { return r.timeout }

// key is the Redis key of name in the store kind, or of the store's own
// key when name is empty.
func (r *Redis) key(kind, name string) string {
	if name == "" {
		return r.prefix + kind
	}
	return r.prefix + kind + ":" + name
}

// States of the connection to Redis.
const (
	StateOK       = "OK"
	StateDegraded = "DEGRADED"
)

// Status is the health of the connection to Redis.
type Status struct {
	// State is StateOK or StateDegraded (Redis failed or timed out, and
	// dirgate works from each replica's local state).
	State string `json:"state"`
	// Since is when the state began.
	Since time.Time `json:"since"`
	// LastError is the latest failure, which may be over, and its time.
	// It names what failed, never a key or a value.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}

// Status reports the health of the connection to Redis. It makes no call.
func (r *Redis) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{State: StateOK, Since: r.since, LastError: r.lastErr, LastErrorAt: r.lastErrAt}
	if r.degraded {
		st.State = StateDegraded
	}
	return st
}

// Probe makes one cheap operation (PING) when no operation has told how
// Redis is for a while: when Redis is degraded and due to be tried again,
// so that a replica without traffic notices that Redis is back; and when
// it is healthy but no operation has ended within RetryInterval (or ever,
// at start-up), so that a Redis that is unreachable from the start, or
// goes away while there is no traffic, shows in /readyz and
// dirgate_redis_up. It is what /readyz calls, and dirgate at start-up.
func (r *Redis) Probe(ctx context.Context) {
	r.mu.Lock()
	now := r.now()
	due := !r.probing && !r.trying &&
		(r.degraded && !now.Before(r.nextTry) || !r.degraded && (r.lastOp.IsZero() || now.Sub(r.lastOp) >= r.retry))
	if due {
		r.probing = true
	}
	r.mu.Unlock()
	if !due {
		return
	}
	r.do(ctx, "ping", func(ctx context.Context) error { return r.rdb.Ping(ctx).Err() })
	r.mu.Lock()
	r.probing = false
	r.mu.Unlock()
}

// Collectors export the connection's health and operations:
// dirgate_redis_up, dirgate_redis_operations_total and
// dirgate_redis_request_wait_seconds.
func (r *Redis) Collectors() []prometheus.Collector {
	up := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dirgate_redis_up", Help: "1 while Redis answers, 0 while degraded (each replica works from its local state).",
	}, func() float64 {
		if r.Status().State == StateOK {
			return 1
		}
		return 0
	})
	return []prometheus.Collector{up, r.ops, r.wait}
}

// admit says whether an operation may use Redis now: always while it is
// healthy; while degraded, one operation at a time once RetryInterval has
// passed since the last failure.
func (r *Redis) admit() (trial bool, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.degraded {
		return false, true
	}
	if r.trying || r.now().Before(r.nextTry) {
		return false, false
	}
	r.trying = true
	return true, true
}

// do runs op, an operation of store, within ctx's Redis budget (or alone
// within the bound, outside a request), and records its outcome in the
// connection's health. redis.Nil is a success. It returns ErrUnavailable,
// wrapping the cause, when Redis failed or was skipped.
func (r *Redis) do(ctx context.Context, store string, op func(ctx context.Context) error) error {
	trial, ok := r.admit()
	if !ok {
		r.ops.WithLabelValues(store, "skipped").Inc()
		return ErrUnavailable
	}
	b := budgetOf(ctx)
	if b == nil {
		b = &Budget{limit: r.timeout, left: r.timeout}
	}
	deadline, ok := b.begin()
	if !ok {
		r.endTrial(trial)
		r.ops.WithLabelValues(store, "skipped").Inc()
		return ErrUnavailable
	}
	octx, cancel := context.WithDeadline(ctx, deadline)
	err := op(octx)
	// The connection's deadline (the same) may fire before the context's.
	timedOut := err != nil && ctx.Err() == nil && (octx.Err() != nil || !time.Now().Before(deadline))
	cancel()
	b.end(timedOut)
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		r.ops.WithLabelValues(store, "ok").Inc()
		r.succeeded()
		return err
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about Redis.
		r.endTrial(trial)
		r.ops.WithLabelValues(store, "error").Inc()
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
	outcome, what := "error", describe(err)
	if timedOut {
		outcome, what = "timeout", fmt.Sprintf("no answer within %v", deadline.Sub(b.started))
	}
	r.ops.WithLabelValues(store, outcome).Inc()
	r.failed(store, what)
	return fmt.Errorf("%w: %s", ErrUnavailable, what)
}

// describe names a Redis failure without quoting anything Redis said
// about keys or values.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.As(err, &ne):
		return "network error"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	}
	if e, ok := err.(redis.Error); ok {
		// A Redis error reply: its first word is its kind (OOM, READONLY,
		// NOAUTH, LOADING…), the rest may quote arguments.
		word, _, _ := strings.Cut(e.Error(), " ")
		return "redis error " + word
	}
	return "error"
}

func (r *Redis) endTrial(trial bool) {
	if trial {
		r.mu.Lock()
		r.trying = false
		r.mu.Unlock()
	}
}

func (r *Redis) succeeded() {
	now := r.now()
	r.mu.Lock()
	was := r.degraded
	r.degraded, r.trying, r.lastOp = false, false, now
	if was {
		r.since = now
	}
	r.mu.Unlock()
	if was {
		r.log.Info("redis is back: sharing state with the other replicas again")
	}
}

func (r *Redis) failed(store, what string) {
	now := r.now()
	r.mu.Lock()
	was := r.degraded
	r.degraded, r.trying, r.lastOp = true, false, now
	r.lastErr, r.lastErrAt = store+": "+what, now
	r.nextTry = now.Add(r.retry)
	if !was {
		r.since = now
	}
	r.mu.Unlock()
	if !was {
		r.log.Warn("redis is degraded: each replica works from its local state until it is back",
			"store", store, "err", what, "retry_in_ms", r.retry.Milliseconds())
	}
}
