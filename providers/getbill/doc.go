// Package getbill is the dirgate adapter for getbill.io's company user
// directory, GET /external-api/v1/company/users, and an emulator of that API.
//
// Client implements driver.Provider as a snapshot vendor: getbill returns
// the whole directory, and one ListUsers call is one request for one of
// its pages (the first, or the one the cursor names when getbill pages
// its answer); the portable layer reads every page, caches the directory,
// filters and pages it. It authenticates with a static bearer token or
// with OAuth 2.0 client credentials (scope users:read) at {BaseURL}/token,
// through vendorhttp.TokenCache: the access token is reused until shortly
// before it expires, and replaced once when getbill answers 401. getbill
// allows 1,000 calls per hour per client: Client.RateLimit reports the
// X-RateLimit-* headers of the last answer, which makes Client a
// driver.RateBudgeter, so the cache is refreshed less often when the
// budget runs low.
//
// Errors are classified by vendorhttp.StatusError: network failures,
// timeouts and 5xx answers are driver.ErrUnavailable (502, 503, 504 and
// network failures as a *driver.TemporaryError, which the portable layer
// retries), a 429 is a *driver.RateLimitError carrying details.retry_after
// (or Retry-After), refused credentials are driver.ErrAuth, and an answer
// that is not getbill's JSON envelope is driver.ErrBadResponse. An error
// envelope on a 200 is classified by its code. Errors carry the status and
// getbill's code, never its message, a secret or a token.
//
// Emulator is an http.Handler that speaks getbill's wire format, for tests
// and the demo: the token endpoint, the users endpoint with optional
// pagination (switchable at run time), per-client sliding-window rate
// limits, token expiry and injected faults.
//
// Vendor facts and their sources are in research/vendors.md, section 5.
package getbill
