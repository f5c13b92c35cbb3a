package providers

import (
	"context"
	"errors"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Shared is what a whole-directory Source shares with the other replicas
// of dirgate, when several serve behind one load balancer (with its
// SnapshotStore, which holds the copy itself):
//
//   - the right to refresh the copy: one replica refreshes it, the others
//     wait for its copy (or its failure), so the vendor is asked once per
//     refresh interval by the whole fleet;
//   - the vendor's rate budget and hold (its X-RateLimit-* headers, a
//     retry-after, a back-off after failures), recorded by the replica that
//     called and read by every replica, so that the budget rule counts the
//     fleet's calls and a 429 holds every replica back.
//
// An implementation that cannot reach the shared state answers as if it
// were alone (Lease grants, Budget knows nothing), so that each replica
// goes on with its own copy within MaxStale; Sharing reports it.
type Shared interface {
	// Lease takes the right to refresh the copy for ttl; ok is false while
	// another replica holds it. release gives it up.
	Lease(ctx context.Context, ttl time.Duration) (release func(), ok bool)
	// Budget returns the latest record of the vendor's budget and hold,
	// from any replica; ok is false when there is none (or it cannot be
	// read).
	Budget(ctx context.Context) (b SharedBudget, ok bool)
	// Record records what this replica heard from the vendor; a record
	// older (by At) than the one kept is dropped.
	Record(ctx context.Context, b SharedBudget)
	// Sharing reports whether the state is shared now: false while the
	// shared store is unreachable and this replica works alone.
	Sharing() bool
}

// SharedBudget is a vendor's rate budget and hold, as one replica heard
// them.
type SharedBudget struct {
	// Rate is the vendor's budget, when Known.
	Rate  RateLimit
	Known bool
	// HoldUntil is when a replica may call the vendor again, after Code (a
	// rate limit, or a failure with its back-off); zero when not holding.
	HoldUntil time.Time
	Code      errcode.Code
	// At is when it was heard.
	At time.Time
}

// ErrElsewhere is the cause of a failure that another replica met: it
// refreshed the copy, failed, and holds every replica back until its
// retry time.
var ErrElsewhere = errors.New("another replica's refresh of the copy failed")

// leaseTTL bounds one refresh of the copy across the fleet: its vendor
// requests, with their retries. Another replica that waits for it stops
// waiting then, and refreshes itself.
func (s *Source) leaseTTL() time.Duration {
	return max(30*time.Second, 4*s.opts.Timeout)
}

// Waiting for another replica's copy: first poll, and the longest
// between two.
const (
	sharedPollFirst = 10 * time.Millisecond
	sharedPollMax   = 200 * time.Millisecond
)

// sharedBudget returns the latest budget any replica heard (nil Shared:
// none).
func (s *Source) sharedBudget(ctx context.Context) (SharedBudget, bool) {
	if s.opts.Shared == nil {
		return SharedBudget{}, false
	}
	b, ok := s.opts.Shared.Budget(ctx)
	if ok {
		s.mu.Lock()
		if b.At.After(s.fleet.At) {
			s.fleet = b
		}
		s.mu.Unlock()
	}
	return b, ok
}

// heldElsewhereLocked adopts another replica's hold when it is still on
// at now: the vendor is not called, and the copy (or the failure) is
// served as after a failure of this replica's own.
func (s *Source) heldElsewhereLocked(b SharedBudget, now time.Time) bool {
	if !now.Before(b.HoldUntil) || b.Code == "" {
		return false
	}
	h := &s.health
	h.attempted, h.failing = true, true
	if h.lastErr == nil || h.lastErrAt.Before(b.At) {
		h.lastErr, h.lastErrAt = &Error{Provider: s.Key, Code: b.Code, Err: ErrElsewhere}, b.At
	}
	if h.holdUntil.Before(b.HoldUntil) {
		h.holdUntil = b.HoldUntil
	}
	return true
}

// leaseRefresh takes the fleet's right to refresh the copy. While another
// replica holds it, this one waits for that replica's copy, or for the
// hold its failure leaves, and serves that (done is true) instead of
// calling the vendor. had is the copy held before.
func (s *Source) leaseRefresh(ctx context.Context, had *Snapshot) (release func(), out *Snapshot, err error, done bool) {
	sh := s.opts.Shared
	wait := sharedPollFirst
	for {
		if rel, ok := sh.Lease(ctx, s.leaseTTL()); ok {
			// Another replica may have stored a copy just before.
			if sn := s.current(ctx); newerCopy(sn, had) && s.now().Before(sn.RefreshAt) {
				rel()
				s.adopt(sn)
				return nil, sn, nil, true
			}
			return rel, nil, nil, false
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, nil, classify(s.Key, ctx.Err()), true
		}
		wait = min(2*wait, sharedPollMax)
		now := s.now()
		if sn := s.current(ctx); newerCopy(sn, had) && now.Before(sn.RefreshAt) {
			s.adopt(sn)
			return nil, sn, nil, true
		}
		if b, ok := s.sharedBudget(ctx); ok {
			s.mu.Lock()
			if s.heldElsewhereLocked(b, now) {
				out, err := s.fallbackLocked(s.snapshot, now)
				s.mu.Unlock()
				return nil, out, err, true
			}
			s.mu.Unlock()
		}
	}
}

// adopt takes another replica's fresh copy as this one's own successful
// refresh.
func (s *Source) adopt(sn *Snapshot) {
	s.mu.Lock()
	s.snapshot = sn
	s.health.attempted, s.health.failing, s.health.failures = true, false, 0
	s.health.holdUntil = time.Time{}
	s.mu.Unlock()
}

func newerCopy(sn, had *Snapshot) bool {
	return sn != nil && (had == nil || sn.Fetched.After(had.Fetched))
}

// recordShared tells the other replicas what this one heard from the
// vendor: its budget, and the hold a failure left.
func (s *Source) recordShared(ctx context.Context, at time.Time, rl RateLimit, haveRL bool) {
	sh := s.opts.Shared
	if sh == nil {
		return
	}
	b := SharedBudget{Rate: rl, Known: haveRL, At: at}
	s.mu.Lock()
	if h := &s.health; h.failing && h.lastErr != nil && h.holdUntil.After(at) {
		b.HoldUntil, b.Code = h.holdUntil, h.lastErr.Code
	}
	s.fleet = b
	s.mu.Unlock()
	sh.Record(ctx, b)
}
