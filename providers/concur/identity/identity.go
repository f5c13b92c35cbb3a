package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/scim"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// DefaultPageSize is the count each request asks for unless configured:
// Identity v4.1's maximum.
const DefaultPageSize = MaxCount

// Client lists the users of one company through SAP Concur's Identity
// v4.1 API, with a company-level token. It implements driver.Provider and
// is safe for concurrent use.
type Client struct {
	auth     *companyauth.Auth
	http     *vendorhttp.Client
	pageSize int
	mapping  *scim.Mapping
}

// concurMapping maps a Concur identity onto User. It is the SCIM default
// but for the email: Concur marks no email primary, holds at most one of
// each type, and signs users in with the work one; so the email is the
// work email, and a filter on it is emails[type eq "work" and value eq
// …], which matches exactly the users whose email that is.
func concurMapping() *scim.Mapping {
	m := scim.DefaultMapping()
	if err := m.Set("email", `emails[type eq "work"].value`); err != nil {
		panic(err) // unreachable: the selector parses
	}
	if err := m.Add("countryCode", scim.SpendUserSchema+":country"); err != nil {
		panic(err)
	}
	return m
}

// filterFields are the fields Identity v4.1 filters on for dirgate, each
// exactly as dirgate matches (the search guide lists these attributes):
// userName, the work email, name.familyName, the enterprise
// employeeNumber, id and active. Country codes live in addresses, of
// which a user may have several: dirgate filters those.
var filterFields = driver.Fields(driver.FieldActive, driver.FieldEmail, driver.FieldLoginID,
	driver.FieldLastName, driver.FieldEmployeeID, driver.FieldID)

// Describe says that Identity v4.1 pages by cursor only, with totals, and
// filters on every filterable field but the country code. It has no last
// activity, and names no company (an identity's enterprise organization is
// the company's name, without the rest).
func (c *Client) Describe() driver.Description {
	return driver.Description{
		Paging:      driver.PagingCursor,
		MaxPageSize: MaxCount,
		PageSize:    c.pageSize,
		Totals:      true,
		Fields:      driver.AllFields &^ driver.Fields(driver.FieldLastActivityAt),
		Filters:     filterFields,
	}
}

// A cursor dirgate hands out is <count>.<Concur's nextCursor>: the count
// of the query's first page goes with it, so that every page of a query
// asks for the same count.

// ListUsers makes one request: GET /profile/identity/v4.1/Users without a
// filter, POST /profile/identity/v4.1/Users/.search with one.
func (c *Client) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	page, err := c.list(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("concur identity: list users: %w", err)
	}
	return page, nil
}

func (c *Client) list(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	count := min(max(req.Limit, 1), MaxCount)
	var cursor string
	if req.Cursor != "" {
		n, tok, ok := strings.Cut(req.Cursor, ".")
		cn, err := strconv.Atoi(n)
		if !ok || err != nil || cn < 1 || cn > MaxCount || tok == "" {
			return nil, fmt.Errorf("%w: a cursor dirgate did not make", driver.ErrBadResponse)
		}
		count, cursor = cn, tok
	}
	filter, err := c.mapping.Filter(req.Filter, filterFields)
	if err != nil {
		return nil, err
	}
	p, err := c.send(ctx, filter, count, cursor)
	if err != nil {
		return nil, err
	}
	if p.TotalResults < 0 {
		return nil, fmt.Errorf("%w: no totalResults", driver.ErrBadResponse)
	}
	page := &driver.ListPage{Users: p.Users, Total: p.TotalResults}
	if p.NextCursor != "" {
		page.NextCursor = strconv.Itoa(count) + "." + p.NextCursor
	}
	if req.Limit == 0 {
		page.Users = nil
	}
	return page, nil
}

// send makes the request (Concur's company auth renews a refused token).
func (c *Client) send(ctx context.Context, filter string, count int, cursor string) (*scim.Page, error) {
	var page *scim.Page
	err := c.auth.Do(ctx, c.http.Limit(count), func(geo string) (*http.Request, error) {
		return c.request(ctx, geo, filter, count, cursor)
	}, func(r *vendorhttp.Response) error {
		if r.Status == http.StatusOK {
			var err error
			page, err = c.mapping.DecodeList(r.Body)
			return err
		}
		return scim.Classify(r.Status, r.Header, c.http.Now(), r.Body)
	})
	return page, err
}

// request builds GET /Users, or POST /Users/.search with a filter.
func (c *Client) request(ctx context.Context, geo, filter string, count int, cursor string) (*http.Request, error) {
	var req *http.Request
	var err error
	if filter == "" {
		v := url.Values{"count": {strconv.Itoa(count)}}
		if cursor != "" {
			v.Set("cursor", cursor)
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, geo+Base+"/Users?"+v.Encode(), nil)
	} else {
		body := map[string]any{"schemas": []string{scim.ConcurSearchRequestSchema}, "filter": filter, "count": count}
		if cursor != "" {
			body["cursor"] = cursor
		}
		b, _ := json.Marshal(body)
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, geo+Base+"/Users/.search", bytes.NewReader(b))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: an unusable geolocation", driver.ErrBadResponse)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

var _ driver.Provider = (*Client)(nil)
