package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// StatusError classifies an answer that is not a success, by its status
// alone (the body is never quoted):
//
//   - 429 is a *driver.RateLimitError with the Retry-After header;
//   - 502, 503 and 504 are a *driver.TemporaryError, with Retry-After;
//   - 401 and 403 are driver.ErrAuth;
//   - other 5xx, 404 (a wrong base URL) and 408 are driver.ErrUnavailable,
//     final;
//   - anything else (another 4xx: the vendor refused what dirgate sent; a
//     redirect, which the client does not follow) is
//     driver.ErrBadResponse.
func StatusError(status int, header http.Header, now time.Time) error {
	switch {
	case status == http.StatusTooManyRequests:
		return &driver.RateLimitError{RetryAfter: RetryAfter(header, now)}
	case Temporary(status):
		return &driver.TemporaryError{
			RetryAfter: RetryAfter(header, now),
			Err:        fmt.Errorf("%w: HTTP %d", driver.ErrUnavailable, status),
		}
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: HTTP %d", driver.ErrAuth, status)
	case status >= 500 && status <= 599 || status == http.StatusNotFound || status == http.StatusRequestTimeout:
		return fmt.Errorf("%w: HTTP %d", driver.ErrUnavailable, status)
	}
	return fmt.Errorf("%w: unexpected HTTP %d", driver.ErrBadResponse, status)
}

// Temporary reports whether an HTTP status is worth retrying soon: 502,
// 503 or 504.
func Temporary(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date
// measured against now; zero when there is none, it is in the past, or it
// cannot be read.
func RetryAfter(header http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n > 0 {
			return time.Duration(n) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// Seconds reads a number of seconds a vendor put in a body (getbill's
// details.retry_after): a JSON number or a string holding one. It returns
// zero for anything else, or for a value out of range.
func Seconds(raw string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || f <= 0 || f > 1e6 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// TransportError classifies a failed round trip, made with ctx: a
// *driver.TemporaryError (the network or the vendor failed, or this one
// request ran out of time), or, when ctx itself ended, a final
// driver.ErrUnavailable that still matches ctx's error with errors.Is. The
// URL in err loses its query string, which can hold personal data.
func TransportError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = StripQuery(ue.URL)
	}
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w: %w", driver.ErrUnavailable, cerr)
	}
	return &driver.TemporaryError{Err: fmt.Errorf("%w: %w", driver.ErrUnavailable, err)}
}

// StripQuery returns a URL without its query string and fragment.
func StripQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	s, _, _ = strings.Cut(s, "#")
	return s
}

// BaseURL returns the scheme and host of an absolute http or https URL
// (a vendor's geolocation, say, which some docs show with a path); ok is
// false for anything else.
func BaseURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}
