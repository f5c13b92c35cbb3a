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
// asks for Config.PageSize users per call and walks as many pages as a
// request needs. Every filter dirgate knows is pushed down.
//
// The real Users Bulk v3.1 API was decommissioned on 2025-01-21; Emulator
// speaks its documented wire format, and makes explicit choices where the
// documentation is silent (see EmulatorOptions).
package concur
