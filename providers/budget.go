package providers

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/dirgate/dirgate/providers/driver"
)

// The per-request vendor-call budget: a GraphQL request carries a number
// of vendor requests it may make in its context, and every vendor request
// of every provider made for it spends one (retries included). When the
// budget is spent, the portable layer stops calling and returns what it
// has, with a VENDOR_CALL_LIMIT_EXCEEDED error.
//
// A whole-directory provider's refresh spends from no request's budget
// (see WithoutCallBudget): the copy is shared by every request and
// refreshed at most once per cacheTTL however many ask, so no request can
// multiply its calls, and a refresh made for one request whose budget is
// spent must not fail, and be held back, for every other.

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

// WithoutCallBudget returns ctx without a vendor-call budget: the calls
// made with it are no request's own.
func WithoutCallBudget(ctx context.Context) context.Context {
	return context.WithValue(ctx, budgetKey{}, (*callBudget)(nil))
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

// The static estimates, for the pre-execution vendor-call limit (see
// graph/complexity.go). They bound the calls one request makes, except
// where graph.Costs says; the budget above stops what they miss while the
// request runs.

// PageCalls estimates the vendor requests a page of n users of the merged
// connection makes to this provider: its part of the page, in vendor
// pages of PageSize, and one request for its total (which hasNextPage and
// totalCount may need when the page did not reach it). A filter the
// vendor cannot apply may take more vendor pages to fill the page; those
// are left to the budget. A whole-directory provider's copy is shared by
// every request and refreshed at most once per cacheTTL however many ask,
// so it counts nothing here.
func (s *Source) PageCalls(n int) int {
	size := s.PageSize()
	if size <= 0 {
		return 0
	}
	return (max(n, 0)+size-1)/size + 1
}

// LookupCalls estimates the vendor requests looking up keys users of this
// provider by field f (ids, emails) makes: one per key for a provider
// searched one value at a time, and none for a whole-directory provider
// (a read of its shared copy). A paged provider that cannot be searched by
// f reads its whole directory once per batch (see UsersByID), which no
// estimate knows before the read: it counts none here, and is left to the
// budget.
func (s *Source) LookupCalls(f driver.Field, keys int) int {
	if !s.Searches(f) {
		return 0
	}
	return keys
}
