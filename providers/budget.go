package providers

import (
	"context"
	"errors"
	"sync/atomic"
)

// The per-request vendor-call budget: a GraphQL request carries in its
// context the number of vendor requests it may make, and every vendor
// request of every provider made for it spends from it (retries
// included). When the budget is spent, the portable layer stops calling
// and returns what it has, with a VENDOR_CALL_LIMIT_EXCEEDED error.
//
// Whole-directory (PagingSnapshot) providers spend nothing: their copy is
// shared by every request and refreshed at most once per cacheTTL however
// many ask, so no request can multiply their calls; and a refresh must
// not fail, and be held back for everyone, because one request spent its
// budget.
//
// Before any of that, the pre-execution limits refuse a request whose
// estimate is over the budget (see the estimates below, and
// graph/complexity.go).

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
func SpendCall(ctx context.Context) error { return spendCalls(ctx, 1) }

// spendCalls spends n vendor requests at once, or none when fewer are
// left.
func spendCalls(ctx context.Context, n int) error {
	b, _ := ctx.Value(budgetKey{}).(*callBudget)
	if b == nil {
		return nil
	}
	for {
		left := b.left.Load()
		if left < int64(n) {
			return ErrVendorCallLimit
		}
		if b.left.CompareAndSwap(left, left-int64(n)) {
			return nil
		}
	}
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

// spend takes from ctx's budget the vendor requests one attempt of req
// makes: a ListUsers of a paged vendor asks for its users in pages of
// PageSize, one request each (or one request, for the total alone).
func (s *Source) spend(ctx context.Context, req ListRequest) error {
	if s.desc.Paging == PagingSnapshot {
		return nil
	}
	return spendCalls(ctx, s.requests(req.Limit))
}

// requests is the number of vendor requests a List of n users makes.
func (s *Source) requests(n int) int {
	if size := s.desc.PageSize; size > 0 && n > size {
		return (n + size - 1) / size
	}
	return 1
}

// isBudget reports whether err is a refusal for the request's budget,
// which says nothing about the vendor's health.
func isBudget(err error) bool { return errors.Is(err, ErrVendorCallLimit) }

// The static estimates, for the pre-execution vendor-call limit. They are
// upper bounds for the calls one request can make, except where noted in
// graph/complexity.go; the budget above bounds what they miss.

// PageCalls estimates the vendor requests a page of n users of the merged
// connection makes to this provider: its part of the page, in vendor pages
// of PageSize, and one request for its total (which hasNextPage and
// totalCount may need when the page did not reach it). A whole-directory
// provider makes none that count (see the budget above).
func (s *Source) PageCalls(n int) int {
	if s.desc.Paging == PagingSnapshot {
		return 0
	}
	if n <= 0 {
		return 1
	}
	return s.requests(n) + 1
}

// LookupCalls estimates the vendor requests looking up keys users of this
// provider by field f (an id, an email) makes: one per key for a provider
// searched one value at a time, none for a whole-directory provider (one
// read of its shared copy), and none for a provider that cannot be
// searched by f at all.
func (s *Source) LookupCalls(f Field, keys int) int {
	if s.desc.Paging == PagingSnapshot || !s.desc.Filters.Has(f) {
		return 0
	}
	return keys
}
