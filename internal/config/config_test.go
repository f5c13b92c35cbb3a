package config

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

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
    tokenStore: ${TOKEN_DIR}/concur-token.json
  - key: getbill
    kind: getbill
    name: getbill
    token: ${GETBILL_TOKEN}
    clientID: ${GETBILL_CLIENT_ID:-}
    clientSecret: ${GETBILL_CLIENT_SECRET:-}
    baseURL: ${GETBILL_URL:-https://getbill.io}
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
	vars := maps.Clone(secrets)
	vars["TOKEN_DIR"] = t.TempDir()
	c, err := Parse([]byte(full), env(vars))
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
	const concur = "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: client-secret-b\n    companyUUID: c\n    requestToken: request-token-d\n"
	tests := []struct {
		name, give, want string
	}{
		{"unknown top-level key", "serverr: {}\n" + minimal, `config: line 1: serverr: unknown key; did you mean server?`},
		{"secret in a number", concur + "    pageSize: ${SECRET}\n", `config: line 8: providers[0].pageSize: want a whole number`},
		{"unknown server key", "server:\n  adr: x\n" + minimal, `config: line 2: server.adr: unknown key; did you mean addr?`},
		{"key of another kind", minimal + "    tokenStore: /tmp/x\n", `config: line 5: providers[0].tokenStore: not a key of kind getbill (it is a key of kind concur, concur-identity)`},
		{"unknown provider key", minimal + "    tokn: y\n", `config: line 5: providers[0].tokn: not a key of kind getbill; did you mean token?`},
		{"no providers", "server: {}\n", `config: line 1: providers: missing: list at least one provider`},
		{"missing key", "providers:\n  - kind: getbill\n    token: token-xxxxxxxx\n", `config: line 2: providers[0].key: missing (required)`},
		{"missing kind", "providers:\n  - key: gb\n    token: token-xxxxxxxx\n", `config: line 2: providers[0].kind: missing (required): one of concur, concur-identity, file, getbill, scim`},
		{"unknown kind", "providers:\n  - key: gb\n    kind: workday\n", `config: line 3: providers[0].kind: must be one of concur, concur-identity, file, getbill, scim`},
		{"duplicate provider key", minimal + "  - key: gb\n    kind: getbill\n    token: token-yyyyyyyy\n", `config: line 5: providers[1].key: duplicate provider key (also providers[0])`},
		{"bad provider key", "providers:\n  - key: Bad:Key\n    kind: getbill\n    token: token-xxxxxxxx\n", `config: line 2: providers[0].key: must be lower-case letters`},
		{"concur without secret", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    companyUUID: b\n    requestToken: ${RT}\n", `config: line 2: providers[0].clientSecret: missing, but required`},
		{"concur without request token", "providers:\n  - key: c\n    kind: concur\n    clientID: a\n    clientSecret: ${SECRET}\n    companyUUID: b\n", `line 2: providers[0].requestToken: missing, but required (or a "tokenStore" that holds a refresh token)`},
		{"getbill without credentials", "providers:\n  - key: g\n    kind: getbill\n    token: ${EMPTY:-}\n", `config: line 4: providers[0].token: missing, but required (or "clientID" and "clientSecret")`},
		{"getbill half credentials", "providers:\n  - key: g\n    kind: getbill\n    clientID: a\n", `config: line 2: providers[0].clientSecret: missing, but required (with "clientID")`},
		{"page size", concur + "    pageSize: 5000\n", `config: line 8: providers[0].pageSize: must be between 1 and 1000`},
		{"bad base URL", minimal + "    baseURL: getbill.io\n", `config: line 5: providers[0].baseURL: must be an absolute http or https URL without credentials, query or fragment`},
		{"bad origin", "server:\n  cors:\n    allowedOrigins: [dash.example.com]\n" + minimal, `config: line 3: server.cors.allowedOrigins[0]: must be an origin`},
		{"default page over max", "server:\n  maxPageSize: 10\n  defaultPageSize: 20\n" + minimal, `config: line 3: server.defaultPageSize: must be between 1 and server.maxPageSize`},
		{"duplicate yaml key", minimal + "    token: token-yyyyyyyy\n", `config: line 5: providers[0].token: set twice (also on line 4)`},
		{"not yaml", "providers: [", `config: line 1: did not find expected node content`},
		{"empty", "", `config: the file is empty`},
		{"not a mapping", "- a\n- b\n", `config: line 1: the top level must be a mapping`},
		{"a list for a mapping", "server: [a]\n" + minimal, `config: line 1: server: want a mapping of keys, not a list`},
		{"a mapping for a list", "server:\n  cors:\n    allowedOrigins: {a: b}\n" + minimal, `config: line 3: server.cors.allowedOrigins: want a list, not a mapping of keys`},
		{"a mapping for a string", "server:\n  addr: {host: x}\n" + minimal, `config: line 2: server.addr: want a string, not a mapping of keys`},
		{"a word for a boolean", "server:\n  introspection: sometimes\n" + minimal, `config: line 2: server.introspection: want true or false`},
		{"a huge number", "server:\n  maxPageSize: 99999999999999999999999\n" + minimal, `config: line 2: server.maxPageSize: want a whole number; this one is too large`},
		{"more providers up than there are", "server:\n  readiness: {minProvidersUp: 2}\n" + minimal, `config: line 2: server.readiness.minProvidersUp: must be between 0 and the number of providers (1)`},
		{"a secret too short to be real", "providers:\n  - key: g\n    kind: getbill\n    clientID: a\n    clientSecret: t\n", `config: line 5: providers[0].clientSecret: is too short to be a real credential (at least 8 characters)`},
		{"a concurrency cap of none", minimal + "    maxConcurrency: -1\n", `config: line 5: providers[0].maxConcurrency: must be between 1 and 256`},
		{"token and client credentials", minimal + "    clientID: a\n    clientSecret: client-secret-b\n", `config: line 4: providers[0].token: set together with clientID/clientSecret`},
		{"short cursor secret", "server:\n  cursorSecret: ${SECRET}\n" + minimal, `config: line 2: server.cursorSecret: must be at least 32 bytes (it has 7)`},
		{"token store without its directory", concur + "    tokenStore: /nonexistent-dirgate/concur.json\n", `config: line 8: providers[0].tokenStore: the directory /nonexistent-dirgate does not exist`},
		{"token store that is a directory", concur + "    tokenStore: /tmp\n", `config: line 8: providers[0].tokenStore: /tmp is a directory, not a file`},
		{"token store in a file", concur + "    tokenStore: /etc/hostname/x.json\n", `config: line 8: providers[0].tokenStore: /etc/hostname is not a directory`},
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
			for _, leak := range []string{"hunter2", "rt-value", "unmarshal", "!!", "time.Duration", "config.", "int64", "string into"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q quotes a secret or names a Go type (%q)", err, leak)
				}
			}
		})
	}
}

// TestEveryErrorAtOnce: the type errors and typos the issue met, in one
// file: each error names its key and line, typos get the nearest key,
// and all of them come at once, in the file's order, with no value and
// no Go type name.
func TestEveryErrorAtOnce(t *testing.T) {
	const file = `server:
  adress: 0.0.0.0:8080
  requestTimeout: 10
  maxPageSize: lots
  cursorSecret: ${CURSOR_SECRET}
providers:
  - key: concur
    kind: concur
    clientId: ${CONCUR_CLIENT_ID}
    clientSecret: ${CONCUR_CLIENT_SECRET}
    companyUUID: c
    requestToken: request-token-r
    timeout: 10
  - key: getbill
    kind: getbill
    baseURL: ${GETBILL_URL}
    token: token-long-enough
    cacheTTL: 60
provider: {}
`
	_, err := Parse([]byte(file), env(map[string]string{"CURSOR_SECRET": "too-short-secret", "CONCUR_CLIENT_SECRET": "s3cr3t-from-env"}))
	if err == nil {
		t.Fatal("Parse = nil error")
	}
	want := []string{
		"config: the configuration has 11 errors:",
		"  line 2: server.adress: unknown key; did you mean addr?",
		"  line 3: server.requestTimeout: want a duration with a unit, such as 10s, 2m or 1h30m: a bare number has none",
		"  line 4: server.maxPageSize: want a whole number",
		"  line 5: server.cursorSecret: must be at least 32 bytes (it has 16): make one with openssl rand -base64 32",
		"  line 7: providers[0].clientID: missing, but required",
		"  line 9: providers[0].clientId: ${CONCUR_CLIENT_ID} is not set (or is empty): set it, or write ${CONCUR_CLIENT_ID:-default} to fall back to a default",
		"  line 9: providers[0].clientId: not a key of kind concur; did you mean clientID?",
		"  line 13: providers[0].timeout: want a duration with a unit, such as 10s, 2m or 1h30m: a bare number has none",
		"  line 16: providers[1].baseURL: ${GETBILL_URL} is not set (or is empty): set it, or write ${GETBILL_URL:-default} to fall back to a default",
		"  line 18: providers[1].cacheTTL: want a duration with a unit, such as 10s, 2m or 1h30m: a bare number has none",
		"  line 19: provider: unknown key; did you mean providers?",
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("Parse =\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}
	var list *Errors
	if !errors.As(err, &list) || len(list.List) != 11 || list.List[0].Path != "server.adress" || list.List[0].Line != 2 {
		t.Errorf("errors.As(*Errors) = %+v", list)
	}
	// The checks of what did read come with the errors of what did not
	// (the short cursor secret, the clientID the typo left out above),
	// but for keys that have their error already (maxPageSize, whose
	// default comes back within limits, is not reported twice).
	fixed := "server:\n  cursorSecret: ${CURSOR_SECRET}\n  maxPageSize: 0\n  limits: {depth: -1, tokens: -2}\n" +
		"providers:\n  - key: g\n    kind: getbill\n    token: token-long-enough\n    clientSecret: secret-long-enough\n    baseURL: ftp://x\n"
	_, err = Parse([]byte(fixed), env(map[string]string{"CURSOR_SECRET": "too-short-secret"}))
	want = []string{
		"config: the configuration has 5 errors:",
		"  line 2: server.cursorSecret: must be at least 32 bytes (it has 16): make one with openssl rand -base64 32",
		"  line 4: server.limits.depth: must be at least 1",
		"  line 4: server.limits.tokens: must be at least 1",
		"  line 8: providers[0].token: set together with clientID/clientSecret: give a token, or client credentials, not both",
		"  line 10: providers[0].baseURL: must be an absolute http or https URL without credentials, query or fragment",
	}
	if err == nil || !slices.Equal(strings.Split(err.Error(), "\n"), want) {
		t.Errorf("Parse =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
}

// TestEnvDefaults: ${VAR:-default} falls back when VAR is unset or empty;
// ${VAR:-} allows empty.
func TestEnvDefaults(t *testing.T) {
	c, err := Parse([]byte("server:\n  addr: ${ADDR:-127.0.0.1:9999}\n  requestTimeout: ${TIMEOUT:-5s}\n"+
		"providers:\n  - key: g\n    kind: getbill\n    token: ${TOKEN}\n    baseURL: ${URL:-http://localhost:1}/v1\n    name: ${NAME:-}\n"),
		env(map[string]string{"TOKEN": "token-12345", "TIMEOUT": "7s"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Addr != "127.0.0.1:9999" || c.Server.RequestTimeout != 7*time.Second || c.Providers[0].Settings.(*getbill.Config).BaseURL != "http://localhost:1/v1" || c.Providers[0].Name != "g" {
		t.Errorf("server %+v provider %+v", c.Server, c.Providers[0])
	}
}

// TestDecodeStrict uses the decoder on its own, as a provider kind's
// configuration would: a part of a file, into a struct of its own.
func TestDecodeStrict(t *testing.T) {
	type Inner struct {
		Every time.Duration `yaml:"every"`
		Tags  []string      `yaml:"tags"`
	}
	type Kind struct {
		URL     string            `yaml:"url"`
		Retries int               `yaml:"retries"`
		Ratio   float64           `yaml:"ratio"`
		On      bool              `yaml:"on"`
		Inner   Inner             `yaml:"inner"`
		List    []Inner           `yaml:"list"`
		Labels  map[string]string `yaml:"labels"`
		Ptr     *Inner            `yaml:"ptr"`
		Raw     yaml.Node         `yaml:"raw"`
		Skipped string            `yaml:"-"`
	}
	var doc yaml.Node
	src := "base: &b {every: 1m}\nkind:\n  url: http://x\n  retries: 0x10\n  ratio: .5\n  on: yes\n  inner:\n    <<: *b\n    tags: [a, b]\n" +
		"  list:\n    - {every: 2s}\n  labels: {team: id}\n  ptr: {tags: [c]}\n  raw: {anything: [1, 2]}\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	node := doc.Content[0].Content[3]
	k := Kind{Retries: 3}
	if err := DecodeStrict(node, "providers[2]", &k); err != nil {
		t.Fatal(err)
	}
	if k.URL != "http://x" || k.Retries != 16 || k.Ratio != .5 || !k.On || k.Inner.Every != time.Minute || !slices.Equal(k.Inner.Tags, []string{"a", "b"}) ||
		len(k.List) != 1 || k.List[0].Every != 2*time.Second || k.Labels["team"] != "id" || k.Ptr == nil || k.Ptr.Tags[0] != "c" || k.Raw.Kind != yaml.MappingNode {
		t.Errorf("decoded %+v", k)
	}

	src = "kind:\n  url: [x]\n  retries: many\n  inner: {every: 5, tagz: []}\n  list: {every: 1s}\n  labels: [a]\n  retries: 2\n  Skipped: x\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	err := DecodeStrict(doc.Content[0].Content[1], "providers[2]", &Kind{})
	want := []string{
		"line 2: providers[2].url: want a string, not a list",
		"line 3: providers[2].retries: want a whole number",
		"line 4: providers[2].inner.every: want a duration with a unit, such as 10s, 2m or 1h30m: a bare number has none",
		"line 4: providers[2].inner.tagz: unknown key; did you mean tags?",
		"line 5: providers[2].list: want a list, not a mapping of keys",
		"line 6: providers[2].labels: want a mapping of keys, not a list",
		"line 7: providers[2].retries: set twice (also on line 3)",
		"line 8: providers[2].Skipped: unknown key; the keys here are url, retries, ratio, on, inner, list, labels, ptr, raw",
	}
	if err == nil || !slices.Equal(strings.Split(err.Error(), "\n"), want) {
		t.Errorf("DecodeStrict =\n%v\nwant\n%s", err, strings.Join(want, "\n"))
	}
	var e *Error
	if !errors.As(err, &e) || e.Path != "providers[2].url" || e.Line != 2 {
		t.Errorf("errors.As(*Error) = %+v", e)
	}
}

// TestNearest: typos find the key they were meant to be.
func TestNearest(t *testing.T) {
	server := []string{"addr", "cors", "defaultPageSize", "maxPageSize", "cursorSecret", "auth", "introspection", "playground", "limits", "requestTimeout", "shutdownTimeout", "readiness", "log", "apq"}
	for _, tt := range []struct{ give, want string }{
		{"adress", "addr"}, {"address", "addr"}, {"adr", "addr"}, {"max_page_size", "maxPageSize"}, {"cursorsecret", "cursorSecret"},
		{"requestTimout", "requestTimeout"}, {"playgound", "playground"}, {"introspecton", "introspection"}, {"limit", "limits"},
		{"logs", "log"}, {"tracing", ""}, {"x", ""},
	} {
		if got := Nearest(tt.give, server); got != tt.want {
			t.Errorf("Nearest(%q) = %q, want %q", tt.give, got, tt.want)
		}
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
