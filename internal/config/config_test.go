package config

import (
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/getbill"
)

const full = `
server:
  addr: 127.0.0.1:9090
  cors:
    allowedOrigins: ["https://dash.example.com"]
providers:
  - key: concur
    kind: concur
    name: SAP Concur
    clientID: ${CONCUR_CLIENT_ID}
    clientSecret: ${CONCUR_CLIENT_SECRET}
    companyUUID: ${CONCUR_COMPANY_UUID}
    requestToken: ${CONCUR_REQUEST_TOKEN}
    tokenStore: /var/lib/dirgate/concur-token.json
  - key: getbill
    kind: getbill
    name: getbill
    token: ${GETBILL_TOKEN}
    clientID: ${GETBILL_CLIENT_ID}
    clientSecret: ${GETBILL_CLIENT_SECRET}
    cacheTTL: 2m
`

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var secrets = map[string]string{
	"CONCUR_CLIENT_ID":     "cid",
	"CONCUR_CLIENT_SECRET": "s3cr3t: with # yaml: {chars}",
	"CONCUR_COMPANY_UUID":  "uuid-1",
	"CONCUR_REQUEST_TOKEN": "request-token-true",
	"GETBILL_TOKEN":        "gb-token-12345",
}

func TestParse(t *testing.T) {
	c, err := Parse([]byte(full), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:9090" || c.Server.MaxPageSize != DefaultMaxPageSize || c.Server.DefaultPageSize != DefaultPageSize {
		t.Errorf("server = %+v", c.Server)
	}
	if got := c.Server.CORS.AllowedOrigins; len(got) != 1 || got[0] != "https://dash.example.com" {
		t.Errorf("allowedOrigins = %v", got)
	}
	cc, ok := c.Providers[0].Settings.(*concur.Config)
	if !ok || cc.Auth.ClientSecret.Reveal() != secrets["CONCUR_CLIENT_SECRET"] || cc.Auth.RequestToken.Reveal() != "request-token-true" ||
		cc.Auth.TokenURL != companyauth.DefaultTokenURL || cc.PageSize != concur.DefaultPageSize {
		t.Errorf("concur = %+v (env values must arrive verbatim, defaults filled)", c.Providers[0].Settings)
	}
	g, ok := c.Providers[1].Settings.(*getbill.Config)
	if !ok || g.Token.Reveal() != "gb-token-12345" || g.ClientID != "" || g.BaseURL != getbill.DefaultBaseURL || c.Providers[1].CacheTTL != 2*time.Minute {
		t.Errorf("getbill = %+v", c.Providers[1])
	}
	if c.Providers[0].MaxConcurrency != DefaultMaxConcurrency || c.Providers[0].MaxResponseBytes != DefaultMaxResponseBytes {
		t.Errorf("common defaults not filled: %+v", c.Providers[0])
	}
}

func TestParseErrors(t *testing.T) {
	const minimal = "providers:\n  - key: gb\n    kind: getbill\n    token: token-xxxxxxxx\n"
	tests := []struct {
		name, give, want string
	}{
		{"unknown top-level key", "serverr: {}\n" + minimal, `unknown key "serverr"`},
		{"secret in a number", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: client-secret-b\n    companyUUID: c\n    requestToken: request-token-d\n    pageSize: ${SECRET}\n", `cannot unmarshal !!str a value into int`},
		{"unknown server key", "server:\n  adr: x\n" + minimal, `unknown key "adr"`},
		{"key of another kind", "providers:\n  - key: gb\n    kind: getbill\n    token: token-xxxxxxxx\n    tokenStore: /tmp/x\n", `unknown key "tokenStore"`},
		{"unknown provider key", "providers:\n  - key: gb\n    kind: getbill\n    token: token-xxxxxxxx\n    tokn: y\n", `unknown key "tokn"`},
		{"no providers", "server: {}\n", `missing required key "providers"`},
		{"missing key", "providers:\n  - kind: getbill\n    token: token-xxxxxxxx\n", `missing required key "key"`},
		{"missing kind", "providers:\n  - key: gb\n    token: token-xxxxxxxx\n", `missing required key "kind"`},
		{"unknown kind", "providers:\n  - key: gb\n    kind: workday\n", `kind "workday" is not one of`},
		{"duplicate provider key", minimal + "  - key: gb\n    kind: getbill\n    token: token-yyyyyyyy\n", `duplicate provider key "gb" (also providers[0])`},
		{"bad provider key", "providers:\n  - key: Bad:Key\n    kind: getbill\n    token: token-xxxxxxxx\n", `key "Bad:Key" must be`},
		{"concur without secret", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    companyUUID: b\n    requestToken: ${RT}\n", `missing required key "clientSecret"`},
		{"concur without request token", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: ${SECRET}\n    companyUUID: b\n", `missing required key "requestToken"`},
		{"getbill without credentials", "providers:\n  - key: g\n    kind: getbill\n    token: ${UNSET}\n", `missing required key "token"`},
		{"getbill half credentials", "providers:\n  - key: g\n    kind: getbill\n    clientID: a\n", `missing required key "clientSecret"`},
		{"page size", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: client-secret-b\n    companyUUID: c\n    requestToken: request-token-d\n    pageSize: 5000\n", `pageSize must be between 1 and 1000`},
		{"bad base URL", "providers:\n  - key: g\n    kind: getbill\n    token: token-xxxxxxxx\n    baseURL: getbill.io\n", `baseURL must be an absolute http or https URL`},
		{"a secret too short to be real", "providers:\n  - key: g\n    kind: getbill\n    clientID: a\n    clientSecret: t\n", `clientSecret is too short`},
		{"a concurrency cap of none", "providers:\n  - key: g\n    kind: getbill\n    token: token-xxxxxxxx\n    maxConcurrency: -1\n", `maxConcurrency must be between 1 and 256`},
		{"bad origin", "server:\n  cors:\n    allowedOrigins: [dash.example.com]\n" + minimal, `allowedOrigins[0] must be an origin`},
		{"default page over max", "server:\n  maxPageSize: 10\n  defaultPageSize: 20\n" + minimal, `defaultPageSize must be between`},
		{"duplicate yaml key", "providers:\n  - key: g\n    kind: getbill\n    token: token-xxxxxxxx\n    token: token-yyyyyyyy\n", `"token" already defined`},
		{"not yaml", "providers: [", `config:`},
		{"empty", "", `empty file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give), env(map[string]string{"SECRET": "hunter2", "RT": "rt-value"}))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want one containing %q", tt.give, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) = %q, want it to contain %q", tt.give, err, tt.want)
			}
			for _, secret := range []string{"hunter2", "rt-value"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes a secret", err)
				}
			}
		})
	}
}

// TestEnvCannotAddStructure: a value from the environment stays a value,
// whatever YAML it contains.
func TestEnvCannotAddStructure(t *testing.T) {
	c, err := Parse([]byte("providers:\n  - key: g\n    kind: getbill\n    token: ${T}\n"), env(map[string]string{"T": "x\n    baseURL: http://evil.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Providers[0].Settings.(*getbill.Config); g.BaseURL != getbill.DefaultBaseURL {
		t.Errorf("baseURL = %q: the environment injected a key", g.BaseURL)
	}
}

// TestEnvInTypedFields: ${VAR} works in a number or duration field, and a
// secret that YAML would read as something else stays the string it is.
func TestEnvInTypedFields(t *testing.T) {
	c, err := Parse([]byte("providers:\n  - key: c\n    kind: concur\n    clientID: ${ID}\n    clientSecret: ${S}\n    companyUUID: ${CO}\n    requestToken: ${RT}\n    tokenStore: ${TS}\n    pageSize: ${PS}\n    timeout: ${TO}\n"),
		env(map[string]string{"ID": "12345", "S": "~~~~~~~~", "CO": "true", "TS": "~", "RT": "12345678", "PS": "250", "TO": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	cc := p.Settings.(*concur.Config)
	if cc.PageSize != 250 || p.Timeout != 3*time.Second || cc.Auth.ClientID != "12345" || cc.Auth.ClientSecret.Reveal() != "~~~~~~~~" ||
		cc.Auth.CompanyUUID != "true" || cc.Auth.TokenStore != "~" || cc.Auth.RequestToken.Reveal() != "12345678" {
		t.Errorf("provider = %+v, %+v", p, cc)
	}
}
