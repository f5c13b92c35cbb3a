// Package vendorhttp is the HTTP plumbing every vendor adapter shares, so
// that it is written once: a client that follows no redirect (requests
// carry credentials), bounded body reads sized by what the request asked
// for and bounded across all requests at once, the classification of HTTP
// statuses and transport failures into the driver's errors, Retry-After
// read with an injected clock, one token cache that single-flights
// renewal with a bounded, detached context, a token store behind an
// interface, tolerant JSON scalars, and secrets that cannot be printed.
//
// Redaction is by construction, not by search and replace: a Secret
// prints as [redacted] however it is formatted; errors made here carry
// the HTTP status and the URL's scheme, host and path, never a query
// string, a header or a body; and adapters put no vendor text into their
// errors. The transport that logs vendor requests (internal/obs) logs the
// method, host and path only.
package vendorhttp
