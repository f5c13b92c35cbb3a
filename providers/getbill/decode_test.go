package getbill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// wireUserIn is a user as getbill sends it (to decodePageJSON).
type wireUserIn struct {
	ID           vendorhttp.String `json:"id"`
	Email        vendorhttp.String `json:"email"`
	FirstName    vendorhttp.String `json:"firstname"`
	LastName     vendorhttp.String `json:"lastname"`
	IsActive     json.RawMessage   `json:"is_active"`
	CreatedAt    vendorhttp.Time   `json:"created_at"`
	LastActivity vendorhttp.Time   `json:"last_activity"`
}

// decodePageJSON is the decoder decodePage replaced: encoding/json into
// vendorhttp's tolerant types, data and pagination decoded a second time
// from json.RawMessages. It is the reference decodePage is held to.
func (c *Client) decodePageJSON(header http.Header, body []byte, n, limit int, chained bool) (*driver.ListPage, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", driver.ErrBadResponse, fmt.Sprintf(format, args...))
	}
	env, failed, ok := decodeEnvelope(body)
	switch {
	case !ok:
		return nil, bad("an answer that is not getbill's JSON envelope (%d bytes, %s)", len(body), contentType(header))
	case failed && env.Code.N >= 400 && env.Code.N <= 599:
		return nil, fmt.Errorf("an error envelope on status 200: %w", c.statusError(int(env.Code.N), header, body))
	case failed:
		return nil, bad("status 200 with an error envelope and no error code")
	case len(env.Data) == 0:
		return nil, bad("an answer without data")
	}
	var wire []*wireUserIn
	if err := json.Unmarshal(env.Data, &wire); err != nil {
		return nil, bad("data is not a list of users")
	}
	page := &driver.ListPage{Total: -1, Users: make([]driver.User, 0, len(wire))}
	for i, w := range wire {
		if w == nil || strings.TrimSpace(string(w.ID)) == "" {
			return nil, bad("user %d has no id", i)
		}
		u := driver.User{
			ID: strings.TrimSpace(string(w.ID)), Email: strings.TrimSpace(string(w.Email)),
			FirstName: strings.TrimSpace(string(w.FirstName)), LastName: strings.TrimSpace(string(w.LastName)),
			CreatedAt: time.Time(w.CreatedAt), LastActivityAt: time.Time(w.LastActivity),
		}
		if u.Email != "" {
			u.Emails = []string{u.Email}
		}
		if len(w.IsActive) > 0 {
			var b vendorhttp.Bool
			if json.Unmarshal(w.IsActive, &b) != nil {
				return nil, bad("user %d: is_active is not a boolean", i)
			}
			u.Active = bool(b)
		}
		page.Users = append(page.Users, u)
	}
	p, err := decodePaginationJSON(env.Pagination, n)
	if err != nil {
		return nil, err
	}
	// What the pagination says is checked by the one function both
	// decoders share (TestPaged holds it to the rules); the two differ in
	// how they read it.
	return paged(page, p, n, limit, chained)
}

// decodePaginationJSON reads a pagination object; nil when there is none.
// Missing fields are zero, except page, which is then the one asked for.
func decodePaginationJSON(raw json.RawMessage, n int) (*pagination, error) {
	if len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	var v struct{ Total, Page, Limit, Pages vendorhttp.Int }
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%w: pagination is not an object of counts", driver.ErrBadResponse)
	}
	p := &pagination{page: n}
	for _, f := range []struct {
		v   vendorhttp.Int
		out *int
	}{{v.Total, &p.total}, {v.Page, &p.page}, {v.Limit, &p.limit}, {v.Pages, &p.pages}} {
		if f.v.Set {
			if f.v.N < 0 || f.v.N > 1<<31 {
				return nil, fmt.Errorf("%w: pagination holds a count out of range", driver.ErrBadResponse)
			}
			*f.out = int(f.v.N)
		}
	}
	if p.pages == 0 && p.limit > 0 {
		p.pages = (p.total + p.limit - 1) / p.limit
	}
	return p, nil
}

// FuzzDecodePageAsJSON: decodePage, in one pass, decodes every answer as
// encoding/json into vendorhttp's types did: the same users and next
// cursor, or the same error, whatever the shapes and types. Answers that
// repeat a member (under letter case folding) are left out: encoding/json
// merges repeated objects in ways no vendor relies on.
func FuzzDecodePageAsJSON(f *testing.F) {
	for _, seed := range []string{
		`{"error":false,"data":[{"id":"a","is_active":true}],"pagination":{"total":3,"page":1,"limit":1,"pages":3}}`,
		`{"error":false,"message":"ok","data":[{"id":"abc","email":" A@x ","firstname":"Ann","lastname":"B","is_active":"1","created_at":"2023-01-15T10:30:00Z","last_activity":"2024-01-22 14:22:00"}]}`,
		`{"error":0,"data":[{"id":7,"is_active":null,"created_at":{}}],"pagination":null}`,
		`{"error":true,"message":"Too many requests","code":429,"details":{"retry_after":"30"}}`,
		`{"error":true,"code":"503","data":{}}`,
		`{"error":true}`,
		`{"error":"false","data":[]}`,
		`{"error":{},"data":[]}`,
		`{"error":false}`,
		`{"error":false,"data":null}`,
		`{"error":false,"data":{}}`,
		`{"error":false,"data":[null]}`,
		`{"error":false,"data":[{"id":" "}]}`,
		`{"error":false,"data":[{"id":"a","is_active":"maybe"},{"id":""}]}`,
		`{"error":false,"data":[{"id":"a"},{"id":{}}],"code":1}`,
		`{"error":false,"data":[{"id":"a"}],"pagination":"x"}`,
		`{"error":false,"data":[{"id":"a"}],"pagination":{"total":-1}}`,
		`{"error":false,"data":[{"id":"a"}],"pagination":{"total":5,"page":1,"limit":2}}`,
		`{"error":false,"data":[{"id":"a"}],"pagination":{"total":1,"page":2}}`,
		`{"error":false,"data":[{"id":"a"}],"details":5}`,
		`{"error":false,"data":[{"id":"a"}],"code":{}}`,
		`{"ERROR":false,"Data":[{"ID":"up"}],"PAGINATION":{"Total":1}}`,
		`{"error":false,"data":[{"id":"a\u00e9","firstname":"\ud800","lastname":"\xff"}]}`,
		`{"error":false,"data":[]} trailing`, `[]`, `null`, ``,
	} {
		f.Add([]byte(seed), 1, false)
		f.Add([]byte(seed), 2, true)
	}
	f.Fuzz(func(t *testing.T, body []byte, n int, chained bool) {
		if n < 1 || n > 1<<20 || providertest.RepeatsMember(body) {
			return
		}
		c, err := New(Config{Token: vendorhttp.NewSecret(testToken)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, wantErr := c.decodePageJSON(http.Header{}, body, n, 100, chained)
		got, err := c.decodePage(http.Header{}, body, n, 100, chained)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("decodePage(%q): error %v, encoding/json's %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodePage(%q) =\n%+v\nencoding/json decoded\n%+v", body, got, want)
		}
	})
}

// TestPaged: the rules of getbill's pagination object, which both
// decoders apply (the fuzz test compares how they read it, not these).
func TestPaged(t *testing.T) {
	two := func() *driver.ListPage { return &driver.ListPage{Total: -1, Users: make([]driver.User, 2)} }
	for _, tt := range []struct {
		name     string
		p        *pagination
		n, limit int
		chained  bool
		next     string // the next cursor; "error" for ErrBadResponse
	}{
		{"no pagination, first page", nil, 1, 100, false, ""},
		{"no pagination, a later page", nil, 2, 100, true, "error"},
		{"another page than asked", &pagination{page: 3, limit: 100, pages: 5}, 2, 100, true, "error"},
		{"the page size changed", &pagination{page: 2, limit: 50, pages: 5}, 2, 100, true, "error"},
		{"the first page may set the size", &pagination{page: 1, limit: 50, pages: 5, total: 250}, 1, 100, false, "2/50"},
		{"more pages", &pagination{page: 2, limit: 100, pages: 5}, 2, 100, true, "3/100"},
		{"no size", &pagination{page: 1, pages: 2}, 1, 100, false, "2/1"},
		{"the last page", &pagination{page: 5, limit: 100, pages: 5, total: 500}, 5, 100, true, ""},
		{"the whole directory", &pagination{page: 1, limit: 100, pages: 1, total: 2}, 1, 100, false, ""},
		{"more users and no further page", &pagination{page: 1, limit: 100, pages: 1, total: 3}, 1, 100, false, "error"},
	} {
		page, err := paged(two(), tt.p, tt.n, tt.limit, tt.chained)
		switch {
		case tt.next == "error":
			if !errors.Is(err, driver.ErrBadResponse) || page != nil {
				t.Errorf("%s: %+v, %v; want ErrBadResponse", tt.name, page, err)
			}
		case err != nil || page == nil || page.NextCursor != tt.next || len(page.Users) != 2:
			t.Errorf("%s: %+v, %v; want the page with next cursor %q", tt.name, page, err, tt.next)
		}
	}
}
