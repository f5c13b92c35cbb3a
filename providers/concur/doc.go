// Package concur is the dirgate adapter for SAP Concur's Users Bulk API
// v3.1 (GET /users/), with a company-level OAuth2 token, and an emulator of
// that API for tests and local runs.
//
// Authentication follows Concur's company flow: the first login exchanges
// a Company Request Token (valid 24 hours) for an access token and a
// refresh token with the password grant (credtype=authtoken); from then on
// the refresh grant renews the access token at the geolocation the token
// service returned. Keep the refresh token across restarts with
// Config.TokenStore, or every start needs a fresh request token.
//
// Users Bulk v3.1 pages by offset and limit and reports a total; Client
// asks for Config.PageSize users per call and fetches the pages a request
// needs concurrently (at most Config.Concurrency at a time), so a page of
// 1000 users costs about one round trip. It never assumes Concur honoured
// a limit: it advances by the users received, stops at the total, and
// fetches any gap a short page leaves. Every filter dirgate knows is
// pushed down.
//
// Client does not retry: it marks network failures, call timeouts and
// HTTP 502, 503 and 504 as providers.TemporaryError, and 429 as
// providers.RateLimitError (both with the Retry-After header), and the
// portable layer (providers.Source) retries them within the request's
// deadline. It does renew its access token once when Concur refuses it
// (401, or the legacy 403) before it reports providers.ErrAuth.
//
// The real Users Bulk v3.1 API was decommissioned on 2025-01-21; Emulator
// speaks its documented wire format, and makes explicit choices where the
// documentation is silent (see EmulatorOptions).
package concur
