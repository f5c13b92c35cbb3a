package scim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// harness wires a Client to an Emulator over loopback HTTP, with the
// suite's faults in front of it.
type harness struct {
	t      *testing.T
	opts   EmulatorOptions
	cfg    func(*Config)
	vendor *providertest.Vendor
	emu    *Emulator
}

func (h *harness) MakeProvider(_ context.Context, users []driver.User, _ *driver.Company) (driver.Provider, error) {
	o := h.opts
	o.Users, o.Base, o.Token = users, "/scim/v2", testToken
	o.ClientID, o.ClientSecret = "conformance-client", "conformance-client-secret"
	h.emu = NewEmulator(o)
	h.vendor = providertest.NewVendor(h.emu, func(r *http.Request) bool { return r.URL.Path == "/oauth/token" })
	srv := httptest.NewServer(h.vendor)
	h.t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL + "/scim/v2", Token: vendorhttp.NewSecret(testToken), PageSize: 7}
	if h.cfg != nil {
		h.cfg(&cfg)
		if cfg.Token.IsZero() {
			cfg.TokenURL = srv.URL + "/oauth/token"
		}
	}
	return New(cfg, &Options{HTTP: vendorhttp.New(vendorhttp.Options{HTTP: srv.Client()})})
}

func (h *harness) SetUsers(users []driver.User)    { h.emu.SetUsers(users) }
func (h *harness) Fault(f providertest.Fault) bool { h.vendor.SetFault(f); return true }
func (h *harness) Requests() int                   { return h.vendor.Requests() }
func (h *harness) Secrets() []string               { return []string{testToken, "conformance-client-secret"} }
func (h *harness) Close()                          { h.vendor.Release() }

// scimCarries maps a user onto what a SCIM server holds: all but the last
// activity.
func scimCarries(u driver.User) driver.User {
	u.LastActivityAt = time.Time{}
	return u
}

// loose is a server with the quirks the contract allows a vendor: it
// serves at most 5 users a request (and the provider is configured so: the
// suite checks that the adapter asks for the page size asked of it;
// TestClientQuirks checks one that asks for more), leaves itemsPerPage,
// startIndex and an empty page's Resources out, marks no email primary and
// writes names in odd case. A server whose totalResults is missing or
// counts only the page breaks the suite's rule that a vendor described
// with totals always gives them: the adapter answers -1 for those, and the
// portable layer counts by reading; TestClientQuirks and the
// merged-connection suite (TestSCIMQuirks, in the root package) check
// that no user is lost or repeated and that totalCount is right.
var loose = Quirks{
	CapCount: 5, NoItemsPerPage: true, NoStartIndex: true, NoResourcesWhenEmpty: true,
	NoPrimaryEmail: true, OddCase: true,
}

func pageSize(n int) func(*Config) { return func(c *Config) { c.PageSize = n } }

// TestConformance runs the conformance suite over real HTTP: paging auto
// against servers that page by index, by cursor, or both; paging index
// and cursor set by hand; a loose server; OAuth client credentials.
func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts EmulatorOptions
		cfg  func(*Config)
	}{
		{"auto/index server", EmulatorOptions{Index: true}, nil},
		{"auto/cursor server", EmulatorOptions{Cursor: true, StrictCursorCount: true}, nil},
		{"index/both", EmulatorOptions{Index: true, Cursor: true}, func(c *Config) { c.Paging = PagingIndex }},
		{"cursor/both", EmulatorOptions{Index: true, Cursor: true}, func(c *Config) { c.Paging = PagingCursor }},
		{"auto/loose index server", EmulatorOptions{Index: true, Quirks: loose}, pageSize(5)},
		{"auto/loose cursor server", EmulatorOptions{Cursor: true, Quirks: loose}, pageSize(5)},
		{"client credentials, search", EmulatorOptions{Index: true, Cursor: true, Search: true}, func(c *Config) {
			c.Token, c.ClientID, c.ClientSecret = vendorhttp.Secret{}, "conformance-client", vendorhttp.NewSecret("conformance-client-secret")
			c.Search = true
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			providertest.Run(t, func(_ context.Context, t *testing.T) (providertest.Harness, error) {
				return &harness{t: t, opts: tt.opts, cfg: tt.cfg}, nil
			}, &providertest.Options{Carries: scimCarries, NoCompany: true})
		})
	}
}
