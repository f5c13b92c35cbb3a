package providers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers/driver"
)

// The cache of whole-directory (PagingSnapshot) providers.
//
// A Source keeps one copy of the directory (in its SnapshotStore), shared
// by every request:
//
//   - The copy is fresh until its refresh time: CacheTTL after it was
//     fetched, or later when the vendor's rate budget runs low (see
//     refreshInterval). Fresh copies are served without a vendor call.
//   - The first request after that refreshes it, reading the vendor's
//     chained answers one after another. Concurrent requests share one
//     refresh, and the cache is checked again inside it, so however many
//     requests miss at once, the vendor is asked once.
//   - When the refresh fails, the copy is served, stale, while it is younger
//     than MaxStale; after that, the failure (an *Error) is returned.
//   - After a failure, the vendor is not asked again for a while, and
//     requests get the stale copy or the failure at once: after a rate limit,
//     until the vendor's retry-after (or its budget reset) has passed; after
//     other failures, for a back-off of one second that doubles with each
//     failure in a row, up to CacheTTL. When the budget the vendor last
//     reported is spent (no calls remaining before its reset), dirgate does
//     not call it at all until the reset: it knows the answer would be 429.
//
// With a CacheTTL of zero there is no cache: only requests that run at the
// same time share a refresh, and there is no back-off or budget
// stretching, though a vendor's retry-after is still honoured.

// RateLimit is a vendor's rate budget, as it last reported it.
type RateLimit struct {
	Limit, Remaining int
	Reset            time.Time
}

// rateLimit returns the provider's rate budget, if it reports one: with
// other replicas, the latest any of them heard.
func (s *Source) rateLimit() (RateLimit, bool) {
	if s.opts.Shared != nil {
		s.mu.Lock()
		fb := s.fleet
		s.mu.Unlock()
		if fb.Known {
			return fb.Rate, true
		}
	}
	rb, ok := s.p.(driver.RateBudgeter)
	if !ok {
		return RateLimit{}, false
	}
	limit, remaining, reset, ok := rb.RateLimit()
	if !ok {
		return RateLimit{}, false
	}
	return RateLimit{Limit: limit, Remaining: remaining, Reset: reset}, true
}

func (s *Source) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// current returns the copy in the store (a store that fails counts as
// holding none), remembering it for Status.
func (s *Source) current(ctx context.Context) *Snapshot {
	sn, err := s.snaps.Get(ctx)
	if err != nil {
		if log := s.opts.Logger; log != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "snapshot store failed", slog.String("provider", s.Key), slog.Any("err", err))
		}
		sn = nil
	}
	if sn != nil {
		s.mu.Lock()
		arrived := s.snapshot == nil || sn.Fetched.After(s.snapshot.Fetched)
		s.snapshot = sn
		if h := &s.health; arrived && s.opts.Shared != nil && h.failing && sn.Fetched.After(h.lastErrAt) {
			// Another replica refreshed the copy since this one failed.
			h.attempted, h.failing, h.failures, h.holdUntil = true, false, 0, time.Time{}
		}
		s.mu.Unlock()
		if arrived && s.opts.Shared != nil {
			// Another replica's copy: read the budget its refresh left.
			s.sharedBudget(ctx)
		}
	}
	return sn
}

// snap returns the whole directory: the copy the request has read already
// (see request.go), else the cached copy while it is fresh, else a
// refreshed one, else (the refresh failed or is held back) the stale copy
// while it is younger than MaxStale, else the failure. Concurrent callers
// share one refresh, which is not cancelled when one of them gives up.
func (s *Source) snap(ctx context.Context) (*Snapshot, error) {
	if sn := requestCopy(ctx, s); sn != nil {
		return sn, nil
	}
	sn, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	return keepRequestCopy(ctx, s, sn), nil
}

// read is snap without the request's copy.
func (s *Source) read(ctx context.Context) (*Snapshot, error) {
	sn := s.current(ctx)
	now := s.now()
	s.mu.Lock()
	fresh := sn != nil && now.Before(sn.RefreshAt)
	out, done, err := s.cachedLocked(sn, now)
	s.mu.Unlock()
	if done {
		switch {
		case fresh:
			s.observeCache(CacheHit)
		case err == nil:
			s.observeCache(CacheStale)
		default:
			s.observeCache(CacheHeld)
		}
		return out, err
	}
	s.observeCache(CacheMiss)
	ch := s.flight.DoChan("", func() (any, error) {
		return s.refresh(WithoutCallBudget(context.WithoutCancel(ctx)))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Snapshot), nil
	case <-ctx.Done():
		return nil, classify(s.Key, fmt.Errorf("%w: %w", driver.ErrUnavailable, ctx.Err()))
	}
}

// cachedLocked answers from the copy without a vendor call when it can:
// with a fresh copy, or, while vendor calls are held back after a failure,
// with the stale copy or the failure. done is false when the vendor must
// be asked.
func (s *Source) cachedLocked(sn *Snapshot, now time.Time) (out *Snapshot, done bool, err error) {
	if sn != nil && now.Before(sn.RefreshAt) {
		return sn, true, nil
	}
	if s.health.lastErr != nil && now.Before(s.health.holdUntil) {
		out, err = s.fallbackLocked(sn, now)
		return out, true, err
	}
	return nil, false, nil
}

// fallbackLocked is the answer when the copy cannot be refreshed: the copy,
// while younger than MaxStale, else the last failure. A rate-limit failure
// says how long until dirgate calls the vendor again.
func (s *Source) fallbackLocked(sn *Snapshot, now time.Time) (*Snapshot, error) {
	if sn != nil && now.Sub(sn.Fetched) < s.opts.MaxStale {
		return sn, nil
	}
	e := Error{Provider: s.Key, Code: errcode.ProviderUnavailable, Err: driver.ErrUnavailable}
	if s.health.lastErr != nil {
		e = *s.health.lastErr
	}
	if e.Code == errcode.ProviderRateLimited {
		if d := s.health.holdUntil.Sub(now); d > 0 {
			e.RetryAfter = d
		}
	}
	return nil, &e
}

// refresh reads the directory, within the shared flight.
func (s *Source) refresh(ctx context.Context) (any, error) {
	start := s.now()
	sn := s.current(ctx)
	s.mu.Lock()
	// A flight that ended just before this one began may have refreshed
	// the copy, or failed.
	out, done, err := s.cachedLocked(sn, start)
	s.mu.Unlock()
	if done {
		return out, err
	}
	if s.opts.Shared != nil {
		// The other replicas: one of them may hold the vendor back, or be
		// refreshing the copy already.
		if b, ok := s.sharedBudget(ctx); ok {
			s.mu.Lock()
			if s.heldElsewhereLocked(b, start) {
				out, err := s.fallbackLocked(sn, start)
				s.mu.Unlock()
				if err != nil {
					return nil, err
				}
				return out, nil
			}
			s.mu.Unlock()
		}
		release, out, err, done := s.leaseRefresh(ctx, sn)
		if done {
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		defer release()
		start = s.now()
		s.sharedBudget(ctx) // the budget as the last replica left it
	}

	before, haveBefore := s.rateLimit()
	var users []driver.User
	var company *driver.Company
	if haveBefore && before.Remaining <= 0 && start.Before(before.Reset) && before.Reset.Sub(start) <= maxHold {
		// The vendor said it would take no more calls until the reset (a
		// reset further off than maxHold is not believed).
		err = classify(s.Key, fmt.Errorf("the vendor's rate budget is spent: %w", &driver.RateLimitError{RetryAfter: before.Reset.Sub(start)}))
	} else {
		users, company, err = s.readAll(ctx)
	}
	end := s.now()
	after, haveAfter := s.rateLimit()

	if err == nil {
		iv := s.refreshInterval(end, before, haveBefore, after, haveAfter)
		fresh := &Snapshot{Users: users, Company: company, Fetched: start, RefreshAt: start.Add(iv)}
		if perr := s.snaps.Put(ctx, fresh); perr != nil {
			if log := s.opts.Logger; log != nil {
				log.LogAttrs(ctx, slog.LevelWarn, "snapshot store failed", slog.String("provider", s.Key), slog.Any("err", perr))
			}
		}
		s.mu.Lock()
		s.snapshot = fresh
		s.health.attempted, s.health.failing, s.health.failures = true, false, 0
		s.health.holdUntil = time.Time{}
		s.mu.Unlock()
		s.recordShared(ctx, end, after, haveAfter)
		return fresh, nil
	}
	e := classify(s.Key, err)
	s.mu.Lock()
	s.failedLocked(end, e, after, haveAfter)
	out, ferr := s.fallbackLocked(sn, end)
	retryAt := s.health.holdUntil
	s.mu.Unlock()
	s.recordShared(ctx, end, after, haveAfter)

	if log := s.opts.Logger; log != nil {
		attrs := []slog.Attr{
			slog.String("provider", s.Key), slog.String("code", string(e.Code)), slog.Any("err", e.Err),
			slog.Bool("servingStale", ferr == nil),
		}
		if sn != nil {
			attrs = append(attrs, slog.Time("fetchedAt", sn.Fetched))
		}
		if retryAt.After(end) {
			attrs = append(attrs, slog.Time("retryAt", retryAt))
		}
		log.LogAttrs(ctx, slog.LevelWarn, "provider refresh failed", attrs...)
	}
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// readAll reads the whole directory of a snapshot vendor: its chained
// answers, one after another, each user once (the directory may change
// while it is read, moving users across answers).
func (s *Source) readAll(ctx context.Context) ([]driver.User, *driver.Company, error) {
	var users []driver.User
	var company *driver.Company
	seen := map[string]bool{}
	err := s.chain(ctx, driver.Filter{}, "", 0, func(page *driver.ListPage, _ string) bool {
		if page.Company != nil {
			company = page.Company
		}
		for _, u := range page.Users {
			if !seen[u.ID] {
				seen[u.ID] = true
				users = append(users, u)
			}
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	return users, company, nil
}

// maxHold is the longest dirgate holds back from calling a vendor,
// whatever its headers say, so that a bogus reset or retry-after cannot
// lock a provider out until a restart.
const maxHold = time.Hour

// failedLocked records a failed refresh at now, and holds vendor calls
// back: for the vendor's retry-after after a rate limit (or until the
// reset of its budget when it gave none), else for a back-off that
// doubles with each failure in a row, from one second up to CacheTTL;
// never for longer than maxHold.
func (s *Source) failedLocked(now time.Time, e *Error, rl RateLimit, haveRL bool) {
	h := &s.health
	h.attempted, h.failing = true, true
	h.lastErr, h.lastErrAt = e, now
	h.failures++
	var hold time.Duration
	if ttl := s.opts.CacheTTL; ttl > 0 {
		hold = min(time.Second<<min(h.failures-1, 12), ttl)
	}
	if e.Code == errcode.ProviderRateLimited {
		ra := e.RetryAfter
		if ra <= 0 && haveRL && rl.Reset.After(now) {
			ra = rl.Reset.Sub(now)
		}
		hold = max(hold, ra)
	}
	h.holdUntil = now.Add(min(hold, maxHold))
}

// reserveShare is the share of the vendor's rate limit that the budget
// rule leaves unspent until the reset (at least one call).
const reserveShare = 20 // 1/20 = 5%

// refreshInterval is how long a copy fetched now stays fresh: CacheTTL,
// stretched when the vendor's rate budget runs low, so that what is left
// of it lasts until the vendor's reset.
//
// The rule: with R calls remaining, the reset D away, a reserve of 5% of
// the limit (at least one call) and a refresh that costs c calls, the
// budget affords n = (R - reserve) / c more refreshes before the reset, so
// the copy stays fresh for max(CacheTTL, D/n), or for D when n is zero.
// The cost c is the fall in remaining over the refresh (at least 1), so
// that chained answers, and calls made by others with the same
// credentials, count. The reserve is kept for a refresh when a copy
// reaches MaxStale and for other users of the same credentials. A copy
// never stays fresh for longer than MaxStale (when that is longer than
// CacheTTL), so a fresh copy is never older than a stale one could be; a
// copy that reaches it is refreshed from the reserve, or the vendor's 429
// is served as a stale copy or a failure.
func (s *Source) refreshInterval(now time.Time, before RateLimit, haveBefore bool, after RateLimit, haveAfter bool) time.Duration {
	ttl := s.opts.CacheTTL
	if ttl <= 0 || !haveAfter || after.Limit <= 0 {
		return ttl
	}
	left := after.Reset.Sub(now)
	if left <= 0 {
		return ttl
	}
	cost := 1
	if haveBefore && before.Remaining > after.Remaining {
		cost = before.Remaining - after.Remaining
	}
	reserve := max(after.Limit/reserveShare, 1)
	need := left
	if n := (after.Remaining - reserve) / cost; n >= 1 {
		need = left / time.Duration(n)
	}
	return min(max(ttl, need), max(ttl, s.opts.MaxStale))
}
