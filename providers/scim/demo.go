package scim

import (
	"net/http"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// demoToken is the bearer token the demo's emulator accepts.
const demoToken = "demo-scim-bearer-token"

// Open builds a Client from dirgate's configuration and shared
// environment.
func Open(cfg *Config, env vendorhttp.Env) (driver.Provider, error) {
	return New(*cfg, &Options{HTTP: env.HTTP})
}

// Demo returns an emulator of a SCIM 2.0 service provider serving users
// at base/scim/v2, with index and cursor paging (index by default, as RFC
// 9865 advises servers that had it), and the configuration of a provider
// that talks to it with paging auto. SCIM names no company.
func Demo(base string, users []driver.User, _ *driver.Company) (*Config, http.Handler) {
	e := NewEmulator(EmulatorOptions{
		Users: users, Base: "/scim/v2", Token: demoToken,
		Index: true, Cursor: true, DefaultPaging: PagingIndex, Search: true,
	})
	return &Config{BaseURL: base + "/scim/v2", Token: vendorhttp.NewSecret(demoToken), Paging: PagingAuto}, e
}
