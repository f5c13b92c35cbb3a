package config

import (
	"strings"
	"testing"
	"time"
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
	"CONCUR_REQUEST_TOKEN": "true",
	"GETBILL_TOKEN":        "gb-token",
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
	cc := c.Providers[0]
	if cc.ClientSecret != secrets["CONCUR_CLIENT_SECRET"] || cc.RequestToken != "true" || cc.TokenURL != DefaultConcurTokenURL || cc.PageSize != 100 {
		t.Errorf("concur = %+v (env values must arrive verbatim, defaults filled)", cc)
	}
	g := c.Providers[1]
	if g.Token != "gb-token" || g.ClientID != "" || g.BaseURL != DefaultGetbillBaseURL || g.CacheTTL != 2*time.Minute {
		t.Errorf("getbill = %+v", g)
	}
}

func TestParseErrors(t *testing.T) {
	const minimal = "providers:\n  - key: gb\n    kind: getbill\n    token: x\n"
	tests := []struct {
		name, give, want string
	}{
		{"unknown top-level key", "serverr: {}\n" + minimal, `field serverr not found`},
		{"secret in a number", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: b\n    companyUUID: c\n    requestToken: d\n    pageSize: ${SECRET}\n", `cannot unmarshal !!str a value into int`},
		{"unknown server key", "server:\n  adr: x\n" + minimal, `field adr not found`},
		{"key of another kind", "providers:\n  - key: gb\n    kind: getbill\n    token: x\n    tokenStore: /tmp/x\n", `unknown key "tokenStore"`},
		{"unknown provider key", "providers:\n  - key: gb\n    kind: getbill\n    token: x\n    tokn: y\n", `unknown key "tokn"`},
		{"no providers", "server: {}\n", `missing required key "providers"`},
		{"missing key", "providers:\n  - kind: getbill\n    token: x\n", `missing required key "key"`},
		{"missing kind", "providers:\n  - key: gb\n    token: x\n", `missing required key "kind"`},
		{"unknown kind", "providers:\n  - key: gb\n    kind: workday\n", `kind "workday" is not one of`},
		{"duplicate provider key", minimal + "  - key: gb\n    kind: getbill\n    token: y\n", `duplicate provider key "gb" (also providers[0])`},
		{"bad provider key", "providers:\n  - key: Bad:Key\n    kind: getbill\n    token: x\n", `key "Bad:Key" must be`},
		{"concur without secret", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    companyUUID: b\n    requestToken: ${RT}\n", `missing required key "clientSecret"`},
		{"concur without request token", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: ${SECRET}\n    companyUUID: b\n", `missing required key "requestToken"`},
		{"getbill without credentials", "providers:\n  - key: g\n    kind: getbill\n    token: ${UNSET}\n", `missing required key "token"`},
		{"getbill half credentials", "providers:\n  - key: g\n    kind: getbill\n    clientID: a\n", `missing required key "clientSecret"`},
		{"page size", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: b\n    companyUUID: c\n    requestToken: d\n    pageSize: 5000\n", `pageSize must be between 1 and 1000`},
		{"bad base URL", "providers:\n  - key: g\n    kind: getbill\n    token: x\n    baseURL: getbill.io\n", `baseURL must be an http or https URL`},
		{"bad origin", "server:\n  cors:\n    allowedOrigins: [dash.example.com]\n" + minimal, `allowedOrigins[0] must be an origin`},
		{"default page over max", "server:\n  maxPageSize: 10\n  defaultPageSize: 20\n" + minimal, `defaultPageSize must be between`},
		{"duplicate yaml key", "providers:\n  - key: g\n    kind: getbill\n    token: x\n    token: y\n", `"token" already defined`},
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
	if c.Providers[0].BaseURL != DefaultGetbillBaseURL {
		t.Errorf("baseURL = %q: the environment injected a key", c.Providers[0].BaseURL)
	}
}

// TestEnvInTypedFields: ${VAR} works in a number or duration field, and a
// secret that YAML would read as something else stays the string it is.
func TestEnvInTypedFields(t *testing.T) {
	c, err := Parse([]byte("providers:\n  - key: c\n    kind: concur\n    clientID: ${ID}\n    clientSecret: ${S}\n    companyUUID: c\n    requestToken: ${RT}\n    pageSize: ${PS}\n    timeout: ${TO}\n"),
		env(map[string]string{"ID": "12345", "S": "~", "RT": "true", "PS": "250", "TO": "3s"}))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Providers[0]
	if p.PageSize != 250 || p.Timeout != 3*time.Second || p.ClientID != "12345" || p.ClientSecret != "~" || p.RequestToken != "true" {
		t.Errorf("provider = %+v", p)
	}
}
