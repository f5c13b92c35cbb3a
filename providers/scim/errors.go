package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/vendorhttp"
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

// Error is the status and the scimType, never the detail.
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

// Classify turns a failed answer into an error that wraps one sentinel
// of the provider contract, as vendorhttp.StatusError does (a 400 is
// driver.ErrBadResponse: the server refused what dirgate sent), with advice
// for the operator where the SCIM error keyword gives one. Only the status
// and the keyword go into the error: the server's detail may echo the
// filter, and filter values are personal data. The *Error stays in the
// chain, so errors.Is(err, ErrExpiredCursor) works.
func Classify(status int, header http.Header, now time.Time, body []byte) error {
	e := ParseError(status, body)
	err := vendorhttp.StatusError(status, header, now)
	switch kw := strings.ToLower(e.ScimType); {
	case status == http.StatusBadRequest && (kw == "invalidfilter" || kw == "toomany"):
		return fmt.Errorf("%w: %w: the server refused the filter: leave the field out of this provider's filters", err, e)
	case status == http.StatusNotImplemented:
		return fmt.Errorf("%w: %w: the server does not implement the request (filters, or .search)", err, e)
	case kw == "invalidcursor" || kw == "expiredcursor":
		return fmt.Errorf("%w: %w: the server refused its cursor: restart the walk", err, e)
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %w: no such SCIM endpoint: check baseURL", err, e)
	case e.ScimType != "":
		return fmt.Errorf("%w: %w", err, e)
	}
	return err
}
