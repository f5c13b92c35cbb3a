package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Error is a SCIM error answer (RFC 7644 §3.12): a JSON object with the
// Error schema, "status" (the HTTP status, as a string), an optional
// "scimType" keyword and an optional "detail".
type Error struct {
	// Status is the HTTP status of the answer.
	Status int
	// ScimType is the error keyword: invalidFilter, tooMany, invalidSyntax,
	// invalidValue, invalidCursor, expiredCursor, invalidCount (RFC 9865
	// adds the last three)…; "" when none was given.
	ScimType string
	// Detail is the server's explanation. It is kept out of Error(): it
	// may echo a filter value, and filter values are PII.
	Detail string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("HTTP %d", e.Status)
	if e.ScimType != "" {
		s += " " + e.ScimType
	}
	return s
}

// ParseError reads the SCIM error object in body, an answer with HTTP
// status status. A body that is not one gives an Error with the status
// alone; a scimType that is not a plain keyword is dropped.
func ParseError(status int, body []byte) *Error {
	e := &Error{Status: status}
	var v struct {
		ScimType json.RawMessage `json:"scimType"`
		Detail   json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &v) != nil {
		return e
	}
	var s string
	if json.Unmarshal(v.ScimType, &s) == nil && len(s) <= 40 && validName(s) {
		e.ScimType = s
	}
	if json.Unmarshal(v.Detail, &s) == nil {
		e.Detail = s
	}
	return e
}

// Is makes errors.Is(err, &Error{ScimType: "invalidFilter"}) find an
// Error by its keyword.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && (t.Status == 0 || t.Status == e.Status) && strings.EqualFold(t.ScimType, e.ScimType)
}

// Keywords of RFC 9865 that say a cursor can no longer be followed.
var (
	// ErrInvalidCursor: the server does not know the cursor (or it was
	// made for another query).
	ErrInvalidCursor = &Error{ScimType: "invalidCursor"}
	// ErrExpiredCursor: the cursor outlived the server's cursorTimeout.
	ErrExpiredCursor = &Error{ScimType: "expiredCursor"}
)

// Classify turns a failed answer into an error that wraps one sentinel of
// the provider contract, with op as context:
//
//	429                    rate limited, with retryAfter (Retry-After, 0 when the server said 0 or nothing)
//	401, 403               authentication refused
//	502, 503, 504          unavailable, worth retrying (after retryAfter)
//	other statuses         unavailable, final (400 invalidFilter: the server refused dirgate's filter)
//
// The *Error stays in the chain, so errors.Is(err, ErrExpiredCursor)
// works. The server's detail is never in the message.
func Classify(op string, status int, retryAfter time.Duration, body []byte) error {
	e := ParseError(status, body)
	switch {
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w: %w", op, e, &rateLimitError{RetryAfter: retryAfter})
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%s: %w: %w", op, errAuth, e)
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return &temporaryError{RetryAfter: retryAfter, Err: fmt.Errorf("%s: %w: %w", op, errUnavailable, e)}
	case status >= 200 && status < 300:
		return fmt.Errorf("%s: %w: %w", op, errBadResponse, e)
	}
	return fmt.Errorf("%s: %w: %w", op, errUnavailable, e)
}
