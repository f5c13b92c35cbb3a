package getbill

import (
	"net/http"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Demo credentials: the demo's emulator accepts them.
const (
	demoClientID     = "demo-getbill-client"
	demoClientSecret = "demo-getbill-secret"
)

// Demo returns an emulator of users for the no-configuration demo, and
// the configuration of a provider that talks to it at base. getbill names
// no company.
func Demo(base string, users []driver.User, _ *driver.Company) (*Config, http.Handler) {
	e := NewEmulator(EmulatorOptions{ClientID: demoClientID, ClientSecret: demoClientSecret, Users: users})
	return &Config{BaseURL: base, ClientID: demoClientID, ClientSecret: vendorhttp.NewSecret(demoClientSecret)}, e
}
