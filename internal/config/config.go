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
// strict decoder, for any part of the file: each provider's own keys are
// decoded with it into its kind's configuration.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dirgate/dirgate/providers/kinds"
)

// Config is the whole configuration.
type Config struct {
	Server    Server     `yaml:"server"`
	Providers []Provider `yaml:"providers"`
	Redis     Redis      `yaml:"redis"`
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
	CacheControl string  `yaml:"cacheControl"`
	Tracing      Tracing `yaml:"tracing"`
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
	own := splitProviderKeys(root)
	var c Config
	if err := DecodeStrict(root, "", &c); err != nil {
		errs = append(errs, flatten("", root, err)...)
	}
	for i := range c.Providers {
		if i < len(own) {
			errs = append(errs, c.Providers[i].decodeKind(fmt.Sprintf("providers[%d]", i), own[i])...)
		}
	}
	// The checks run on what did read; a key that did not read (or whose
	// variable is unset) has its error already, and no second one.
	for _, e := range flatten("", root, c.check(root, own)) {
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
	if errors.As(err, &e) {
		e = &Error{Path: e.Path, Line: e.Line, Msg: e.Msg}
	} else {
		e = &Error{Msg: err.Error()}
	}
	if prefix != "" {
		e.Path = strings.TrimSuffix(prefix+"."+e.Path, ".")
	}
	if e.Line == 0 {
		e.Line = locate(root, e.Path)
	}
	return []*Error{e}
}

// kindError places an error of a kind's check (errs name the key in
// their text: "pageSize must be …", `missing required key "clientID"`)
// at that key of the provider at where, when its own keys (own) have it,
// else at the provider (at line).
func kindError(where string, line int, own *yaml.Node, err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, kindError(where, line, own, e)...)
		}
		return out
	}
	e := &Error{Path: where, Line: line, Msg: err.Error()}
	var ce *Error
	if errors.As(err, &ce) {
		e.Msg = ce.Msg
		if ce.Path != "" {
			e.Path = where + "." + ce.Path
		}
	}
	if e.Path == where {
		line := func(key string) int {
			for i := 0; own != nil && i+1 < len(own.Content); i += 2 {
				if own.Content[i].Value == key {
					return own.Content[i].Line
				}
			}
			return 0
		}
		if m := quotedKey.FindStringSubmatch(e.Msg); m != nil {
			e.Path = where + "." + m[1]
			e.Line = cmp.Or(line(m[1]), e.Line)
			e.Msg = strings.Replace(e.Msg, "missing required "+m[0], "missing, but required", 1)
		} else if m := leadingKey.FindStringSubmatch(e.Msg); m != nil && line(m[1]) > 0 {
			e.Path, e.Line, e.Msg = where+"."+m[1], line(m[1]), strings.TrimPrefix(e.Msg, m[0])
		}
	}
	return []error{e}
}

// The key an error of a kind's check is about: the key it quotes, or the
// word it begins with.
var (
	quotedKey  = regexp.MustCompile(`key "([A-Za-z0-9]+)"`)
	leadingKey = regexp.MustCompile(`^([a-z][A-Za-z0-9]*):? `)
)

// splitProviderKeys takes each provider's own keys (those of its kind) out
// of the document, so that the document decodes strictly into Config and
// each provider's keys into its kind's configuration. It returns them per
// provider, as a mapping of the file's own nodes (so their lines stay
// right).
func splitProviderKeys(root *yaml.Node) []*yaml.Node {
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "providers" {
			list = root.Content[i+1]
		}
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil // reported by the decoder or check
	}
	var own []*yaml.Node
	for _, p := range list.Content {
		o := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: p.Line, Column: p.Column}
		if p.Kind == yaml.MappingNode {
			var common []*yaml.Node
			for j := 0; j+1 < len(p.Content); j += 2 {
				if slices.Contains(commonKeys, p.Content[j].Value) {
					common = append(common, p.Content[j], p.Content[j+1])
				} else {
					o.Content = append(o.Content, p.Content[j], p.Content[j+1])
				}
			}
			p.Content = common
		}
		own = append(own, o)
	}
	return own
}

// decodeKind decodes the provider's own keys into its kind's
// configuration (p.Settings), where path is the provider's.
func (p *Provider) decodeKind(path string, own *yaml.Node) []*Error {
	k, ok := kinds.Lookup(p.Kind)
	if !ok {
		return nil // reported by check
	}
	p.Settings = k.NewConfig()
	if own == nil || len(own.Content) == 0 {
		return nil
	}
	var errs []*Error
	for _, e := range flatten("", own, DecodeStrict(own, path, p.Settings)) {
		if key, ok := strings.CutPrefix(e.Path, path+"."); ok && !strings.ContainsAny(key, ".[") && strings.HasPrefix(e.Msg, "unknown key") {
			e.Msg = notOfKind(key, p.Kind, k.NewConfig())
		}
		errs = append(errs, e)
	}
	return errs
}

// notOfKind says that key is not one of kind's, and what it may be.
func notOfKind(key, kind string, cfg kinds.Config) string {
	msg := "not a key of kind " + kind
	var others []string
	for _, k := range kinds.All() {
		if keys, _ := fields(reflect.TypeOf(k.NewConfig()).Elem()); k.Name != kind && keys[key].index != nil {
			others = append(others, k.Name)
		}
	}
	_, own := fields(reflect.TypeOf(cfg).Elem())
	known := append(slices.Clone(commonKeys), own...)
	switch {
	case len(others) > 0:
		return msg + " (it is a key of kind " + strings.Join(others, ", ") + ")"
	case Nearest(key, known) != "":
		return msg + "; did you mean " + Nearest(key, known) + "?"
	}
	return msg + "; its keys are " + strings.Join(known, ", ")
}

// check fills in defaults and reports every problem the decoder cannot
// see, each at its key's path; own are the providers' own keys (root no
// longer holds them).
func (c *Config) check(root *yaml.Node, own []*yaml.Node) error {
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
	c.checkRedis(bad)
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
		if err := p.checkKind(bad, where); err != nil {
			var o *yaml.Node
			if i < len(own) {
				o = own[i]
			}
			errs = append(errs, kindError(where, locate(root, where), o, err)...)
		}
	}
	return errors.Join(errs...)
}

// MinCursorSecret is the shortest server.cursorSecret: 32 bytes, the size
// of the MAC's key.
const MinCursorSecret = 32

// checkKind checks the provider's kind and its configuration (decoded by
// decodeKind), and applies the defaults of the keys every provider has.
// Problems with the keys every provider has go to bad; the kind's own
// check's error is returned, for flatten to place.
func (p *Provider) checkKind(bad func(path, format string, args ...any), where string) error {
	if p.Kind == "" {
		bad(where+".kind", "missing (required): one of %s", kinds.Names())
		return nil
	}
	k, ok := kinds.Lookup(p.Kind)
	if !ok {
		bad(where+".kind", "must be one of %s", kinds.Names())
		return nil
	}
	if p.MaxConcurrency == 0 {
		p.MaxConcurrency = DefaultMaxConcurrency
	}
	if p.MaxResponseBytes == 0 {
		p.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if p.MaxConcurrency < 1 || p.MaxConcurrency > 256 {
		bad(where+".maxConcurrency", "must be between 1 and 256")
	}
	if p.MaxResponseBytes < 64<<10 {
		bad(where+".maxResponseBytes", "must be at least 65536")
	}
	if k.Whole {
		p.checkCache(bad, where)
	} else {
		for _, key := range cacheKeys {
			if key == "cacheTTL" && p.CacheTTL != 0 || key == "maxStale" && p.MaxStale != 0 {
				bad(where+"."+key, "not a key of kind %s: it applies to kinds whose directory is read whole", p.Kind)
			}
		}
	}
	if p.Settings == nil {
		p.Settings = k.NewConfig()
	}
	return p.Settings.Check()
}

// checkCache applies the cache keys' defaults and checks them.
func (p *Provider) checkCache(bad func(path, format string, args ...any), where string) {
	if p.CacheTTL == 0 {
		p.CacheTTL = DefaultCacheTTL
	}
	if p.CacheTTL < 0 {
		bad(where+".cacheTTL", "must not be negative")
	}
	if p.MaxStale == 0 {
		p.MaxStale = max(DefaultMaxStale, p.CacheTTL)
	}
	if p.MaxStale < p.CacheTTL {
		bad(where+".maxStale", "must not be less than cacheTTL")
	}
}
