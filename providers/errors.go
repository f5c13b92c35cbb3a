package providers

import (
	"errors"
	"fmt"
	"time"
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

// Code is an error code from the closed set that GraphQL clients see in
// extensions.code.
type Code string

// The provider-related codes. The graph package adds the request-related
// ones (BAD_USER_INPUT, BAD_CURSOR, INTERNAL).
const (
	CodeUnavailable Code = "PROVIDER_UNAVAILABLE"
	CodeRateLimited Code = "PROVIDER_RATE_LIMITED"
	CodeAuthFailed  Code = "PROVIDER_AUTH_FAILED"
	CodeBadResponse Code = "PROVIDER_BAD_RESPONSE"
)

// Error is a failure of one provider, classified. Its message is safe to
// show to clients; the vendor's own cause stays in Err, for logs.
type Error struct {
	Provider   string // the provider's key
	Code       Code
	RetryAfter time.Duration // for CodeRateLimited, when known
	Err        error
}

func (e *Error) Error() string {
	switch e.Code {
	case CodeRateLimited:
		return fmt.Sprintf("provider %q is rate limited", e.Provider)
	case CodeAuthFailed:
		return fmt.Sprintf("provider %q refused dirgate's credentials", e.Provider)
	case CodeBadResponse:
		return fmt.Sprintf("provider %q sent a response dirgate could not read", e.Provider)
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
	e := &Error{Provider: key, Code: CodeUnavailable, Err: err}
	var rl *RateLimitError
	switch {
	case errors.As(err, &rl):
		e.Code, e.RetryAfter = CodeRateLimited, rl.RetryAfter
	case errors.Is(err, ErrRateLimited):
		e.Code = CodeRateLimited
	case errors.Is(err, ErrAuth):
		e.Code = CodeAuthFailed
	case errors.Is(err, ErrBadResponse):
		e.Code = CodeBadResponse
	}
	return e
}
