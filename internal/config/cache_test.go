package config

import (
	"strings"
	"testing"
	"time"
)

func TestCacheKeys(t *testing.T) {
	const base = "providers:\n  - key: g\n    kind: getbill\n    token: token-xxxxxxxx\n"
	tests := []struct {
		name         string
		give         string
		wantTTL      time.Duration
		wantMaxStale time.Duration
		wantErr      string
	}{
		{"defaults", base, time.Minute, 15 * time.Minute, ""},
		{"both", base + "    cacheTTL: 2m\n    maxStale: 1h\n", 2 * time.Minute, time.Hour, ""},
		{"maxStale equal to the TTL: no stale copies", base + "    cacheTTL: 2m\n    maxStale: 2m\n", 2 * time.Minute, 2 * time.Minute, ""},
		{"a long TTL lifts the default", base + "    cacheTTL: 30m\n", 30 * time.Minute, 30 * time.Minute, ""},
		{"maxStale under the TTL", base + "    cacheTTL: 2m\n    maxStale: 1m\n", 0, 0, "providers[0].maxStale: must not be less than cacheTTL"},
		{"negative maxStale", base + "    maxStale: -1m\n", 0, 0, "providers[0].maxStale: must not be less than cacheTTL"},
		{"maxStale on concur", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: client-secret-b\n    companyUUID: c\n    requestToken: request-token-d\n    maxStale: 1h\n", 0, 0, `line 8: providers[0].maxStale: not a key of kind concur: it applies to kinds whose directory is read whole`},
		{"the clock is not a key", "now: x\n" + base, 0, 0, "line 1: now: unknown key; the keys here are server, providers"},
		{"the cache keys apply to a file too", "providers:\n  - key: f\n    kind: file\n    path: /tmp/users.csv\n    cacheTTL: 5m\n", 5 * time.Minute, 15 * time.Minute, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.give), env(nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p := c.Providers[0]; p.CacheTTL != tt.wantTTL || p.MaxStale != tt.wantMaxStale {
				t.Errorf("cacheTTL %v, maxStale %v; want %v, %v", p.CacheTTL, p.MaxStale, tt.wantTTL, tt.wantMaxStale)
			}
		})
	}
}
