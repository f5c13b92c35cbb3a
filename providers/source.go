package providers

import (
	"context"
	"fmt"
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
	// Timeout bounds each call to the provider. Default 10s.
	Timeout time.Duration
	// CacheTTL is how long a whole-directory (PagingSnapshot) answer is
	// reused. Zero reuses it only among calls that run at the same time.
	CacheTTL time.Duration
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
}

type snapshot struct {
	users   []User
	fetched time.Time
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
func (s *Source) List(ctx context.Context, f Filter, start Position, limit int) (*ListPage, error) {
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

// call makes one bounded, classified call to the provider and checks what
// comes back.
func (s *Source) call(ctx context.Context, req ListRequest) (*ListPage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	page, err := s.p.ListUsers(ctx, req)
	if err != nil {
		return nil, classify(s.Key, err)
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

// snapshot returns the whole directory, from the cache while it is fresh.
// Concurrent callers share one vendor call, which is not cancelled when one
// of them gives up.
func (s *Source) snapshot(ctx context.Context) ([]User, error) {
	s.mu.Lock()
	if sn := s.snap; sn != nil && time.Since(sn.fetched) < s.opts.CacheTTL {
		s.mu.Unlock()
		return sn.users, nil
	}
	s.mu.Unlock()
	ch := s.flight.DoChan("", func() (any, error) {
		page, err := s.call(context.WithoutCancel(ctx), ListRequest{})
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.snap = &snapshot{users: page.Users, fetched: time.Now()}
		s.mu.Unlock()
		return page.Users, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]User), nil
	case <-ctx.Done():
		return nil, classify(s.Key, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err()))
	}
}
