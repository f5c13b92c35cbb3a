package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/graph/model"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/memory"
	"github.com/dirgate/dirgate/providers/providertest"
)

// twoPaths serves the same directory twice: with the precompiled path,
// and with gqlgen's executor alone.
type twoPaths struct {
	fast, gqlgen http.Handler
}

// trickyUsers holds values that test the JSON writer: escapes, control
// characters, invalid UTF-8, empty (null) fields, time zones and
// nanoseconds, several emails, none.
func trickyUsers() []driver.User {
	users := providertest.Dataset(40)
	zone := time.FixedZone("", -(3*3600 + 30*60))
	for i, v := range []string{
		`Quote "it"`, `back\slash`, "tab\tnew\nline\rcr", "ctl\x01\x1f\x7f", "Zoë 🚀 日本", "bad\xff\xfeutf8",
		"\u2028\u2029", "", " ", "<script>&amp;", `\u0000`, "\x00nul",
	} {
		u := &users[i]
		u.FirstName, u.LastName, u.MiddleName = v, strings.ToUpper(v), ""
		u.CellPhone, u.OrganizationUnit = v, ""
		if i%3 == 0 {
			u.Emails = nil
		}
		if i%4 == 1 {
			u.Email, u.Emails = "", []string{"only.secondary" + fmt.Sprint(i) + "@example.com", v}
		}
		u.CreatedAt = time.Date(2024, 2, 29, 23, 59, 59, 123456789*(i%2), zone)
		if i%5 == 0 {
			u.CreatedAt, u.LastActivityAt = time.Time{}, time.Time{}
		}
	}
	return users
}

func newTwoPaths(t testing.TB, users []driver.User) *twoPaths {
	// The second provider holds some of the first's people, by email, so
	// that linkedAccounts lists have users in them.
	var others []driver.User
	for i, u := range users {
		if i%3 == 0 && u.Email != "" {
			o := providertest.Dataset(1)[0]
			o.ID, o.Email, o.Emails = fmt.Sprintf("other-%d", i), strings.ToUpper(u.Email), []string{u.Email}
			others = append(others, o)
		}
	}
	concur, err := providers.NewSource(providers.Info{Key: "concur", Kind: "concur", Name: "C"}, memory.New(users, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	getbill, err := providers.NewSource(providers.Info{Key: "getbill", Kind: "getbill", Name: "G"},
		memory.New(others, &memory.Options{Paging: driver.PagingSnapshot}), &providers.SourceOptions{CacheTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := providers.NewDirectory(concur, getbill)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(gqlgenOnly bool) http.Handler {
		r := &Resolver{Dir: dir, Cursors: relay.NewCursors([]byte("k")), Logger: slog.New(slog.DiscardHandler),
			DefaultPageSize: 50, MaxPageSize: 1000, GqlgenOnly: gqlgenOnly}
		h := handler.New(NewExecutableSchema(Config{Resolvers: r}))
		h.AddTransport(transport.POST{})
		h.SetErrorPresenter(PresentError(r.Logger))
		return loader.Middleware(dir, h)
	}
	return &twoPaths{fast: serve(false), gqlgen: serve(true)}
}

// same runs query on both paths and fails the test unless the answers are
// byte for byte the same; it returns the answer.
func (p *twoPaths) same(t testing.TB, query string, vars map[string]any) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	ask := func(h http.Handler) []byte {
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Body.Bytes()
	}
	fast, slow := ask(p.fast), ask(p.gqlgen)
	if !bytes.Equal(fast, slow) {
		i := 0
		for i < min(len(fast), len(slow)) && fast[i] == slow[i] {
			i++
		}
		from := max(i-300, 0)
		t.Fatalf("the paths differ at byte %d for\n%s\nvariables %v\nprecompiled: …%.600s\ngqlgen:      …%.600s",
			i, query, vars, fast[from:], slow[from:])
	}
	return fast
}

// selections makes random selections of the connection: plain ones, and
// ones with fields that are not plain, in every shape the precompiled
// path must handle or refuse.
type selections struct {
	rng *rand.Rand
	// fragments are the named fragments the query needs.
	fragments []string
}

var plainUserFields = []string{"__typename", "id", "nativeId", "email", "emails", "firstName", "middleName", "lastName",
	"displayName", "active", "loginId", "employeeId", "cellPhone", "organizationUnit", "countryCode", "createdAt", "lastActivityAt"}

func (s *selections) directive() string {
	switch s.rng.IntN(8) {
	case 0:
		return " @skip(if: true)"
	case 1:
		return " @include(if: $inc)"
	case 2:
		return " @skip(if: $inc)"
	}
	return ""
}

func (s *selections) alias(name string) string {
	switch s.rng.IntN(6) {
	case 0:
		return fmt.Sprintf("%s%d: %s", name, s.rng.IntN(2), name) // aliases that may repeat
	case 1:
		return name + ": " + name
	}
	return name
}

func (s *selections) user(depth int) string {
	var b strings.Builder
	n := 1 + s.rng.IntN(6)
	for range n {
		switch k := s.rng.IntN(20); {
		case k == 0 && depth == 0:
			b.WriteString(" linkedAccounts { " + s.user(depth+1) + " }")
		case k == 1:
			b.WriteString(" provider { key kind }")
		case k == 2 && depth == 0:
			b.WriteString(" company { name }")
		case k == 3:
			b.WriteString(" ... on User { " + s.user(depth+1) + " }")
		case k == 4:
			b.WriteString(" ... on Node { id }")
		case k == 5:
			i := len(s.fragments)
			s.fragments = append(s.fragments, "")
			s.fragments[i] = fmt.Sprintf("fragment U%d on User { %s }", i, s.user(depth+1))
			fmt.Fprintf(&b, " ...U%d", i)
		case k == 6:
			b.WriteString(" ... @include(if: $inc) { nativeId }")
		default:
			f := plainUserFields[s.rng.IntN(len(plainUserFields))]
			b.WriteString(" " + s.alias(f) + s.directive())
		}
	}
	return b.String()
}

func (s *selections) edge() string {
	var b strings.Builder
	for range 1 + s.rng.IntN(4) {
		switch s.rng.IntN(6) {
		case 0:
			b.WriteString(" " + s.alias("cursor") + s.directive())
		case 1:
			b.WriteString(" " + s.alias("__typename"))
		case 2:
			b.WriteString(" ... on UserEdge { node { " + s.user(0) + " } }")
		default:
			b.WriteString(" " + s.alias("node") + s.directive() + " { " + s.user(0) + " }")
		}
	}
	return b.String()
}

// query returns a random query of the connection.
func (s *selections) query() string {
	s.fragments = nil
	var b strings.Builder
	fmt.Fprintf(&b, "query Q($inc: Boolean!) { users(first: %d", s.rng.IntN(45))
	if s.rng.IntN(3) == 0 {
		b.WriteString(`, filter: {providers: ["concur"]}`)
	}
	b.WriteString(") {")
	for range 1 + s.rng.IntN(3) {
		switch s.rng.IntN(5) {
		case 0:
			b.WriteString(" nodes {" + s.user(0) + " }")
		case 1:
			b.WriteString(" pageInfo { hasNextPage endCursor }")
		default:
			b.WriteString(" " + s.alias("edges") + " {" + s.edge() + " }")
		}
	}
	b.WriteString(" } t: __typename @include(if: $inc) }")
	for _, f := range s.fragments {
		b.WriteString(" " + f)
	}
	return b.String()
}

// TestPlainPathEquivalence: for generated selections, the precompiled path
// and gqlgen's executor answer byte for byte the same.
func TestPlainPathEquivalence(t *testing.T) {
	p := newTwoPaths(t, trickyUsers())
	s := &selections{rng: rand.New(rand.NewPCG(13, 1))}
	valid := 0
	for range 400 {
		q := s.query()
		got := p.same(t, q, map[string]any{"inc": s.rng.IntN(2) == 0})
		if bytes.HasPrefix(got, []byte(`{"data":{"users":{`)) && !bytes.Contains(got, []byte(`"errors"`)) {
			valid++
		}
	}
	if valid < 300 {
		t.Errorf("only %d of 400 generated queries answered without errors: the generator tests too little", valid)
	}
}

// TestPlainPathIsTaken: the selections that are plain are the ones the
// precompiled path writes, and the others are left to gqlgen.
func TestPlainPathIsTaken(t *testing.T) {
	for _, tt := range []struct {
		query string
		path  []string
		plain bool
	}{
		{`{ users { edges { node { nativeId firstName lastName email active } } } }`, []string{"users", "edges"}, true},
		{`{ users { edges { cursor __typename n: node { ...F } } } } fragment F on User { id emails createdAt }`, []string{"users", "edges"}, true},
		{`{ users { nodes { id ... on Node { id } displayName } } }`, []string{"users", "nodes"}, true},
		{`{ users { edges { node { nativeId provider { key } } } } }`, []string{"users", "edges"}, false},
		{`{ users { edges { node { company { name } } } } }`, []string{"users", "edges"}, false},
		{`{ users { edges { node { linkedAccounts { id } } } } }`, []string{"users", "edges"}, false},
		{`{ users { edges { node { linkedAccounts { id email } } } } }`, []string{"users", "edges", "node", "linkedAccounts"}, true},
	} {
		sel, opCtx := operationSelection(t, tt.query, tt.path...)
		var v any = []*model.UserEdge{{Node: &model.User{}}}
		if tt.path[len(tt.path)-1] != "edges" {
			v = []*model.User{{}}
		}
		if got := precompiled(opCtx, sel, v) != nil; got != tt.plain {
			t.Errorf("%s at %v: precompiled %t, want %t", tt.query, tt.path, got, tt.plain)
		}
	}
}

// FuzzPlainPath: for fuzzed user values and selections, both paths
// answer byte for byte the same.
func FuzzPlainPath(f *testing.F) {
	f.Add(uint64(1), "Ada", "ada@example.com", int64(0))
	f.Add(uint64(2), "\"\\\x00\x1f\u2028", "", int64(1700000000123456789))
	f.Add(uint64(3), "\xff\xfe\xfd", "MiXeD@Example.COM", int64(-1))
	f.Add(uint64(4), "", " spaced@example.com ", int64(42))
	f.Fuzz(func(t *testing.T, seed uint64, name, email string, nanos int64) {
		users := providertest.Dataset(3)
		users[1].FirstName, users[1].LastName, users[1].Email = name, name+name, email
		users[1].Emails = []string{email, name}
		users[1].CreatedAt = time.Unix(0, nanos).In(time.FixedZone("", int(nanos%50000)))
		users[2].OrganizationUnit, users[2].CountryCode = name, email
		p := newTwoPaths(t, users)
		s := &selections{rng: rand.New(rand.NewPCG(seed, seed>>7))}
		p.same(t, s.query(), map[string]any{"inc": seed%2 == 0})
	})
}
