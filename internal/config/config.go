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
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dirgate/dirgate/providers/kinds"
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

// Provider configures one directory: the keys every provider has, and its
// kind's own keys, decoded into the kind's configuration.
type Provider struct {
	Key  string `yaml:"key"`
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
	// Timeout bounds each request to the vendor.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrency caps the provider's vendor requests in flight, across
	// every request dirgate serves.
	MaxConcurrency int `yaml:"maxConcurrency"`
	// MaxResponseBytes is the most one vendor answer may hold; the answer
	// to a request for n users may hold less (4 KiB a user, at least 64
	// KiB).
	MaxResponseBytes int64 `yaml:"maxResponseBytes"`
	// CacheTTL and MaxStale apply to kinds whose directory is read whole:
	// how long one read is reused, and the oldest copy served when a
	// refresh fails or is held back by the rate limit.
	CacheTTL time.Duration `yaml:"cacheTTL"`
	MaxStale time.Duration `yaml:"maxStale"`

	// Settings is the kind's configuration, from the provider's other
	// keys.
	Settings kinds.Config `yaml:"-"`
}

// Defaults.
const (
	DefaultAddr             = "127.0.0.1:8080"
	DefaultPageSize         = 50
	DefaultMaxPageSize      = 1000
	DefaultCacheTTL         = 60 * time.Second
	DefaultMaxStale         = 15 * time.Minute
	DefaultMaxConcurrency   = 8
	DefaultMaxResponseBytes = 32 << 20
)

// commonKeys are the keys every provider has; the others belong to its
// kind. cacheKeys apply to whole-directory kinds only.
var (
	commonKeys = []string{"key", "kind", "name", "timeout", "maxConcurrency", "maxResponseBytes", "cacheTTL", "maxStale"}
	cacheKeys  = []string{"cacheTTL", "maxStale"}
)

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
	own, err := splitProviderKeys(doc.Content[0])
	if err != nil {
		return nil, err
	}
	var c Config
	if err := decodeStrict(&doc, &c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := c.check(own); err != nil {
		return nil, err
	}
	return &c, nil
}

// decodeStrict decodes node into v: unknown keys are errors, and errors
// name keys and types, never values. It is the one place a configuration
// node is decoded.
func decodeStrict(node *yaml.Node, v any) error {
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(node); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return scrub(err)
	}
	return nil
}

var (
	quotedValue = regexp.MustCompile("`[^`]*`")
	lineRef     = regexp.MustCompile(`line \d+: `)
	unknownKey  = regexp.MustCompile(`field (\S+) not found in type \S+`)
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
		m = unknownKey.ReplaceAllString(m, `unknown key "$1"`)
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

// splitProviderKeys takes each provider's own keys (those of its kind) out
// of the document, so that the document decodes strictly into Config and
// each provider's keys into its kind's configuration. It returns them per
// provider, as mappings.
func splitProviderKeys(root *yaml.Node) ([]*yaml.Node, error) {
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("config: the top level must be a mapping")
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "providers" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, nil // reported by check
	}
	own := make([]*yaml.Node, len(list.Content))
	for i, p := range list.Content {
		if p.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("config: providers[%d] must be a mapping", i)
		}
		own[i] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		var common []*yaml.Node
		for j := 0; j+1 < len(p.Content); j += 2 {
			if slices.Contains(commonKeys, p.Content[j].Value) {
				common = append(common, p.Content[j], p.Content[j+1])
			} else {
				own[i].Content = append(own[i].Content, p.Content[j], p.Content[j+1])
			}
		}
		p.Content = common
	}
	return own, nil
}

func (c *Config) check(own []*yaml.Node) error {
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
		if err := p.checkKind(own[i]); err != nil {
			return fmt.Errorf("config: %s: %w", where, err)
		}
	}
	return nil
}

func missing(key string) error { return fmt.Errorf("missing required key %q", key) }

// checkKind decodes the provider's own keys into its kind's configuration
// and checks it, and applies the defaults of the keys every provider has.
func (p *Provider) checkKind(own *yaml.Node) error {
	if p.Kind == "" {
		return missing("kind")
	}
	k, ok := kinds.Lookup(p.Kind)
	if !ok {
		return fmt.Errorf("kind %q is not one of %s", p.Kind, kinds.Names())
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultMaxConcurrency
	}
	if p.MaxResponseBytes == 0 {
		p.MaxResponseBytes = DefaultMaxResponseBytes
	}
	switch {
	case p.MaxConcurrency < 1 || p.MaxConcurrency > 256:
		return errors.New("maxConcurrency must be between 1 and 256")
	case p.MaxResponseBytes < 64<<10:
		return errors.New("maxResponseBytes must be at least 65536")
	}
	if k.Whole {
		if err := p.checkCache(); err != nil {
			return err
		}
	} else if p.CacheTTL != 0 || p.MaxStale != 0 {
		key := cacheKeys[0]
		if p.CacheTTL == 0 {
			key = cacheKeys[1]
		}
		return fmt.Errorf("unknown key %q: it applies to kinds whose directory is read whole", key)
	}
	p.Settings = k.NewConfig()
	if own != nil && len(own.Content) > 0 {
		if err := decodeStrict(own, p.Settings); err != nil {
			return fmt.Errorf("kind %s: %w", p.Kind, err)
		}
	}
	return p.Settings.Check()
}

// checkCache applies the cache keys' defaults and checks them.
func (p *Provider) checkCache() error {
	if p.CacheTTL == 0 {
		p.CacheTTL = DefaultCacheTTL
	}
	if p.CacheTTL < 0 {
		return errors.New("cacheTTL must not be negative")
	}
	if p.MaxStale == 0 {
		p.MaxStale = max(DefaultMaxStale, p.CacheTTL)
	}
	if p.MaxStale < p.CacheTTL {
		return errors.New("maxStale must not be less than cacheTTL")
	}
	return nil
}
