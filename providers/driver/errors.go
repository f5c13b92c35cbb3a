package driver

import (
	"errors"
	"fmt"
	"time"
)

// The sentinel errors. An adapter wraps exactly one of them with %w, so
// that the portable layer classifies a failure without knowing the vendor.
var (
	// ErrUnavailable: the vendor could not be reached, timed out, or
	// answered with a server error.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrRateLimited: the vendor refused the request for its rate limit.
	// Return a *RateLimitError to say when to come back.
	ErrRateLimited = errors.New("provider rate limited")
	// ErrAuth: the vendor refused dirgate's credentials, and retrying with
	// them will not help.
	ErrAuth = errors.New("provider authentication failed")
	// ErrBadResponse: the vendor answered with something dirgate cannot
	// read, or that contradicts itself.
	ErrBadResponse = errors.New("provider sent a bad response")
)

// RateLimitError is an ErrRateLimited that knows when the vendor will take
// requests again. The portable layer retries it once RetryAfter has
// passed, within the request's deadline.
type RateLimitError struct {
	RetryAfter time.Duration // zero when the vendor did not say
}

// Error says the provider is rate limited, and for how long when known.
func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("provider rate limited; retry after %s", e.RetryAfter)
	}
	return "provider rate limited"
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// TemporaryError is an ErrUnavailable worth retrying soon: the vendor could
// not be reached, dropped the connection, or answered HTTP 502, 503 or
// 504. Other ErrUnavailable failures (HTTP 500, an unexpected status, the
// caller's context ending) are final, and so are ErrAuth and
// ErrBadResponse. A request that runs out of its own time (the portable
// layer's per-attempt timeout) while the caller still waits is retried
// whatever the adapter returned.
//
// errors.Is(err, ErrUnavailable) is true for a *TemporaryError.
type TemporaryError struct {
	// RetryAfter is how long the vendor asked to wait (a Retry-After
	// header on a 503); zero when it did not say.
	RetryAfter time.Duration
	// Err is the cause, for logs. It need not wrap ErrUnavailable.
	Err error
}

// Error is the cause's text (ErrUnavailable's without one).
func (e *TemporaryError) Error() string {
	if e.Err == nil {
		return ErrUnavailable.Error()
	}
	return e.Err.Error()
}

// Unwrap makes errors.Is(err, ErrUnavailable) true, and exposes the cause.
func (e *TemporaryError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrUnavailable}
	}
	return []error{ErrUnavailable, e.Err}
}

// PageSizeError reports that the vendor refused the page size asked for
// and takes at most Max users a request (Concur answers HTTP 400 to a
// limit above 100). The portable layer asks again with at most Max, and
// keeps to it from then on. It is an ErrUnavailable.
type PageSizeError struct {
	Max int
}

// Error says how many users the vendor takes a request.
func (e *PageSizeError) Error() string {
	return fmt.Sprintf("the vendor takes at most %d users a request", e.Max)
}

// Unwrap makes errors.Is(err, ErrUnavailable) true.
func (e *PageSizeError) Unwrap() error { return ErrUnavailable }
