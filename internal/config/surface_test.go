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
	if s.Limits != (Limits{Depth: 12, Complexity: 50000, Tokens: 10000, BodyBytes: 1 << 20,
		Fields: 1000, FieldRepeats: 20, VendorCalls: 500, Connections: 1024, InFlight: 256}) {
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
  limits: {depth: 5, complexity: 100, tokens: 200, bodyBytes: 4096, fields: 300, fieldRepeats: 4, vendorCalls: 50, connections: 64, inFlight: 8}
  allowedHosts: [dirgate.example.com, "10.0.0.7", "[::1]"]
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
	if s.Limits != (Limits{Depth: 5, Complexity: 100, Tokens: 200, BodyBytes: 4096, Fields: 300, FieldRepeats: 4, VendorCalls: 50, Connections: 64, InFlight: 8}) ||
		len(s.AllowedHosts) != 3 {
		t.Errorf("limits %+v allowedHosts %v", s.Limits, s.AllowedHosts)
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
		{"fields", "server:\n  limits:\n    fields: -5\n", "server.limits.fields: must be at least 1"},
		{"field repeats", "server:\n  limits:\n    fieldRepeats: -1\n", "server.limits.fieldRepeats: must be at least 1"},
		{"vendor calls", "server:\n  limits:\n    vendorCalls: -1\n", "server.limits.vendorCalls: must be at least 1"},
		{"connections", "server:\n  limits:\n    connections: -1\n", "server.limits.connections: must be at least 1"},
		{"in flight", "server:\n  limits:\n    inFlight: -1\n", "server.limits.inFlight: must be at least 1"},
		{"allowed host with a scheme", "server:\n  allowedHosts: [\"https://dirgate.example.com\"]\n", "server.allowedHosts[0]: must be"},
		{"allowed host with a port", "server:\n  allowedHosts: [ok.example, \"dirgate.example.com:443\"]\n", "server.allowedHosts[1]: must be"},
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
		hosts      []string
		wantErr    bool
	}{
		{"127.0.0.1:8080", "", nil, false},
		{"[::1]:0", "", nil, false},
		{"localhost:80", "", nil, false},
		{"0.0.0.0:8080", "", nil, true},
		{":8080", "", nil, true},
		{"10.1.2.3:8080", "", nil, true},
		{"dirgate.internal:8080", "", nil, true},
		// Unauthenticated on purpose: only for the hosts callers use
		// (issue 10, item 7).
		{"0.0.0.0:8080", AuthNone, nil, true},
		{"0.0.0.0:8080", AuthNone, []string{"dirgate.internal"}, false},
		{"127.0.0.1:8080", AuthNone, nil, false},
		{"0.0.0.0:8080", AuthAPIKey, nil, false},
	}
	for _, tt := range tests {
		s := Server{Addr: tt.addr, Auth: Auth{Mode: tt.mode}, AllowedHosts: tt.hosts}
		err := s.CheckListen()
		if (err != nil) != tt.wantErr {
			t.Errorf("CheckListen(%s, mode %q, hosts %v) = %v, want error %t", tt.addr, tt.mode, tt.hosts, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "server.auth.mode") {
			t.Errorf("CheckListen error %q does not name server.auth.mode", err)
		}
	}
}
