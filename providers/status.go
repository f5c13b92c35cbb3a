package providers

import (
	"context"
	"errors"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// State sums up a provider's health, as Status reports it.
type State string

const (
	// StateUnknown: dirgate has not called the provider yet.
	StateUnknown State = "UNKNOWN"
	// StateOK: the last call succeeded.
	StateOK State = "OK"
	// StateStale: the last refresh of a cached directory failed or is held
	// back, and the copy served is past its refresh time, though younger
	// than MaxStale.
	StateStale State = "STALE"
	// StateFailing: the last call failed, and there is no copy to serve in
	// its place.
	StateFailing State = "FAILING"
)

// SourceStatus is how fresh and how healthy a provider's data is. Its
// error is safe to show to clients (see Error).
type SourceStatus struct {
	State State
	// Cached is true for a whole-directory provider, whose copy dirgate
	// keeps and shares; false for one asked on every request.
	Cached bool
	// FetchedAt is when the cached copy was fetched (when the call began);
	// Age is how long ago that was. Zero when there is no copy.
	FetchedAt time.Time
	Age       time.Duration
	// RefreshAt is when the copy stops being fresh: the next request after
	// it asks the vendor again. ServedUntil is when it stops being served
	// at all, were refreshing to fail: the later of RefreshAt and
	// FetchedAt plus MaxStale.
	RefreshAt, ServedUntil time.Time
	// LastError is the most recent failure since dirgate started, which
	// may be over (compare LastErrorAt with FetchedAt and State); nil when
	// there has been none.
	LastError   *Error
	LastErrorAt time.Time
	// RetryAt, when not zero, is when dirgate will next call the vendor:
	// until then it is holding back, after a rate limit or a failure.
	RetryAt time.Time
	// RateLimit is the vendor's rate budget as it last reported it, for a
	// provider that is a RateBudgeter; nil otherwise. With several
	// replicas, the latest any of them heard.
	RateLimit *RateLimit
	// Discovered is what a provider that is a driver.Discoverer learnt
	// from its vendor; nil until it has, and for other providers.
	Discovered *driver.Discovery
	// Sharing says whether the provider's state (its copy, budget and
	// tokens) is shared with other replicas now: "" with a single replica.
	Sharing Sharing
}

// Sharing is how a provider's state is shared with dirgate's other
// replicas.
type Sharing string

const (
	// SharingShared: the state is shared (Redis answers).
	SharingShared Sharing = "SHARED"
	// SharingLocal: it cannot be shared now (Redis is away), and this
	// replica works from its own state.
	SharingLocal Sharing = "LOCAL"
)

// Stale reports whether the data served is a stale copy.
func (st *SourceStatus) Stale() bool { return st.State == StateStale }

// health is a Source's record of its calls, under Source.mu.
type health struct {
	attempted bool // a call has been made
	failing   bool // and the last one failed
	lastErr   *Error
	lastErrAt time.Time
	failures  int       // failed refreshes in a row (cached directories)
	holdUntil time.Time // no refresh before this (cached directories)
}

// observe records the outcome of an operation of a provider that is
// asked on every request; the cache of a whole-directory provider keeps
// its own record. Operations that made no vendor call (a filter on a field
// the vendor lacks), failures of callers that gave up, and the request's
// own budget running out, and a cursor whose place is gone
// (DIRECTORY_CHANGED), say nothing about the vendor.
func (s *Source) observe(ctx context.Context, called bool, err error) {
	if s.desc.Paging == driver.PagingSnapshot || !called {
		return
	}
	if err != nil && (ctx.Err() != nil || errors.Is(err, ErrVendorCallLimit) || errors.Is(err, ErrDirectoryChanged)) {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.health
	h.attempted, h.failing = true, err != nil
	if err != nil {
		h.lastErr, h.lastErrAt = classify(s.Key, err), now
	}
}

// Status reports how fresh and how healthy the provider's data is now. It
// makes no vendor call.
func (s *Source) Status() SourceStatus {
	now := s.now()
	st := SourceStatus{Cached: s.desc.Paging == driver.PagingSnapshot, State: StateUnknown}
	if rl, ok := s.rateLimit(); ok {
		st.RateLimit = &rl
	}
	if d, ok := s.p.(driver.Discoverer); ok {
		if found, ok := d.Discovered(); ok {
			st.Discovered = &found
		}
	}
	if sh := s.opts.Shared; sh != nil {
		st.Sharing = SharingLocal
		if sh.Sharing() {
			st.Sharing = SharingShared
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := &s.health
	if h.lastErr != nil {
		e := *h.lastErr
		st.LastError, st.LastErrorAt = &e, h.lastErrAt
	}
	if st.Cached && h.failing && now.Before(h.holdUntil) {
		st.RetryAt = h.holdUntil
	}
	servable := false
	if sn := s.snapshot; st.Cached && sn != nil {
		st.FetchedAt, st.Age = sn.Fetched, max(now.Sub(sn.Fetched), 0)
		st.RefreshAt = sn.RefreshAt
		st.ServedUntil = sn.Fetched.Add(s.opts.MaxStale)
		if st.ServedUntil.Before(sn.RefreshAt) {
			st.ServedUntil = sn.RefreshAt
		}
		servable = now.Before(st.ServedUntil)
	}
	switch {
	case !h.attempted:
	case !h.failing:
		st.State = StateOK
	case servable:
		st.State = StateStale
	default:
		st.State = StateFailing
	}
	return st
}
