package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/obs"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// gateway is dirgate's real handler wired to vendor emulators over real
// HTTP, with a known directory. newGateway's are Concur (Users Bulk v3.1)
// and getbill; newMesh's are any directories.
type gateway struct {
	url         string
	concur      *concur.Emulator
	getbill     *getbill.Emulator
	concurUsers []driver.User // as the Concur adapter returns them
	billUsers   []driver.User // as the getbill adapter returns them
	// dirs are the directories behind it, in the configured order: the
	// ground truth of the merged connection.
	dirs    []*directory
	logs    *syncBuffer  // safe to read while the server writes
	handler http.Handler // newHandler's
}

const (
	concurN  = 250
	getbillN = 60
)

func newGateway(t testing.TB, mutate func(*config.Config)) *gateway {
	t.Helper()
	all := providertest.Dataset(concurN + getbillN)
	return newGatewayWith(t, all[:concurN], all[concurN:], mutate)
}

// asConcur and asGetbill return a user as that vendor holds it.
func asConcur(u driver.User) driver.User {
	u.CreatedAt, u.LastActivityAt = time.Time{}, time.Time{}
	return u
}

func asGetbill(u driver.User) driver.User {
	return driver.User{
		ID: u.ID, Email: u.Email, Emails: []string{u.Email}, FirstName: u.FirstName, LastName: u.LastName,
		Active: u.Active, CreatedAt: u.CreatedAt, LastActivityAt: u.LastActivityAt,
	}
}

// newGatewayWith is newGateway over the given directories.
func newGatewayWith(t testing.TB, concurUsers, billUsers []driver.User, mutate func(*config.Config)) *gateway {
	t.Helper()
	cd := &directory{key: "concur", kind: "concur", name: "SAP Concur", searchesEmail: true,
		secrets: []string{"concur-client-secret", "request-token-secret"}}
	for _, u := range concurUsers {
		cd.users = append(cd.users, asConcur(u))
	}
	ce := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: "concur-client-secret", CompanyUUID: "company-uuid", RequestToken: "request-token-secret",
		Users: cd.users, Company: &driver.Company{Name: "Acme", City: "Bellevue", Country: "US"},
	})
	cs := httptest.NewServer(ce)
	t.Cleanup(cs.Close)
	cd.settings = &concur.Config{Auth: companyauth.Config{
		TokenURL: cs.URL + "/oauth2/v0/token", ClientID: "cid", ClientSecret: vendorhttp.NewSecret("concur-client-secret"),
		CompanyUUID: "company-uuid", RequestToken: vendorhttp.NewSecret("request-token-secret"),
		TokenStore: filepath.Join(t.TempDir(), "concur.json"),
	}, PageSize: 100}
	cd.fail = func(on bool) {
		f := concur.Fault{}
		if on {
			f.Status = http.StatusServiceUnavailable
		}
		ce.SetFault(f)
	}
	gd := getbillDirectory(t, "getbill", billUsers)
	g := serveDirs(t, []*directory{cd, gd}, func(cfg *config.Config) {
		cfg.Server.CORS.AllowedOrigins = []string{"https://dash.example.com"}
		if mutate != nil {
			mutate(cfg)
		}
	})
	g.concur, g.getbill = ce, gd.emulator.(*getbill.Emulator)
	g.concurUsers, g.billUsers = cd.users, gd.users
	return g
}

// serveDirs starts dirgate's real handler over dirs, in that order, with
// the configuration mutate changes (when not nil), logging at debug; the
// test fails if a secret of the directories reaches the log.
func serveDirs(t testing.TB, dirs []*directory, mutate func(*config.Config)) *gateway {
	t.Helper()
	g := &gateway{logs: &syncBuffer{}, dirs: dirs}
	cfg := &config.Config{}
	for _, d := range dirs {
		cfg.Providers = append(cfg.Providers, config.Provider{Key: d.key, Kind: d.kind, Name: cmp.Or(d.name, d.key), Settings: d.settings})
	}
	cfg.Server.DefaultPageSize, cfg.Server.MaxPageSize = 50, 1000
	if mutate != nil {
		mutate(cfg)
	}
	h := newHandler(t, cfg, slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	g.url, g.handler = srv.URL, h
	t.Cleanup(func() {
		for _, d := range dirs {
			for _, secret := range d.secrets {
				if strings.Contains(g.logs.String(), secret) {
					t.Errorf("a secret of %s reached the logs", d.key)
				}
			}
		}
	})
	return g
}

// newHandler wires the providers named in cfg as run does, without
// tracing, and returns dirgate's handler; the test's end stops its
// readiness probes (and closes Redis).
func newHandler(t testing.TB, cfg *config.Config, log *slog.Logger) http.Handler {
	t.Helper()
	s, err := newServer(cfg, log, obs.NoTracing().Tracer())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// truth is the merged ground truth: "key/nativeId" in merged order.
func (g *gateway) truth(keep func(key string, u *driver.User) bool) []string {
	var out []string
	for _, d := range g.dirs {
		for i := range d.users {
			if keep == nil || keep(d.key, &d.users[i]) {
				out = append(out, d.key+"/"+d.users[i].ID)
			}
		}
	}
	return out
}

// dir is the directory with the key.
func (g *gateway) dir(key string) *directory {
	for _, d := range g.dirs {
		if d.key == key {
			return d
		}
	}
	return nil
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

func (g *gateway) query(t *testing.T, query string, vars map[string]any) response {
	t.Helper()
	_, r := post(t, g.url, gqlBody(query, vars))
	return r
}

func codes(errs []gqlError) []string {
	var out []string
	for _, e := range errs {
		c, _ := e.Extensions["code"].(string)
		if p, ok := e.Extensions["provider"].(string); ok {
			c += "@" + p
		}
		out = append(out, c)
	}
	return out
}

const usersQuery = `query($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter) {
  users(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id nativeId provider { key } } }
  }
}`

type usersPage struct {
	Users struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage, HasPreviousPage bool
			StartCursor, EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   struct {
				ID, NativeID string
				Provider     struct{ Key string }
			}
		}
	}
}

func (g *gateway) page(t *testing.T, vars map[string]any) (usersPage, []gqlError) {
	t.Helper()
	r := g.query(t, usersQuery, vars)
	var p usersPage
	if len(r.Data) > 0 && string(r.Data) != "null" {
		if err := json.Unmarshal(r.Data, &p); err != nil {
			t.Fatal(err)
		}
	}
	return p, r.Errors
}

func (p *usersPage) names() []string {
	var out []string
	for _, e := range p.Users.Edges {
		out = append(out, e.Node.Provider.Key+"/"+e.Node.NativeID)
	}
	return out
}

// walk follows the connection to its end and returns the users in merged
// order.
func (g *gateway) walk(t *testing.T, n int, backward bool, filter map[string]any) []string {
	t.Helper()
	var got []string
	var cursor *string
	for pages := 0; pages < 1000; pages++ {
		vars := map[string]any{"filter": filter}
		if backward {
			vars["last"], vars["before"] = n, cursor
		} else {
			vars["first"], vars["after"] = n, cursor
		}
		p, errs := g.page(t, vars)
		if len(errs) > 0 {
			t.Fatalf("errors: %+v", errs)
		}
		more := p.Users.PageInfo.HasNextPage
		if backward {
			more = p.Users.PageInfo.HasPreviousPage
			got = append(p.names(), got...)
			cursor = p.Users.PageInfo.StartCursor
		} else {
			got = append(got, p.names()...)
			cursor = p.Users.PageInfo.EndCursor
		}
		if more && len(p.Users.Edges) != n {
			t.Fatalf("a page of %d users, want %d", len(p.Users.Edges), n)
		}
		if !more {
			return got
		}
	}
	t.Fatal("no end")
	return nil
}

// TestWalk walks the merged connection both ways at page sizes that do and
// do not divide Concur's vendor page of 100, with pages that straddle the
// two providers, and compares with the ground truth.
func TestWalk(t *testing.T) {
	g := newGateway(t, nil)
	meshWalk(t, g, []int{1, 7, 33, 99, 100, 101, 249, 250, 251, 1000})
	// Without first or last: the default page size.
	if p, _ := g.page(t, nil); len(p.Users.Edges) != 50 {
		t.Errorf("default page: %d users, want 50", len(p.Users.Edges))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFilters walks with every filter over Concur (Users Bulk v3.1,
// which filters on some fields) and getbill (read whole).
func TestFilters(t *testing.T) {
	g := newGateway(t, nil)
	meshFilters(t, g)
	if r := g.query(t, `{ users(filter: {providers: ["concur", "workday"]}) { totalCount } }`, nil); !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) || !strings.Contains(r.Errors[0].Message, "workday") {
		t.Errorf("unknown provider key: errors %+v, want BAD_USER_INPUT naming it", r.Errors)
	}
	// A value longer than any directory holds is the client's error, found
	// before any call: sent on, Concur's 413 or 414 would read as Concur
	// failing, FAILING in providers { status } and /readyz.
	_, before := g.concur.Calls()
	long := strings.Repeat("a", 70_000) + "@example.com"
	r := g.query(t, `query($e: String) { users(filter: {email: $e}) { totalCount } }`, map[string]any{"e": long})
	if !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) || !strings.Contains(r.Errors[0].Message, "filter.email") || strings.Contains(r.Errors[0].Message, "aaaa") {
		t.Errorf("70 KB email: errors %+v, want BAD_USER_INPUT naming filter.email", r.Errors)
	}
	if _, after := g.concur.Calls(); after != before {
		t.Errorf("70 KB email: %d Concur calls", after-before)
	}
	// So is a looked-up id of the same length.
	r = g.query(t, `query($id: ID!) { user(id: $id) { id } }`, map[string]any{"id": relay.UserID("concur", long)})
	if !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) || string(r.Data) != `{"user":null}` {
		t.Errorf("70 KB native id: %s, errors %+v, want null and BAD_USER_INPUT", r.Data, r.Errors)
	}
	if _, after := g.concur.Calls(); after != before {
		t.Errorf("70 KB native id: %d Concur calls", after-before)
	}
	if r := g.query(t, `{ providers { key status { state } } }`, nil); !strings.Contains(string(r.Data), `{"key":"concur","status":{"state":"OK"}}`) {
		t.Errorf("after a 70 KB email and id, providers: %s", r.Data)
	}
}

func TestArgumentAndCursorErrors(t *testing.T) {
	g := newGateway(t, nil)
	first, _ := g.page(t, map[string]any{"first": 5, "filter": map[string]any{"active": true}})
	cursor := *first.Users.PageInfo.EndCursor
	flipped := []byte(cursor)
	flipped[len(flipped)-2] ^= 1
	tests := []struct {
		name string
		vars map[string]any
		code string
	}{
		{"first and last", map[string]any{"first": 1, "last": 1}, "BAD_USER_INPUT"},
		{"negative first", map[string]any{"first": -1}, "BAD_USER_INPUT"},
		{"negative last", map[string]any{"last": -3}, "BAD_USER_INPUT"},
		{"page too large", map[string]any{"first": 1001}, "PAGE_SIZE_LIMIT_EXCEEDED"},
		{"garbage cursor", map[string]any{"first": 1, "after": "not a cursor"}, "BAD_CURSOR"},
		{"altered cursor", map[string]any{"first": 1, "after": string(flipped), "filter": map[string]any{"active": true}}, "BAD_CURSOR"},
		{"cursor of another filter", map[string]any{"first": 1, "after": cursor, "filter": map[string]any{"active": false}}, "BAD_CURSOR"},
		{"cursor without its filter", map[string]any{"first": 1, "after": cursor}, "BAD_CURSOR"},
		{"cursor of other providers", map[string]any{"last": 1, "before": cursor, "filter": map[string]any{"active": true, "providers": []string{"concur"}}}, "BAD_CURSOR"},
		{"id as cursor", map[string]any{"first": 1, "after": relay.UserID("concur", "x")}, "BAD_CURSOR"},
	}
	for _, tt := range tests {
		p, errs := g.page(t, tt.vars)
		if !slices.Equal(codes(errs), []string{tt.code}) {
			t.Errorf("%s: error codes %v, want [%s]", tt.name, codes(errs), tt.code)
		}
		if len(p.Users.Edges) != 0 {
			t.Errorf("%s: got users", tt.name)
		}
	}
	// The same filter written differently binds alike.
	next, errs := g.page(t, map[string]any{"first": 5, "after": cursor, "filter": map[string]any{"active": true, "providers": []string{"getbill", "concur"}}})
	if len(errs) > 0 || len(next.Users.Edges) != 5 {
		t.Errorf("same filter, keys reordered: %d users, errors %+v", len(next.Users.Edges), errs)
	}
}

// TestPartialData: when a vendor fails, the other's users still come back,
// with an error naming the failed one; once it recovers, a client that
// kept following endCursor has seen every user exactly once.
func TestPartialData(t *testing.T) {
	for _, failing := range []string{"concur", "getbill"} {
		t.Run(failing, func(t *testing.T) { meshPartialData(t, newGateway(t, nil), failing) })
	}
}

func TestIDs(t *testing.T) {
	g := newGateway(t, nil)
	cu, bu := g.concurUsers[123], g.billUsers[45]
	const q = `query($id: ID!) { user(id: $id) { id nativeId email displayName provider { key kind name } company { name } } node(id: $id) { id } }`
	for _, tt := range []struct {
		key     string
		u       driver.User
		company any
	}{{"concur", cu, map[string]any{"name": "Acme"}}, {"getbill", bu, nil}} {
		id := relay.UserID(tt.key, tt.u.ID)
		r := g.query(t, q, map[string]any{"id": id})
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", tt.key, r.Errors)
		}
		var d struct {
			User map[string]any
			Node map[string]any
		}
		json.Unmarshal(r.Data, &d)
		if d.User["id"] != id || d.User["nativeId"] != tt.u.ID || d.User["email"] != tt.u.Email || d.Node["id"] != id {
			t.Errorf("%s: user(id) = %v, node = %v", tt.key, d.User, d.Node)
		}
		if fmt.Sprint(d.User["company"]) != fmt.Sprint(tt.company) || d.User["provider"].(map[string]any)["key"] != tt.key {
			t.Errorf("%s: company %v provider %v", tt.key, d.User["company"], d.User["provider"])
		}
	}
	// The id in a page is the id user() takes.
	p, _ := g.page(t, map[string]any{"first": 1})
	if r := g.query(t, q, map[string]any{"id": p.Users.Edges[0].Node.ID}); !strings.Contains(string(r.Data), g.concurUsers[0].ID) {
		t.Errorf("user(id of first edge) = %s", r.Data)
	}
	// Well-formed ids of nothing: null, no error. Malformed: null and BAD_USER_INPUT.
	for _, id := range []string{relay.UserID("concur", "no-such-user"), relay.UserID("getbill", "no-such-user"), relay.UserID("workday", "x")} {
		if r := g.query(t, q, map[string]any{"id": id}); len(r.Errors) > 0 || string(r.Data) != `{"user":null,"node":null}` {
			t.Errorf("user(%q) = %s %+v, want null and no error", id, r.Data, r.Errors)
		}
	}
	r := g.query(t, `{ user(id: "garbage") { id } }`, nil)
	if string(r.Data) != `{"user":null}` || !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) {
		t.Errorf("user(garbage) = %s %+v, want null and BAD_USER_INPUT", r.Data, r.Errors)
	}
	// nodes: order kept, nulls in place.
	pid := relay.ProviderID("getbill")
	r = g.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Provider { key } ... on User { nativeId } } }`,
		map[string]any{"ids": []string{pid, "garbage", relay.UserID("concur", cu.ID), relay.UserID("concur", "none")}})
	want := fmt.Sprintf(`{"nodes":[{"id":%q,"key":"getbill"},null,{"id":%q,"nativeId":%q},null]}`, pid, relay.UserID("concur", cu.ID), cu.ID)
	if string(r.Data) != want || !slices.Equal(codes(r.Errors), []string{"BAD_USER_INPUT"}) {
		t.Errorf("nodes = %s %v\nwant %s [BAD_USER_INPUT]", r.Data, codes(r.Errors), want)
	}
	r = g.query(t, `{ providers { id key kind name company { name city } } }`, nil)
	want = fmt.Sprintf(`{"providers":[{"id":%q,"key":"concur","kind":"CONCUR","name":"SAP Concur","company":{"name":"Acme","city":"Bellevue"}},{"id":%q,"key":"getbill","kind":"GETBILL","name":"getbill","company":null}]}`, relay.ProviderID("concur"), pid)
	if string(r.Data) != want {
		t.Errorf("providers = %s\nwant %s", r.Data, want)
	}
}

func TestHealthzAndCORS(t *testing.T) {
	g := newGateway(t, nil)
	none := newGateway(t, func(c *config.Config) { c.Server.CORS.AllowedOrigins = nil })
	resp, err := http.Get(g.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, tt := range []struct {
		g            *gateway
		origin, want string
	}{
		{g, "https://dash.example.com", "https://dash.example.com"},
		{g, "https://evil.example.com", ""},
		{none, "https://dash.example.com", ""}, // no origins configured: none allowed
		{none, "https://evil.example.com", ""},
	} {
		g := tt.g
		req, _ := http.NewRequest(http.MethodOptions, g.url+"/query", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want %q", tt.origin, got, tt.want)
		}
		// And on the request itself.
		req, _ = http.NewRequest(http.MethodPost, g.url+"/query", strings.NewReader(`{"query":"{ providers { key } }"}`))
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Content-Type", "application/json")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("POST from %s: Access-Control-Allow-Origin %q, want %q", tt.origin, got, tt.want)
		}
	}
}

// TestRunDemo runs dirgate as the README says, with no configuration, and
// queries the demo.
func TestRunDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	base, done := startRun(t, ctx, []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	g := &gateway{url: base}
	p, errs := g.page(t, map[string]any{"first": 3})
	if len(errs) > 0 || len(p.Users.Edges) != 3 || p.Users.TotalCount != demo.ConcurUsers+demo.GetbillUsers+demo.ChatUsers+demo.ContractorUsers {
		t.Errorf("demo: %d users, totalCount %d, errors %+v", len(p.Users.Edges), p.Users.TotalCount, errs)
	}
	if resp, err := http.Get(base + "/"); err != nil || resp.StatusCode != 200 {
		t.Errorf("playground: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run returned %v after cancel, want nil", err)
	}
}

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("providers:\n  - key: g\n    kind: getbill\n    clientID: x\n"), 0o600)
	for _, tt := range []struct {
		args   []string
		getenv map[string]string
		want   string
	}{
		{[]string{"dirgate", "-config", bad}, nil, `bad.yaml:2: providers[0].clientSecret: missing, but required (with "clientID")`},
		{[]string{"dirgate"}, map[string]string{"DIRGATE_CONFIG": bad}, `bad.yaml:2: providers[0].clientSecret: missing, but required (with "clientID")`},
		{[]string{"dirgate", "-config", filepath.Join(dir, "none.yaml")}, nil, "no such file"},
		{[]string{"dirgate", "-nope"}, nil, "flag provided but not defined"},
	} {
		err := run(t.Context(), tt.args, func(k string) string { return tt.getenv[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// TestRequestErrors: requests that are not GraphQL requests get a coded
// JSON error, never an uncoded one or a 500.
func TestRequestErrors(t *testing.T) {
	g := newGateway(t, nil)
	for _, tt := range []struct {
		method, contentType, body string
		status                    int
	}{
		{http.MethodPost, "application/json", "not json", http.StatusBadRequest},
		{http.MethodPost, "text/plain", `{"query":"{ providers { key } }"}`, http.StatusUnsupportedMediaType},
		{http.MethodPut, "application/json", `{"query":"{ providers { key } }"}`, http.StatusMethodNotAllowed},
		{http.MethodDelete, "", "", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(tt.method, g.url+"/query", strings.NewReader(tt.body))
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var r response
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.status || !slices.Equal(codes(r.Errors), []string{"BAD_REQUEST"}) {
			t.Errorf("%s %s %q: status %d, errors %+v (%v); want %d BAD_REQUEST", tt.method, tt.contentType, tt.body, resp.StatusCode, r.Errors, err, tt.status)
		}
		if strings.Contains(fmt.Sprint(r.Errors), "not json") {
			t.Errorf("the error quotes the body back: %+v", r.Errors)
		}
	}
}

// startRun runs dirgate as main would, with args after the program name,
// and returns the base URL it says it serves at (on the banner's GraphQL
// line, or in the "listening" log line) and the channel run's result
// arrives on. Cancelling ctx stops it. What it writes to stderr goes on
// to stderr.
func startRun(t *testing.T, ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (string, <-chan error) {
	t.Helper()
	out, outW := io.Pipe()
	errR, errW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"dirgate"}, args...), getenv, outW, errW)
		outW.Close()
		errW.Close()
		done <- err
	}()
	found := make(chan string, 4) // at most two finds and two ends: no send blocks
	scan := func(r io.Reader, w io.Writer, re *regexp.Regexp) {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, r)
		found <- ""
	}
	go scan(out, io.Discard, regexp.MustCompile(`^GraphQL:\s+(http://\S+)/query`))
	go scan(errR, stderr, regexp.MustCompile(`"?msg"?[=:]"?listening"?.*"?graphql"?[=:]"?(http://[^"\s]+)/query`))
	for range 2 {
		if base := <-found; base != "" {
			return base, done
		}
	}
	t.Fatalf("dirgate said nowhere where it serves; run: %v", <-done)
	return "", nil
}
