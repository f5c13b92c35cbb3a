package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/concur/identity"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/kinds"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/scim"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// The merged-connection suite over any directories: Concur through
// Identity v4.1 in place of Users Bulk v3.1, and a SCIM directory as a
// third, in each paging mode and under each looseness of real servers.

// directory is one directory behind a gateway: its emulator on loopback,
// the provider's settings, and its users as the adapter returns them.
type directory struct {
	key, kind string
	name      string // the provider's name; the key when empty
	settings  kinds.Config
	emulator  http.Handler
	users     []driver.User
	// searchesEmail: the provider finds users by email with a filtered
	// request, matching their primary email only (see linkedAccounts).
	searchesEmail bool
	// fail makes every API request of the vendor fail with HTTP 503, or
	// ends that. The SCIM vendors say to come back in an hour, longer
	// than dirgate waits to retry: the failure is reported at once.
	fail    func(on bool)
	secrets []string
}

// withoutActivity is a user as a vendor without last activity holds it.
func withoutActivity(users []driver.User) []driver.User {
	out := make([]driver.User, len(users))
	for i, u := range users {
		u.LastActivityAt = time.Time{}
		out[i] = u
	}
	return out
}

// identityDirectory is Concur, through Identity v4.1: the token service
// and Identity emulated on one loopback server.
func identityDirectory(t *testing.T, key string, users []driver.User) *directory {
	t.Helper()
	ce := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: "concur-client-secret", CompanyUUID: "company-uuid", RequestToken: "request-token-secret",
	})
	ie := identity.NewEmulator(identity.EmulatorOptions{Concur: ce, CompanyUUID: "company-uuid", CompanyName: "Acme", Users: users})
	srv := httptest.NewServer(ie)
	t.Cleanup(srv.Close)
	return &directory{
		key: key, kind: "concur-identity", emulator: ie, users: withoutActivity(users), searchesEmail: true,
		settings: &identity.Config{Auth: companyauth.Config{
			TokenURL: srv.URL + companyauth.TokenPath, ClientID: "cid", ClientSecret: vendorhttp.NewSecret("concur-client-secret"),
			CompanyUUID: "company-uuid", RequestToken: vendorhttp.NewSecret("request-token-secret"),
			TokenStore: filepath.Join(t.TempDir(), key+"-token.json"),
		}, PageSize: 25},
		fail: func(on bool) {
			f := scim.Fault{}
			if on {
				f = scim.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3600"}
			}
			ie.SetFault(f)
		},
		secrets: []string{"concur-client-secret", "request-token-secret"},
	}
}

// getbillDirectory is getbill, read whole.
func getbillDirectory(t testing.TB, key string, users []driver.User) *directory {
	t.Helper()
	d := &directory{key: key, kind: "getbill", secrets: []string{"getbill-client-secret"}}
	for _, u := range users {
		d.users = append(d.users, asGetbill(u))
	}
	e := getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "gid", ClientSecret: "getbill-client-secret", Users: d.users})
	d.emulator = e
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	d.settings = &getbill.Config{BaseURL: srv.URL, ClientID: "gid", ClientSecret: vendorhttp.NewSecret("getbill-client-secret")}
	d.fail = func(on bool) {
		f := getbill.Fault{}
		if on {
			f.Status = http.StatusServiceUnavailable
		}
		e.SetFault(f)
	}
	return d
}

// scimDirectory is a SCIM service provider emulated with opts, read with
// the paging setting given.
func scimDirectory(t *testing.T, key string, users []driver.User, opts scim.EmulatorOptions, paging string, pageSize int) *directory {
	t.Helper()
	opts.Users, opts.Base, opts.Token = users, "/scim/v2", "scim-bearer-token"
	e := scim.NewEmulator(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &directory{
		key: key, kind: "scim", emulator: e, users: withoutActivity(users),
		settings: &scim.Config{BaseURL: srv.URL + "/scim/v2", Token: vendorhttp.NewSecret("scim-bearer-token"), Paging: paging, PageSize: pageSize},
		fail: func(on bool) {
			f := scim.Fault{}
			if on {
				f = scim.Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3600"}
			}
			e.SetFault(f)
		},
		secrets: []string{"scim-bearer-token"},
	}
}

// newMesh is dirgate's real handler over dirs, in that order.
func newMesh(t testing.TB, dirs ...*directory) *gateway {
	t.Helper()
	return serveDirs(t, dirs, nil)
}

// meshSizes are the page sizes the suite walks with.
var meshSizes = []int{1, 7, 37, 100, 101, 250, 1000}

// suiteScope narrows the suite, to keep the time down where a narrower
// suite says as much.
type suiteScope struct {
	sizes   []int    // the page sizes of the walks
	filters []string // the filters run (nil: all)
	failing []string // the directories failing in turn (nil: all)
}

// runMeshSuite runs the merged-connection suite over the mesh build
// makes: walks, filters, partial data, ids, linked accounts.
func runMeshSuite(t *testing.T, build func(t *testing.T) *gateway, scope suiteScope) {
	t.Run("Walk", func(t *testing.T) { meshWalk(t, build(t), scope.sizes) })
	t.Run("Filters", func(t *testing.T) { meshFilters(t, build(t), scope.filters...) })
	t.Run("PartialData", func(t *testing.T) {
		for _, d := range build(t).dirs {
			if scope.failing != nil && !slices.Contains(scope.failing, d.key) {
				continue
			}
			t.Run(d.key, func(t *testing.T) { meshPartialData(t, build(t), d.key) })
		}
	})
	t.Run("IDs", func(t *testing.T) { meshIDs(t, build(t)) })
	t.Run("LinkedAccounts", func(t *testing.T) { meshLinked(t, build(t)) })
}

func meshWalk(t *testing.T, m *gateway, sizes []int) {
	want := m.truth(nil)
	for _, n := range sizes {
		for _, backward := range []bool{false, true} {
			if n == 1 && backward {
				continue // the slowest; forward with 1 already covers it
			}
			if got := m.walk(t, n, backward, nil); !slices.Equal(got, want) {
				t.Errorf("walk(first/last %d, backward %t): %d users, want %d; first difference at %d", n, backward, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	if p, _ := m.page(t, map[string]any{"first": 3}); p.Users.TotalCount != len(want) {
		t.Errorf("totalCount = %d, want %d", p.Users.TotalCount, len(want))
	}
}

// meshFilters walks with every filter, in pages of 7 both ways and of 1000
// forwards, and checks totalCount; only names the filters to run, when not
// all.
func meshFilters(t *testing.T, m *gateway, only ...string) {
	first := m.dirs[0].users
	last := m.dirs[len(m.dirs)-1].users
	pick, other := first[77], last[11]
	mangle := func(s string) string { return "  " + strings.ToUpper(s) + " " }
	tests := []struct {
		name   string
		filter map[string]any
		keys   []string // providers: nil for all
	}{
		{"active", map[string]any{"active": true}, nil},
		{"inactive", map[string]any{"active": false}, nil},
		{"email of the first directory, other case and spaces", map[string]any{"email": mangle(pick.Email)}, nil},
		{"email of the last directory", map[string]any{"email": mangle(other.Email)}, nil},
		{"a secondary email is no primary email", map[string]any{"email": first[13].Emails[1]}, nil},
		{"loginId", map[string]any{"loginId": mangle(pick.LoginID)}, nil},
		{"lastName", map[string]any{"lastName": "søren"}, nil},
		{"employeeId", map[string]any{"employeeId": strings.ToLower(pick.EmployeeID)}, nil},
		{"countryCode", map[string]any{"countryCode": "fr"}, nil},
		{"ANDed", map[string]any{"active": true, "lastName": "Smith", "countryCode": "JP"}, nil},
		{"providers", map[string]any{"lastName": "martin"}, []string{m.dirs[len(m.dirs)-1].key, m.dirs[0].key}},
		{"no providers", map[string]any{}, []string{}},
		{"nobody", map[string]any{"email": "nobody@nowhere.example"}, nil},
	}
	for _, tt := range tests {
		if len(only) > 0 && !slices.Contains(only, tt.name) {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			f := driver.Filter{}
			vars := map[string]any{}
			for k, v := range tt.filter {
				vars[k] = v
				field, ok := driver.ParseField(k)
				if !ok {
					t.Fatalf("no field %s", k)
				}
				f = f.With(field, fmt.Sprint(v))
			}
			if tt.keys != nil {
				vars["providers"] = tt.keys
			}
			want := m.truth(func(key string, u *driver.User) bool {
				return (tt.keys == nil || slices.Contains(tt.keys, key)) && f.Match(u)
			})
			if len(want) == 0 && tt.name != "nobody" && tt.name != "no providers" && tt.name != "a secondary email is no primary email" {
				t.Fatalf("filter %v matches nobody: the dataset does not test it", tt.filter)
			}
			for _, backward := range []bool{false, true} {
				if got := m.walk(t, 7, backward, vars); !slices.Equal(got, want) {
					t.Errorf("filter %v, pages of 7, backward %t: got %v, want %v", vars, backward, got, want)
				}
			}
			if got := m.walk(t, 1000, false, vars); !slices.Equal(got, want) {
				t.Errorf("filter %v, pages of 1000: got %v, want %v", vars, got, want)
			}
			if p, _ := m.page(t, map[string]any{"first": 2, "filter": vars}); p.Users.TotalCount != len(want) {
				t.Errorf("totalCount = %d, want %d", p.Users.TotalCount, len(want))
			}
		})
	}
}

// meshPartialData: while one vendor fails, the others' users still come
// back, with an error naming it (in its code and its message); once it
// recovers, a client that kept following endCursor has seen every user
// exactly once.
func meshPartialData(t *testing.T, m *gateway, failing string) {
	d := m.dir(failing)
	seen := map[string]int{}
	var cursor *string
	sawFailure := false
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("no end")
		}
		d.fail(pages >= 2 && pages < 9)
		p, errs := m.page(t, map[string]any{"first": 40, "after": cursor})
		for _, e := range errs {
			sawFailure = true
			if e.Extensions["code"] != "PROVIDER_UNAVAILABLE" || e.Extensions["provider"] != failing {
				t.Errorf("page %d: error %+v, want PROVIDER_UNAVAILABLE for %s", pages, e, failing)
			}
			if !strings.Contains(e.Message, failing) {
				t.Errorf("message %q does not name %s", e.Message, failing)
			}
		}
		if len(errs) > 0 && !p.Users.PageInfo.HasNextPage {
			t.Errorf("page %d: a provider failed but hasNextPage is false", pages)
		}
		for _, n := range p.names() {
			seen[n]++
		}
		if !p.Users.PageInfo.HasNextPage {
			break
		}
		if c := p.Users.PageInfo.EndCursor; c != nil {
			cursor = c
		}
	}
	if !sawFailure {
		t.Fatal("no failure was reported")
	}
	for _, n := range m.truth(nil) {
		if seen[n] != 1 {
			t.Errorf("%s seen %d times", n, seen[n])
		}
	}
}

func meshIDs(t *testing.T, m *gateway) {
	const q = `query($id: ID!) { user(id: $id) { id nativeId email provider { key } } node(id: $id) { id } }`
	var ids, want []string
	for i, d := range m.dirs {
		u := d.users[(37*i+5)%len(d.users)]
		id := relay.UserID(d.key, u.ID)
		r := m.query(t, q, map[string]any{"id": id})
		var v struct {
			User struct {
				ID, NativeID, Email string
				Provider            struct{ Key string }
			}
			Node struct{ ID string }
		}
		json.Unmarshal(r.Data, &v)
		if len(r.Errors) > 0 || v.User.ID != id || v.User.NativeID != u.ID || v.User.Email != u.Email || v.User.Provider.Key != d.key || v.Node.ID != id {
			t.Errorf("%s: user(id) = %s %+v", d.key, r.Data, r.Errors)
		}
		ids = append(ids, id, relay.UserID(d.key, "no-such-user"))
		want = append(want, fmt.Sprintf(`{"id":%q,"nativeId":%q}`, id, u.ID), "null")
	}
	r := m.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { nativeId } } }`, map[string]any{"ids": ids})
	if got := string(r.Data); got != `{"nodes":[`+strings.Join(want, ",")+`]}` || len(r.Errors) > 0 {
		t.Errorf("nodes(ids) = %s %+v", got, r.Errors)
	}
}

// meshDiscovered checks what providers { status { discovered } } says of
// the SCIM provider key (paging: "" for none) and of the others (none),
// before any users were asked for and after.
func meshDiscovered(t *testing.T, m *gateway, key, paging string) {
	const q = `{ providers { key status { discovered { paging offered at } } } }`
	type answer struct {
		Providers []struct {
			Key    string
			Status struct {
				Discovered *struct{ Paging, Offered, At string }
			}
		}
	}
	read := func() answer {
		r := m.query(t, q, nil)
		var a answer
		if err := json.Unmarshal(r.Data, &a); err != nil || len(r.Errors) > 0 {
			t.Fatalf("%s %+v", r.Data, r.Errors)
		}
		return a
	}
	for _, p := range read().Providers {
		if p.Status.Discovered != nil {
			t.Errorf("%s discovered %+v before any call", p.Key, p.Status.Discovered)
		}
	}
	if _, errs := m.page(t, map[string]any{"first": 1, "filter": map[string]any{"providers": []string{key}}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, p := range read().Providers {
		d := p.Status.Discovered
		switch {
		case p.Key != key || paging == "":
			if d != nil {
				t.Errorf("%s discovered %+v", p.Key, d)
			}
		case d == nil || d.Paging != paging || d.Offered == "" || d.At == "":
			t.Errorf("%s discovered %+v, want paging %s", p.Key, d, paging)
		}
	}
}

// expectLinked computes linkedAccounts by the documented rule: any of the
// account's emails, normalised, equals any email of an account of another
// directory read whole (or paged through), or the primary email of one
// searched by email.
func expectLinked(m *gateway, key string, u driver.User) []string {
	mine := providers.Emails(&u)
	var out []string
	for _, d := range m.dirs {
		if d.key == key {
			continue
		}
		for _, o := range d.users {
			theirs := providers.Emails(&o)
			if d.searchesEmail {
				theirs = []string{providers.NormalizeEmail(o.Email)}
			}
			if slices.ContainsFunc(theirs, func(e string) bool { return e != "" && slices.Contains(mine, e) }) {
				out = append(out, relay.UserID(d.key, o.ID))
			}
		}
	}
	return out
}

func meshLinked(t *testing.T, m *gateway) {
	const q = `query($first: Int, $after: String) { users(first: $first, after: $after) {
	  pageInfo { hasNextPage endCursor }
	  edges { node { nativeId provider { key } linkedAccounts { id } } } } }`
	byID := map[string]driver.User{}
	for _, d := range m.dirs {
		for _, u := range d.users {
			byID[d.key+"/"+u.ID] = u
		}
	}
	links := 0
	var after *string
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("no end")
		}
		r := m.query(t, q, map[string]any{"first": 250, "after": after})
		if len(r.Errors) > 0 {
			t.Fatal(r.Errors)
		}
		var p struct {
			Users struct {
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
				Edges []struct {
					Node struct {
						NativeID       string
						Provider       struct{ Key string }
						LinkedAccounts []struct{ ID string }
					}
				}
			}
		}
		if err := json.Unmarshal(r.Data, &p); err != nil {
			t.Fatal(err)
		}
		for _, e := range p.Users.Edges {
			key := e.Node.Provider.Key
			u := byID[key+"/"+e.Node.NativeID]
			var got []string
			for _, l := range e.Node.LinkedAccounts {
				got = append(got, l.ID)
			}
			slices.Sort(got)
			want := expectLinked(m, key, u)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s/%s (%s) linkedAccounts = %v, want %v", key, u.ID, u.Email, got, want)
			}
			links += len(got)
		}
		if !p.Users.PageInfo.HasNextPage {
			break
		}
		after = &p.Users.PageInfo.EndCursor
	}
	if links == 0 {
		t.Fatal("no linked accounts at all: the dataset does not test anything")
	}
}

// meshUsers returns the users of three directories that overlap by email:
// some of the second's and third's people are the first's (in other letter
// case, or with spaces), some of the third's are the second's, and some
// are in all three.
func meshUsers(n1, n2, n3 int) (a, b, c []driver.User) {
	all := providertest.Dataset(n1 + n2 + n3)
	a, b, c = all[:n1], slices.Clone(all[n1:n1+n2]), slices.Clone(all[n1+n2:])
	for j := range min(12, n2) {
		b[j].Email = strings.ToUpper(a[(j*9+2)%n1].Email)
		b[j].Emails = []string{b[j].Email}
	}
	for j := range min(20, n3) {
		switch {
		case j < 10:
			c[j].Email = " " + a[(j*11+3)%n1].Email + " "
		case j < 15:
			c[j].Email = b[j+5].Email // b[15..19]: b's own people
		default:
			c[j].Email = strings.ToUpper(b[j-15].Email) // also in a
		}
		c[j].Emails = []string{c[j].Email}
	}
	return a, b, c
}

// TestConcurIdentityInPlaceOfConcur runs the merged-connection suite with
// Concur read through Identity v4.1, beside getbill.
func TestConcurIdentityInPlaceOfConcur(t *testing.T) {
	t.Parallel()
	a, b, _ := meshUsers(250, 60, 0)
	runMeshSuite(t, func(t *testing.T) *gateway {
		return newMesh(t, identityDirectory(t, "concur", a), getbillDirectory(t, "getbill", b))
	}, suiteScope{sizes: meshSizes})
}

// TestSCIMThirdDirectory runs the merged-connection suite with a SCIM
// directory as a third, beside Concur (Identity v4.1) and getbill, in each
// paging mode: paging auto over a server that pages by index only, and
// over one that offers both (auto takes cursors), and paging index.
func TestSCIMThirdDirectory(t *testing.T) {
	t.Parallel()
	a, b, c := meshUsers(150, 60, 90)
	for _, tt := range []struct {
		name   string
		opts   scim.EmulatorOptions
		paging string
		sizes  []int
		found  string // what status.discovered.paging says
	}{
		{"auto over index paging", scim.EmulatorOptions{Index: true}, scim.PagingAuto, meshSizes, "index"},
		{"auto over cursor paging", scim.EmulatorOptions{Index: true, Cursor: true, StrictCursorCount: true}, scim.PagingAuto, meshSizes, "cursor"},
		// By offset: the walks of 1 are left to the two above, to keep
		// the time down.
		{"index", scim.EmulatorOptions{Index: true, Cursor: true}, scim.PagingIndex, meshSizes[1:], ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			build := func(t *testing.T) *gateway {
				return newMesh(t, identityDirectory(t, "concur", a), getbillDirectory(t, "getbill", b),
					scimDirectory(t, "chat", c, tt.opts, tt.paging, 20))
			}
			runMeshSuite(t, build, suiteScope{sizes: tt.sizes})
			t.Run("Status", func(t *testing.T) { meshDiscovered(t, build(t), "chat", tt.found) })
		})
	}
}

// TestSCIMLookupsByID: user(id), node and nodes over a SCIM directory ask
// the server for each id (filter id eq "…"), rather than read the whole
// directory, which at 300 users in pages of 20 took 15 requests, and at
// 10,000 would overrun the vendor-call budget. Ids compare exactly, as
// SCIM's do: the same id in other letters names nobody.
func TestSCIMLookupsByID(t *testing.T) {
	users := providertest.Dataset(300)
	chat := scimDirectory(t, "chat", users, scim.EmulatorOptions{Index: true}, scim.PagingIndex, 20)
	g := newMesh(t, chat)
	e := chat.emulator.(*scim.Emulator)
	before, _ := e.Calls()
	ids := []string{relay.UserID("chat", users[7].ID), relay.UserID("chat", users[250].ID),
		relay.UserID("chat", strings.ToLower(users[7].ID)), relay.UserID("chat", "no-such-user")}
	r := g.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on User { nativeId } } }`, map[string]any{"ids": ids})
	want := fmt.Sprintf(`{"nodes":[{"nativeId":%q},{"nativeId":%q},null,null]}`, users[7].ID, users[250].ID)
	if string(r.Data) != want || len(r.Errors) > 0 {
		t.Errorf("nodes = %s %+v, want %s", r.Data, r.Errors, want)
	}
	if after, _ := e.Calls(); after-before != len(ids) {
		t.Errorf("%d ids took %d SCIM requests, want one each", len(ids), after-before)
	}
}

// The quirks of real SCIM servers, each a switch of the emulator, in
// both paging modes (paging auto over a server that pages by index, and
// over one that pages by cursor): every quirk at once (two servers, as a
// total missing and a total of the page exclude each other) through the
// whole merged-connection suite, and each quirk alone through walks both
// ways. (TestClientQuirks, in providers/scim, walks each alone through the
// adapter.) Smaller directories stand beside it, and the walks of 1 are
// left to TestSCIMThirdDirectory, to keep the time down: without a total
// to trust, every totalCount of a walk reads the SCIM directory.
var (
	quirksTogether = []struct {
		name string
		q    scim.Quirks
	}{
		{"every quirk, totals of the page", scim.Quirks{
			CapCount: 7, NoItemsPerPage: true, NoStartIndex: true, NoResourcesWhenEmpty: true,
			PageTotalResults: true, NoPrimaryEmail: true, OddCase: true,
		}},
		{"every quirk, no totals", scim.Quirks{
			CapCount: 7, NoItemsPerPage: true, NoStartIndex: true, NoResourcesWhenEmpty: true,
			NoTotalResults: true, NoPrimaryEmail: true, OddCase: true,
		}},
	}
	quirksAlone = []struct {
		name string
		q    scim.Quirks
	}{
		{"CapCount", scim.Quirks{CapCount: 7}},
		{"NoItemsPerPage", scim.Quirks{NoItemsPerPage: true}},
		{"NoStartIndex", scim.Quirks{NoStartIndex: true}},
		{"NoResourcesWhenEmpty", scim.Quirks{NoResourcesWhenEmpty: true}},
		{"NoTotalResults", scim.Quirks{NoTotalResults: true}},
		{"PageTotalResults", scim.Quirks{PageTotalResults: true}},
		{"NoPrimaryEmail", scim.Quirks{NoPrimaryEmail: true}},
		{"OddCase", scim.Quirks{OddCase: true}},
	}
)

func quirkyMesh(t *testing.T, q scim.Quirks, server string) *gateway {
	a, b, c := meshUsers(100, 30, 90)
	opts := scim.EmulatorOptions{Index: server == "index", Cursor: server == "cursor", Quirks: q}
	return newMesh(t, identityDirectory(t, "concur", a), getbillDirectory(t, "getbill", b),
		scimDirectory(t, "chat", c, opts, scim.PagingAuto, 20))
}

// TestSCIMQuirks runs the merged-connection suite with a SCIM directory
// that strays from the RFCs: none loses or repeats a user. Every quirk at
// once goes through walks both ways, the filters that reach the SCIM
// directory, its failures, ids and linked accounts; each quirk alone
// through walks both ways.
func TestSCIMQuirks(t *testing.T) {
	t.Parallel()
	for _, server := range []string{"index", "cursor"} {
		for _, q := range quirksTogether {
			t.Run(q.name+"/"+server, func(t *testing.T) {
				t.Parallel()
				runMeshSuite(t, func(t *testing.T) *gateway { return quirkyMesh(t, q.q, server) }, suiteScope{
					sizes:   []int{7, 37, 101, 1000},
					filters: []string{"inactive", "email of the last directory", "lastName", "employeeId", "countryCode", "ANDed"},
					failing: []string{"chat"},
				})
			})
		}
		for _, q := range quirksAlone {
			t.Run(q.name+"/"+server, func(t *testing.T) {
				t.Parallel()
				meshWalk(t, quirkyMesh(t, q.q, server), []int{7})
			})
		}
	}
}
