package providers

import (
	"errors"
	"fmt"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Sentinel errors that adapters wrap (with %w) so that the portable layer
// can classify a failure without knowing the vendor.
var (
	// ErrUnavailable: the vendor could not be reached, timed out, or
	// answered with a server error.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrRateLimited: the vendor refused the call for its rate limit. Wrap
	// it in a *RateLimitError to say when to come back.
	ErrRateLimited = errors.New("provider rate limited")
	// ErrAuth: the vendor refused dirgate's credentials, and retrying with
	// them will not help.
	ErrAuth = errors.New("provider authentication failed")
	// ErrBadResponse: the vendor answered with something dirgate cannot
	// read.
	ErrBadResponse = errors.New("provider sent a bad response")
)

// RateLimitError is an ErrRateLimited that knows when the vendor will take
// calls again.
type RateLimitError struct {
	RetryAfter time.Duration // zero when the vendor did not say
}

func (e *RateLimitError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("provider rate limited; retry after %s", e.RetryAfter)
	}
	return "provider rate limited"
}

// Unwrap makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// Error is a failure of one provider, classified. Its message is safe to
// show to clients; the vendor's own cause stays in Err, for logs.
type Error struct {
	Provider   string // the provider's key
	Code       errcode.Code
	RetryAfter time.Duration // for errcode.ProviderRateLimited, when known
	Err        error
}

func (e *Error) Error() string {
	switch e.Code {
	case errcode.ProviderRateLimited:
		return fmt.Sprintf("provider %q is rate limited", e.Provider)
	case errcode.ProviderAuthFailed:
		return fmt.Sprintf("provider %q refused dirgate's credentials", e.Provider)
	case errcode.ProviderBadResponse:
		return fmt.Sprintf("provider %q sent a response dirgate could not read", e.Provider)
	case errcode.VendorCallLimit:
		return fmt.Sprintf("the request reached its limit of vendor calls before provider %q answered", e.Provider)
	}
	return fmt.Sprintf("provider %q is unavailable", e.Provider)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// classify wraps err, a failure of the provider with the given key, as an
// *Error. Unknown errors count as unavailability: the vendor did not give
// dirgate what it asked for.
func classify(key string, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	e := &Error{Provider: key, Code: errcode.ProviderUnavailable, Err: err}
	var rl *RateLimitError
	switch {
	case errors.Is(err, ErrVendorCallLimit):
		e.Code = errcode.VendorCallLimit
	case errors.As(err, &rl):
		e.Code, e.RetryAfter = errcode.ProviderRateLimited, rl.RetryAfter
	case errors.Is(err, ErrRateLimited):
		e.Code = errcode.ProviderRateLimited
	case errors.Is(err, ErrAuth):
		e.Code = errcode.ProviderAuthFailed
	case errors.Is(err, ErrBadResponse):
		e.Code = errcode.ProviderBadResponse
	}
	return e
}
