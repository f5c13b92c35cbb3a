// Package config reads dirgate's YAML configuration.
//
// `${VAR}` inside a value is replaced from the environment; that is how
// secrets get in, without ever being written in the file. A variable that
// is unset or empty is an error, unless the reference gives a default:
// `${VAR:-default}` (`${VAR:-}` for empty). Every problem of a file is
// reported at once (see Errors), each with its key's path and line:
// unknown keys (with the nearest known key), keys that do not belong to a
// provider's kind, values of the wrong type, missing required keys,
// duplicate provider keys. No error quotes a value. DecodeStrict is the
// strict decoder, for any part of the file.
package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/providers/concur"
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
	Tracing         Tracing       `yaml:"tracing"`
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
// fills in defaults. Its error is an *Errors holding every problem of the
// file.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	return parse("", data, getenv)
}

// Load reads the configuration file at path as Parse does; its errors
// name the file.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(path, data, getenv)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

func parse(file string, data []byte, getenv func(string) string) (*Config, error) {
	fail := func(errs ...*Error) (*Config, error) {
		slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, &Errors{File: file, List: errs}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// The parser's messages say what it expected, not what it found.
		e := &Error{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Msg = strings.TrimPrefix(err.Error(), m[0])
		}
		return fail(e)
	}
	if len(doc.Content) == 0 {
		return fail(&Error{Msg: "the file is empty: it needs at least the providers key"})
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return fail(&Error{Line: root.Line, Msg: "the top level must be a mapping of keys (server, providers)"})
	}
	errs := expand(root, "", getenv)
	errs = append(errs, checkProviderKeys(root)...)
	var c Config
	if err := DecodeStrict(root, "", &c); err != nil {
		errs = append(errs, flatten("", root, err)...)
	}
	// The checks run on what did read; a key that did not read (or whose
	// variable is unset) has its error already, and no second one.
	for _, e := range flatten("", root, c.check()) {
		if !slices.ContainsFunc(errs, func(d *Error) bool { return within(e.Path, d.Path) }) {
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return fail(errs...)
	}
	return &c, nil
}

// within reports whether the key path is base or a key below it.
func within(path, base string) bool {
	return path == base || strings.HasPrefix(path, base+".") || strings.HasPrefix(path, base+"[")
}

// flatten lists the *Error values in err (joined or not), their paths
// under prefix and their lines found in the tree at root; any other error
// becomes an *Error at prefix.
func flatten(prefix string, root *yaml.Node, err error) []*Error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []*Error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(prefix, root, e)...)
		}
		return out
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Msg: err.Error()}
	} else {
		e = &Error{Path: e.Path, Line: e.Line, Msg: e.Msg}
	}
	if prefix != "" {
		e.Path = strings.TrimSuffix(prefix+"."+e.Path, ".")
	}
	if e.Line == 0 {
		e.Line = locate(root, e.Path)
	}
	return []*Error{e}
}

// checkProviderKeys refuses keys that do not belong to a provider's kind,
// which the struct decoder cannot tell.
func checkProviderKeys(root *yaml.Node) []*Error {
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "providers" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil // reported by the decoder or check
	}
	var errs []*Error
	for i, p := range list.Content {
		if p.Kind != yaml.MappingNode {
			continue // reported by the decoder
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
		kept := p.Content[:0:0]
		for j := 0; j+1 < len(p.Content); j += 2 {
			k := p.Content[j].Value
			if slices.Contains(commonKeys, k) || slices.Contains(allowed, k) {
				kept = append(kept, p.Content[j], p.Content[j+1])
				continue
			}
			msg := fmt.Sprintf("not a key of kind %s", kind)
			var others []string
			for _, other := range slices.Sorted(maps.Keys(kindKeys)) {
				if slices.Contains(kindKeys[other], k) {
					others = append(others, other)
				}
			}
			if len(others) > 0 {
				msg += fmt.Sprintf(" (it is a key of kind %s)", strings.Join(others, ", "))
			} else if s := Nearest(k, append(slices.Clone(commonKeys), allowed...)); s != "" {
				msg += fmt.Sprintf("; did you mean %s?", s)
			} else {
				msg += "; its keys are " + strings.Join(append(slices.Clone(commonKeys), allowed...), ", ")
			}
			errs = append(errs, &Error{Path: fmt.Sprintf("providers[%d].%s", i, k), Line: p.Content[j].Line, Msg: msg})
		}
		p.Content = kept // so that the decoder reports them no more
	}
	return errs
}

// check fills in defaults and reports every problem the decoder cannot
// see, each at its key's path.
func (c *Config) check() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &Error{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
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
		bad("server.maxPageSize", "must be at least 1")
	case s.DefaultPageSize < 1 || s.DefaultPageSize > s.MaxPageSize:
		bad("server.defaultPageSize", "must be between 1 and server.maxPageSize")
	}
	if n := len(s.CursorSecret); n > 0 && n < MinCursorSecret {
		bad("server.cursorSecret", "must be at least %d bytes (it has %d): make one with openssl rand -base64 32", MinCursorSecret, n)
	}
	s.checkSurface(bad)
	s.Tracing.check(bad)
	for i, o := range s.CORS.AllowedOrigins {
		if o == "*" {
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" {
			bad(fmt.Sprintf("server.cors.allowedOrigins[%d]", i), "must be an origin like https://dash.example.com")
		}
	}
	if len(c.Providers) == 0 {
		bad("providers", "missing: list at least one provider")
	}
	if n := *s.Readiness.MinProvidersUp; n < 0 || n > max(1, len(c.Providers)) {
		bad("server.readiness.minProvidersUp", "must be between 0 and the number of providers (%d)", len(c.Providers))
	}
	seen := map[string]int{}
	for i := range c.Providers {
		p := &c.Providers[i]
		where := fmt.Sprintf("providers[%d]", i)
		switch j, dup := seen[p.Key]; {
		case p.Key == "":
			bad(where+".key", "missing (required)")
		case !keyPattern.MatchString(p.Key):
			bad(where+".key", "must be lower-case letters, digits, '-' or '_', starting with a letter")
		case dup:
			bad(where+".key", "duplicate provider key (also providers[%d])", j)
		default:
			seen[p.Key] = i
		}
		if p.Name == "" {
			p.Name = p.Key
		}
		if p.Timeout < 0 {
			bad(where+".timeout", "must not be negative")
		}
		var err error
		switch p.Kind {
		case "":
			bad(where+".kind", "missing (required): concur or getbill")
		case "concur":
			err = p.checkConcur()
		case "getbill":
			err = p.checkGetbill()
		default:
			bad(where+".kind", "must be concur or getbill")
		}
		if err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				e := e.(*Error)
				e.Path = where + "." + e.Path
				errs = append(errs, e)
			}
		}
	}
	return errors.Join(errs...)
}

// MinCursorSecret is the shortest server.cursorSecret: 32 bytes, the size
// of the MAC's key.
const MinCursorSecret = 32

// problems collects *Error values with paths relative to a provider.
type problems []error

func (ps *problems) add(key, format string, args ...any) {
	*ps = append(*ps, &Error{Path: key, Msg: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error { return errors.Join(ps...) }

func missing(ps *problems, key, why string) { ps.add(key, "missing (required%s)", why) }

func (p *Provider) checkConcur() error {
	var ps problems
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
			missing(&ps, r.key, "")
		}
	}
	if p.RequestToken == "" && p.TokenStore == "" {
		missing(&ps, "requestToken", ", or a tokenStore that holds a refresh token")
	}
	if p.TokenStore != "" {
		if err := concur.CheckTokenStore(p.TokenStore); err != nil {
			ps.add("tokenStore", "%v", err)
		}
	}
	if p.PageSize < 1 || p.PageSize > 1000 {
		ps.add("pageSize", "must be between 1 and 1000 (the vendor's maximum: 100, or 1000 on the pre-release API)")
	}
	checkURL(&ps, "tokenURL", p.TokenURL)
	return ps.err()
}

func (p *Provider) checkGetbill() error {
	var ps problems
	if p.BaseURL == "" {
		p.BaseURL = DefaultGetbillBaseURL
	}
	if p.CacheTTL == 0 {
		p.CacheTTL = DefaultGetbillCacheTTL
	}
	if p.CacheTTL < 0 {
		ps.add("cacheTTL", "must not be negative")
	}
	if p.MaxStale == 0 {
		p.MaxStale = max(DefaultGetbillMaxStale, p.CacheTTL)
	}
	if p.MaxStale < p.CacheTTL {
		ps.add("maxStale", "must not be less than cacheTTL")
	}
	switch {
	case p.Token != "" && (p.ClientID != "" || p.ClientSecret != ""):
		ps.add("token", "set together with clientID/clientSecret: give a token, or client credentials, not both")
	case p.Token != "":
	case p.ClientID != "" && p.ClientSecret == "":
		missing(&ps, "clientSecret", " with clientID")
	case p.ClientSecret != "" && p.ClientID == "":
		missing(&ps, "clientID", " with clientSecret")
	case p.ClientID == "":
		missing(&ps, "token", ", or clientID and clientSecret")
	}
	checkURL(&ps, "baseURL", p.BaseURL)
	return ps.err()
}

func checkURL(ps *problems, key, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ps.add(key, "must be an http or https URL")
	}
}
