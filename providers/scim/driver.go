package scim

import "github.com/dirgate/dirgate/providers"

// The driver types this package maps SCIM onto, in one place.
type (
	// User is a person's account in one directory.
	User = providers.User
)

// The sentinel errors this package's errors wrap.
var (
	errUnavailable = providers.ErrUnavailable
	errRateLimited = providers.ErrRateLimited
	errAuth        = providers.ErrAuth
	errBadResponse = providers.ErrBadResponse
)

// The typed errors of the contract.
type (
	rateLimitError = providers.RateLimitError
	temporaryError = providers.TemporaryError
)
