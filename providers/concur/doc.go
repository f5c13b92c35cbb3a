// Package concur is the dirgate adapter for SAP Concur's Users Bulk API
// v3.1 (GET /users/), with a company-level OAuth2 token, and an emulator
// of that API for tests and the demo.
//
// Authentication follows Concur's company flow (package companyauth,
// shared with the Identity v4.1 kind): the first login exchanges a Company
// Request Token (valid 24 hours) for an access token and a refresh token
// with the password grant (credtype=authtoken); from then on the refresh
// grant renews the access token at the geolocation the token service
// returned. Keep the refresh token across restarts with tokenStore, or
// every start needs a fresh request token. Replicas that share a
// vendorhttp.SharedTokenStore (Redis) renew through it: one at a time, and
// the others take the token it stored, access token included, so that a
// refresh token Concur rotates is never sent twice.
//
// Client maps one request to /users/ (offset, limit, and the documented
// lower-case filters, every filterable field pushed down) onto the
// driver's types, decoding the documented shape variants tolerantly. It
// plans no paging and retries nothing: the portable layer does.
//
// The real Users Bulk v3.1 API was decommissioned on 2025-01-21; Emulator
// speaks its documented wire format, and makes explicit choices where the
// documentation is silent (see EmulatorOptions).
package concur
