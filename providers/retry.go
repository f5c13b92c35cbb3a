package providers

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// Retry defaults, for the zero SourceOptions fields.
const (
	// DefaultMaxAttempts is how many times one vendor request is tried in
	// all.
	DefaultMaxAttempts = 4
	// DefaultRetryBase is the backoff before the first retry; it doubles
	// with each retry, and the wait is drawn at random up to it (full
	// jitter).
	DefaultRetryBase = 100 * time.Millisecond
	// DefaultMaxRetryWait is the longest dirgate waits before one retry,
	// the vendor's Retry-After included. A longer wait fails the request
	// at once, so that a client learns the retry-after and decides itself.
	DefaultMaxRetryWait = 5 * time.Second
)

// retryPolicy is the retry part of SourceOptions, with defaults applied.
type retryPolicy struct {
	attempts int
	base     time.Duration
	maxWait  time.Duration
	onRetry  func() // when set, called before each wait for a retry
}

func (o *SourceOptions) retryPolicy() retryPolicy {
	p := retryPolicy{attempts: o.MaxAttempts, base: o.RetryBase, maxWait: o.MaxRetryWait}
	if p.attempts <= 0 {
		p.attempts = DefaultMaxAttempts
	}
	if p.base <= 0 {
		p.base = DefaultRetryBase
	}
	if p.maxWait <= 0 {
		p.maxWait = DefaultMaxRetryWait
	}
	return p
}

// retry calls op until it succeeds, fails for good, has been tried
// p.attempts times, or the next wait would not end before ctx's deadline
// (or would exceed p.maxWait): then it returns op's last error at once. It
// retries *driver.TemporaryError and *driver.RateLimitError failures,
// waiting the vendor's retry-after when it gave one (plus a little
// jitter), else an exponential backoff with full jitter. The wait ends
// early when ctx does.
func retry[T any](ctx context.Context, p retryPolicy, op func(context.Context) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := op(withAttempt(ctx, attempt))
		if err == nil || attempt >= p.attempts || ctx.Err() != nil {
			return v, err
		}
		after, ok := retryAfter(err)
		if !ok {
			return v, err
		}
		var wait time.Duration
		if after > 0 {
			// Honour the vendor, and keep callers that it told the same
			// thing from coming back in the same instant.
			wait = after + jitter(min(p.base, after))
		} else {
			wait = jitter(min(p.base<<min(attempt-1, 30), p.maxWait))
		}
		if after > p.maxWait {
			return v, err
		}
		if dl, ok := ctx.Deadline(); ok && wait >= time.Until(dl) {
			return v, err
		}
		if p.onRetry != nil {
			p.onRetry()
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, err
		}
	}
}

// retryAfter reports whether err is worth retrying, and how long the
// vendor asked to wait first (zero when it did not say).
func retryAfter(err error) (time.Duration, bool) {
	var rl *driver.RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	var te *driver.TemporaryError
	if errors.As(err, &te) {
		return te.RetryAfter, true
	}
	return 0, false
}

// jitter returns a random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d + 1)
}
