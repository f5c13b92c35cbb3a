package providers

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Info names a configured provider.
type Info struct {
	Key  string // unique; used in ids, errors and filters
	Kind string // the adapter, e.g. "concur"
	Name string // for people
}

// SourceOptions configure the portable layer around one provider. The zero
// value is usable.
type SourceOptions struct {
	// Timeout bounds each call to the provider (each attempt, when a call
	// is retried). Default 10s.
	Timeout time.Duration
	// MaxAttempts bounds how many times one call is tried when it fails
	// with a *TemporaryError or a *RateLimitError. Default
	// DefaultMaxAttempts; 1 turns retries off. Retries wait an exponential
	// backoff with full jitter from RetryBase (default DefaultRetryBase),
	// or the vendor's retry-after when it gave one. A wait longer than
	// MaxRetryWait (default DefaultMaxRetryWait), or one that would end
	// after the context's deadline, is not made: the call fails at once
	// with the vendor's error.
	MaxAttempts  int
	RetryBase    time.Duration
	MaxRetryWait time.Duration
	// CacheTTL is how long a whole-directory (PagingSnapshot) answer is
	// reused. Zero reuses it only among calls that run at the same time.
	// When the provider is a RateBudgeter whose budget runs low, the copy
	// is reused for longer (see cache.go).
	CacheTTL time.Duration
	// MaxStale bounds the age of a whole-directory copy served after a
	// refresh failed or was held back (rate limit): while the copy is
	// younger than MaxStale it is served, marked stale in Status; after
	// that the failure is returned. Zero serves no stale copy.
	MaxStale time.Duration
	// Now is the clock of the cache and of Status; nil means time.Now.
	Now func() time.Time
	// Logger, when set, gets one warning per failed refresh of a
	// whole-directory copy, with its cause (which clients never see).
	Logger *slog.Logger
	// Observer, when set, is told about calls, retries and cache lookups,
	// for metrics.
	Observer Observer
}

// DefaultTimeout bounds a provider call when SourceOptions.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Source is one configured provider behind the portable layer: it
// normalises filters, applies the ones the vendor cannot, pages
// whole-directory vendors, caches, bounds each call in time and classifies
// errors. It is safe for concurrent use.
type Source struct {
	Info
	p    Provider
	desc Description
	opts SourceOptions

	flight singleflight.Group
	mu     sync.Mutex
	snap   *snapshot
	comp   *Company
	health health // under mu; see status.go
}

// snapshot is the cached copy of a whole directory.
type snapshot struct {
	users     []User
	fetched   time.Time // when the call that fetched it started
	refreshAt time.Time // fetched plus the refresh interval (cache.go)
}

// NewSource puts p behind the portable layer under the given name.
func NewSource(info Info, p Provider, opts *SourceOptions) *Source {
	s := &Source{Info: info, p: p, desc: p.Describe()}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.Timeout <= 0 {
		s.opts.Timeout = DefaultTimeout
	}
	return s
}

// Paging reports how the provider pages.
func (s *Source) Paging() Paging { return s.desc.Paging }

// List returns up to limit users matching f from start on, in the vendor's
// order, and the number of users matching f. A limit of zero asks only for
// the total. Errors are *Error.
func (s *Source) List(ctx context.Context, f Filter, start Position, limit int) (_ *ListPage, err error) {
	defer func(start time.Time) { s.observe(ctx, f, err); s.observeCall(start, err) }(time.Now())
	f = f.Normalize()
	if s.desc.Paging == PagingSnapshot {
		return s.listSnapshot(ctx, f, start, limit)
	}
	if f.Fields()&^s.desc.Filters != 0 {
		// The vendor has no such field, so none of its users match.
		return &ListPage{Next: start}, nil
	}
	if s.desc.Paging == PagingCursor && start.Offset > 0 && start.Token == "" {
		// A forward-only vendor cannot jump: walk to the offset.
		skip, err := s.call(ctx, ListRequest{Filter: f, Limit: start.Offset})
		if err != nil {
			return nil, err
		}
		if len(skip.Users) < start.Offset {
			return &ListPage{Next: start, Total: skip.Total, Company: skip.Company}, nil
		}
		start = skip.Next
	}
	page, err := s.call(ctx, ListRequest{Filter: f, Start: start, Limit: limit})
	if err != nil {
		return nil, err
	}
	if len(page.Users) > limit {
		return nil, classify(s.Key, fmt.Errorf("%w: asked for %d users, got %d", ErrBadResponse, limit, len(page.Users)))
	}
	if page.Total < 0 {
		// A short page is the end, so the total is known; otherwise
		// guessing would page or count silently short.
		if len(page.Users) >= limit {
			return nil, classify(s.Key, fmt.Errorf("%w: the vendor did not say how many users match", ErrBadResponse))
		}
		page.Total = start.Offset + len(page.Users)
	}
	page.Next.Offset = start.Offset + len(page.Users)
	return page, nil
}

// Company returns the company the provider's directory belongs to, or nil
// when the vendor does not say.
func (s *Source) Company(ctx context.Context) (*Company, error) {
	s.mu.Lock()
	c := s.comp
	s.mu.Unlock()
	if c != nil || s.desc.Paging == PagingSnapshot {
		return c, nil
	}
	page, err := s.List(ctx, Filter{}, Position{}, 0)
	if err != nil {
		return nil, err
	}
	return page.Company, nil
}

// call makes one classified call to the provider, retrying temporary
// failures and rate limits (see retry), each attempt bounded by
// s.opts.Timeout, and checks what comes back.
func (s *Source) call(ctx context.Context, req ListRequest) (*ListPage, error) {
	policy := s.opts.retryPolicy()
	if o := s.opts.Observer; o != nil {
		policy.onRetry = func() { o.Retry(s.Key) }
	}
	// Users fetched before a failure are kept, and the call goes on from
	// after them, with a fresh retry budget: each round of retries that
	// makes progress brings the end closer, so this ends.
	var kept []User
	var page *ListPage
	for {
		progress := false
		var err error
		page, err = retry(ctx, policy, func(ctx context.Context) (*ListPage, error) {
			if err := s.spend(ctx, req); err != nil {
				return nil, err
			}
			ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
			defer cancel()
			p, err := s.p.ListUsers(ctx, req)
			if err != nil && p != nil && len(p.Users) > 0 && len(p.Users) < req.Limit && s.desc.Paging != PagingSnapshot {
				kept = append(kept, p.Users...)
				req.Start, req.Limit = p.Next, req.Limit-len(p.Users)
				progress = true
			}
			return p, err
		})
		if err == nil {
			break
		}
		if !progress {
			return nil, classify(s.Key, err)
		}
	}
	if page != nil && len(kept) > 0 {
		page.Users = append(kept, page.Users...)
	}
	if page == nil {
		return nil, classify(s.Key, fmt.Errorf("%w: no page", ErrBadResponse))
	}
	for i := range page.Users {
		if page.Users[i].ID == "" {
			return nil, classify(s.Key, fmt.Errorf("%w: a user without an id", ErrBadResponse))
		}
	}
	if page.Company != nil {
		s.mu.Lock()
		s.comp = page.Company
		s.mu.Unlock()
	}
	return page, nil
}

func (s *Source) listSnapshot(ctx context.Context, f Filter, start Position, limit int) (*ListPage, error) {
	users, err := s.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	page := &ListPage{Total: -1}
	var matched int
	for i := range users {
		if !Match(&users[i], f) {
			continue
		}
		if matched >= start.Offset && len(page.Users) < limit {
			page.Users = append(page.Users, users[i])
		}
		matched++
	}
	page.Total = matched
	page.Next.Offset = start.Offset + len(page.Users)
	return page, nil
}
