package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Auth says how callers of /query authenticate.
type Auth struct {
	// Mode is "apikey" (callers send Authorization: Bearer <key>) or
	// "none". When empty it is "apikey" if APIKeys is set; with neither,
	// dirgate serves unauthenticated, but only on a loopback address (see
	// CheckListen).
	Mode string `yaml:"mode"`
	// APIKeys are the accepted keys, each as "sha256:" and the hex SHA-256
	// of the key, never the key itself.
	APIKeys []string `yaml:"apiKeys"`
}

// Auth modes.
const (
	AuthAPIKey = "apikey"
	AuthNone   = "none"
)

// Limits bound what one request may ask, before any resolver runs.
type Limits struct {
	// Depth is the deepest nesting of fields an operation may select
	// (introspection fields aside).
	Depth int `yaml:"depth"`
	// Complexity is the largest cost of an operation: each field costs 1
	// plus its children; a users connection costs its page size times its
	// children, nodes(ids) the number of ids times its children, and
	// linkedAccounts 5 times its children (an estimate of how many
	// accounts one person has).
	Complexity int `yaml:"complexity"`
	// Tokens is the most lexical tokens the parser reads from a document.
	Tokens int `yaml:"tokens"`
	// BodyBytes is the largest request body.
	BodyBytes int64 `yaml:"bodyBytes"`
}

// Playground configures the browser playground.
type Playground struct {
	Enabled bool `yaml:"enabled"`
	// Path is where it is served; default "/".
	Path string `yaml:"path"`
}

// Readiness configures /readyz.
type Readiness struct {
	// WhenDegraded is what /readyz answers while some providers, but not
	// all, are failing: "ready" (200, status "degraded") or "notReady"
	// (503).
	WhenDegraded string `yaml:"whenDegraded"`
	// ProbeInterval is how often a provider that is not up is probed, at
	// most, while /readyz is being asked.
	ProbeInterval time.Duration `yaml:"probeInterval"`
	// MinProvidersUp is, with WhenDegraded "ready", how many providers
	// must be up for /readyz to answer 200 (default 1; 0: as soon as
	// dirgate serves).
	MinProvidersUp *int `yaml:"minProvidersUp"`
}

// Readiness policies.
const (
	DegradedReady    = "ready"
	DegradedNotReady = "notReady"
)

// Log configures dirgate's own log.
type Log struct {
	Format string `yaml:"format"` // json or text
	Level  string `yaml:"level"`  // debug, info, warn or error
}

// APQ configures automatic persisted queries.
type APQ struct {
	// CacheSize is how many persisted queries are kept (least recently
	// used go first).
	CacheSize int `yaml:"cacheSize"`
}

// Defaults of the production surface.
const (
	DefaultDepthLimit      = 12
	DefaultComplexityLimit = 50000
	DefaultTokenLimit      = 10000
	DefaultBodyBytes       = 1 << 20
	DefaultRequestTimeout  = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second
	DefaultProbeInterval   = 30 * time.Second
	DefaultAPQCacheSize    = 1000
	DefaultPlaygroundPath  = "/"
	DefaultLogFormat       = "json"
	DefaultLogLevel        = "info"
	DefaultWhenDegraded    = DegradedReady
	DefaultMinProvidersUp  = 1
	DefaultCacheControl    = "no-store"
	minBodyBytes           = 1024
)

// SetDefaults fills the zero values of the production surface's settings
// with their defaults. Parse calls it; a Server built in code should too.
func (s *Server) SetDefaults() {
	l := &s.Limits
	setDefault(&l.Depth, DefaultDepthLimit)
	setDefault(&l.Complexity, DefaultComplexityLimit)
	setDefault(&l.Tokens, DefaultTokenLimit)
	setDefault(&l.BodyBytes, DefaultBodyBytes)
	setDefault(&s.RequestTimeout, DefaultRequestTimeout)
	setDefault(&s.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&s.Readiness.ProbeInterval, DefaultProbeInterval)
	setDefault(&s.Readiness.WhenDegraded, DefaultWhenDegraded)
	if s.Readiness.MinProvidersUp == nil {
		s.Readiness.MinProvidersUp = new(int(DefaultMinProvidersUp))
	}
	setDefault(&s.APQ.CacheSize, DefaultAPQCacheSize)
	setDefault(&s.Playground.Path, DefaultPlaygroundPath)
	setDefault(&s.Log.Format, DefaultLogFormat)
	setDefault(&s.Log.Level, DefaultLogLevel)
	setDefault(&s.CacheControl, DefaultCacheControl)
	if s.Auth.Mode == "" && len(s.Auth.APIKeys) > 0 {
		s.Auth.Mode = AuthAPIKey
	}
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// checkSurface fills defaults and checks the production surface's
// settings, reporting each problem to bad with its key. Errors never quote
// a value: an API key pasted where its hash belongs must not reach a log.
func (s *Server) checkSurface(bad func(path, format string, args ...any)) {
	s.SetDefaults()
	for _, l := range []struct {
		key string
		v   int64
		min int64
	}{
		{"server.limits.depth", int64(s.Limits.Depth), 1},
		{"server.limits.complexity", int64(s.Limits.Complexity), 1},
		{"server.limits.tokens", int64(s.Limits.Tokens), 1},
		{"server.limits.bodyBytes", s.Limits.BodyBytes, minBodyBytes},
		{"server.apq.cacheSize", int64(s.APQ.CacheSize), 1},
	} {
		if l.v < l.min {
			bad(l.key, "must be at least %d", l.min)
		}
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"server.requestTimeout", s.RequestTimeout},
		{"server.shutdownTimeout", s.ShutdownTimeout},
		{"server.readiness.probeInterval", s.Readiness.ProbeInterval},
	} {
		if d.v < 0 {
			bad(d.key, "must not be negative")
		}
	}
	switch s.Auth.Mode {
	case AuthAPIKey:
		if len(s.Auth.APIKeys) == 0 {
			bad("server.auth.apiKeys", "missing: server.auth.mode is apikey")
		}
	case AuthNone:
		if len(s.Auth.APIKeys) > 0 {
			bad("server.auth.apiKeys", "set, but server.auth.mode is none")
		}
	case "":
	default:
		bad("server.auth.mode", "must be apikey or none")
	}
	for i, k := range s.Auth.APIKeys {
		h, err := ParseKeyHash(k)
		if err != nil {
			bad(fmt.Sprintf("server.auth.apiKeys[%d]", i), "%v", err)
			continue
		}
		s.Auth.APIKeys[i] = "sha256:" + hex.EncodeToString(h)
	}
	if p := s.Playground.Path; !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " {}?#") || reservedPath(p) {
		bad("server.playground.path", "must be a path starting with /, other than /query, /schema.graphql, /healthz, /readyz and /metrics")
	}
	if w := s.Readiness.WhenDegraded; w != DegradedReady && w != DegradedNotReady {
		bad("server.readiness.whenDegraded", "must be ready or notReady")
	}
	if c := s.CacheControl; c != "no-store" && c != "private, no-store" {
		bad("server.cacheControl", `must be "no-store" or "private, no-store"`)
	}
	if f := s.Log.Format; f != "json" && f != "text" {
		bad("server.log.format", "must be json or text")
	}
	switch s.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("server.log.level", "must be debug, info, warn or error")
	}
}

// reservedPath reports whether p would shadow one of dirgate's own routes.
func reservedPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, r := range []string{"/query", "/schema.graphql", "/healthz", "/readyz", "/metrics"} {
		if p == r || strings.HasPrefix(r, p+"/") && p != "" {
			return true
		}
	}
	return false
}

// ParseKeyHash reads "sha256:<64 hex digits>", the form API keys take in
// the configuration. Its error never quotes the value.
func ParseKeyHash(s string) ([]byte, error) {
	hexPart, ok := strings.CutPrefix(s, "sha256:")
	b, err := hex.DecodeString(hexPart)
	if !ok || err != nil || len(b) != 32 {
		return nil, errors.New(`must be "sha256:" and 64 hex digits, the SHA-256 of the key (see dirgate -gen-key), never the key itself`)
	}
	return b, nil
}

// CheckListen refuses to serve unauthenticated on an address other hosts
// can reach, unless server.auth.mode says none explicitly. Call it with
// the final listen address.
func (s *Server) CheckListen() error {
	if s.Auth.Mode != "" || IsLoopback(s.Addr) {
		return nil
	}
	return fmt.Errorf("config: refusing to serve without authentication on %s, an address other hosts can reach: "+
		"set server.auth.apiKeys, or server.auth.mode: none to serve unauthenticated on purpose", s.Addr)
}

// IsLoopback reports whether the listen address addr (host:port) only
// accepts connections from this host: localhost, or a loopback IP. An
// empty host means every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
