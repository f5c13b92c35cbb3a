package scim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "scim-test-token"

// wire is an answer of the emulator.
type wire struct {
	status int
	header http.Header
	body   []byte
	obj    map[string]any
}

func (w *wire) scimType() string { s, _ := w.obj["scimType"].(string); return s }

func call(t *testing.T, srv *httptest.Server, method, path, token string, body any) *wire {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", scimContentType)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	w := &wire{status: resp.StatusCode, header: resp.Header}
	w.body, _ = io.ReadAll(resp.Body)
	json.Unmarshal(w.body, &w.obj)
	return w
}

func startEmulator(t *testing.T, opts EmulatorOptions) (*Emulator, *httptest.Server) {
	t.Helper()
	if opts.Token == "" && opts.Authorize == nil {
		opts.Token = testToken
	}
	e := NewEmulator(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

// asSCIM is a user as a SCIM server holds it: no last activity.
func asSCIM(users []User) []User {
	out := make([]User, len(users))
	for i, u := range users {
		u.LastActivityAt = time.Time{}
		out[i] = u
	}
	return out
}

// walkIndex reads every page by startIndex, stepping by what came back.
func walkIndex(t *testing.T, srv *httptest.Server, m *Mapping, count int) []User {
	t.Helper()
	var got []User
	for start, calls := 1, 0; ; calls++ {
		if calls > 1000 {
			t.Fatal("no end")
		}
		w := call(t, srv, "GET", "/Users?startIndex="+strconv.Itoa(start)+"&count="+strconv.Itoa(count), testToken, nil)
		if w.status != 200 {
			t.Fatalf("HTTP %d: %.300s", w.status, w.body)
		}
		p, err := m.DecodeList(w.body)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Users) == 0 {
			return got
		}
		got = append(got, p.Users...)
		start += len(p.Users)
	}
}

// walkCursor reads every page by cursor.
func walkCursor(t *testing.T, srv *httptest.Server, m *Mapping, count int, between func(page int)) []User {
	t.Helper()
	var got []User
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("no end")
		}
		w := call(t, srv, "GET", "/Users?count="+strconv.Itoa(count)+"&cursor="+url.QueryEscape(cursor), testToken, nil)
		if w.status != 200 {
			t.Fatalf("HTTP %d: %.300s", w.status, w.body)
		}
		p, err := m.DecodeList(w.body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Users...)
		if p.NextCursor == "" {
			return got
		}
		if strings.Trim(p.NextCursor, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" {
			t.Fatalf("nextCursor %q has characters outside RFC 3986's unreserved set", p.NextCursor)
		}
		cursor = p.NextCursor
		if between != nil {
			between(page)
		}
	}
}

func TestEmulatorIndexPaging(t *testing.T) {
	users := dataset(23)
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, MaxPageSize: 10})
	for _, count := range []int{1, 5, 10, 50} {
		if d := diffUsers(walkIndex(t, srv, DefaultMapping(), count), asSCIM(users)); d != "" {
			t.Errorf("count %d: %s", count, d)
		}
	}
	for _, tt := range []struct {
		query                       string
		total, items, start, served int
	}{
		{"", 23, 10, 1, 10},                      // default page size 100, capped at 10
		{"?startIndex=0&count=3", 23, 3, 1, 3},   // below 1 is 1
		{"?startIndex=22&count=5", 23, 2, 22, 2}, // the end
		{"?startIndex=40&count=5", 23, 0, 40, 0}, // past the end
		{"?count=0", 23, 0, 1, 0},                // only the total
		{"?count=-4", 23, 0, 1, 0},               // negative is 0
	} {
		w := call(t, srv, "GET", "/Users"+tt.query, testToken, nil)
		res, _ := w.obj["Resources"].([]any)
		if w.status != 200 || w.obj["totalResults"] != float64(tt.total) || w.obj["itemsPerPage"] != float64(tt.items) ||
			w.obj["startIndex"] != float64(tt.start) || len(res) != tt.served {
			t.Errorf("GET /Users%s: HTTP %d %.300s", tt.query, w.status, w.body)
		}
	}
	if w := call(t, srv, "GET", "/Users?count=many", testToken, nil); w.status != 400 || w.scimType() != "invalidValue" {
		t.Errorf("count=many: HTTP %d %.300s", w.status, w.body)
	}
	if w := call(t, srv, "GET", "/Users?cursor=", testToken, nil); w.status != 200 || w.obj["nextCursor"] != nil || w.obj["startIndex"] != 1.0 {
		t.Errorf("an index-only server must ignore cursor: HTTP %d %.300s", w.status, w.body)
	}
}

func TestEmulatorCursorPaging(t *testing.T) {
	users := dataset(23)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, srv := startEmulator(t, EmulatorOptions{Users: users, Cursor: true, StrictCursorCount: true, CursorTTL: time.Minute, Now: clock})
	for _, count := range []int{1, 4, 23, 100} {
		if d := diffUsers(walkCursor(t, srv, DefaultMapping(), count, nil), asSCIM(users)); d != "" {
			t.Errorf("count %d: %s", count, d)
		}
	}

	// A cursor-only server pages by cursor when asked nothing (RFC 9865 §2.6).
	w := call(t, srv, "GET", "/Users?count=5", testToken, nil)
	next, _ := w.obj["nextCursor"].(string)
	if w.status != 200 || next == "" {
		t.Fatalf("first page without cursor: HTTP %d %.300s", w.status, w.body)
	}
	if w := call(t, srv, "GET", "/Users?count=5&startIndex=6", testToken, nil); w.status != 200 || w.obj["startIndex"] != 1.0 {
		t.Errorf("startIndex must be ignored by default: HTTP %d %.300s", w.status, w.body)
	}
	for _, tt := range []struct{ name, query, scimType string }{
		{"a forged cursor", "count=5&cursor=abc", "invalidCursor"},
		{"a cursor of another query", "count=5&filter=active+eq+true&cursor=" + next, "invalidCursor"},
		{"another count", "count=6&cursor=" + next, "invalidCount"},
	} {
		if w := call(t, srv, "GET", "/Users?"+tt.query, testToken, nil); w.status != 400 || w.scimType() != tt.scimType {
			t.Errorf("%s: HTTP %d %s, want 400 %s", tt.name, w.status, w.body, tt.scimType)
		}
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if w := call(t, srv, "GET", "/Users?count=5&cursor="+next, testToken, nil); w.status != 400 || w.scimType() != "expiredCursor" {
		t.Errorf("an old cursor: HTTP %d %s, want 400 expiredCursor", w.status, w.body)
	}

	// Cursors continue after the last user served, wherever it now is:
	// users deleted or inserted before the cursor neither repeat nor
	// skip anyone present throughout.
	e.SetUsers(users)
	got := walkCursor(t, srv, DefaultMapping(), 4, func(page int) {
		if page == 1 { // 8 users served
			e.Delete(users[2].ID)  // served
			e.Delete(users[15].ID) // not yet
			nu := dataset(30)[29]
			nu.ID = "inserted-before"
			e.Insert(1, nu)
			nu.ID = "inserted-after"
			e.Insert(18, nu)
		}
	})
	seen := map[string]int{}
	for _, u := range got {
		seen[u.ID]++
	}
	for _, u := range users {
		if want := 1 - bool2int(u.ID == users[15].ID); seen[u.ID] != want {
			t.Errorf("user %s returned %d times, want %d", u.ID, seen[u.ID], want)
		}
	}
	if seen["inserted-before"] != 0 || seen["inserted-after"] != 1 || len(got) != len(users) {
		t.Errorf("inserted users: before the cursor %d, after %d, in all %d; want 0, 1, %d", seen["inserted-before"], seen["inserted-after"], len(got), len(users))
	}
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestEmulatorBothPagings(t *testing.T) {
	users := dataset(12)
	for _, def := range []string{"index", "cursor"} {
		_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Cursor: true, DefaultPaging: def})
		w := call(t, srv, "GET", "/Users?count=5", testToken, nil)
		if _, cur := w.obj["nextCursor"]; cur != (def == "cursor") {
			t.Errorf("default %s: %s", def, w.body)
		}
		if d := diffUsers(walkIndex(t, srv, DefaultMapping(), 5), asSCIM(users)); d != "" {
			t.Errorf("default %s, by index: %s", def, d)
		}
		if d := diffUsers(walkCursor(t, srv, DefaultMapping(), 5, nil), asSCIM(users)); d != "" {
			t.Errorf("default %s, by cursor: %s", def, d)
		}
		if w := call(t, srv, "GET", "/Users?startIndex=2&cursor=", testToken, nil); w.status != 400 || w.scimType() != "invalidValue" {
			t.Errorf("startIndex with cursor: HTTP %d %.300s", w.status, w.body)
		}
	}
}

func TestEmulatorFilters(t *testing.T) {
	users := dataset(40)
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Search: true})
	ids := func(w *wire) []string {
		var out []string
		res, _ := w.obj["Resources"].([]any)
		for _, r := range res {
			out = append(out, r.(map[string]any)["id"].(string))
		}
		return out
	}
	u := users[13] // two emails
	for _, tt := range []struct {
		filter string
		want   []string
	}{
		{`userName eq "` + strings.ToUpper(u.LoginID) + `"`, []string{u.ID}},
		{`emails.value eq "` + u.Emails[1] + `"`, []string{u.ID}}, // any email
		{`emails[value eq "` + u.Email + `" and primary eq true]`, []string{u.ID}},
		{`name.familyName eq "` + u.LastName + `" and active eq false and urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "` + u.EmployeeID + `"`, []string{u.ID}},
		{`name.familyName eq "` + u.LastName + `" and active eq true`, []string{users[6].ID, users[20].ID, users[27].ID, users[34].ID}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "` + strings.ToLower(u.EmployeeID) + `"`, []string{u.ID}},
		{`id eq "` + u.ID + `"`, []string{u.ID}},
		{`id eq "` + strings.ToLower(u.ID) + `"`, nil}, // id is case-exact
		{`userName eq "nobody"`, nil},
	} {
		w := call(t, srv, "GET", "/Users?filter="+url.QueryEscape(tt.filter), testToken, nil)
		if w.status != 200 || strings.Join(ids(w), ",") != strings.Join(tt.want, ",") {
			t.Errorf("filter %s: HTTP %d, ids %v, want %v", tt.filter, w.status, ids(w), tt.want)
		}
		ws := call(t, srv, "POST", "/Users/.search", testToken, map[string]any{"schemas": []string{SearchRequestSchema}, "filter": tt.filter})
		if ws.status != 200 || strings.Join(ids(ws), ",") != strings.Join(ids(w), ",") {
			t.Errorf(".search %s: HTTP %d %s", tt.filter, ws.status, ws.body)
		}
	}
	for _, f := range []string{`userName ne "x"`, `userName eq "x" or userName eq "y"`, `not (active eq true)`, `userName sw "a"`, `userName pr`, `userName eq`, `emails[type eq "work" or primary eq true]`} {
		if w := call(t, srv, "GET", "/Users?filter="+url.QueryEscape(f), testToken, nil); w.status != 400 || w.scimType() != "invalidFilter" {
			t.Errorf("filter %s: HTTP %d %s, want 400 invalidFilter", f, w.status, w.body)
		}
	}
	if w := call(t, srv, "POST", "/Users/.search", testToken, map[string]any{"schemas": []string{"urn:other"}}); w.status != 400 || w.scimType() != "invalidSyntax" {
		t.Errorf(".search with another schema: HTTP %d %.300s", w.status, w.body)
	}

	_, limited := startEmulator(t, EmulatorOptions{Users: users, Index: true, FilterAttributes: []string{"userName", "active"}})
	if w := call(t, limited, "GET", "/Users?filter="+url.QueryEscape(`userName eq "a" and active eq true`), testToken, nil); w.status != 200 {
		t.Errorf("a supported attribute: HTTP %d %.300s", w.status, w.body)
	}
	if w := call(t, limited, "GET", "/Users?filter="+url.QueryEscape(`name.familyName eq "a"`), testToken, nil); w.status != 400 || w.scimType() != "invalidFilter" {
		t.Errorf("an attribute the server does not filter on: HTTP %d %.300s", w.status, w.body)
	}
	_, none := startEmulator(t, EmulatorOptions{Users: users, Index: true, FilterUnsupported: true})
	if w := call(t, none, "GET", "/Users?filter="+url.QueryEscape(`userName eq "a"`), testToken, nil); w.status != 501 {
		t.Errorf("a server that does not filter: HTTP %d %.300s", w.status, w.body)
	}
	_, ignoring := startEmulator(t, EmulatorOptions{Users: users, Index: true, FilterUnsupported: true, IgnoreFilter: true})
	if w := call(t, ignoring, "GET", "/Users?filter="+url.QueryEscape(`userName eq "a"`), testToken, nil); w.status != 200 || w.obj["totalResults"] != 40.0 {
		t.Errorf("a server that ignores filters: HTTP %d %.80s", w.status, w.body)
	}
}

func TestEmulatorServiceProviderConfig(t *testing.T) {
	_, srv := startEmulator(t, EmulatorOptions{Index: true, Cursor: true, DefaultPaging: "cursor", MaxPageSize: 250, CursorTTL: time.Hour, Base: "/scim/v2"})
	w := call(t, srv, "GET", "/scim/v2/ServiceProviderConfig", testToken, nil)
	cfg, err := DecodeServiceProviderConfig(w.body)
	if err != nil || w.status != 200 || w.header.Get("Content-Type") != scimContentType {
		t.Fatalf("HTTP %d %s: %v", w.status, w.body, err)
	}
	want := Pagination{Cursor: true, Index: true, DefaultMethod: "cursor", DefaultPageSize: 100, MaxPageSize: 250, CursorTimeout: 3600}
	if !cfg.FilterSupported || cfg.Pagination == nil || *cfg.Pagination != want {
		t.Errorf("config %+v %+v", cfg, cfg.Pagination)
	}
	if w := call(t, srv, "GET", "/scim/v2/ServiceProviderConfig", "", nil); w.status != 401 {
		t.Errorf("without a token: HTTP %d", w.status)
	}
	_, old := startEmulator(t, EmulatorOptions{Index: true, NoPaginationConfig: true, FilterUnsupported: true})
	cfg, _ = DecodeServiceProviderConfig(call(t, old, "GET", "/ServiceProviderConfig", testToken, nil).body)
	if cfg.Pagination != nil || cfg.FilterSupported {
		t.Errorf("a pre-9865 server without filters: %+v", cfg)
	}
}

func TestEmulatorAuth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e, srv := startEmulator(t, EmulatorOptions{Index: true, ClientID: "cid", ClientSecret: "csecret", Now: clock})
	for _, tok := range []string{"", "wrong"} {
		w := call(t, srv, "GET", "/Users", tok, nil)
		if w.status != 401 || w.obj["status"] != "401" || !strings.HasPrefix(w.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("token %q: HTTP %d %v %s", tok, w.status, w.header, w.body)
		}
	}
	token := func(form url.Values, basic bool) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if basic {
			req.SetBasicAuth("cid", "csecret")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			AccessToken string `json:"access_token"`
		}
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v.AccessToken
	}
	if s, _ := token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"cid"}, "client_secret": {"nope"}}, false); s != 401 {
		t.Errorf("a wrong secret: HTTP %d", s)
	}
	if s, _ := token(url.Values{"grant_type": {"password"}}, true); s != 400 {
		t.Errorf("another grant: HTTP %d", s)
	}
	for _, basic := range []bool{true, false} {
		form := url.Values{"grant_type": {"client_credentials"}}
		if !basic {
			form.Set("client_id", "cid")
			form.Set("client_secret", "csecret")
		}
		s, tok := token(form, basic)
		if s != 200 || tok == "" {
			t.Fatalf("basic %v: HTTP %d", basic, s)
		}
		if w := call(t, srv, "GET", "/Users", tok, nil); w.status != 200 {
			t.Errorf("an issued token: HTTP %d", w.status)
		}
	}
	_, tok := token(url.Values{"grant_type": {"client_credentials"}}, true)
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if w := call(t, srv, "GET", "/Users", tok, nil); w.status != 401 {
		t.Errorf("an expired token: HTTP %d", w.status)
	}
	_, tok = token(url.Values{"grant_type": {"client_credentials"}}, true)
	e.ExpireTokens()
	if w := call(t, srv, "GET", "/Users", tok, nil); w.status != 401 {
		t.Errorf("a revoked token: HTTP %d", w.status)
	}
}

func TestEmulatorFaults(t *testing.T) {
	e, srv := startEmulator(t, EmulatorOptions{Users: dataset(3), Index: true})
	e.SetFault(Fault{Status: 429, RetryAfter: "0"})
	w := call(t, srv, "GET", "/Users", testToken, nil)
	if w.status != 429 || w.header.Get("Retry-After") != "0" || w.obj["status"] != "429" {
		t.Errorf("429: HTTP %d %v %s", w.status, w.header, w.body)
	}
	e.SetFault(Fault{Status: 503, RetryAfter: "7"})
	if w := call(t, srv, "GET", "/ServiceProviderConfig", testToken, nil); w.status != 503 || w.header.Get("Retry-After") != "7" {
		t.Errorf("503: HTTP %d %v", w.status, w.header)
	}
	e.SetFault(Fault{})
	e.SetStorm(Storm{Status: 503, Every: 3, Burst: 2})
	var statuses []int
	for range 6 {
		statuses = append(statuses, call(t, srv, "GET", "/Users", testToken, nil).status)
	}
	if got := fmtInts(statuses); got != "503 503 200 503 503 200" {
		t.Errorf("storm: %s", got)
	}
	if calls, failures := e.Calls(); calls != 8 || failures != 6 {
		t.Errorf("Calls() = %d, %d; want 8, 6", calls, failures)
	}
}

func fmtInts(ns []int) string {
	var s []string
	for _, n := range ns {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, " ")
}

// TestEmulatorQuirks checks that each quirk shows on the wire, and that
// DecodeList reads every page of a quirky server right.
func TestEmulatorQuirks(t *testing.T) {
	users := dataset(9)
	for _, tt := range []struct {
		name  string
		q     Quirks
		check func(w *wire) bool
	}{
		{"CapCount", Quirks{CapCount: 2}, func(w *wire) bool { return w.obj["itemsPerPage"] == 2.0 }},
		{"NoItemsPerPage", Quirks{NoItemsPerPage: true}, func(w *wire) bool { _, ok := w.obj["itemsPerPage"]; return !ok }},
		{"NoStartIndex", Quirks{NoStartIndex: true}, func(w *wire) bool { _, ok := w.obj["startIndex"]; return !ok }},
		{"NoTotalResults", Quirks{NoTotalResults: true}, func(w *wire) bool { _, ok := w.obj["totalResults"]; return !ok }},
		{"PageTotalResults", Quirks{PageTotalResults: true}, func(w *wire) bool { return w.obj["totalResults"] == 5.0 }},
		{"NoPrimaryEmail", Quirks{NoPrimaryEmail: true}, func(w *wire) bool {
			return strings.Contains(string(w.body), `"type":"home"`) && !strings.Contains(string(w.body), `"primary":true,"type":"work","value"`)
		}},
		{"OddCase", Quirks{OddCase: true}, func(w *wire) bool {
			_, ok := w.obj["resources"]
			return ok && strings.Contains(string(w.body), `"UserName"`)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Cursor: true, Quirks: tt.q})
			w := call(t, srv, "GET", "/Users?count=5&startIndex=1", testToken, nil)
			if w.status != 200 || !tt.check(w) {
				t.Errorf("the quirk does not show: %s", w.body)
			}
			if d := diffUsers(walkIndex(t, srv, DefaultMapping(), 5), asSCIM(users)); d != "" {
				t.Errorf("by index: %s", d)
			}
			if d := diffUsers(walkCursor(t, srv, DefaultMapping(), 5, nil), asSCIM(users)); d != "" {
				t.Errorf("by cursor: %s", d)
			}
		})
	}
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Quirks: Quirks{NoResourcesWhenEmpty: true}})
	if w := call(t, srv, "GET", "/Users?startIndex=20", testToken, nil); w.status != 200 || strings.Contains(strings.ToLower(string(w.body)), "resources") {
		t.Errorf("NoResourcesWhenEmpty: %s", w.body)
	}
}

func TestEmulatorEmployeeIDInExternalID(t *testing.T) {
	users := dataset(5)
	_, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, EmployeeIDInExternalID: true})
	m := DefaultMapping()
	if err := m.Set("employeeId", "externalId"); err != nil {
		t.Fatal(err)
	}
	if d := diffUsers(walkIndex(t, srv, m, 2), asSCIM(users)); d != "" {
		t.Error(d)
	}
	got := walkIndex(t, srv, DefaultMapping(), 2)
	if got[0].EmployeeID != "" {
		t.Errorf("without the override, employee id %q", got[0].EmployeeID)
	}
}

// TestEmulatorInsertAnywhere inserts more users between two neighbours
// than their places leave room for: the emulator spreads the places out
// again, and the order holds.
func TestEmulatorInsertAnywhere(t *testing.T) {
	users := dataset(3)
	e, srv := startEmulator(t, EmulatorOptions{Users: users, Index: true, Cursor: true})
	extra := dataset(45)[3:]
	for i := len(extra) - 1; i >= 0; i-- {
		e.Insert(1, extra[i]) // each before the last inserted: 42 halvings of one gap
	}
	want := append(append([]User{users[0]}, extra...), users[1:]...)
	if d := diffUsers(walkCursor(t, srv, DefaultMapping(), 7, nil), asSCIM(want)); d != "" {
		t.Errorf("by cursor: %s", d)
	}
	if d := diffUsers(walkIndex(t, srv, DefaultMapping(), 7), asSCIM(want)); d != "" {
		t.Errorf("by index: %s", d)
	}
	if !e.Delete(extra[5].ID) || e.Delete("nobody") {
		t.Error("Delete reports wrong")
	}
}
