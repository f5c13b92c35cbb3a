// Package config reads dirgate's YAML configuration.
//
// `${VAR}` inside a value is replaced from the environment (an unset
// variable becomes empty); that is how secrets get in, without ever being
// written in the file. Unknown keys, keys that do not belong to a
// provider's kind, missing required keys and duplicate provider keys are
// errors that name the key, and never quote a value.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole configuration.
type Config struct {
	Server    Server     `yaml:"server"`
	Providers []Provider `yaml:"providers"`
	// Now is the clock of the providers' caches; nil means time.Now. It is
	// never read from the file: tests set it.
	Now func() time.Time `yaml:"-"`
}

// Server configures the HTTP server and the GraphQL API.
type Server struct {
	Addr string `yaml:"addr"`
	CORS struct {
		AllowedOrigins []string `yaml:"allowedOrigins"`
	} `yaml:"cors"`
	// DefaultPageSize is the size of a `users` page asked for without first
	// or last; MaxPageSize the largest first or last allowed.
	DefaultPageSize int `yaml:"defaultPageSize"`
	MaxPageSize     int `yaml:"maxPageSize"`
	// CursorSecret keys the MAC of cursors. Instances behind one load
	// balancer, or a restarted instance, accept each other's cursors only
	// when they share it; when empty, a random key is made at start-up.
	CursorSecret string `yaml:"cursorSecret"`

	// The production surface; see surface.go.
	Auth Auth `yaml:"auth"`
	// Introspection turns on schema introspection (off by default).
	Introspection bool       `yaml:"introspection"`
	Playground    Playground `yaml:"playground"`
	Limits        Limits     `yaml:"limits"`
	// RequestTimeout bounds each GraphQL request; vendor calls made for it
	// inherit the deadline. ShutdownTimeout bounds how long in-flight
	// requests may take to finish once dirgate is told to stop.
	RequestTimeout  time.Duration `yaml:"requestTimeout"`
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	Readiness       Readiness     `yaml:"readiness"`
	Log             Log           `yaml:"log"`
	APQ             APQ           `yaml:"apq"`
	// SchemaSDL serves the schema as SDL at /schema.graphql, to callers
	// of /query, even while introspection is off; it is served whenever
	// introspection is on.
	SchemaSDL bool `yaml:"schemaSDL"`
	// CacheControl is the Cache-Control header of every /query answer:
	// "no-store" (the default) or "private, no-store".
	CacheControl string `yaml:"cacheControl"`
}

// Provider configures one directory. Which keys apply depends on Kind.
type Provider struct {
	Key  string `yaml:"key"`
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
	// Timeout bounds each call to the provider.
	Timeout time.Duration `yaml:"timeout"`

	// Concur.
	TokenURL     string `yaml:"tokenURL"`
	CompanyUUID  string `yaml:"companyUUID"`
	RequestToken string `yaml:"requestToken"`
	TokenStore   string `yaml:"tokenStore"`
	PageSize     int    `yaml:"pageSize"`

	// getbill.
	BaseURL  string        `yaml:"baseURL"`
	Token    string        `yaml:"token"`
	CacheTTL time.Duration `yaml:"cacheTTL"`
	// MaxStale bounds the age of the cached directory served when a
	// refresh fails or is held back by the rate limit.
	MaxStale time.Duration `yaml:"maxStale"`

	// Both.
	ClientID     string `yaml:"clientID"`
	ClientSecret string `yaml:"clientSecret"`
}

// Defaults.
const (
	DefaultAddr            = "127.0.0.1:8080"
	DefaultPageSize        = 50
	DefaultMaxPageSize     = 1000
	DefaultConcurTokenURL  = "https://glz.api.concursolutions.com/oauth2/v0/token"
	DefaultConcurPageSize  = 100
	DefaultGetbillBaseURL  = "https://getbill.io"
	DefaultGetbillCacheTTL = 60 * time.Second
	DefaultGetbillMaxStale = 15 * time.Minute
)

// Kinds of provider, and the keys each accepts besides key, kind, name and
// timeout.
var kindKeys = map[string][]string{
	"concur":  {"tokenURL", "clientID", "clientSecret", "companyUUID", "requestToken", "tokenStore", "pageSize"},
	"getbill": {"baseURL", "token", "clientID", "clientSecret", "cacheTTL", "maxStale"},
}

var commonKeys = []string{"key", "kind", "name", "timeout"}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// Parse reads a configuration, expanding ${VAR} with getenv, checks it and
// fills in defaults.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(doc.Content) == 0 {
		return nil, errors.New("config: empty file")
	}
	expand(&doc, getenv)
	if err := checkProviderKeys(doc.Content[0]); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(&doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", scrub(err))
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

var (
	quotedValue = regexp.MustCompile("`[^`]*`")
	lineRef     = regexp.MustCompile(`line \d+: `)
)

// scrub rewrites the decoder's type errors so that they name the key and
// the type it wants but not the value, which may be a secret from the
// environment, nor a line number, which is the line of the expanded
// document, not of the file.
func scrub(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = lineRef.ReplaceAllString(quotedValue.ReplaceAllString(m, "a value"), "")
	}
	return errors.New(strings.Join(msgs, "; "))
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in every scalar value (not in keys, so the
// environment cannot add structure).
func expand(n *yaml.Node, getenv func(string) string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "${") {
			n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
				return getenv(ref[2 : len(ref)-1])
			})
			// Let the value take the type its field wants (a port, a
			// page size, a duration), except a value YAML would read as
			// null, which stays the string it is.
			n.Tag, n.Style = "", 0
			switch n.Value {
			case "", "~", "null", "Null", "NULL":
				n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
			}
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			expand(n.Content[i], getenv)
		}
	default:
		for _, c := range n.Content {
			expand(c, getenv)
		}
	}
}

// checkProviderKeys refuses keys that do not belong to a provider's kind,
// which the struct decoder cannot tell.
func checkProviderKeys(root *yaml.Node) error {
	if root.Kind != yaml.MappingNode {
		return errors.New("config: the top level must be a mapping")
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "providers" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil // reported by check
	}
	for i, p := range list.Content {
		if p.Kind != yaml.MappingNode {
			return fmt.Errorf("config: providers[%d] must be a mapping", i)
		}
		kind := ""
		for j := 0; j+1 < len(p.Content); j += 2 {
			if p.Content[j].Value == "kind" {
				kind = p.Content[j+1].Value
			}
		}
		allowed, ok := kindKeys[kind]
		if !ok {
			continue // reported by check
		}
		for j := 0; j < len(p.Content); j += 2 {
			k := p.Content[j].Value
			if !slices.Contains(commonKeys, k) && !slices.Contains(allowed, k) {
				return fmt.Errorf("config: providers[%d] (kind %s): unknown key %q (line %d)", i, kind, k, p.Content[j].Line)
			}
		}
	}
	return nil
}

func (c *Config) check() error {
	s := &c.Server
	if s.Addr == "" {
		s.Addr = DefaultAddr
	}
	if s.MaxPageSize == 0 {
		s.MaxPageSize = DefaultMaxPageSize
	}
	if s.DefaultPageSize == 0 {
		s.DefaultPageSize = min(DefaultPageSize, s.MaxPageSize)
	}
	switch {
	case s.MaxPageSize < 1:
		return errors.New("config: server.maxPageSize must be at least 1")
	case s.DefaultPageSize < 1 || s.DefaultPageSize > s.MaxPageSize:
		return errors.New("config: server.defaultPageSize must be between 1 and server.maxPageSize")
	}
	if err := s.checkSurface(); err != nil {
		return err
	}
	for i, o := range s.CORS.AllowedOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			return fmt.Errorf("config: server.cors.allowedOrigins[%d] must be an origin like https://dash.example.com", i)
		}
	}
	if len(c.Providers) == 0 {
		return errors.New("config: missing required key \"providers\" (at least one)")
	}
	seen := map[string]int{}
	for i := range c.Providers {
		p := &c.Providers[i]
		where := fmt.Sprintf("providers[%d]", i)
		if p.Key == "" {
			return fmt.Errorf("config: %s: missing required key \"key\"", where)
		}
		if !keyPattern.MatchString(p.Key) {
			return fmt.Errorf("config: %s: key %q must be lower-case letters, digits, '-' or '_', starting with a letter", where, p.Key)
		}
		if j, dup := seen[p.Key]; dup {
			return fmt.Errorf("config: %s: duplicate provider key %q (also providers[%d])", where, p.Key, j)
		}
		seen[p.Key] = i
		where = fmt.Sprintf("providers[%d] (%s)", i, p.Key)
		if p.Name == "" {
			p.Name = p.Key
		}
		if p.Timeout < 0 {
			return fmt.Errorf("config: %s: timeout must not be negative", where)
		}
		var err error
		switch p.Kind {
		case "":
			err = missing("kind")
		case "concur":
			err = p.checkConcur()
		case "getbill":
			err = p.checkGetbill()
		default:
			err = fmt.Errorf("kind %q is not one of concur, getbill", p.Kind)
		}
		if err != nil {
			return fmt.Errorf("config: %s: %w", where, err)
		}
	}
	return nil
}

func missing(key string) error { return fmt.Errorf("missing required key %q", key) }

func (p *Provider) checkConcur() error {
	if p.TokenURL == "" {
		p.TokenURL = DefaultConcurTokenURL
	}
	if p.PageSize == 0 {
		p.PageSize = DefaultConcurPageSize
	}
	for _, r := range []struct{ key, v string }{
		{"clientID", p.ClientID}, {"clientSecret", p.ClientSecret}, {"companyUUID", p.CompanyUUID},
	} {
		if r.v == "" {
			return missing(r.key)
		}
	}
	if p.RequestToken == "" && p.TokenStore == "" {
		return errors.New("missing required key \"requestToken\" (or a \"tokenStore\" that holds a refresh token)")
	}
	if p.PageSize < 1 || p.PageSize > 1000 {
		return errors.New("pageSize must be between 1 and 1000 (the vendor's maximum: 100, or 1000 on the pre-release API)")
	}
	return checkURL("tokenURL", p.TokenURL)
}

func (p *Provider) checkGetbill() error {
	if p.BaseURL == "" {
		p.BaseURL = DefaultGetbillBaseURL
	}
	if p.CacheTTL == 0 {
		p.CacheTTL = DefaultGetbillCacheTTL
	}
	if p.CacheTTL < 0 {
		return errors.New("cacheTTL must not be negative")
	}
	if p.MaxStale == 0 {
		p.MaxStale = max(DefaultGetbillMaxStale, p.CacheTTL)
	}
	if p.MaxStale < p.CacheTTL {
		return errors.New("maxStale must not be less than cacheTTL")
	}
	if p.Token == "" && (p.ClientID == "" || p.ClientSecret == "") {
		switch {
		case p.ClientID != "":
			return missing("clientSecret")
		case p.ClientSecret != "":
			return missing("clientID")
		}
		return errors.New("missing required key \"token\" (or \"clientID\" and \"clientSecret\")")
	}
	return checkURL("baseURL", p.BaseURL)
}

func checkURL(key, v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%s must be an http or https URL", key)
	}
	return nil
}
