package fleet

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"
)

// Budget is how long one request may wait on Redis, all its operations
// together. Operations that overlap share one deadline: when the first of
// them starts, the deadline is the time left of the budget from then, and
// the time until the last of them ends is taken from the budget. Once it
// is spent, the request's operations are skipped (ErrUnavailable), and
// the request goes on with local state.
//
// So the deadlines the budget hands out bound the request's whole wait on
// Redis by the limit, however many operations it makes, in sequence or at
// once.
type Budget struct {
	limit time.Duration

	mu       sync.Mutex
	left     time.Duration
	inflight int
	started  time.Time // of the operations in flight
	deadline time.Time // of the operations in flight
	ops      int
	timeouts int
}

type budgetKey struct{}

func budgetOf(ctx context.Context) *Budget {
	b, _ := ctx.Value(budgetKey{}).(*Budget)
	return b
}

// WithBudget returns ctx carrying a fresh Redis budget of r.Timeout().
func (r *Redis) WithBudget(ctx context.Context) (context.Context, *Budget) {
	b := &Budget{limit: r.timeout, left: r.timeout}
	return context.WithValue(ctx, budgetKey{}, b), b
}

// begin starts an operation: it returns the deadline it must end by, or
// false when the budget is spent.
func (b *Budget) begin() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.inflight == 0 {
		if b.left <= 0 {
			return time.Time{}, false
		}
		b.started = time.Now()
		b.deadline = b.started.Add(b.left)
	}
	b.inflight++
	b.ops++
	return b.deadline, true
}

// end ends an operation that begin started.
func (b *Budget) end(timedOut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if timedOut {
		b.timeouts++
	}
	if b.inflight--; b.inflight > 0 {
		return
	}
	// The operations were cut at the deadline: the wait they took from the
	// budget is at most what was left (the moment a timed-out operation
	// returns after its deadline is the scheduler's, not Redis's).
	b.left -= min(time.Since(b.started), b.deadline.Sub(b.started))
}

// Usage is what a request's Redis budget was used for.
type Usage struct {
	// Ops is the number of operations that used Redis (skipped ones are
	// not counted); Timeouts, those cut by the deadline.
	Ops, Timeouts int
	// Waited is the time taken from the budget: at most Limit.
	Waited, Limit time.Duration
}

// Usage reports the use of the budget so far.
func (b *Budget) Usage() Usage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Usage{Ops: b.ops, Timeouts: b.timeouts, Waited: b.limit - b.left, Limit: b.limit}
}

// Middleware gives each request a Redis budget, and records its use when
// the request ends: in dirgate_redis_request_wait_seconds, and through
// annotate (for the request's log line) when the request used Redis.
func (r *Redis) Middleware(annotate func(context.Context, ...slog.Attr), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, b := r.WithBudget(req.Context())
		next.ServeHTTP(w, req.WithContext(ctx))
		u := b.Usage()
		if u.Ops == 0 {
			return
		}
		r.wait.Observe(u.Waited.Seconds())
		if annotate != nil {
			annotate(ctx, slog.Int("redis_ops", u.Ops), slog.Int("redis_timeouts", u.Timeouts), slog.Float64("redis_wait_ms", math.Round(float64(u.Waited.Microseconds()))/1000)) // as obs.Millis
		}
	})
}
