package identity

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Config is the configuration of a concur-identity provider: its keys
// under providers[] in dirgate's configuration, decoded strictly. They are
// the keys of the concur kind.
type Config struct {
	// Auth is the company's authentication (tokenURL, clientID,
	// clientSecret, companyUUID, requestToken, tokenStore), as for the
	// concur kind.
	Auth companyauth.Config `yaml:",inline"`
	// PageSize is the count each request asks for, 1 to MaxCount; default
	// DefaultPageSize.
	PageSize int `yaml:"pageSize"`
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	errs := []error{cfg.Auth.Check()}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxCount {
		errs = append(errs, fmt.Errorf("pageSize must be between 1 and %d", MaxCount))
	}
	return errors.Join(errs...)
}

// Options are a Client's shared dependencies, those of its company
// authentication; nil means the defaults.
type Options = companyauth.Options

// New returns a Client for cfg, which it checks. It does no I/O: the first
// token is fetched on the first call.
func New(cfg Config, opts *Options) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("concur identity: %w", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.HTTP == nil {
		o.HTTP = vendorhttp.New(vendorhttp.Options{})
	}
	return &Client{auth: companyauth.New(cfg.Auth, &o), http: o.HTTP, pageSize: cfg.PageSize, mapping: concurMapping()}, nil
}

// Open builds a Client from dirgate's configuration and shared
// environment.
func Open(cfg *Config, env vendorhttp.Env) (driver.Provider, error) {
	return New(*cfg, &Options{HTTP: env.HTTP, Store: env.Tokens})
}

// Demo returns, for the no-configuration demo, an emulator of Concur's
// token service and Identity v4.1 serving users, and the configuration of
// a provider that talks to it at base: the demo company's, with the
// credentials of the concur kind's demo.
func Demo(base string, users []driver.User, company *driver.Company) (*Config, http.Handler) {
	auth := concur.DemoAuth(base)
	ce := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: auth.ClientID, ClientSecret: auth.ClientSecret.Reveal(), CompanyUUID: auth.CompanyUUID,
		RequestToken: auth.RequestToken.Reveal(), Company: company,
	})
	name := ""
	if company != nil {
		name = company.Name
	}
	e := NewEmulator(EmulatorOptions{Concur: ce, CompanyUUID: auth.CompanyUUID, CompanyName: name, Users: users})
	return &Config{Auth: auth, PageSize: DefaultPageSize}, e
}
