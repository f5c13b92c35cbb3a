package config

import (
	"errors"
	"fmt"
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

// checkRedis fills the redis block's defaults and checks it. Its errors
// name the key and never quote a value: the URL may hold a password.
func (c *Config) checkRedis() error {
	r := &c.Redis
	if !r.Configured() {
		if r.KeyPrefix != "" || r.TokenKey != "" || r.Timeout != 0 || r.APQTTL != 0 {
			return errors.New("config: redis: missing required key \"url\"")
		}
		return nil
	}
	r.SetDefaults()
	u, err := url.Parse(r.URL)
	switch {
	case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
		return errors.New("config: redis.url must be a redis:// or rediss:// URL with a host")
	case u.RawQuery != "":
		return errors.New("config: redis.url must have no query parameters (redis.timeout sets the bound)")
	case !keyPrefixPattern.MatchString(r.KeyPrefix):
		return errors.New("config: redis.keyPrefix must be 1 to 64 letters, digits or :_.{}-")
	case r.Timeout < time.Millisecond || r.Timeout > maxRedisTimeout:
		return fmt.Errorf("config: redis.timeout must be between 1ms and %v", maxRedisTimeout)
	case r.APQTTL < time.Minute:
		return errors.New("config: redis.apqTTL must be at least 1m")
	case c.Server.CursorSecret == "":
		return errors.New("config: redis is configured but server.cursorSecret is not: " +
			"replicas behind one load balancer must share it, or a cursor made by one is refused by the next")
	}
	if r.TokenKey != "" {
		if _, err := fleet.ParseKey(r.TokenKey); err != nil {
			return fmt.Errorf("config: redis.tokenKey %w", err)
		}
	}
	return nil
}

// SealingKey is the key that seals what dirgate keeps in Redis:
// redis.tokenKey, else a key derived from server.cursorSecret.
func (c *Config) SealingKey() ([]byte, error) {
	if c.Redis.TokenKey != "" {
		return fleet.ParseKey(c.Redis.TokenKey)
	}
	return fleet.DeriveKey(c.Server.CursorSecret)
}
