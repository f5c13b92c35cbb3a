package providers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dirgate/dirgate/providers/driver"
)

// Info names a configured provider.
type Info struct {
	Key  string // unique; used in ids, errors and filters
	Kind string // the adapter's kind, e.g. "concur"
	Name string // for people
}

// SourceOptions configure the portable layer around one provider. The zero
// value is usable.
type SourceOptions struct {
	// Timeout bounds each vendor request (each attempt, when it is
	// retried). Default DefaultTimeout. A request that runs out of it
	// while the caller still waits is retried, within the caller's
	// deadline.
	Timeout time.Duration
	// MaxConcurrency caps this provider's vendor requests in flight, across
	// every request dirgate serves. Default DefaultMaxConcurrency.
	MaxConcurrency int
	// MaxAttempts bounds how many times one vendor request is tried when it
	// fails with a *driver.TemporaryError or a *driver.RateLimitError (or
	// runs out of Timeout). Default DefaultMaxAttempts; 1 turns retries
	// off. Retries wait an exponential backoff with full jitter from
	// RetryBase (default DefaultRetryBase), or the vendor's retry-after
	// when it gave one. A wait longer than MaxRetryWait (default
	// DefaultMaxRetryWait), or one that would end after the context's
	// deadline, is not made: the request fails at once.
	MaxAttempts  int
	RetryBase    time.Duration
	MaxRetryWait time.Duration
	// CacheTTL is how long a whole-directory (PagingSnapshot) copy is
	// reused. Zero reuses it only among requests that run at the same
	// time. When the provider is a driver.RateBudgeter whose budget runs
	// low, the copy is reused for longer (see cache.go).
	CacheTTL time.Duration
	// MaxStale bounds the age of a whole-directory copy served after a
	// refresh failed or was held back: while the copy is younger than
	// MaxStale it is served, marked stale in Status; after that the
	// failure is returned. Zero serves no stale copy.
	MaxStale time.Duration
	// Snapshots keeps the whole-directory copies; nil keeps them in this
	// Source's memory.
	Snapshots SnapshotStore
	// Shared, with several replicas, shares the right to refresh the copy
	// and the vendor's budget with the others (see Shared); nil for a
	// single replica.
	Shared Shared
	// Now is the clock of the cache and of Status; nil means time.Now.
	Now func() time.Time
	// Logger, when set, gets one warning per failed refresh of a
	// whole-directory copy, with its cause (which clients never see).
	Logger *slog.Logger
	// Observer, when set, is told about operations, retries and cache
	// lookups, for metrics.
	Observer Observer
}

// Defaults of SourceOptions.
const (
	// DefaultTimeout bounds one vendor request.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConcurrency caps a provider's vendor requests in flight.
	DefaultMaxConcurrency = 8
)

// Source is one configured provider behind the portable layer. It is safe
// for concurrent use.
type Source struct {
	Info
	p    driver.Provider
	desc driver.Description
	opts SourceOptions

	slots    chan struct{} // one per vendor request in flight
	learned  atomic.Int64  // the most users the vendor was seen to answer per request; 0: none seen
	hintMu   sync.Mutex
	hints    map[string]int // pushed-down filter key → the vendor's last total
	flight   singleflight.Group
	snaps    SnapshotStore
	mu       sync.Mutex
	comp     *driver.Company
	health   health // under mu; see status.go
	snapshot *Snapshot
	fleet    SharedBudget // under mu: the latest budget heard by any replica
}

// NewSource puts p behind the portable layer. It checks p's description.
func NewSource(info Info, p driver.Provider, opts *SourceOptions) (*Source, error) {
	s := &Source{Info: info, p: p, desc: p.Describe()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = DefaultTimeout
	}
	if s.opts.MaxConcurrency <= 0 {
		s.opts.MaxConcurrency = DefaultMaxConcurrency
	}
	s.slots = make(chan struct{}, s.opts.MaxConcurrency)
	s.snaps = s.opts.Snapshots
	if s.snaps == nil {
		s.snaps = &memorySnapshots{}
	}
	d := &s.desc
	if d.Fields == 0 {
		d.Fields = driver.AllFields
	}
	switch d.Paging {
	case driver.PagingOffset, driver.PagingCursor:
		if d.MaxPageSize < 1 {
			return nil, fmt.Errorf("provider %s: a paged vendor needs a MaxPageSize", info.Key)
		}
		if d.PageSize <= 0 || d.PageSize > d.MaxPageSize {
			d.PageSize = d.MaxPageSize
		}
		if d.Paging == driver.PagingOffset && !d.Totals {
			return nil, fmt.Errorf("provider %s: an offset vendor must give totals", info.Key)
		}
	case driver.PagingSnapshot:
		d.Filters = 0
	default:
		return nil, fmt.Errorf("provider %s: unknown paging style %d", info.Key, d.Paging)
	}
	if extra := d.Filters &^ (d.Fields & driver.Filterable); extra != 0 {
		return nil, fmt.Errorf("provider %s: filters on %s, which it does not hold or cannot be filtered on", info.Key, extra)
	}
	return s, nil
}

// Paging reports how the provider pages.
func (s *Source) Paging() driver.Paging { return s.desc.Paging }

// PageSize is the number of users one vendor request asks for (0 for a
// whole-directory vendor): with MaxConcurrency, what a static estimate of
// a request's vendor calls needs.
func (s *Source) PageSize() int {
	if s.desc.Paging == driver.PagingSnapshot {
		return 0
	}
	return s.pageSize()
}

// Description returns the provider's description, with defaults applied.
func (s *Source) Description() driver.Description { return s.desc }

// Holds reports whether the vendor holds field (a filter on a field it
// does not hold matches none of its users).
func (s *Source) Holds(f driver.Field) bool { return s.desc.Fields.Has(f) }

// pageSize is the configured page size, or less when the vendor showed it
// answers less.
func (s *Source) pageSize() int {
	n := s.desc.PageSize
	if l := int(s.learned.Load()); l > 0 && l < n {
		return l
	}
	return n
}

// learn records that the vendor answers at most n users per request.
func (s *Source) learn(n int) {
	for {
		old := s.learned.Load()
		if n < 1 || (old > 0 && old <= int64(n)) || s.learned.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// maxHints bounds the totals remembered for planning.
const maxHints = 256

// hint returns the total the vendor last gave for a pushed-down filter. It
// only plans how many requests to make at once; answers decide what is
// returned.
func (s *Source) hint(push driver.Filter) (int, bool) {
	s.hintMu.Lock()
	defer s.hintMu.Unlock()
	n, ok := s.hints[push.Key()]
	return n, ok
}

func (s *Source) setHint(push driver.Filter, total int) {
	if total < 0 {
		return
	}
	s.hintMu.Lock()
	defer s.hintMu.Unlock()
	if s.hints == nil || len(s.hints) >= maxHints {
		s.hints = make(map[string]int)
	}
	s.hints[push.Key()] = total
}

// call makes one vendor request: it waits for a slot under the provider's
// cap, spends one unit of the request's vendor-call budget, bounds the
// request by Timeout, and retries temporary failures and rate limits, each
// attempt doing all of that again. A vendor that refuses the page size is
// asked again with the size it takes. Errors are *Error.
func (s *Source) call(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	policy := s.opts.retryPolicy()
	if o := s.opts.Observer; o != nil {
		policy.onRetry = func() { o.Retry(s.Key) }
	}
	for {
		page, err := retry(ctx, policy, func(ctx context.Context) (*driver.ListPage, error) {
			return s.attempt(ctx, req)
		})
		var pse *driver.PageSizeError
		if errors.As(err, &pse) && pse.Max >= 1 && req.Limit > pse.Max {
			s.learn(pse.Max)
			req.Limit = pse.Max
			continue
		}
		if err != nil {
			return nil, classify(s.Key, err)
		}
		for i := range page.Users {
			if page.Users[i].ID == "" {
				return nil, badResponse(s.Key, "a user without an id")
			}
		}
		if page.Company != nil {
			s.mu.Lock()
			s.comp = page.Company
			s.mu.Unlock()
		}
		return page, nil
	}
}

// attempt is one try of a vendor request.
func (s *Source) attempt(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for a slot: %w", driver.ErrUnavailable, ctx.Err())
	}
	defer func() { <-s.slots }()
	if err := SpendCall(ctx); err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	page, err := s.p.ListUsers(actx, req)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		// This request ran out of its own time while the caller still
		// waits: that is temporary, whatever the adapter made of it.
		var te *driver.TemporaryError
		if !errors.As(err, &te) {
			err = &driver.TemporaryError{Err: fmt.Errorf("%w: no answer within %s: %w", driver.ErrUnavailable, s.opts.Timeout, err)}
		}
	}
	if err == nil && page == nil {
		err = fmt.Errorf("%w: no answer and no error", driver.ErrBadResponse)
	}
	return page, err
}

// Company returns the company the provider's directory belongs to, or nil
// when the vendor does not say.
func (s *Source) Company(ctx context.Context) (*driver.Company, error) {
	s.mu.Lock()
	c := s.comp
	s.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if s.desc.Paging == driver.PagingSnapshot {
		snap, err := s.snap(ctx)
		if err != nil {
			return nil, err
		}
		return snap.Company, nil
	}
	page, err := s.call(ctx, driver.ListRequest{Limit: 0})
	if err != nil {
		return nil, err
	}
	return page.Company, nil
}
