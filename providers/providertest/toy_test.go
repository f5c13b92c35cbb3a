package providertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// A toy vendor and its adapter, to test the suite with: the vendor pages
// by offset with a total, takes an API key, and filters on the fields it
// is told to; the adapter can be given one planted defect.

const toyKey = "hunter2-toy-api-key"

// toyVendor is the vendor's API: GET /users?offset=&limit=&<field>=.
type toyVendor struct {
	filters driver.FieldSet
	company *driver.Company

	mu    sync.Mutex
	users []driver.User
}

type toyAnswer struct {
	Total   int              `json:"total"`
	Company *driver.Company  `json:"company,omitempty"`
	Users   []map[string]any `json:"users"`
}

func (v *toyVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Api-Key") != toyKey {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	var f driver.Filter
	for field := range v.filters.All() {
		if val, ok := q[field.String()]; ok {
			f = f.With(field, val[0])
		}
	}
	v.mu.Lock()
	var matched []driver.User
	for i := range v.users {
		if f.Match(&v.users[i]) {
			matched = append(matched, v.users[i])
		}
	}
	v.mu.Unlock()
	ans := toyAnswer{Total: len(matched), Company: v.company, Users: []map[string]any{}}
	for _, u := range matched[min(offset, len(matched)):min(offset+limit, len(matched))] {
		m := map[string]any{}
		for field := range driver.AllFields.All() {
			m[field.String()] = field.Value(&u)
		}
		ans.Users = append(ans.Users, m)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(ans)
}

// Planted defects.
const (
	defectUnlockedMap = "unlocked map"
	defectIgnoredCtx  = "ignored ctx"
	defectNoCompany   = "dropped company"
	defectSecret      = "secret in an error"
	defect503Final    = "503 classified final"
	defectWrongTotal  = "wrong total"
)

// toy is the adapter.
type toy struct {
	base    string
	key     vendorhttp.Secret
	http    *vendorhttp.Client
	filters driver.FieldSet
	defect  string

	mu   sync.Mutex
	seen map[string]int // how often each user was listed (a "cache")
}

func (c *toy) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, MaxPageSize: 10, Totals: true, Filters: c.filters}
}

func (c *toy) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	q := url.Values{"offset": {strconv.Itoa(req.Offset)}, "limit": {strconv.Itoa(req.Limit)}}
	for field, v := range req.Filter.All() {
		q.Set(field.String(), v)
	}
	rctx := ctx
	if c.defect == defectIgnoredCtx {
		rctx = context.Background()
	}
	r, err := http.NewRequestWithContext(rctx, http.MethodGet, c.base+"/users?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	r.Header.Set("X-Api-Key", c.key.Reveal())
	var page *driver.ListPage
	err = c.http.Do(rctx, r, c.http.Limit(req.Limit), func(resp *vendorhttp.Response) error {
		if resp.Status != http.StatusOK {
			err := vendorhttp.StatusError(resp.Status, resp.Header, c.http.Now())
			switch {
			case c.defect == defect503Final && resp.Status == http.StatusServiceUnavailable:
				return fmt.Errorf("%w: HTTP 503", driver.ErrUnavailable)
			case c.defect == defectSecret:
				return fmt.Errorf("%w: boom: secret=%s", err, c.key.Reveal())
			}
			return err
		}
		var ans struct {
			Total   int                 `json:"total"`
			Company *driver.Company     `json:"company"`
			Users   []map[string]string `json:"users"`
		}
		if json.Unmarshal(resp.Body, &ans) != nil {
			return fmt.Errorf("%w: not the toy's JSON", driver.ErrBadResponse)
		}
		page = &driver.ListPage{Total: ans.Total, Company: ans.Company}
		for _, m := range ans.Users {
			var u driver.User
			for k, v := range m {
				if f, ok := driver.ParseField(k); ok {
					f.Set(&u, v)
				}
			}
			page.Users = append(page.Users, u)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("toy: %w", err)
	}
	switch c.defect {
	case defectUnlockedMap:
		for _, u := range page.Users {
			c.seen[u.ID]++
		}
	case defectNoCompany:
		page.Company = nil
	case defectWrongTotal:
		page.Total++
	default:
		c.mu.Lock()
		for _, u := range page.Users {
			c.seen[u.ID]++
		}
		c.mu.Unlock()
	}
	return page, nil
}

// toyHarness wires the toy adapter to the toy vendor over loopback.
type toyHarness struct {
	t       *testing.T
	filters driver.FieldSet
	defect  string
	vendor  *toyVendor
	faults  *providertest.Vendor
}

func (h *toyHarness) MakeProvider(_ context.Context, users []driver.User, company *driver.Company) (driver.Provider, error) {
	h.vendor = &toyVendor{filters: h.filters, company: company, users: slices.Clone(users)}
	h.faults = providertest.NewVendor(h.vendor, func(*http.Request) bool { return false })
	srv := httptest.NewServer(h.faults)
	h.t.Cleanup(srv.Close)
	return &toy{
		base: srv.URL, key: vendorhttp.NewSecret(toyKey), filters: h.filters, defect: h.defect,
		http: vendorhttp.New(vendorhttp.Options{HTTP: srv.Client()}), seen: map[string]int{},
	}, nil
}

func (h *toyHarness) SetUsers(users []driver.User) {
	h.vendor.mu.Lock()
	h.vendor.users = slices.Clone(users)
	h.vendor.mu.Unlock()
}

func (h *toyHarness) Fault(f providertest.Fault) bool { h.faults.SetFault(f); return true }
func (h *toyHarness) Requests() int                   { return h.faults.Requests() }
func (h *toyHarness) Secrets() []string               { return []string{toyKey} }
func (h *toyHarness) Close()                          { h.faults.Release() }

func toyMaker(filters driver.FieldSet, defect string) providertest.HarnessMaker {
	return func(_ context.Context, t *testing.T) (providertest.Harness, error) {
		return &toyHarness{t: t, filters: filters, defect: defect}, nil
	}
}
