package config

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/fleet"
)

const redisProviders = `
providers:
  - key: getbill
    kind: getbill
    token: getbill-token-1
`

func TestRedisBlock(t *testing.T) {
	c, err := Parse([]byte(`
server:
  cursorSecret: shared-by-every-replica-of-the-fleet
redis:
  url: redis://:${REDIS_PASSWORD}@redis.internal:6379/2
`+redisProviders), env(map[string]string{"REDIS_PASSWORD": "hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redis
	if r.URL != "redis://:hunter2@redis.internal:6379/2" || r.KeyPrefix != "dirgate:" || r.Timeout != 200*time.Millisecond || r.APQTTL != 24*time.Hour {
		t.Errorf("redis = %+v, want the URL expanded and the defaults", r)
	}
	key, err := c.SealingKey()
	derived, _ := fleet.DeriveKey("shared-by-every-replica-of-the-fleet")
	if err != nil || !bytes.Equal(key, derived) {
		t.Errorf("SealingKey without tokenKey = %x, %v; want the key derived from the cursor secret", key, err)
	}

	c, err = Parse([]byte(`
server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}
redis: {url: "rediss://redis.internal:6380/0", keyPrefix: "team-a:dirgate:", timeout: 50ms, apqTTL: 1h, tokenKey: "${TOKEN_KEY}"}
`+redisProviders), env(map[string]string{"TOKEN_KEY": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="}))
	if err != nil {
		t.Fatal(err)
	}
	if key, _ := c.SealingKey(); !bytes.Equal(key, bytes.Repeat([]byte{7}, 32)) {
		t.Errorf("SealingKey with tokenKey = %x, want tokenKey", key)
	}
	if c.Redis.Timeout != 50*time.Millisecond || c.Redis.KeyPrefix != "team-a:dirgate:" {
		t.Errorf("redis = %+v", c.Redis)
	}

	c, err = Parse([]byte(redisProviders), env(nil))
	if err != nil || c.Redis.Configured() {
		t.Errorf("no redis block: configured = %v, %v; want a single replica", c.Redis.Configured(), err)
	}
}

func TestRedisBlockErrors(t *testing.T) {
	tests := []struct {
		give, want string
	}{
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: 'redis://:hunter2@127.0.0.1:6379/0?dial_timeout=1s'}", "redis.url: must have no query"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: http://:hunter2@127.0.0.1:6379/0}", "redis.url: must be a redis://"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: 'redis://:hunter2@'}", "redis.url: must be a redis://"},
		{"redis: {url: redis://:hunter2@127.0.0.1:6379/0}", "server.cursorSecret: missing: required with redis"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {keyPrefix: x}", "redis.url: missing"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, timeout: 30s}", "redis.timeout: must be between"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, keyPrefix: 'a b'}", "redis.keyPrefix: must be"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, apqTTL: 1s}", "redis.apqTTL: must be at least"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, tokenKey: hunter2hunter2}", "redis.tokenKey: must be"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, tokenKey: aHVudGVyMg==}", "redis.tokenKey: must be 32 bytes"},
		{"server: {cursorSecret: a-cursor-secret-of-32-bytes-or-more}\nredis: {url: redis://127.0.0.1:6379, password: x}", "redis.password: unknown key"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.give+redisProviders), env(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tt.give, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "aHVudGVyMg") {
			t.Errorf("Parse(%q) = %q: the error quotes a secret", tt.give, err)
		}
	}
}
