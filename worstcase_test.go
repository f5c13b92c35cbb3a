package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/hostile"
	"github.com/dirgate/dirgate/internal/limits"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// The worst cases of issue 10, item 2: no document within the body limit
// may cost more than about 100 ms of CPU before it is refused or executed.
// TestWorstCaseSearch looks for them (go test -run TestWorstCaseSearch
// -search 2m); the benchmarks below measure the ones of the issue and the
// worst found, and the fuzz targets assert the work the checks do.

var searchFor = flag.Duration("search", 0, "run TestWorstCaseSearch for this long")

// preExecution returns what dirgate runs on a request before executing
// it, with the default configuration: the parameter mutators (the field
// limits), parsing, validation and the operation context mutators (the
// other limits). No vendor is called; no query is cached.
func preExecution(tb testing.TB, mutate func(*config.Config)) func(ctx context.Context, query string, vars map[string]any) gqlerror.List {
	tb.Helper()
	cfg := &config.Config{Providers: []config.Provider{
		{Key: "concur", Kind: "concur", Settings: &concur.Config{Auth: companyauth.Config{TokenURL: "http://127.0.0.1:9/oauth2/v0/token", ClientID: "c",
			ClientSecret: vendorhttp.NewSecret("client-secret"), CompanyUUID: "u", RequestToken: vendorhttp.NewSecret("request-token"),
			TokenStore: filepath.Join(tb.TempDir(), "concur.json")}, PageSize: 100}},
		{Key: "getbill", Kind: "getbill", Settings: &getbill.Config{BaseURL: "http://127.0.0.1:9", Token: vendorhttp.NewSecret("getbill-token")}},
	}}
	cfg.Server.DefaultPageSize, cfg.Server.MaxPageSize = 50, 1000
	if mutate != nil {
		mutate(cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sf := newSurface(cfg, log, noop.NewTracerProvider().Tracer(""))
	dir, err := newDirectory(cfg, log, sf)
	if err != nil {
		tb.Fatal(err)
	}
	ex := executor.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Dir: dir, DefaultPageSize: 50, MaxPageSize: 1000}}))
	sf.graphql(ex, graph.NewCosts(dir, cfg.Server.DefaultPageSize), nil)
	ex.SetErrorPresenter(graph.PresentError(log))
	return func(ctx context.Context, query string, vars map[string]any) gqlerror.List {
		ctx = graphql.StartOperationTrace(ctx)
		_, errs := ex.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars, ReadTime: graphql.TraceTiming{Start: time.Now(), End: time.Now()}})
		return errs
	}
}

// attack is a document of a family, with its variables.
type attack struct {
	name  string
	query string
	vars  map[string]any
}

// families are the shapes known to cost GraphQL servers: each grown to
// the token limit (10,000) or the body limit (1 MiB).
func families() []attack {
	var out []attack
	add := func(name, q string, vars map[string]any) { out = append(out, attack{name, q, vars}) }
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	aliases := func(n int, f func(i int) string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(f(i))
		}
		return b.String()
	}
	// Fragments spread k times each, n deep (item 1).
	for _, k := range []int{2, 3, 4} {
		var b strings.Builder
		fmt.Fprintf(&b, "{ users(first:1){edges{node{...F59}}} }\nfragment F0 on User { id }\n")
		for i := 1; i < 60; i++ {
			fmt.Fprintf(&b, "fragment F%d on User { %s}\n", i, rep(fmt.Sprintf("...F%d ", i-1), k))
		}
		add(fmt.Sprintf("fan-out 60 deep, %d spreads each", k), b.String(), nil)
	}
	// Fragments that branch under fields: 2^n paths.
	{
		var b strings.Builder
		fmt.Fprintf(&b, "{ users(first:1){edges{node{...F30}}} }\nfragment F0 on User { id }\n")
		for i := 1; i < 31; i++ {
			fmt.Fprintf(&b, "fragment F%d on User { linkedAccounts { ...F%d } l: linkedAccounts { ...F%d } }\n", i, i-1, i-1)
		}
		add("branch-out 30 deep", b.String(), nil)
	}
	// Duplicates (item 2), flat and nested.
	add("9000 × id", "{ users(first:1){edges{node{"+rep("id ", 9000)+"}}} }", nil)
	add("4900 × id, commas", "{ users(first:1){edges{node{"+rep("id,", 4900)+"}}} }", nil)
	add("1000 × id", "{ users(first:1){edges{node{"+rep("id ", 1000)+"}}} }", nil)
	add("20 × id", "{ users(first:1){edges{node{"+rep("id ", 20)+"}}} }", nil)
	add("20 × users × 20 × id", "{"+rep(" users(first:1){edges{node{"+rep("id ", 20)+"}}}", 20)+" }", nil)
	add("10 × 10 × 10 nested", "{"+rep(" users(first:1){edges{node{"+rep(" linkedAccounts {"+rep(" id", 10)+" }", 10)+"}}}", 10)+" }", nil)
	add("1000 × email with args", "{ users(first:1){edges{node{"+rep("email(x: 1, y: 2) ", 700)+"}}} }", nil)
	add("distinct args × 20 users", "{"+aliases(20, func(i int) string {
		return " users(first: 1, filter: {" + aliases(60, func(j int) string { return fmt.Sprintf("f%d: %d, ", j, j) }) + "}) { totalCount }"
	})+" }", nil)
	add("500 aliases of users", "{"+aliases(500, func(i int) string { return fmt.Sprintf(" a%d: users(first:1){totalCount}", i) })+" }", nil)
	add("1000 aliases of id", "{ users(first:1){edges{node{"+aliases(1000, func(i int) string { return fmt.Sprintf(" a%d: id", i) })+"}}} }", nil)
	// Many fragments spread together: pairwise fragment comparisons.
	add("900 fragments in one set", "{ users(first:1){edges{node{"+aliases(900, func(i int) string { return fmt.Sprintf(" ...F%d", i) })+"}}} }\n"+
		aliases(900, func(i int) string { return fmt.Sprintf("fragment F%d on User { a%d: id }\n", i, i) }), nil)
	add("300 fragments of the same field", "{ users(first:1){edges{node{"+aliases(300, func(i int) string { return fmt.Sprintf(" ...F%d", i) })+"}}} }\n"+
		aliases(300, func(i int) string { return fmt.Sprintf("fragment F%d on User { id }\n", i) }), nil)
	add("fragment pairs under repeated fields", "{"+rep(" users(first:1){edges{node{ ...A ...B }}}", 20)+" }\nfragment A on User { "+aliases(40, func(i int) string { return fmt.Sprintf("a%d: id ", i) })+"}\nfragment B on User { "+aliases(40, func(i int) string { return fmt.Sprintf("a%d: id ", i) })+"}", nil)
	// Operations: each walks its fragments again.
	add("1000 operations, one fragment", aliases(1000, func(i int) string { return fmt.Sprintf("query Q%d { ...F }\n", i) })+"fragment F on Query { users(first:1){edges{node{id email}}} }", nil)
	add("300 operations × a fragment with 8000 values", rep("query { ...L }\n", 300)+"fragment L on Query { nodes(ids: ["+rep("1,", 8000)+"]) { id } }", nil)
	add("300 operations × a fragment with 3000 directives", rep("query { ...L }\n", 300)+"fragment L on Query { users "+rep("@deprecated ", 3000)+"{ totalCount } }", nil)
	add("100 operations × 9 fields", aliases(100, func(i int) string { return fmt.Sprintf("query Q%d { ...F }\n", i) })+"fragment F on Query { users(first:1){edges{node{"+rep("id ", 5)+"}}} }", nil)
	// Variables, directives, values.
	add("2000 variables", "query("+aliases(2000, func(i int) string { return fmt.Sprintf("$v%d: Int ", i) })+") { users(first: $v0) { totalCount } }", nil)
	add("3000 misplaced directives", "{ users(first: 1) { totalCount"+rep(" @deprecated", 3000)+" } }", nil)
	add("3000 skip directives", "{ users(first: 1) { totalCount"+rep(" @skip(if: false)", 1600)+" } }", nil)
	add("a list of 9000 ids", "{ nodes(ids: ["+rep(`"x",`, 9000)+"]) { id } }", nil)
	ids := make([]string, 30000)
	for i := range ids {
		ids[i] = relay.UserID("getbill", fmt.Sprint(i))
	}
	add("30000 ids in a variable", "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": ids})
	ints := make([]any, 500000)
	for i := range ints {
		ints[i] = 1
	}
	add("500,000 ints in a list variable", "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", map[string]any{"ids": ints})
	add("500,000 ints in an unused variable", "query($x: [Int]) { users(first: 1) { totalCount } }", map[string]any{"x": ints})
	deep := any(1)
	for range 9000 {
		deep = []any{deep}
	}
	add("a variable 9,000 lists deep", "query($x: [Int]) { users(first: 1) { totalCount } }", map[string]any{"x": deep})
	keys := make([]string, 9000)
	for i := range keys {
		keys[i] = "concur"
	}
	add("500 users sharing a filter of 9,000 providers", "query($f: UserFilter) {"+aliases(450, func(i int) string { return fmt.Sprintf(" a%d: users(first: 1, filter: $f) { totalCount }", i) })+" }",
		map[string]any{"f": map[string]any{"providers": keys}})
	add("a filter variable with 100,000 providers", "query($f: UserFilter) { users(first: 1, filter: $f) { totalCount } }", map[string]any{"f": map[string]any{"providers": ints[:100000]}})
	add("nested lists", "{ nodes(ids: "+rep("[", 3000)+rep("]", 3000)+") { id } }", nil)
	add("nested input objects", "{ users(filter: "+rep("{providers: [\"a\"], x: ", 1500)+"1"+rep("}", 1500)+") { totalCount } }", nil)
	// Depth.
	add("deep inline fragments", "{ users(first:1){edges{node{"+rep("... on User { ", 3000)+"id"+rep(" }", 3000)+"}}} }", nil)
	add("deep linkedAccounts", "{ users(first:1){edges{node{"+rep("linkedAccounts { ", 3000)+"id"+rep(" }", 3000)+"}}} }", nil)
	// Introspection (off by default: refused after validation).
	add("introspection, deep", "{ __schema { types { "+rep("fields { type { ", 400)+"name"+rep(" } }", 400)+" } } }", nil)
	add("__type aliases", "{"+aliases(900, func(i int) string { return fmt.Sprintf(" t%d: __type(name: \"User\") { name }", i) })+" }", nil)
	// A body at the limit that the parser stops early on.
	add("1 MiB of comments", "#"+rep("x", 1<<20-100)+"\n{ users { totalCount } }", nil)
	add("1 MiB string", `{ users(filter: {email: "`+rep("x", 1<<20-100)+`"}) { totalCount } }`, nil)
	return out
}

// cpuTime is the CPU time the process has used: what a request costs the
// server however loaded the machine is (wall time is not).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cost runs f on a, best of runs, and returns the CPU time and the codes.
// The time includes what dirgate does to the request's JSON before
// gqlgen's executor: counting its values (limits.JSONValues, at the
// default limit), and decoding it as gqlgen's transports do.
func cost(f func(context.Context, string, map[string]any) gqlerror.List, a attack, runs int) (time.Duration, []string) {
	best := time.Duration(1<<63 - 1)
	var codes []string
	body, _ := json.Marshal(map[string]any{"query": a.query, "variables": a.vars})
	h := limits.JSONValues(config.DefaultTokenLimit, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var params struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&params); err != nil {
			codes = append(codes, "BAD_REQUEST")
			return
		}
		for _, e := range f(r.Context(), params.Query, params.Variables) {
			c, _ := e.Extensions["code"].(string)
			if !slices.Contains(codes, c) {
				codes = append(codes, c)
			}
		}
	}))
	for range runs {
		codes = codes[:0]
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		start := cpuTime()
		h.ServeHTTP(w, r)
		best = min(best, cpuTime()-start)
		if w.Code != http.StatusOK {
			var resp response
			json.Unmarshal(w.Body.Bytes(), &resp)
			for _, e := range resp.Errors {
				c, _ := e.Extensions["code"].(string)
				codes = append(codes, c)
			}
		}
	}
	return best, codes
}

// mutateDoc makes a random change to a document that tends to make it
// costlier: repeating, nesting, aliasing or spreading a part of it.
func mutateDoc(r *rand.Rand, q string) string {
	open := strings.Index(q, "{")
	if open < 0 {
		return q
	}
	// A balanced selection starting at a random '{'.
	starts := []int{}
	for i, c := range q {
		if c == '{' {
			starts = append(starts, i)
		}
	}
	s := starts[r.IntN(len(starts))]
	depth, end := 0, -1
	for i := s; i < len(q); i++ {
		switch q[i] {
		case '{':
			depth++
		case '}':
			depth--
		}
		if depth == 0 {
			end = i
			break
		}
	}
	if end < 0 {
		return q
	}
	inner := q[s+1 : end]
	switch r.IntN(5) {
	case 0: // repeat the selection's contents
		return q[:s+1] + inner + " " + inner + q[end:]
	case 1: // wrap the contents in an inline fragment
		return q[:s+1] + " ... { " + inner + " } " + inner + q[end:]
	case 2: // add a fragment of the contents and spread it twice
		name := fmt.Sprintf("M%d", r.IntN(1e6))
		return q[:s+1] + " ..." + name + " ..." + name + " " + q[end:] + "\nfragment " + name + " on User { " + inner + " }"
	case 3: // an alias of the first field
		return q[:s+1] + fmt.Sprintf(" a%d: ", r.IntN(1e6)) + strings.TrimSpace(inner) + " " + inner + q[end:]
	default: // another operation
		return q + fmt.Sprintf("\nquery Q%d %s", r.IntN(1e6), q[open:])
	}
}

// TestWorstCaseSearch measures every family, then hill-climbs by random
// mutation from the costliest ones for -search, and reports the documents
// that cost the most before they were refused or would run. It is a tool,
// run by hand; the figures go to RELIABILITY.md.
func TestWorstCaseSearch(t *testing.T) {
	if *searchFor == 0 {
		t.Skip("run with -search DURATION")
	}
	f := preExecution(t, nil)
	type found struct {
		attack
		d     time.Duration
		codes []string
	}
	var all []found
	for _, a := range families() {
		d, codes := cost(f, a, 3)
		all = append(all, found{a, d, codes})
	}
	r := rand.New(rand.NewPCG(10, 2))
	deadline := time.Now().Add(*searchFor)
	pool := slices.Clone(all)
	tried := 0
	for time.Now().Before(deadline) {
		slices.SortFunc(pool, func(a, b found) int { return int(b.d - a.d) })
		parent := pool[r.IntN(len(pool))] // half the time any, else a costly one
		if r.IntN(2) == 0 {
			parent = pool[r.IntN(min(len(pool), 8))]
		}
		q := mutateDoc(r, parent.query)
		if len(q) > 1<<20 || q == parent.query {
			continue
		}
		tried++
		a := attack{name: parent.name + "'", query: q, vars: parent.vars}
		d, codes := cost(f, a, 2)
		if d > parent.d/2 {
			pool = append(pool, found{a, d, codes})
			all = append(all, found{a, d, codes})
		}
	}
	slices.SortFunc(all, func(a, b found) int { return int(b.d - a.d) })
	t.Logf("%d families, %d mutants tried; the costliest of each family (CPU before refusal or execution):", len(families()), tried)
	seen := map[string]bool{}
	for _, w := range all {
		family := strings.TrimRight(w.name, "'")
		if seen[family] {
			continue
		}
		seen[family] = true
		t.Logf("%8.2f ms  %7d bytes  %-45s %v", float64(w.d.Microseconds())/1000, len(w.query), w.name, w.codes)
	}
	for _, w := range all {
		if w.d > 100*time.Millisecond {
			t.Errorf("%s (%d bytes) cost %v before it was refused or executed: %.300s", w.name, len(w.query), w.d, w.query)
		}
	}
}

// BenchmarkHostileQueries measures, through dirgate's whole HTTP handler,
// the fragment query of issue 10 item 1 and the duplicate-field query of
// item 2, each answered with its code before anything runs; and the other
// families of TestWorstCaseSearch, before execution. The whitespace of
// each request differs, so gqlgen's query cache never answers.
//
//	go test -run '^$' -bench HostileQueries -benchtime 20x .
func BenchmarkHostileQueries(b *testing.B) {
	g := newGateway(b, nil)
	for _, tt := range []struct {
		name, query, code string
	}{
		{"item1-fragments", hostile.FanOut(40), "FIELD_LIMIT_EXCEEDED"},
		{"item2-duplicates", duplicateQuery(9000, " "), "FIELD_LIMIT_EXCEEDED"},
	} {
		b.Run(tt.name, func(b *testing.B) {
			i := 0
			cpu := cpuTime()
			defer func() { b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op") }()
			for b.Loop() {
				i++
				body := gqlBody(tt.query+strings.Repeat(" ", i%64), nil)
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
				r.Host = "localhost"
				r.Header.Set("Content-Type", "application/json")
				g.handler.ServeHTTP(w, r)
				if !strings.Contains(w.Body.String(), `"code":"`+tt.code+`"`) {
					b.Fatalf("answer %.300s, want %s", w.Body, tt.code)
				}
			}
		})
	}
	f := preExecution(b, nil)
	for _, a := range families() {
		b.Run("pre-execution/"+strings.ReplaceAll(a.name, " ", "_"), func(b *testing.B) {
			for b.Loop() {
				f(context.Background(), a.query, a.vars)
			}
		})
	}
}
