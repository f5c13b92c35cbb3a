package concur

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Options are a Client's shared dependencies, those of its company
// authentication; nil means the defaults.
type Options = companyauth.Options

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
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.HTTP == nil {
		o.HTTP = vendorhttp.New(vendorhttp.Options{})
	}
	return &Client{cfg: cfg, http: o.HTTP, auth: companyauth.New(cfg.Auth, &o)}, nil
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

// users makes one request to /users/ (Concur's company auth renews a
// refused token).
func (c *Client) users(ctx context.Context, query string, limit int) (*driver.ListPage, error) {
	var page *driver.ListPage
	err := c.auth.Do(ctx, c.http.Limit(limit), func(geo string) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, geo+"/users/?"+query, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: an unusable geolocation", driver.ErrBadResponse)
		}
		req.Header.Set("Accept", "application/json")
		return req, nil
	}, func(r *vendorhttp.Response) error {
		switch s := r.Status; {
		case s == http.StatusOK:
			var err error
			page, err = decodeUsers(r.Body, limit)
			return err
		case s == http.StatusBadRequest && limit > DefaultPageSize:
			// Concur refuses limits above its maximum as invalid query
			// params.
			return &driver.PageSizeError{Max: DefaultPageSize}
		}
		return vendorhttp.StatusError(r.Status, r.Header, c.http.Now())
	})
	return page, err
}

// Decoding /users/, tolerantly (Concur's docs disagree on types and
// shapes), in one pass: members as encoding/json matches struct fields,
// ignoring case, scalars as vendorhttp's tolerant types read them.

// The members of a page, of its company, and of a user.
var (
	pageMembers    = []string{"total", "company", "companyinfo", "Items"}
	companyMembers = []string{"name", "address", "city", "state", "zip", "country"}
	userMembers    = []string{"ID", "PrimaryEmail", "Emails", "FirstName", "MiddleName", "LastName", "Active",
		"LoginID", "EmployeeID", "CellPhoneNumber", "OrganizationUnit", "CountryCode"}
)

// decodeUsers decodes a 200 answer of /users/ to a request for limit
// users. It never quotes the body.
func decodeUsers(body []byte, limit int) (*driver.ListPage, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", driver.ErrBadResponse, why) }
	r := vendorhttp.NewReader(body)
	var (
		total                vendorhttp.Int
		company, companyInfo *driver.Company
		users                []driver.User
		items                bool
		itemsErr             error // of the last Items: decoded after the rest, as a json.RawMessage would be
	)
	err := r.Members(pageMembers, func(i int) error {
		var err error
		switch i {
		case 0:
			total, err = r.Int()
		case 1:
			err = readCompany(r, &company)
		case 2:
			err = readCompany(r, &companyInfo)
		case 3:
			items, users = true, make([]driver.User, 0, min(max(limit, 0), MaxPageSize))
			depth := r.Depth()
			users, itemsErr = readUsers(r, users)
			if _, ok := errors.AsType[*vendorhttp.TypeError](itemsErr); ok {
				return r.SkipRest(depth)
			}
			if itemsErr != nil {
				return itemsErr
			}
		}
		return err
	})
	if err == nil {
		err = r.End()
	}
	switch {
	case err != nil:
		return nil, bad("undecodable JSON")
	case !items:
		return nil, bad("no Items")
	case itemsErr == errNoID:
		return nil, bad("a user without an ID")
	case itemsErr != nil:
		return nil, bad("undecodable Items")
	}
	page := &driver.ListPage{Total: -1, Users: users}
	if total.Set {
		if total.N < 0 || total.N > 1<<31 {
			return nil, bad("a total out of range")
		}
		page.Total = int(total.N)
	}
	if company == nil {
		company = companyInfo
	}
	page.Company = company
	return page, nil
}

// errNoID reports a user without an ID, or null in place of a user.
var errNoID = errors.New("a user without an ID")

// readCompany reads a company object into *c, as encoding/json decodes
// into a pointer: null makes it nil, an object fills in what it names.
func readCompany(r *vendorhttp.Reader, c **driver.Company) error {
	if r.Kind() == 'n' {
		*c = nil
		return r.Skip()
	}
	if *c == nil {
		*c = &driver.Company{}
	}
	co := *c
	return r.Members(companyMembers, func(i int) error {
		s, err := r.String()
		*[]*string{&co.Name, &co.Address, &co.City, &co.State, &co.Zip, &co.Country}[i] = s
		return err
	})
}

// readUsers reads the Items array, appending to users. A user without an
// ID is errNoID, found after the whole array is read (as the users are
// checked after they are decoded).
func readUsers(r *vendorhttp.Reader, users []driver.User) ([]driver.User, error) {
	noID := false
	err := r.Elements(func() error {
		if r.Kind() == 'n' {
			noID = true
			return r.Skip()
		}
		var u driver.User
		var emails []string
		err := r.Members(userMembers, func(i int) error {
			var err error
			switch i {
			case 2:
				emails, err = r.Strings()
			case 6:
				u.Active, err = r.Bool()
			default:
				var s string
				s, err = r.String()
				*userField(&u, i) = s
			}
			return err
		})
		if strings.TrimSpace(u.ID) == "" {
			noID = true
		}
		u.Emails = userEmails(u.Email, emails)
		users = append(users, u)
		return err
	})
	if err == nil && noID {
		err = errNoID
	}
	return users, err
}

// userField is the string field of u that userMembers[i] fills.
func userField(u *driver.User, i int) *string {
	switch i {
	case 0:
		return &u.ID
	case 1:
		return &u.Email
	case 3:
		return &u.FirstName
	case 4:
		return &u.MiddleName
	case 5:
		return &u.LastName
	case 7:
		return &u.LoginID
	case 8:
		return &u.EmployeeID
	case 9:
		return &u.CellPhone
	case 10:
		return &u.OrganizationUnit
	}
	return &u.CountryCode
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
