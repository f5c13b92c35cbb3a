package config

import (
	"strings"
	"testing"
	"time"
)

const minimalProviders = "providers:\n  - key: gb\n    kind: getbill\n    token: token-xxxxxxxx\n"

// keyHash is the hash of "k".
const keyHash = "sha256:8254c329a92850f6d539dd376f4816ee2764517da5e0235514af433164480d7a"

func TestSurfaceDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalProviders), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.Auth.Mode != "" || s.Introspection || s.Playground.Enabled || s.Playground.Path != "/" {
		t.Errorf("auth %+v introspection %t playground %+v: want no auth mode, introspection and playground off", s.Auth, s.Introspection, s.Playground)
	}
	if s.Limits != (Limits{Depth: 12, Complexity: 50000, Tokens: 10000, BodyBytes: 1 << 20}) {
		t.Errorf("limits = %+v", s.Limits)
	}
	if s.RequestTimeout != 30*time.Second || s.ShutdownTimeout != 10*time.Second || s.APQ.CacheSize != 1000 {
		t.Errorf("requestTimeout %v shutdownTimeout %v apq %d", s.RequestTimeout, s.ShutdownTimeout, s.APQ.CacheSize)
	}
	if s.Readiness.WhenDegraded != "ready" || s.Readiness.ProbeInterval != 30*time.Second || *s.Readiness.MinProvidersUp != 1 || s.Log != (Log{Format: "json", Level: "info"}) {
		t.Errorf("readiness %+v log %+v", s.Readiness, s.Log)
	}
	if s.SchemaSDL || s.CacheControl != "no-store" {
		t.Errorf("schemaSDL %t cacheControl %q, want false and no-store", s.SchemaSDL, s.CacheControl)
	}
}

func TestSurfaceParse(t *testing.T) {
	_, err := Parse([]byte(`
server:
  auth:
    apiKeys: ["SHA256:X", "`+strings.ToUpper(keyHash[7:])+`"]
`+minimalProviders), env(nil))
	if err == nil || !strings.Contains(err.Error(), "server.auth.apiKeys[0]") {
		t.Fatalf("Parse = %v, want an error naming server.auth.apiKeys[0]", err)
	}
	c, err := Parse([]byte(`
server:
  auth:
    apiKeys: ["sha256:`+strings.ToUpper(keyHash[7:])+`"]
  introspection: true
  playground: {enabled: true, path: /play}
  limits: {depth: 5, complexity: 100, tokens: 200, bodyBytes: 4096}
  requestTimeout: 5s
  readiness: {whenDegraded: notReady, probeInterval: 10s, minProvidersUp: 0}
  log: {format: text, level: debug}
  apq: {cacheSize: 10}
  schemaSDL: true
  cacheControl: private, no-store
`+minimalProviders), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Server
	if s.Auth.Mode != AuthAPIKey || len(s.Auth.APIKeys) != 1 || s.Auth.APIKeys[0] != keyHash {
		t.Errorf("auth = %+v, want mode apikey and the hash in lower case", s.Auth)
	}
	if !s.Introspection || s.Playground != (Playground{Enabled: true, Path: "/play"}) || s.Limits.Depth != 5 || s.Limits.BodyBytes != 4096 ||
		s.RequestTimeout != 5*time.Second || s.Readiness.WhenDegraded != DegradedNotReady || *s.Readiness.MinProvidersUp != 0 || s.Log.Level != "debug" || s.APQ.CacheSize != 10 ||
		!s.SchemaSDL || s.CacheControl != "private, no-store" {
		t.Errorf("server = %+v", s)
	}
}

func TestSurfaceErrors(t *testing.T) {
	const plaintextKey = "my-plaintext-api-key"
	tests := []struct{ name, give, want string }{
		{"plaintext key", "server:\n  auth:\n    apiKeys: [" + plaintextKey + "]\n", "server.auth.apiKeys[0]: must be"},
		{"short hash", "server:\n  auth:\n    apiKeys: [\"sha256:abcd\"]\n", "server.auth.apiKeys[0]: must be"},
		{"apikey without keys", "server:\n  auth:\n    mode: apikey\n", "server.auth.apiKeys: missing: server.auth.mode is apikey"},
		{"none with keys", "server:\n  auth:\n    mode: none\n    apiKeys: [\"" + keyHash + "\"]\n", "server.auth.apiKeys: set, but server.auth.mode is none"},
		{"unknown mode", "server:\n  auth:\n    mode: basic\n", "server.auth.mode: must be"},
		{"depth", "server:\n  limits:\n    depth: -1\n", "server.limits.depth: must be at least 1"},
		{"body", "server:\n  limits:\n    bodyBytes: 10\n", "server.limits.bodyBytes: must be at least 1024"},
		{"timeout", "server:\n  requestTimeout: -1s\n", "server.requestTimeout: must not be negative"},
		{"degraded", "server:\n  readiness:\n    whenDegraded: maybe\n", "server.readiness.whenDegraded: must be"},
		{"log format", "server:\n  log:\n    format: xml\n", "server.log.format: must be"},
		{"log level", "server:\n  log:\n    level: trace\n", "server.log.level: must be"},
		{"playground path", "server:\n  playground:\n    path: /query\n", "server.playground.path: must be"},
		{"playground on the schema", "server:\n  playground:\n    path: /schema.graphql\n", "server.playground.path: must be"},
		{"cacheControl", "server:\n  cacheControl: public\n", `server.cacheControl: must be "no-store" or "private, no-store"`},
		{"playground relative", "server:\n  playground:\n    path: play\n", "server.playground.path: must be"},
		{"unknown surface key", "server:\n  limits:\n    depht: 3\n", "line 3: server.limits.depht: unknown key; did you mean depth?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give+minimalProviders), env(nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), plaintextKey) {
				t.Errorf("error %q quotes the key", err)
			}
		})
	}
}

func TestCheckListen(t *testing.T) {
	tests := []struct {
		addr, mode string
		wantErr    bool
	}{
		{"127.0.0.1:8080", "", false},
		{"[::1]:0", "", false},
		{"localhost:80", "", false},
		{"0.0.0.0:8080", "", true},
		{":8080", "", true},
		{"10.1.2.3:8080", "", true},
		{"dirgate.internal:8080", "", true},
		{"0.0.0.0:8080", AuthNone, false},
		{"0.0.0.0:8080", AuthAPIKey, false},
	}
	for _, tt := range tests {
		s := Server{Addr: tt.addr, Auth: Auth{Mode: tt.mode}}
		err := s.CheckListen()
		if (err != nil) != tt.wantErr {
			t.Errorf("CheckListen(%s, mode %q) = %v, want error %t", tt.addr, tt.mode, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "server.auth.mode") {
			t.Errorf("CheckListen error %q does not name server.auth.mode", err)
		}
	}
}
