// Package getbill is the dirgate adapter for getbill.io's company user
// directory, GET /external-api/v1/company/users, and an emulator of that API.
//
// Client implements providers.Provider as a snapshot provider: getbill
// returns the whole directory in one answer (ListUsers walks the pages
// should getbill ever page it), and the portable layer filters, pages and
// caches. It authenticates with a static bearer token or with OAuth 2.0
// client credentials (scope users:read) at {BaseURL}/token; the access
// token is reused until shortly before it expires, and replaced once when
// getbill answers 401. getbill allows 1,000 calls per hour per client, so
// the portable layer caches the directory (see providers/cache.go):
// Client.RateLimit reports the X-RateLimit-* headers of the last answer,
// which makes Client a providers.RateBudgeter, so the cache is refreshed
// less often when the budget runs low.
//
// Errors wrap the sentinels of package providers: network failures,
// timeouts and 5xx answers are providers.ErrUnavailable (502, 503, 504
// and network failures as a *providers.TemporaryError, which the portable
// layer retries), a 429 is a *providers.RateLimitError carrying
// details.retry_after (or Retry-After), refused credentials are
// providers.ErrAuth, and an answer that is not getbill's JSON envelope is
// providers.ErrBadResponse. An error envelope on a 200 is classified by
// its code. Errors never contain the client secret or a token.
//
// Emulator is an http.Handler that speaks getbill's wire format, for tests
// and the demo mode: the token endpoint, the users endpoint with optional
// pagination (switchable at run time), per-client sliding-window rate
// limits, token expiry and injected faults.
//
// Vendor facts and their sources are in research/vendors.md, section 5.
package getbill
