package limits

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/hostile"
)

// branchOut is fanOut with every spread under a field of its own, so that
// the expansion also has 2^n distinct paths.
func branchOut(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ users(first: 1) { edges { node { ...F%d } } } }\nfragment F0 on User { id }\n", n-1)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on User { friends { edges { node { ...F%d } } } f: friends { edges { node { ...F%d } } } }\n", i, i-1, i-1)
	}
	return b.String()
}

// selections counts the selections written in a document, each once: the
// size the checks' work must be linear in.
func selections(t *testing.T, query string) int {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var count func(ast.SelectionSet)
	count = func(set ast.SelectionSet) {
		for _, sel := range set {
			n++
			switch s := sel.(type) {
			case *ast.Field:
				count(s.SelectionSet)
			case *ast.InlineFragment:
				count(s.SelectionSet)
			}
		}
	}
	for _, set := range definitions(doc) {
		count(set)
	}
	return n
}

// unit prices every field 1 plus its children, and UserConnection.edges
// per item of a page of first (or 10).
type unit struct{}

func (unit) Field(f *ast.Field, args Args, child Cost) Cost {
	self := Cost{Points: 1, Calls: 1}
	switch f.Name {
	case "edges":
		return self.Plus(child).PerItem()
	case "users", "friends":
		n, ok := args.Int("first")
		if !ok {
			n = 10
		}
		return self.Plus(child.Page(n))
	}
	return self.Plus(child)
}

// TestFragmentFanOutIsLinear: every check that runs before execution
// visits each fragment once, so the fragments of issue 10 (2^39 fields
// once expanded) cost it a few hundred visits, not 2^39, and each check
// still sees what the expansion selects. The bound is on the selections
// visited, never on time.
func TestFragmentFanOutIsLinear(t *testing.T) {
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	for _, tt := range []struct {
		name  string
		query string
		depth int
	}{
		{"fan out 40", hostile.FanOut(40), 4},
		{"fan out 60", hostile.FanOut(60), 4},
		{"branch out 12", branchOut(12), 4 + 3*11},
	} {
		size := selections(t, tt.query)
		doc, errs := gqlparser.LoadQueryWithRules(s, tt.query, nil)
		if errs != nil {
			t.Fatalf("%s: %v", tt.name, errs)
		}
		op := doc.Operations[0]

		d, visits, ok := depth(t.Context(), op.SelectionSet)
		if !ok || d != tt.depth || visits > size {
			t.Errorf("%s: depth %d in %d visits (ok %t), want %d in at most %d", tt.name, d, visits, ok, tt.depth, size)
		}
		cost, visits, err := Complexity{Model: unit{}, Points: 1000, Calls: 1000}.Cost(t.Context(), op, nil)
		if err != nil || visits > size {
			t.Errorf("%s: cost in %d visits (%v), want at most %d", tt.name, visits, err, size)
		}
		// users 1 + edges (1 + node (1 + 2^(n-1) ids)): the memo prices
		// the whole expansion.
		if cost.Points < 1<<20 || cost.Calls < 1<<20 {
			t.Errorf("%s: cost %+v, want the expansion's (at least 2^20)", tt.name, cost)
		}
		e, visits := Fields{Max: 1000, Repeats: 20}.Check(t.Context(), tt.query)
		if code(e) != errcode.FieldLimit || visits > 2*size {
			t.Errorf("%s: Fields.Check = %v in %d visits, want FIELD_LIMIT_EXCEEDED in at most %d", tt.name, e, visits, 2*size)
		}
		for _, ext := range []graphql.OperationContextMutator{
			Depth{Max: 100}, PageSize{Max: 100, Fields: []string{"Query.users"}}, NoIntrospection{},
		} {
			if e := ext.MutateOperationContext(t.Context(), &graphql.OperationContext{Doc: doc, Operation: op}); e != nil {
				t.Errorf("%s: %T: %v", tt.name, ext, e)
			}
		}
		e = Complexity{Model: unit{}, Points: 1 << 30, Calls: 1 << 30}.MutateOperationContext(t.Context(), &graphql.OperationContext{Doc: doc, Operation: op})
		if code(e) != errcode.VendorCallLimit {
			t.Errorf("%s: Complexity = %v, want VENDOR_CALL_LIMIT_EXCEEDED", tt.name, e)
		}
	}
}

// TestChecksEndWithTheRequest: a check whose request has ended stops,
// with its code, within ctxCheckEvery selections.
func TestChecksEndWithTheRequest(t *testing.T) {
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	var b strings.Builder
	b.WriteString("{ users { edges { node {")
	for i := range 2000 {
		fmt.Fprintf(&b, " a%d: id", i)
	}
	b.WriteString(" } } } }")
	doc, errs := gqlparser.LoadQueryWithRules(s, b.String(), nil)
	if errs != nil {
		t.Fatal(errs)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	opCtx := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
	for _, tt := range []struct {
		ext  graphql.OperationContextMutator
		want errcode.Code
	}{
		{Depth{Max: 100}, errcode.DepthLimit},
		{PageSize{Max: 100, Fields: []string{"Query.users"}}, errcode.PageSizeLimit},
		{NoIntrospection{}, errcode.IntrospectionDisabled},
		{Complexity{Model: unit{}, Points: 1 << 30, Calls: 1 << 30}, errcode.ComplexityLimit},
	} {
		if e := tt.ext.MutateOperationContext(ctx, opCtx); code(e) != tt.want || !strings.Contains(e.Message, "ended") {
			t.Errorf("%T after the request ended: %v, want %s", tt.ext, e, tt.want)
		}
	}
	if _, visits, ok := depth(ctx, doc.Operations[0].SelectionSet); ok || visits > ctxCheckEvery {
		t.Errorf("depth after the request ended: ok %t after %d visits, want a stop within %d", ok, visits, ctxCheckEvery)
	}
	e, visits := Fields{Max: 1 << 20, Repeats: 1 << 20}.Check(ctx, b.String())
	if code(e) != errcode.FieldLimit || visits > ctxCheckEvery {
		t.Errorf("Fields.Check after the request ended: %v after %d visits", e, visits)
	}
}

// TestFields: before validation, a document that selects too many fields
// once its fragments are expanded, or one response name too often at one
// place, is refused with FIELD_LIMIT_EXCEEDED, in work linear in its size
// (issue 10, item 2: 9,000 copies of id took validation 4 seconds).
func TestFields(t *testing.T) {
	f := Fields{Max: 1000, Repeats: 20, TokenLimit: 10000}
	ids := func(n int) string { return strings.TrimSpace(strings.Repeat("id ", n)) }
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, " a%d: id", i)
		}
		return b.String()
	}
	manyOps := func(ops int) string {
		var b strings.Builder
		for i := range ops {
			fmt.Fprintf(&b, "query Q%d { ...Big }\n", i)
		}
		b.WriteString("fragment Big on Query { users { edges { node { " + aliases(10) + " } } } }")
		return b.String()
	}
	for _, tt := range []struct {
		name, query string
		want        errcode.Code
	}{
		{"9000 copies of id", "{ users { edges { node { " + ids(9000) + " } } } }", errcode.FieldLimit},
		{"20 copies", "{ users { edges { node { " + ids(20) + " } } } }", ""},
		{"21 copies", "{ users { edges { node { " + ids(21) + " } } } }", errcode.FieldLimit},
		{"21 copies through inline fragments", "{ users { edges { node { " + ids(11) + " ... on User { " + ids(10) + " } } } } }", errcode.FieldLimit},
		{"21 spreads of one fragment", "{ users { edges { node { " + strings.Repeat("...A ", 21) + " } } } } fragment A on User { id }", errcode.FieldLimit},
		{"5 × 5 at one path", "{ " + strings.Repeat("users { edges { node { "+ids(5)+" } } } ", 5) + " }", errcode.FieldLimit},
		{"4 × 5 at one path", "{ " + strings.Repeat("users { edges { node { "+ids(5)+" } } } ", 4) + " }", ""},
		{"aliases are other names", "{ users { edges { node { " + aliases(300) + " } } } }", ""},
		{"1001 fields", "{ users { edges { node { " + aliases(1001) + " } } } }", errcode.FieldLimit},
		{"fragments counted at every spread", "{ a: users { ...C } b: users { ...C } } fragment C on UserConnection { edges { node { " + aliases(500) + " } } }", errcode.FieldLimit},
		{"every operation walks its fragments", manyOps(100), errcode.FieldLimit},
		{"a few operations", manyOps(3), ""},
		// Validation walks an operation's fragments, values and
		// directives included, once per operation.
		{"every operation walks its fragments' values", strings.Repeat("query { ...L }\n", 300) + "fragment L on Query { nodes(ids: [" + strings.Repeat("1,", 8000) + "]) { id } }", errcode.TokenLimit},
		{"and their directives", strings.Repeat("query { ...L }\n", 300) + "fragment L on Query { users " + strings.Repeat("@a ", 3000) + "{ totalCount } }", errcode.TokenLimit},
		{"a long list in one operation", "{ nodes(ids: [" + strings.Repeat("1,", 9000) + "]) { id } }", ""},
		{"a fragment cycle ends", "{ users { edges { node { ...A } } } } fragment A on User { id ...B } fragment B on User { ...A }", ""},
		{"not GraphQL", "{ users { ", ""},
	} {
		e, visits := f.Check(t.Context(), tt.query)
		if code(e) != tt.want {
			t.Errorf("%s: %v, want code %q", tt.name, e, tt.want)
		}
		if size := strings.Count(tt.query, " ") + 1; visits > 4*size {
			t.Errorf("%s: %d visits for a document of %d words", tt.name, visits, size)
		}
	}
}
