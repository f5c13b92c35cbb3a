package providers

import (
	"context"
	"errors"
	"sync/atomic"
)

// The per-request vendor-call budget: a GraphQL request carries a number
// of vendor requests it may make in its context, and every vendor request
// of every provider made for it spends one (retries included). When the
// budget is spent, the portable layer stops calling and returns what it
// has, with a VENDOR_CALL_LIMIT_EXCEEDED error.

// ErrVendorCallLimit is the cause of a VENDOR_CALL_LIMIT_EXCEEDED error.
var ErrVendorCallLimit = errors.New("the request's vendor-call budget is spent")

type budgetKey struct{}

type callBudget struct{ left atomic.Int64 }

// WithCallBudget returns ctx carrying a budget of n vendor requests.
func WithCallBudget(ctx context.Context, n int) context.Context {
	b := &callBudget{}
	b.left.Store(int64(n))
	return context.WithValue(ctx, budgetKey{}, b)
}

// SpendCall spends one vendor request of ctx's budget. It returns an error
// that wraps ErrVendorCallLimit when the budget is spent; without a budget
// in ctx it always succeeds.
func SpendCall(ctx context.Context) error {
	b, _ := ctx.Value(budgetKey{}).(*callBudget)
	if b == nil {
		return nil
	}
	if b.left.Add(-1) < 0 {
		b.left.Add(1)
		return ErrVendorCallLimit
	}
	return nil
}

// CallsLeft returns the vendor requests ctx's budget has left, and false
// when ctx carries none.
func CallsLeft(ctx context.Context) (int, bool) {
	b, _ := ctx.Value(budgetKey{}).(*callBudget)
	if b == nil {
		return 0, false
	}
	return int(b.left.Load()), true
}
