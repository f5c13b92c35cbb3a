package providers

import (
	"errors"
	"fmt"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers/driver"
)

// Error is a failure of one provider, classified. Its message is safe to
// show to clients; the adapter's own cause stays in Err, for logs.
type Error struct {
	Provider   string // the provider's key
	Code       errcode.Code
	RetryAfter time.Duration // for errcode.ProviderRateLimited, when known
	Err        error
}

// Error is the message clients see: the provider's key and what its code
// means, never the cause.
func (e *Error) Error() string {
	switch e.Code {
	case errcode.ProviderRateLimited:
		return fmt.Sprintf("provider %q is rate limited", e.Provider)
	case errcode.ProviderAuthFailed:
		return fmt.Sprintf("provider %q refused dirgate's credentials", e.Provider)
	case errcode.ProviderBadResponse:
		return fmt.Sprintf("provider %q sent a response dirgate could not read", e.Provider)
	case errcode.DirectoryChanged:
		return fmt.Sprintf("provider %q's directory changed around the cursor's place: start the walk again", e.Provider)
	case errcode.VendorCallLimit:
		return fmt.Sprintf("the request reached its limit of vendor calls before provider %q answered", e.Provider)
	}
	return fmt.Sprintf("provider %q is unavailable", e.Provider)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrDirectoryChanged is the cause of a DIRECTORY_CHANGED error: the users
// a cursor was anchored on are gone from around its place.
var ErrDirectoryChanged = errors.New("the cursor's anchor users are no longer near its place")

// classify wraps err, a failure of the provider with the given key, as an
// *Error. Unknown errors count as unavailability: the vendor did not give
// dirgate what it asked for.
func classify(key string, err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	e := &Error{Provider: key, Code: errcode.ProviderUnavailable, Err: err}
	var rl *driver.RateLimitError
	switch {
	case errors.Is(err, ErrVendorCallLimit):
		e.Code = errcode.VendorCallLimit
	case errors.Is(err, ErrDirectoryChanged):
		e.Code = errcode.DirectoryChanged
	case errors.As(err, &rl):
		e.Code, e.RetryAfter = errcode.ProviderRateLimited, rl.RetryAfter
	case errors.Is(err, driver.ErrRateLimited):
		e.Code = errcode.ProviderRateLimited
	case errors.Is(err, driver.ErrAuth):
		e.Code = errcode.ProviderAuthFailed
	case errors.Is(err, driver.ErrBadResponse):
		e.Code = errcode.ProviderBadResponse
	}
	return e
}

// badResponse is a classified ErrBadResponse of the provider key.
func badResponse(key, format string, args ...any) *Error {
	return classify(key, fmt.Errorf("%w: %s", driver.ErrBadResponse, fmt.Sprintf(format, args...)))
}
