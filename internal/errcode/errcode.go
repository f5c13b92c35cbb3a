// Package errcode is the closed set of extensions.code values that dirgate's
// clients see, in one place. Every error dirgate answers carries one of
// these; the README's error table lists them all (a test checks it).
package errcode

// Code is one extensions.code value.
type Code string

func (c Code) String() string { return string(c) }

// Codes of a request dirgate refuses or cannot read.
const (
	// BadRequest: an HTTP request that is not a GraphQL request dirgate
	// can read (not JSON, an unsupported method or content type).
	BadRequest Code = "BAD_REQUEST"
	// BadUserInput: an argument is wrong (first with last, a negative
	// count, a malformed id, an unknown filter key).
	BadUserInput Code = "BAD_USER_INPUT"
	// BadCursor: a cursor is malformed, altered, or was made with another
	// filter or provider set.
	BadCursor Code = "BAD_CURSOR"
	// Unauthenticated: no API key, or one dirgate does not accept.
	Unauthenticated Code = "UNAUTHENTICATED"
	// ParseFailed and ValidationFailed are gqlgen's, for documents it
	// cannot parse or that do not fit the schema.
	ParseFailed      Code = "GRAPHQL_PARSE_FAILED"
	ValidationFailed Code = "GRAPHQL_VALIDATION_FAILED"
	// PersistedQueryNotFound: an automatic persisted query dirgate does
	// not hold; the client sends the query with its hash.
	PersistedQueryNotFound Code = "PERSISTED_QUERY_NOT_FOUND"
	// PersistedQueryNotSupported: an automatic persisted query of a
	// version dirgate does not support; the client sends the query alone.
	PersistedQueryNotSupported Code = "PERSISTED_QUERY_NOT_SUPPORTED"
	// Internal: a bug in dirgate; the cause is logged.
	Internal Code = "INTERNAL"
)

// Codes of the limits, each checked before any resolver runs.
const (
	RequestTooLarge       Code = "REQUEST_TOO_LARGE"
	TokenLimit            Code = "TOKEN_LIMIT_EXCEEDED"
	DepthLimit            Code = "DEPTH_LIMIT_EXCEEDED"
	ComplexityLimit       Code = "COMPLEXITY_LIMIT_EXCEEDED"
	PageSizeLimit         Code = "PAGE_SIZE_LIMIT_EXCEEDED"
	IntrospectionDisabled Code = "INTROSPECTION_DISABLED"
)

// Codes of a provider's failure; the error names the provider in
// extensions.provider.
const (
	ProviderUnavailable Code = "PROVIDER_UNAVAILABLE"
	ProviderRateLimited Code = "PROVIDER_RATE_LIMITED"
	ProviderAuthFailed  Code = "PROVIDER_AUTH_FAILED"
	ProviderBadResponse Code = "PROVIDER_BAD_RESPONSE"
	// DirectoryChanged: a provider's directory changed around a cursor's
	// place so much that dirgate cannot tell where the walk stands; the
	// client starts the walk again.
	DirectoryChanged Code = "DIRECTORY_CHANGED"
	// VendorCallLimit: the request made as many vendor calls as one
	// request may; what was fetched before comes back beside it.
	VendorCallLimit Code = "VENDOR_CALL_LIMIT_EXCEEDED"
)

// All lists every code, for documentation checks.
var All = []Code{
	BadRequest, BadUserInput, BadCursor, Unauthenticated, ParseFailed, ValidationFailed,
	PersistedQueryNotFound, PersistedQueryNotSupported, Internal,
	RequestTooLarge, TokenLimit, DepthLimit, ComplexityLimit, PageSizeLimit, IntrospectionDisabled,
	ProviderUnavailable, ProviderRateLimited, ProviderAuthFailed, ProviderBadResponse,
	DirectoryChanged, VendorCallLimit,
}
