package concur

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// tokenPath is where the emulator serves Concur's token endpoint.
const tokenPath = companyauth.TokenPath

// Options are a Client's shared dependencies; nil means the defaults.
type Options struct {
	// HTTP makes every request; nil means a vendorhttp.Client of its own.
	HTTP *vendorhttp.Client
	// Store keeps the refresh token across restarts; nil means a file at
	// Config.TokenStore, or memory when that is empty.
	Store vendorhttp.TokenStore
	// TokenTimeout bounds one token renewal; zero means
	// vendorhttp.DefaultTokenTimeout.
	TokenTimeout time.Duration
}

// Client lists the users of one company through Concur's Users Bulk v3.1
// API (GET /users/), with a company-level token. It implements
// driver.Provider and is safe for concurrent use.
type Client struct {
	cfg  Config
	http *vendorhttp.Client
	auth *companyauth.Auth
}

// New returns a Client for cfg, which it checks. It does no I/O: the first
// token is fetched on the first call.
func New(cfg Config, opts *Options) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("concur: %w", err)
	}
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{cfg: cfg, http: opts.HTTP}
	if c.http == nil {
		c.http = vendorhttp.New(vendorhttp.Options{})
	}
	c.auth = companyauth.New(cfg.Auth, &companyauth.Options{HTTP: c.http, Store: opts.Store, TokenTimeout: opts.TokenTimeout})
	return c, nil
}

// Describe says that Concur pages by offset, with totals, and filters on
// every filterable field; it has no creation or activity times.
func (c *Client) Describe() driver.Description {
	return driver.Description{
		Paging:      driver.PagingOffset,
		MaxPageSize: MaxPageSize,
		PageSize:    c.cfg.PageSize,
		Totals:      true,
		Fields:      driver.AllFields &^ driver.Fields(driver.FieldCreatedAt, driver.FieldLastActivityAt),
		Filters:     driver.Filterable,
	}
}

// ListUsers makes one request to /users/: req.Limit users matching
// req.Filter from req.Offset on (a Limit of 0 asks for one user, and
// returns only the total and the company).
func (c *Client) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	limit := max(req.Limit, 1)
	q := filterQuery(req.Filter)
	q.Set("offset", strconv.Itoa(max(req.Offset, 0)))
	q.Set("limit", strconv.Itoa(limit))
	page, err := c.users(ctx, q.Encode(), limit)
	if err != nil {
		return nil, fmt.Errorf("concur: list users: %w", err)
	}
	if req.Limit == 0 {
		page.Users = nil
	}
	return page, nil
}

// filterParams are the query parameters of the filterable fields: lower
// case, and case-sensitive for Concur.
var filterParams = map[driver.Field]string{
	driver.FieldActive: "isactive", driver.FieldEmail: "primaryemail", driver.FieldLoginID: "loginid",
	driver.FieldLastName: "lastname", driver.FieldEmployeeID: "employeeid", driver.FieldCountryCode: "countrycode",
	driver.FieldID: "id",
}

func filterQuery(f driver.Filter) url.Values {
	q := url.Values{}
	for field, v := range f.All() {
		if field == driver.FieldActive {
			v = strings.ToLower(v)
		}
		q.Set(filterParams[field], v)
	}
	return q
}

// users makes one request to /users/, renewing the access token once if
// Concur refuses it (401, or the legacy 403).
func (c *Client) users(ctx context.Context, query string, limit int) (*driver.ListPage, error) {
	for renewed := false; ; renewed = true {
		tok, geo, err := c.auth.Token(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, geo+"/users/?"+query, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: an unusable geolocation", driver.ErrBadResponse)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Reveal())
		req.Header.Set("Accept", "application/json")
		var page *driver.ListPage
		refused := false
		err = c.http.Do(ctx, req, c.http.Limit(limit), func(r *vendorhttp.Response) error {
			switch s := r.Status; {
			case s == http.StatusOK:
				var derr error
				page, derr = decodeUsers(r.Body)
				return derr
			case (s == http.StatusUnauthorized || s == http.StatusForbidden) && !renewed:
				refused = true
				return nil
			case s == http.StatusUnauthorized || s == http.StatusForbidden:
				return fmt.Errorf("%w: HTTP %d with a fresh access token", driver.ErrAuth, s)
			case s == http.StatusBadRequest && limit > DefaultPageSize:
				// Concur refuses limits above its maximum as invalid
				// query params.
				return &driver.PageSizeError{Max: DefaultPageSize}
			}
			return vendorhttp.StatusError(r.Status, r.Header, c.http.Now())
		})
		if err != nil || !refused {
			return page, err
		}
		c.auth.Invalidate(tok)
	}
}

// Decoding /users/, tolerantly: Concur's docs disagree on types and
// shapes.

type wirePage struct {
	Total       vendorhttp.Int  `json:"total"`
	Company     *wireCompanyIn  `json:"company"`
	CompanyInfo *wireCompanyIn  `json:"companyinfo"`
	Items       json.RawMessage `json:"Items"`
}

type wireCompanyIn struct {
	Name    vendorhttp.String `json:"name"`
	Address vendorhttp.String `json:"address"`
	City    vendorhttp.String `json:"city"`
	State   vendorhttp.String `json:"state"`
	Zip     vendorhttp.String `json:"zip"`
	Country vendorhttp.String `json:"country"`
}

type wireUserIn struct {
	ID               vendorhttp.String  `json:"ID"`
	PrimaryEmail     vendorhttp.String  `json:"PrimaryEmail"`
	Emails           vendorhttp.Strings `json:"Emails"`
	FirstName        vendorhttp.String  `json:"FirstName"`
	MiddleName       vendorhttp.String  `json:"MiddleName"`
	LastName         vendorhttp.String  `json:"LastName"`
	Active           vendorhttp.Bool    `json:"Active"`
	LoginID          vendorhttp.String  `json:"LoginID"`
	EmployeeID       vendorhttp.String  `json:"EmployeeID"`
	CellPhoneNumber  vendorhttp.String  `json:"CellPhoneNumber"`
	OrganizationUnit vendorhttp.String  `json:"OrganizationUnit"`
	CountryCode      vendorhttp.String  `json:"CountryCode"`
}

// decodeUsers decodes a 200 answer of /users/. It never quotes the body.
func decodeUsers(body []byte) (*driver.ListPage, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", driver.ErrBadResponse, why) }
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, bad("undecodable JSON")
	}
	if len(w.Items) == 0 {
		return nil, bad("no Items")
	}
	var items []*wireUserIn
	if err := json.Unmarshal(w.Items, &items); err != nil {
		return nil, bad("undecodable Items")
	}
	page := &driver.ListPage{Total: -1, Users: make([]driver.User, 0, len(items))}
	if w.Total.Set {
		if w.Total.N < 0 || w.Total.N > 1<<31 {
			return nil, bad("a total out of range")
		}
		page.Total = int(w.Total.N)
	}
	if wc := w.Company; wc != nil || w.CompanyInfo != nil {
		if wc == nil {
			wc = w.CompanyInfo
		}
		page.Company = &driver.Company{
			Name: string(wc.Name), Address: string(wc.Address), City: string(wc.City),
			State: string(wc.State), Zip: string(wc.Zip), Country: string(wc.Country),
		}
	}
	for _, u := range items {
		if u == nil || strings.TrimSpace(string(u.ID)) == "" {
			return nil, bad("a user without an ID")
		}
		page.Users = append(page.Users, driver.User{
			ID:               string(u.ID),
			Email:            string(u.PrimaryEmail),
			Emails:           userEmails(string(u.PrimaryEmail), u.Emails),
			FirstName:        string(u.FirstName),
			MiddleName:       string(u.MiddleName),
			LastName:         string(u.LastName),
			Active:           bool(u.Active),
			LoginID:          string(u.LoginID),
			EmployeeID:       string(u.EmployeeID),
			CellPhone:        string(u.CellPhoneNumber),
			OrganizationUnit: string(u.OrganizationUnit),
			CountryCode:      string(u.CountryCode),
		})
	}
	return page, nil
}

// userEmails returns the primary email, then the other values that look
// like emails (the docs' samples list slot names), without repeats that
// differ only in letter case. It returns nil when there are none.
func userEmails(primary string, others []string) []string {
	var out []string
	add := func(e string) {
		e = strings.TrimSpace(e)
		if !strings.Contains(e, "@") {
			return
		}
		for _, o := range out {
			if strings.EqualFold(o, e) {
				return
			}
		}
		out = append(out, e)
	}
	add(primary)
	for _, e := range others {
		add(e)
	}
	return out
}

var _ driver.Provider = (*Client)(nil)
