package concur

import (
	"errors"
	"fmt"

	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Page sizes: the default (Concur's GA maximum), and the largest PageSize
// accepts (the pre-release doc's maximum).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Config is the configuration of a Concur Users Bulk v3.1 provider: its
// keys under providers[] in dirgate's configuration, decoded strictly.
type Config struct {
	// Auth is the company's authentication (tokenURL, clientID,
	// clientSecret, companyUUID, requestToken, tokenStore): the same keys
	// as the concur-identity kind's.
	Auth companyauth.Config `yaml:",inline"`
	// PageSize is the number of users each request asks for, 1 to
	// MaxPageSize. If Concur answers with fewer (it echoes a smaller limit,
	// or refuses one above 100), dirgate asks for that many from then on.
	PageSize int `yaml:"pageSize"`
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	errs := []error{cfg.Auth.Check()}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		errs = append(errs, fmt.Errorf("pageSize must be between 1 and %d (Concur's maximum: 100, or 1000 on the pre-release API)", MaxPageSize))
	}
	return errors.Join(errs...)
}

// Open builds a Client from dirgate's configuration and shared
// environment.
func Open(cfg *Config, env vendorhttp.Env) (driver.Provider, error) {
	return New(*cfg, &Options{HTTP: env.HTTP, Store: env.Tokens})
}
