package scim

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Page sizes: the default, and the largest pageSize accepts.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// The paging settings.
const (
	// PagingAuto reads /ServiceProviderConfig before the first request:
	// cursor paging (RFC 9865) where the server offers it, index paging
	// otherwise.
	PagingAuto = "auto"
	// PagingIndex pages by startIndex and count (RFC 7644 §3.4.2.4):
	// offsets both ways, pages read concurrently. The server's
	// totalResults must be the total.
	PagingIndex = "index"
	// PagingCursor pages by cursor and count (RFC 9865).
	PagingCursor = "cursor"
)

// Config is the configuration of a SCIM provider: its keys under
// providers[] in dirgate's configuration, decoded strictly.
type Config struct {
	// BaseURL is the SCIM endpoint: dirgate calls {baseURL}/Users and
	// {baseURL}/ServiceProviderConfig.
	BaseURL string `yaml:"baseURL"`
	// Token is a bearer token. Instead of it, TokenURL, ClientID,
	// ClientSecret and Scopes get tokens by OAuth 2.0 client credentials
	// (RFC 6749 §4.4, the client authenticating with HTTP Basic).
	Token        vendorhttp.Secret `yaml:"token"`
	TokenURL     string            `yaml:"tokenURL"`
	ClientID     string            `yaml:"clientID"`
	ClientSecret vendorhttp.Secret `yaml:"clientSecret"`
	Scopes       []string          `yaml:"scopes"`
	// PageSize is the count each request asks for, 1 to MaxPageSize;
	// default DefaultPageSize. A server may serve fewer.
	PageSize int `yaml:"pageSize"`
	// Paging is auto (the default), index or cursor.
	Paging string `yaml:"paging"`
	// Filters are the User fields the server is asked to filter on, by
	// their GraphQL names; dirgate applies the rest. The default is
	// active, loginId, lastName and employeeId, which the server filters
	// exactly as dirgate would (RFC 7643: case-insensitive, one value per
	// user). email may be added: it goes to emails.value, which matches
	// any of a user's emails, so add it when each user has one. An empty
	// list filters nothing on the server.
	Filters *[]string `yaml:"filters"`
	// Attributes choose, per User field, the SCIM attribute it comes
	// from, in place of the default mapping: employeeId: externalId,
	// organizationUnit: urn:…:enterprise:2.0:User:division,
	// cellPhone: phoneNumbers[type eq "work"].value.
	Attributes map[string]string `yaml:"attributes"`
	// Search sends filtered queries as POST {baseURL}/Users/.search (RFC
	// 7644 §3.4.3) rather than GET, for servers that want it.
	Search bool `yaml:"search"`
}

// defaultFilters are pushed down unless Config.Filters says otherwise.
// id is the lookups': user(id), node and nodes ask for id eq "…", one
// request per id, rather than read the directory.
var defaultFilters = []string{"active", "loginId", "lastName", "employeeId", "id"}

// pushable are the fields Filters may name.
var pushable = []string{"active", "loginId", "lastName", "employeeId", "email", "id"}

// caseExact are the attributes RFC 7643 compares with exact letter case:
// a filter on them could miss users dirgate matches ignoring case. The
// native id is the exception, since dirgate compares ids exactly too
// (driver.Filter.Match).
var caseExact = []string{"id", "externalid"}

// matchesAsDirgate reports whether the server compares a filter on field,
// which goes to path, as dirgate does.
func matchesAsDirgate(field, path string) bool {
	if field == "id" {
		return path == "id"
	}
	return path != "" && !slices.Contains(caseExact, strings.ToLower(path))
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	cfg.BaseURL = strings.TrimSuffix(strings.TrimSpace(cfg.BaseURL), "/")
	if cfg.BaseURL == "" {
		return errors.New(`missing required key "baseURL"`)
	}
	if u, err := url.Parse(cfg.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("baseURL must be an absolute http or https URL, without a query")
	}
	oauth := cfg.TokenURL != "" || cfg.ClientID != "" || !cfg.ClientSecret.IsZero() || len(cfg.Scopes) > 0
	switch {
	case !cfg.Token.IsZero() && oauth:
		return errors.New(`give either "token" or "tokenURL", "clientID" and "clientSecret", not both`)
	case !oauth && cfg.Token.IsZero():
		return errors.New(`missing required key "token" (or "tokenURL", "clientID" and "clientSecret")`)
	case oauth:
		if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("tokenURL must be an absolute http or https URL")
		}
		if strings.TrimSpace(cfg.ClientID) == "" {
			return errors.New(`missing required key "clientID"`)
		}
		if cfg.ClientSecret.IsZero() {
			return errors.New(`missing required key "clientSecret"`)
		}
	}
	if err := cfg.Token.Check("token"); err != nil {
		return err
	}
	if err := cfg.ClientSecret.Check("clientSecret"); err != nil {
		return err
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.PageSize < 1 || cfg.PageSize > MaxPageSize {
		return fmt.Errorf("pageSize must be between 1 and %d", MaxPageSize)
	}
	switch cfg.Paging = strings.ToLower(strings.TrimSpace(cfg.Paging)); cfg.Paging {
	case "":
		cfg.Paging = PagingAuto
	case PagingAuto, PagingIndex, PagingCursor:
	default:
		return fmt.Errorf("paging must be %s, %s or %s", PagingAuto, PagingIndex, PagingCursor)
	}
	m, err := cfg.mapping()
	if err != nil {
		return err
	}
	explicit := cfg.Filters != nil
	if !explicit {
		f := slices.Clone(defaultFilters)
		cfg.Filters = &f
	}
	for _, f := range *cfg.Filters {
		if !slices.Contains(pushable, f) {
			return fmt.Errorf("filters: %q is not a field a SCIM server can filter on for dirgate (want some of %s)", f, strings.Join(pushable, ", "))
		}
		if path := m.FilterPath(f); explicit && !matchesAsDirgate(f, path) {
			return fmt.Errorf("filters: %s comes from %s, which a SCIM server does not filter on as dirgate matches (exact letter case, or a value filter): leave it out", f, cfg.Attributes[f])
		}
	}
	return nil
}

// mapping returns the attribute mapping with cfg.Attributes applied.
func (cfg *Config) mapping() (*Mapping, error) {
	m := DefaultMapping()
	for field, sel := range cfg.Attributes {
		if err := m.Set(field, sel); err != nil {
			return nil, fmt.Errorf("attributes: %s: %w", field, err)
		}
	}
	return m, nil
}

// filters returns the fields pushed down: those of cfg.Filters whose
// attribute is a plain path the server compares as dirgate does.
func (cfg *Config) filters(m *Mapping) driver.FieldSet {
	var s driver.FieldSet
	for _, name := range *cfg.Filters {
		f, ok := driver.ParseField(name)
		if !ok || !matchesAsDirgate(name, m.FilterPath(name)) {
			continue
		}
		s |= driver.Fields(f)
	}
	return s
}
