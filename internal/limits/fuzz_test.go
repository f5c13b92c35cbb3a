package limits

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/dirgate/dirgate/internal/hostile"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// FuzzChecks: for any document, the checks that run before execution end,
// without a panic, in work bounded by the document's size (issue 10,
// items 1 and 2). The bound is asserted on the work done, never on time:
//
//   - the field check (before validation) visits at most a few times the
//     document's bytes, plus the expanded field limit;
//   - a document it lets through costs validation at most the expanded
//     size it measured: validation's walk (fields, values, directives,
//     spreads, counted by a rule of the test's own) stays within the
//     token limit, plus the document's bytes;
//   - the checks after validation visit each selection at most once per
//     walk.
//
// The seeds are the attacks of issue 10 and those TestWorstCaseSearch
// found.
func FuzzChecks(f *testing.F) {
	rep := strings.Repeat
	for _, q := range []string{
		hostile.FanOut(40), // item 1: 2^39 fields once expanded
		branchOut(20),      // ... and 2^20 paths
		"{ users { edges { node { " + rep("id ", 9000) + "} } } }",                                          // item 2
		"{ users { edges { node { " + rep("id,", 4000) + "} } } }",                                          // ... other whitespace
		rep("query { ...L }\n", 300) + "fragment L on Query { user(id: [" + rep("1,", 8000) + "]) { id } }", // operations × values
		rep("query { ...L }\n", 300) + "fragment L on Query { users " + rep("@a ", 3000) + "{ edges { node { id } } } }",
		"{" + rep(" users { edges { node { id id id id id } } }", 5) + " }",                                     // repeats through nesting
		"{ users { edges { node { ...A ...B } } } } fragment A on User { id ...B } fragment B on User { ...A }", // a cycle
		"{ __schema { types { " + rep("fields { type { ", 30) + "name" + rep(" } }", 30) + " } } }",
		"query($n: Int) { users(first: $n) { edges { node { id friends(first: 2) { edges { node { id } } } } } } }",
		"{ user(id: 1) { __typename ... on User { id } } }",
		"",
	} {
		f.Add(q)
	}
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	fl := Fields{Max: 1000, Repeats: 20, TokenLimit: 10000}
	f.Fuzz(func(t *testing.T, query string) {
		if len(query) > 1<<20 { // the body limit
			return
		}
		ctx := context.Background()
		e, visits := fl.Check(ctx, query)
		if bound := 4*len(query) + 2*fl.Max + 16; visits > bound {
			t.Fatalf("the field check visited %d selections for %d bytes (bound %d)", visits, len(query), bound)
		}
		if e != nil {
			return
		}
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, fl.TokenLimit)
		if err != nil {
			return
		}
		events := 0
		count := func(*core.Walker, any) { events++ }
		rs := rules.NewDefaultRules()
		rs.AddRule("count", func(o *core.Events, _ core.AddErrFunc) {
			o.OnField(func(w *core.Walker, x *ast.Field) { count(w, x) })
			o.OnValue(func(w *core.Walker, x *ast.Value) { count(w, x) })
			o.OnDirective(func(w *core.Walker, x *ast.Directive) { count(w, x) })
			o.OnFragmentSpread(func(w *core.Walker, x *ast.FragmentSpread) { count(w, x) })
			o.OnInlineFragment(func(w *core.Walker, x *ast.InlineFragment) { count(w, x) })
		})
		errs := validator.ValidateWithRules(s, doc, rs)
		if bound := 2*fl.TokenLimit + 4*len(query); events > bound {
			t.Fatalf("validation walked %d nodes of a document of %d bytes the field check let through (bound %d)", events, len(query), bound)
		}
		if len(errs) > 0 {
			return
		}
		for _, op := range doc.Operations {
			opCtx := &graphql.OperationContext{Doc: doc, Operation: op}
			for _, ext := range []graphql.OperationContextMutator{
				Depth{Max: 12}, PageSize{Max: 100, Fields: []string{"Query.users"}}, NoIntrospection{},
				Complexity{Model: unit{}, Points: 50000, Calls: 500},
			} {
				ext.MutateOperationContext(ctx, opCtx)
			}
			size := strings.Count(query, "...") + strings.Count(query, "{") + len(strings.Fields(query)) + 1
			if _, visits, _ := depth(ctx, op.SelectionSet); visits > size {
				t.Fatalf("depth visited %d selections, more than the document's %d words and spreads", visits, size)
			}
			if _, visits, _ := (Complexity{Model: unit{}, Points: 1, Calls: 1}).Cost(ctx, op, nil); visits > size {
				t.Fatalf("complexity visited %d selections, more than the document's %d words and spreads", visits, size)
			}
		}
	})
}
