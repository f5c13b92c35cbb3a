package concur

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// DefaultTokenURL is where third-party partners must request company
// tokens since March 2025 (the Global Landing Zone).
const DefaultTokenURL = "https://glz.api.concursolutions.com/oauth2/v0/token"

// Page sizes: the default (Concur's GA maximum), and the largest PageSize
// accepts (the pre-release doc's maximum).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// Config is the configuration of a Concur Users Bulk v3.1 provider: its
// keys under providers[] in dirgate's configuration, decoded strictly.
type Config struct {
	// TokenURL is the token endpoint of the password grant. Refresh grants
	// and API calls go to the geolocation the token service returns.
	TokenURL string `yaml:"tokenURL"`
	// ClientID and ClientSecret are the app's credentials (App
	// Management).
	ClientID     string            `yaml:"clientID"`
	ClientSecret vendorhttp.Secret `yaml:"clientSecret"`
	// CompanyUUID and RequestToken come from the Company Request Token
	// tool or an App Center connection. The request token is valid for 24
	// hours; after the first login the refresh token takes over.
	CompanyUUID  string            `yaml:"companyUUID"`
	RequestToken vendorhttp.Secret `yaml:"requestToken"`
	// TokenStore is a file where the refresh token, its expiry and the
	// geolocation are kept across restarts (JSON, mode 0600). Without it
	// every start needs a valid request token.
	TokenStore string `yaml:"tokenStore"`
	// PageSize is the number of users each request asks for, 1 to
	// MaxPageSize. If Concur answers with fewer (it echoes a smaller limit,
	// or refuses one above 100), dirgate asks for that many from then on.
	PageSize int `yaml:"pageSize"`
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("tokenURL must be an absolute http or https URL")
	}
	for _, f := range []struct{ key, value string }{
		{"clientID", cfg.ClientID}, {"clientSecret", cfg.ClientSecret.Reveal()}, {"companyUUID", cfg.CompanyUUID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("missing required key %q", f.key)
		}
	}
	if cfg.RequestToken.IsZero() && cfg.TokenStore == "" {
		return errors.New(`missing required key "requestToken" (or a "tokenStore" that holds a refresh token)`)
	}
	if err := cfg.ClientSecret.Check("clientSecret"); err != nil {
		return err
	}
	if err := cfg.RequestToken.Check("requestToken"); err != nil {
		return err
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return fmt.Errorf("pageSize must be between 1 and %d (Concur's maximum: 100, or 1000 on the pre-release API)", MaxPageSize)
	}
	return nil
}

// Open builds a Client from dirgate's configuration and shared
// environment.
func Open(cfg *Config, env vendorhttp.Env) (driver.Provider, error) {
	return New(*cfg, &Options{HTTP: env.HTTP, Store: env.Tokens})
}
