package config

import (
	"net/url"
	"regexp"
	"time"

	"github.com/dirgate/dirgate/internal/fleet"
)

// Redis configures the state that several replicas share: Concur's
// tokens, whole-directory caches, rate budgets and persisted queries
// (see internal/fleet). Without URL, each replica keeps its own.
type Redis struct {
	// URL is redis://[user:password@]host:port/db, or rediss:// for TLS;
	// ${VAR} brings the password in.
	URL string `yaml:"url"`
	// KeyPrefix starts every key dirgate writes. Default "dirgate:".
	KeyPrefix string `yaml:"keyPrefix"`
	// TokenKey is the AES-256 key (32 bytes, base64) that seals the
	// tokens, directories and queries dirgate keeps in Redis. When empty,
	// a key is derived from server.cursorSecret.
	TokenKey string `yaml:"tokenKey"`
	// Timeout bounds how long one request waits on Redis, all its
	// operations together. Default 200ms.
	Timeout time.Duration `yaml:"timeout"`
	// APQTTL is how long a persisted query is kept in Redis after its
	// last use. Default 24h.
	APQTTL time.Duration `yaml:"apqTTL"`
}

// Defaults of the redis block.
const (
	DefaultRedisKeyPrefix = fleet.DefaultKeyPrefix
	DefaultRedisTimeout   = fleet.DefaultTimeout
	DefaultRedisAPQTTL    = 24 * time.Hour
	maxRedisTimeout       = 10 * time.Second
)

var keyPrefixPattern = regexp.MustCompile(`^[A-Za-z0-9:_.{}-]{1,64}$`)

// Configured reports whether a redis block is present.
func (r *Redis) Configured() bool { return r.URL != "" }

// SetDefaults fills the zero values of the redis block with their
// defaults. Parse calls it; a configuration built in code should too.
func (r *Redis) SetDefaults() {
	setDefault(&r.KeyPrefix, DefaultRedisKeyPrefix)
	setDefault(&r.Timeout, DefaultRedisTimeout)
	setDefault(&r.APQTTL, DefaultRedisAPQTTL)
}

// checkRedis fills the redis block's defaults and reports its problems
// with bad, each at its key. Nothing it says quotes a value: the URL may
// hold a password.
func (c *Config) checkRedis(bad func(path, format string, args ...any)) {
	r := &c.Redis
	if !r.Configured() {
		if r.KeyPrefix != "" || r.TokenKey != "" || r.Timeout != 0 || r.APQTTL != 0 {
			bad("redis.url", "missing (required with a redis block)")
		}
		return
	}
	r.SetDefaults()
	u, err := url.Parse(r.URL)
	switch {
	case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
		bad("redis.url", "must be a redis:// or rediss:// URL with a host")
	case u.RawQuery != "":
		bad("redis.url", "must have no query parameters (redis.timeout sets the bound)")
	}
	if !keyPrefixPattern.MatchString(r.KeyPrefix) {
		bad("redis.keyPrefix", "must be 1 to 64 letters, digits or :_.{}-")
	}
	if r.Timeout < time.Millisecond || r.Timeout > maxRedisTimeout {
		bad("redis.timeout", "must be between 1ms and %v", maxRedisTimeout)
	}
	if r.APQTTL < time.Minute {
		bad("redis.apqTTL", "must be at least 1m")
	}
	if c.Server.CursorSecret == "" {
		bad("server.cursorSecret", "missing: required with redis, the same on every replica, or a cursor made by one replica is refused by the next")
	}
	if r.TokenKey != "" {
		if _, err := fleet.ParseKey(r.TokenKey); err != nil {
			bad("redis.tokenKey", "%v", err)
		}
	}
}

// SealingKey is the key that seals what dirgate keeps in Redis:
// redis.tokenKey, else a key derived from server.cursorSecret.
func (c *Config) SealingKey() ([]byte, error) {
	if c.Redis.TokenKey != "" {
		return fleet.ParseKey(c.Redis.TokenKey)
	}
	return fleet.DeriveKey(c.Server.CursorSecret)
}
