package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/health"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
)

// syncBuffer is a log sink that is safe to read while the server writes
// to it. When watch is set, it closes seen once the output contains it.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	watch string
	seen  chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	if s.seen != nil && s.watch != "" && strings.Contains(s.b.String(), s.watch) {
		close(s.seen)
		s.watch = ""
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// post sends a GraphQL request body to url's /query as JSON, with headers
// as send takes them, and decodes the answer, which must be JSON.
func post(t *testing.T, url, body string, headers ...string) (answer, response) {
	t.Helper()
	a := send(t, http.MethodPost, url+"/query", body, append([]string{"Content-Type", jsonType}, headers...)...)
	var r response
	if err := json.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("status %d, body %q: %v", a.status, a.body, err)
	}
	return a, r
}

func gqlBody(query string, vars map[string]any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func vendorCalls(g *gateway) [4]int {
	ct, cu := g.concur.Calls()
	gt, gu := g.getbill.Calls()
	return [4]int{ct, cu, gt, gu}
}

// TestAuth: without a key, with a wrong key or with a malformed header, a
// caller gets a 401 with a coded JSON body and no vendor is called; with
// the right key, data. Probes and metrics need no key.
func TestAuth(t *testing.T) {
	key, hash := auth.GenerateKey()
	g := newGateway(t, func(c *config.Config) { c.Server.Auth.APIKeys = []string{hash} })
	body := gqlBody(`{ users(first: 2) { edges { node { id } } } }`, nil)
	before := vendorCalls(g)
	for _, tt := range []struct {
		name    string
		headers []string
	}{
		{"no key", nil},
		{"wrong key", []string{"Authorization", "Bearer " + key + "x"}},
		{"key without Bearer", []string{"Authorization", key}},
	} {
		resp, r := post(t, g.url, body, tt.headers...)
		if resp.status != http.StatusUnauthorized || !slices.Equal(codes(r.Errors), []string{"UNAUTHENTICATED"}) || r.Data != nil {
			t.Errorf("%s: %d %+v, want 401 UNAUTHENTICATED without data", tt.name, resp.status, r)
		}
		if ct := resp.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, ct)
		}
	}
	if code, _ := get(t, g.url+"/query?query={__typename}"); code != http.StatusUnauthorized {
		t.Errorf("GET without key: %d, want 401", code)
	}
	if after := vendorCalls(g); after != before {
		t.Errorf("vendor calls went from %v to %v for unauthenticated requests", before, after)
	}
	resp, r := post(t, g.url, body, "Authorization", "Bearer "+key)
	if resp.status != 200 || len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"edges":[{`) {
		t.Errorf("right key: %d %s %+v", resp.status, r.Data, r.Errors)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _ := get(t, g.url+path); code == http.StatusUnauthorized {
			t.Errorf("%s asks for a key", path)
		}
	}
	if logs := g.logs.String(); strings.Contains(logs, key) {
		t.Errorf("the API key reached the log")
	}
}

// TestLimits: each limit rejects before any resolver runs, with its own
// code, and no vendor is called.
func TestLimits(t *testing.T) {
	g := newGateway(t, func(c *config.Config) {
		c.Server.Limits = config.Limits{Depth: 6, Complexity: 500, Tokens: 200, BodyBytes: 4096}
	})
	var aliases strings.Builder
	for i := range 100 {
		fmt.Fprintf(&aliases, " a%d: __typename", i)
	}
	tests := []struct {
		name    string
		body    string
		status  int
		code    string
		message string
	}{
		{"depth", gqlBody(`{ users(first: 1) { edges { node { linkedAccounts { provider { company { name } } } } } } }`, nil), 200, "DEPTH_LIMIT_EXCEEDED", "7 deep"},
		{"depth through a fragment", gqlBody(`{ users(first: 1) { ...C } } fragment C on UserConnection { nodes { linkedAccounts { linkedAccounts { provider { company { name } } } } } }`, nil), 200, "DEPTH_LIMIT_EXCEEDED", "7 deep"},
		// users(first: 200) costs 1 + 200 × (edges 1 + node 1 + id 1 +
		// email 1), and 10 for each of its 3 estimated Concur calls (2
		// pages of 100 and a total).
		{"complexity", gqlBody(`{ users(first: 200) { edges { node { id email } } } }`, nil), 200, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 831"},
		{"complexity from a variable", gqlBody(`query($n: Int) { users(first: $n) { edges { node { id email } } } }`, map[string]any{"n": 126}), 200, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 535"},
		// 1 + 25 × (nodes 1 + linkedAccounts (1 + 5 × 4 fields + 10 for
		// the Concur search by email)) + 20 for the page's 2 Concur calls.
		{"complexity of linkedAccounts", gqlBody(`{ users(first: 25) { nodes { linkedAccounts { id email displayName active } } } }`, nil), 200, "COMPLEXITY_LIMIT_EXCEEDED", "complexity 821"},
		{"tokens", gqlBody("{"+aliases.String()+" }", nil), 200, "TOKEN_LIMIT_EXCEEDED", "token limit of 200"},
		{"body", gqlBody(`{ users { totalCount } }`+strings.Repeat(" ", 5000), nil), 413, "REQUEST_TOO_LARGE", "larger than 4096 bytes"},
		{"page size", gqlBody(`{ users(first: 1001) { totalCount } }`, nil), 200, "PAGE_SIZE_LIMIT_EXCEEDED", "first must be at most 1000"},
		{"page size from a variable", gqlBody(`query($n: Int) { users(last: $n) { totalCount } }`, map[string]any{"n": 5000}), 200, "PAGE_SIZE_LIMIT_EXCEEDED", "last must be at most 1000"},
	}
	for _, tt := range tests {
		before := vendorCalls(g)
		resp, r := post(t, g.url, tt.body)
		if resp.status != tt.status || !slices.Equal(codes(r.Errors), []string{tt.code}) || r.Data != nil {
			t.Errorf("%s: %d %s %+v, want %d and only %s, without data", tt.name, resp.status, r.Data, r.Errors, tt.status, tt.code)
			continue
		}
		if !strings.Contains(r.Errors[0].Message, tt.message) {
			t.Errorf("%s: message %q, want it to contain %q", tt.name, r.Errors[0].Message, tt.message)
		}
		// A client that accepts application/graphql-response+json gets the
		// 4xx its media type calls for: 400 for the limits checked on the
		// GraphQL document, 413 still for the body.
		want := tt.status
		if want == 200 {
			want = 400
		}
		if resp, r := post(t, g.url, tt.body, "Accept", "application/graphql-response+json"); resp.status != want || !slices.Equal(codes(r.Errors), []string{tt.code}) || r.Data != nil {
			t.Errorf("%s, accepting application/graphql-response+json: %d %s %+v, want %d and only %s, without data", tt.name, resp.status, r.Data, r.Errors, want, tt.code)
		}
		if after := vendorCalls(g); after != before {
			t.Errorf("%s: vendor calls went from %v to %v", tt.name, before, after)
		}
	}
	// Just under each limit, the same shapes run.
	for _, q := range []string{
		`{ users(first: 1) { edges { node { linkedAccounts { provider { key } } } } } }`, // depth 6
		`{ users(first: 117) { edges { node { id email } } } }`,                          // complexity 499
	} {
		if _, r := post(t, g.url, gqlBody(q, nil)); len(r.Errors) > 0 {
			t.Errorf("%s: %+v", q, r.Errors)
		}
	}
	// The resolver still refuses what the limits let through.
	if _, r := post(t, g.url, gqlBody(`{ users(first: -1) { totalCount } }`, nil)); !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) {
		t.Errorf("first: -1: %+v, want BAD_USER_INPUT", r.Errors)
	}
}

func TestIntrospectionAndPlayground(t *testing.T) {
	const introspect = `{ __schema { queryType { name } } }`
	off := newGateway(t, nil)
	if _, r := post(t, off.url, gqlBody(introspect, nil)); !slices.Equal(codes(r.Errors), []string{"INTROSPECTION_DISABLED"}) {
		t.Errorf("introspection off: %+v, want INTROSPECTION_DISABLED", r.Errors)
	}
	if _, r := post(t, off.url, gqlBody(`{ __typename }`, nil)); len(r.Errors) > 0 {
		t.Errorf("__typename with introspection off: %+v", r.Errors)
	}
	if code, _ := get(t, off.url+"/"); code != http.StatusNotFound {
		t.Errorf("playground off: GET / = %d, want 404", code)
	}
	if strings.Contains(off.logs.String(), "internal error") {
		t.Errorf("a refused introspection was logged as an internal error")
	}

	on := newGateway(t, func(c *config.Config) {
		c.Server.Introspection = true
		c.Server.Playground = config.Playground{Enabled: true, Path: "/play"}
	})
	if _, r := post(t, on.url, gqlBody(introspect, nil)); len(r.Errors) > 0 || string(r.Data) != `{"__schema":{"queryType":{"name":"Query"}}}` {
		t.Errorf("introspection on: %s %+v", r.Data, r.Errors)
	}
	if code, body := get(t, on.url+"/play/"); code != 200 || !strings.Contains(body, "<html") {
		t.Errorf("playground at /play/: %d", code)
	}
	if code, _ := get(t, on.url+"/"); code != http.StatusNotFound {
		t.Errorf("playground moved to /play: GET / = %d, want 404", code)
	}
}

func readyz(t *testing.T, g *gateway) (int, health.Report) {
	t.Helper()
	code, body := get(t, g.url+"/readyz")
	var r health.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("readyz: %q: %v", body, err)
	}
	return code, r
}

// TestReadyz: not ready until every provider has authenticated once;
// not ready while Concur refuses dirgate's credentials (with
// whenDegraded: notReady), and ready again once it accepts them, found by
// /readyz's own probes without any GraphQL traffic.
func TestReadyz(t *testing.T) {
	g := newGateway(t, func(c *config.Config) {
		c.Server.Readiness = config.Readiness{WhenDegraded: config.DegradedNotReady, ProbeInterval: time.Nanosecond}
	})
	probes := g.handler.(*server).ready
	state := func(r health.Report, key string) health.ProviderReport {
		for _, p := range r.Providers {
			if p.Key == key {
				return p
			}
		}
		t.Fatalf("no provider %s in %+v", key, r)
		return health.ProviderReport{}
	}

	if code, r := readyz(t, g); code != 503 || r.Status != health.Starting {
		t.Errorf("before any call: %d %+v, want 503 starting", code, r)
	}
	probes.Wait() // the probes that answer started
	if code, r := readyz(t, g); code != 200 || r.Status != health.Ready {
		t.Fatalf("after the probes: %d %+v, want 200 ready", code, r)
	}

	// Concur's refresh token is revoked and its request token replaced:
	// dirgate can no longer authenticate.
	g.concur.ExpireAccessTokens()
	g.concur.RevokeRefreshTokens()
	g.concur.SetRequestToken("a-new-request-token")
	if p, errs := g.page(t, map[string]any{"first": 300}); !slices.Equal(codes(errs), []string{"PROVIDER_AUTH_FAILED@concur"}) || len(p.Users.Edges) == 0 {
		t.Fatalf("with Concur's auth failing: %d users, errors %v", len(p.Users.Edges), codes(errs))
	}
	code, r := readyz(t, g)
	c := state(r, "concur")
	if code != 503 || r.Status != health.Degraded || c.Up || !c.Authenticated || c.LastError == nil || c.LastError.Code != errcode.ProviderAuthFailed {
		t.Errorf("Concur failing: %d %+v, want 503 degraded, concur down with PROVIDER_AUTH_FAILED", code, r)
	}
	probes.Wait()
	if code, _ := readyz(t, g); code != 503 {
		t.Errorf("after a failed probe: %d, want 503", code)
	}
	probes.Wait()

	// The operator configures the new request token in Concur's emulator
	// terms: the one dirgate has is accepted again.
	g.concur.SetRequestToken("request-token-secret")
	readyz(t, g) // starts a probe
	probes.Wait()
	code, r = readyz(t, g)
	if c := state(r, "concur"); code != 200 || r.Status != health.Ready || !c.Up {
		t.Errorf("Concur recovered: %d %+v, want 200 ready", code, r)
	}
	if strings.Contains(fmt.Sprint(r), "request-token-secret") {
		t.Errorf("readyz shows a secret")
	}
}

// metric returns the value of the series name{labels} (labels in the
// exposition's sorted order) in a /metrics body.
func metric(body, series string) (float64, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// TestMetrics: after a query, every family has its series.
func TestMetrics(t *testing.T) {
	g := newGateway(t, func(c *config.Config) { c.Providers[1].CacheTTL = time.Hour })
	q := `query Users($first: Int) { users(first: $first) { totalCount edges { node { id linkedAccounts { id } } } } }`
	if _, r := post(t, g.url, gqlBody(q, map[string]any{"first": 300})); len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	post(t, g.url, gqlBody(q, map[string]any{"first": 300})) // getbill from the cache
	// Concur answers 503: retried, then reported beside getbill's users.
	g.concur.SetFault(concur.Fault{Status: http.StatusServiceUnavailable})
	if _, r := post(t, g.url, gqlBody(`query Partial { users(first: 50) { totalCount } }`, nil)); !slices.Equal(codes(r.Errors), []string{"PROVIDER_UNAVAILABLE@concur"}) {
		t.Errorf("partial: %+v", r.Errors)
	}
	g.concur.SetFault(concur.Fault{})
	post(t, g.url, gqlBody(`query TooBig { users(first: 5000) { totalCount } }`, nil))
	readyz(t, g)
	g.handler.(*server).ready.Wait()

	_, body := get(t, g.url+"/metrics")
	for _, tt := range []struct {
		series string
		want   func(float64) bool
	}{
		{`dirgate_graphql_requests_total{operation="Users",outcome="ok"}`, eq(2)},
		{`dirgate_graphql_requests_total{operation="TooBig",outcome="error"}`, eq(1)},
		{`dirgate_graphql_request_duration_seconds_count{operation="Users",outcome="ok"}`, eq(2)},
		{`dirgate_http_requests_total{code="200",handler="query"}`, atLeast(2)},
		{`dirgate_http_request_duration_seconds_count{handler="query"}`, atLeast(3)},
		{`dirgate_vendor_requests_total{endpoint="api",provider="concur",status="200"}`, atLeast(3)},
		{`dirgate_vendor_requests_total{endpoint="api",provider="getbill",status="200"}`, atLeast(1)},
		{`dirgate_vendor_request_duration_seconds_count{endpoint="api",provider="concur"}`, atLeast(3)},
		{`dirgate_vendor_token_renewals_total{outcome="ok",provider="concur"}`, eq(1)},
		{`dirgate_vendor_token_renewals_total{outcome="ok",provider="getbill"}`, eq(1)},
		{`dirgate_vendor_token_renewals_total{outcome="failed",provider="concur"}`, eq(0)},
		{`dirgate_vendor_rate_limit_remaining{provider="getbill"}`, atLeast(0)},
		{`dirgate_vendor_rate_limit{provider="getbill"}`, atLeast(1)},
		{`dirgate_provider_up{provider="concur"}`, eq(1)},
		{`dirgate_graphql_requests_total{operation="Partial",outcome="partial"}`, eq(1)},
		{`dirgate_vendor_requests_total{endpoint="api",provider="concur",status="503"}`, eq(providers.DefaultMaxAttempts)},
		{`dirgate_provider_calls_total{outcome="ok",provider="concur"}`, atLeast(2)},
		{`dirgate_provider_calls_total{outcome="PROVIDER_UNAVAILABLE",provider="concur"}`, eq(1)},
		{`dirgate_provider_call_duration_seconds_count{provider="getbill"}`, atLeast(3)},
		{`dirgate_provider_retries_total{provider="concur"}`, eq(providers.DefaultMaxAttempts - 1)},
		{`dirgate_provider_retries_total{provider="getbill"}`, eq(0)},
		{`dirgate_provider_cache_requests_total{provider="getbill",result="miss"}`, eq(1)},
		{`dirgate_provider_cache_requests_total{provider="getbill",result="hit"}`, atLeast(1)},
		{`dirgate_ready`, atLeast(0)},
		{`go_goroutines`, atLeast(1)},
	} {
		v, ok := metric(body, tt.series)
		if !ok || !tt.want(v) {
			t.Errorf("%s = %v (present %t)", tt.series, v, ok)
		}
	}
	if strings.Contains(body, "request-token-secret") || strings.Contains(body, "@") {
		t.Errorf("/metrics carries a secret or an email")
	}
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

func atLeast(want float64) func(float64) bool { return func(v float64) bool { return v >= want } }

// TestRequestLog: one line per request with its id, kept from the caller
// or made, and returned; the operation, outcome and duration.
func TestRequestLog(t *testing.T) {
	g := newGateway(t, nil)
	resp, _ := post(t, g.url, gqlBody(`query Page { users(first: 1) { totalCount } }`, nil), "X-Request-ID", "trace-42")
	if id := resp.header.Get("X-Request-ID"); id != "trace-42" {
		t.Errorf("X-Request-ID = %q, want the caller's", id)
	}
	resp, _ = post(t, g.url, gqlBody(`{ users(first: 1) { totalCount } }`, nil))
	made := resp.header.Get("X-Request-ID")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(made) {
		t.Errorf("made X-Request-ID = %q", made)
	}
	post(t, g.url, gqlBody(`{ users(first: 1001) { totalCount } }`, nil), "X-Request-ID", "trace-43")
	if resp, err := http.Get(g.url + "/healthz"); err == nil { // finishes the log lines of the requests before
		resp.Body.Close()
	}

	lines := map[string]string{}
	for line := range strings.SplitSeq(g.logs.String(), "\n") {
		if m := regexp.MustCompile(`msg=request .*request_id=(\S+)`).FindStringSubmatch(line); m != nil {
			if _, dup := lines[m[1]]; dup {
				t.Errorf("two request lines for %s", m[1])
			}
			lines[m[1]] = line
		}
	}
	for id, want := range map[string][]string{
		"trace-42": {"method=POST", "path=/query", "status=200", "operation=Page", "outcome=ok", "duration_ms="},
		made:       {"operation=anonymous", "outcome=ok"},
		"trace-43": {"outcome=error", "codes=[PAGE_SIZE_LIMIT_EXCEEDED]"},
	} {
		line, ok := lines[id]
		if !ok {
			t.Errorf("no request line for %s in:\n%s", id, g.logs)
			continue
		}
		for _, w := range want {
			if !strings.Contains(line, w) {
				t.Errorf("request line %q lacks %q", line, w)
			}
		}
	}
}

// TestPersistedQueries: automatic persisted queries, registered and then
// sent by hash; too large a query runs but is not kept.
func TestPersistedQueries(t *testing.T) {
	g := newGateway(t, nil)
	apq := func(query, hash string) string {
		m := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		if query != "" {
			m["query"] = query
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	sum := func(q string) string { h := sha256.Sum256([]byte(q)); return hex.EncodeToString(h[:]) }
	q := `{ users(first: 2) { totalCount } }`
	if _, r := post(t, g.url, apq("", sum(q))); !slices.Equal(codes(r.Errors), []string{"PERSISTED_QUERY_NOT_FOUND"}) {
		t.Errorf("unknown hash: %+v, want PERSISTED_QUERY_NOT_FOUND", r.Errors)
	}
	if _, r := post(t, g.url, apq(q, sum(q))); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "totalCount") {
		t.Errorf("register: %s %+v", r.Data, r.Errors)
	}
	if _, r := post(t, g.url, apq("", sum(q))); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "totalCount") {
		t.Errorf("by hash: %s %+v", r.Data, r.Errors)
	}
	if _, r := post(t, g.url, apq(q, sum("another query"))); !slices.Equal(codes(r.Errors), []string{"BAD_REQUEST"}) {
		t.Errorf("hash mismatch: %+v, want BAD_REQUEST", r.Errors)
	}
	big := "# " + strings.Repeat("padding ", 9000) + "\n{ __typename }"
	if _, r := post(t, g.url, apq(big, sum(big))); len(r.Errors) > 0 {
		t.Errorf("big query: %+v", r.Errors)
	}
	if _, r := post(t, g.url, apq("", sum(big))); !slices.Equal(codes(r.Errors), []string{"PERSISTED_QUERY_NOT_FOUND"}) {
		t.Errorf("a query over 64 KiB was kept: %+v", r.Errors)
	}
}

// emulators starts both vendors' emulators over known users, each behind
// wrap (when not nil), and returns the providers' configuration in YAML
// with the secrets as ${VAR} and the environment that holds them.
func emulators(t *testing.T, wrap func(vendor string, h http.Handler) http.Handler) (*concur.Emulator, string, map[string]string) {
	t.Helper()
	all := providertest.Dataset(120)
	var cu, gu []driver.User
	for _, u := range all[:100] {
		cu = append(cu, asConcur(u))
	}
	for _, u := range all[100:] {
		gu = append(gu, asGetbill(u))
	}
	env := map[string]string{
		"CONCUR_SECRET": "concur-secret-Zq81", "CONCUR_REQUEST_TOKEN": "concur-request-token-Yw27",
		"GETBILL_SECRET": "getbill-secret-Xe63", "CURSOR_SECRET": "cursor-secret-Vr45-a-32-byte-mac-key",
	}
	ce := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: env["CONCUR_SECRET"], CompanyUUID: "company", RequestToken: env["CONCUR_REQUEST_TOKEN"], Users: cu,
	})
	ge := getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "gid", ClientSecret: env["GETBILL_SECRET"], Users: gu})
	var ch, gh http.Handler = ce, ge
	if wrap != nil {
		ch, gh = wrap("concur", ch), wrap("getbill", gh)
	}
	cs, gs := httptest.NewServer(ch), httptest.NewServer(gh)
	t.Cleanup(cs.Close)
	t.Cleanup(gs.Close)
	yaml := fmt.Sprintf(`providers:
  - key: concur
    kind: concur
    tokenURL: %s/oauth2/v0/token
    clientID: cid
    clientSecret: ${CONCUR_SECRET}
    companyUUID: company
    requestToken: ${CONCUR_REQUEST_TOKEN}
    tokenStore: %s
  - key: getbill
    kind: getbill
    baseURL: %s
    clientID: gid
    clientSecret: ${GETBILL_SECRET}
`, cs.URL, filepath.Join(t.TempDir(), "concur.json"), gs.URL)
	return ce, yaml, env
}

// started runs dirgate with the configuration file and returns its base
// URL and the channel run's result arrives on.
func started(t *testing.T, ctx context.Context, configYAML string, env map[string]string, stderr io.Writer) (string, <-chan error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dirgate.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRun(t, ctx, []string{"-config", path}, func(k string) string { return env[k] }, stderr)
}

// TestNoSecretsInLogs runs dirgate at debug level through successes and
// failures of both vendors and of callers, and looks for every secret it
// was configured with, and every token the vendors issued, in its log.
func TestNoSecretsInLogs(t *testing.T) {
	var (
		mu     sync.Mutex
		issued []string
	)
	tokenField := regexp.MustCompile(`"(?:access_token|refresh_token)"\s*:\s*"([^"]+)"`)
	capture := func(_ string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			mu.Lock()
			for _, m := range tokenField.FindAllStringSubmatch(rec.Body.String(), -1) {
				issued = append(issued, m[1])
			}
			mu.Unlock()
			maps := w.Header()
			for k, v := range rec.Header() {
				maps[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
		})
	}
	ce, providersYAML, env := emulators(t, capture)
	key, hash := auth.GenerateKey()
	cfg := fmt.Sprintf("server:\n  addr: 127.0.0.1:0\n  cursorSecret: ${CURSOR_SECRET}\n  auth:\n    apiKeys: [%q]\n  log: {format: json, level: debug}\n", hash) + providersYAML
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, cfg, env, logs)

	bearer := []string{"Authorization", "Bearer " + key}
	q := gqlBody(`query Walk($after: String) { users(first: 70, after: $after) { pageInfo { endCursor } edges { node { id email linkedAccounts { id } } } } }`, nil)
	post(t, base, q)                                            // no key
	post(t, base, q, "Authorization", "Bearer "+key+"-wrong")   // wrong key
	post(t, base, q, "Authorization", "Basic "+key)             // wrong scheme
	if _, r := post(t, base, q, bearer...); len(r.Errors) > 0 { // both vendors authenticate
		t.Fatalf("%+v", r.Errors)
	}
	ce.ExpireAccessTokens() // a refresh
	post(t, base, q, bearer...)
	ce.ExpireAccessTokens() // a refused refresh, then a refused request token
	ce.RevokeRefreshTokens()
	ce.SetRequestToken("another-request-token")
	if _, r := post(t, base, q, bearer...); !slices.Contains(codes(r.Errors), "PROVIDER_AUTH_FAILED@concur") {
		t.Errorf("concur auth failure: %+v", r.Errors)
	}
	post(t, base, `{"query": "{ users(first: 1) { totalCount } }", "variables": {"secret": "`+env["GETBILL_SECRET"]+`"`, bearer...) // not JSON
	get(t, base+"/readyz")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	out := logs.String()
	for _, want := range []string{`"level":"DEBUG"`, `"msg":"vendor request"`, `"msg":"request"`, `"msg":"caller not authenticated"`, `"msg":"provider failed"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s: the run did not go where the test means it to", want)
		}
	}
	mu.Lock()
	secrets := append([]string{key, env["CONCUR_SECRET"], env["CONCUR_REQUEST_TOKEN"], env["GETBILL_SECRET"], env["CURSOR_SECRET"], "another-request-token"}, issued...)
	mu.Unlock()
	if len(issued) < 3 {
		t.Errorf("captured %d vendor tokens, want at least 3", len(issued))
	}
	for i, line := range strings.Split(out, "\n") {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("log line %d carries a secret (%d characters): %s", i, len(s), strings.ReplaceAll(line, s, "<SECRET>"))
			}
		}
	}
}

// TestGracefulShutdown: once told to stop, dirgate stops accepting, lets
// the request in flight finish, and returns nil.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // so that a failing test does not leave the vendor blocked
	gate := func(vendor string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Only the test's query filters on lastName; probes do not.
			if vendor == "concur" && r.URL.Query().Get("lastname") != "" {
				once.Do(func() { close(entered) })
				<-release
			}
			h.ServeHTTP(w, r)
		})
	}
	_, providersYAML, env := emulators(t, gate)
	logs := &syncBuffer{watch: "stopped accepting", seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, "server:\n  addr: 127.0.0.1:0\n  shutdownTimeout: 1h\n"+providersYAML, env, logs)

	type result struct {
		status int
		r      response
		err    error
	}
	answered := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/query", "application/json", strings.NewReader(gqlBody(`{ users(first: 3, filter: {lastName: "smith"}) { totalCount edges { node { id } } } }`, nil)))
		if err != nil {
			answered <- result{err: err}
			return
		}
		defer resp.Body.Close()
		var r response
		err = json.NewDecoder(resp.Body).Decode(&r)
		answered <- result{resp.StatusCode, r, err}
	}()
	select {
	case <-entered:
	case res := <-answered:
		t.Fatalf("answered before reaching the vendor: %+v", res)
	}
	cancel()
	select {
	case <-logs.seen: // Shutdown has closed the listener
	case err := <-done:
		t.Fatalf("run returned %v before shutting down", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("a new connection was accepted during shutdown")
	}
	select {
	case err := <-done:
		t.Fatalf("run returned %v with a request in flight", err)
	default:
	}
	releaseOnce()
	res := <-answered
	if res.err != nil || res.status != 200 || len(res.r.Errors) > 0 || !strings.Contains(string(res.r.Data), `"edges"`) {
		t.Errorf("the request in flight: %d %s %+v %v, want 200 with data", res.status, res.r.Data, res.r.Errors, res.err)
	}
	if err := <-done; err != nil {
		t.Errorf("run = %v, want nil", err)
	}
}

// TestRefuseUnauthenticated: dirgate will not serve unauthenticated on an
// address other hosts can reach, unless told so explicitly.
func TestRefuseUnauthenticated(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	dir := t.TempDir()
	for _, tt := range []struct {
		name, server string
		args         []string
	}{
		{"config", "server:\n  addr: 0.0.0.0:0\n", nil},
		{"-addr", "server:\n  addr: 127.0.0.1:0\n", []string{"-addr", ":0"}},
	} {
		path := filepath.Join(dir, tt.name+".yaml")
		os.WriteFile(path, []byte(tt.server+providersYAML), 0o600)
		err := run(t.Context(), append([]string{"dirgate", "-config", path}, tt.args...), func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "server.auth.mode") {
			t.Errorf("%s: run = %v, want a refusal naming server.auth.mode", tt.name, err)
		}
	}
	// Explicitly unauthenticated, it serves, but only to the hosts it is
	// told callers use, and so must be told them.
	path := filepath.Join(dir, "none.yaml")
	os.WriteFile(path, []byte("server:\n  addr: 0.0.0.0:0\n  auth:\n    mode: none\n"+providersYAML), 0o600)
	err := run(t.Context(), []string{"dirgate", "-config", path}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "server.allowedHosts") {
		t.Errorf("mode none without allowedHosts: run = %v, want a refusal naming server.allowedHosts", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, "server:\n  addr: 0.0.0.0:0\n  allowedHosts: [dirgate.internal]\n  auth:\n    mode: none\n"+providersYAML, env, io.Discard)
	for _, tt := range []struct {
		host, code string
	}{{"dirgate.internal", ""}, {"dirgate.internal:8080", ""}, {"attacker.example", "HOST_NOT_ALLOWED"}} {
		a, r := post(t, base, gqlBody(`{ users(first: 1) { totalCount } }`, nil), "Host", tt.host)
		if got := strings.Join(codes(r.Errors), ","); got != tt.code || tt.code != "" && a.status != http.StatusMisdirectedRequest {
			t.Errorf("mode none, Host %s: %d %+v, want code %q", tt.host, a.status, r.Errors, tt.code)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run = %v", err)
	}
}

// TestGenKey: -gen-key prints a key and the hash that lets it in.
func TestGenKey(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"dirgate", "-gen-key"}, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)\n  (dg_\S+)\n.*- (sha256:[0-9a-f]{64})\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no key and hash in:\n%s", out.String())
	}
	if auth.HashKey(m[1]) != m[2] {
		t.Errorf("printed hash %s is not the key's", m[2])
	}
	g := newGateway(t, func(c *config.Config) { c.Server.Auth.APIKeys = []string{m[2]} })
	if resp, _ := post(t, g.url, gqlBody(`{ __typename }`, nil), "Authorization", "Bearer "+m[1]); resp.status != 200 {
		t.Errorf("the generated key: %d", resp.status)
	}
}

// TestAuthKeepAlive: with API keys, requests without a body (GET, whose
// connection net/http reads in the background while the handler runs)
// on one keep-alive connection are all served: authenticating a request
// never ends its connection's context.
func TestAuthKeepAlive(t *testing.T) {
	key, hash := auth.GenerateKey()
	g := newGateway(t, func(c *config.Config) { c.Server.Auth.APIKeys = []string{hash} })
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	for i := range 300 {
		req, _ := http.NewRequest(http.MethodGet, g.url+"/query?query={__typename}", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d on one connection: %d %s", i, resp.StatusCode, b)
		}
	}
}
