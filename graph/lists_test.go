package graph

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// selectionOf parses and validates query against dirgate's schema and
// returns the selection set of the field at path (field names from the
// operation down).
func selectionOf(t *testing.T, query string, path ...string) ast.SelectionSet {
	t.Helper()
	sel, _ := operationSelection(t, query, path...)
	return sel
}

// operationSelection is selectionOf, and the operation's context.
func operationSelection(t *testing.T, query string, path ...string) (ast.SelectionSet, *graphql.OperationContext) {
	t.Helper()
	doc, err := gqlparser.LoadQueryWithRules(NewExecutableSchema(Config{}).Schema(), query, nil)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	opCtx := &graphql.OperationContext{Doc: doc}
	sel := doc.Operations[0].SelectionSet
	for _, name := range path {
		var next ast.SelectionSet
		for _, f := range graphql.CollectFields(opCtx, sel, nil) {
			if f.Name == name {
				next = f.Selections
			}
		}
		if next == nil {
			t.Fatalf("%s: no field %s", query, name)
		}
		sel = next
	}
	return sel, opCtx
}

func TestSelectionMayWait(t *testing.T) {
	for _, tt := range []struct {
		query string
		path  []string
		want  bool
	}{
		{`{ users { edges { node { nativeId email active } } } }`, []string{"users", "edges"}, false},
		{`{ users { edges { cursor node { id provider { key kind name id } emails createdAt } } } }`, []string{"users", "edges"}, false},
		{`{ users { edges { node { email company { name } } } } }`, []string{"users", "edges"}, true},
		{`{ users { edges { node { linkedAccounts { id } } } } }`, []string{"users", "edges"}, true},
		{`{ users { nodes { provider { company { name } } } } }`, []string{"users", "nodes"}, true},
		{`{ users { nodes { provider { status { state } } } } }`, []string{"users", "nodes"}, true},
		{`{ users { nodes { ...F } } } fragment F on User { email company { name } }`, []string{"users", "nodes"}, true},
		{`{ users { nodes { ...F } } } fragment F on User { email }`, []string{"users", "nodes"}, false},
		{`{ nodes(ids: ["x"]) { id ... on User { linkedAccounts { id } } } }`, []string{"nodes"}, true},
		{`{ nodes(ids: ["x"]) { id ... on User { email } ... on Provider { key } } }`, []string{"nodes"}, false},
		{`{ users { edges { node { linkedAccounts { id email } } } } }`, []string{"users", "edges", "node", "linkedAccounts"}, false},
	} {
		if got := selectionMayWait(selectionOf(t, tt.query, tt.path...)); got != tt.want {
			t.Errorf("selectionMayWait(%s at %v) = %t, want %t", tt.query, tt.path, got, tt.want)
		}
	}
}

// goroutine returns the id of the goroutine it runs on.
func goroutine() string {
	b := make([]byte, 64)
	return string(bytes.Fields(b[:runtime.Stack(b, false)])[1])
}

// TestMarshalList: plain selections are marshalled on the caller's
// goroutine, selections that may wait each on a goroutine of its own;
// either way every element has its index in its field context, and a
// panicking element is null with an error on its path.
func TestMarshalList(t *testing.T) {
	for _, tt := range []struct {
		query      string
		sequential bool
	}{
		{`{ users { edges { node { nativeId email } } } }`, true},
		{`{ users { edges { node { nativeId company { name } } } } }`, false},
	} {
		ctx := graphql.WithResponseContext(context.Background(), graphql.DefaultErrorPresenter,
			func(ctx context.Context, err any) error { return errors.New("internal error") })
		ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "UserConnection", Field: graphql.CollectedField{Field: &ast.Field{Alias: "edges"}}})
		caller := goroutine()
		const n = 5
		ran := make([]string, n)
		indexes := make([]int, n)
		ec := newExecutionContext(&graphql.OperationContext{}, NewExecutableSchema(Config{Resolvers: &Resolver{}}).(*executableSchema), nil)
		ret := marshalList(ctx, ec, selectionOf(t, tt.query, "users", "edges"), make([]int, n), func(ctx context.Context, i int) graphql.Marshaler {
			ran[i], indexes[i] = goroutine(), *graphql.GetFieldContext(ctx).Index
			if i == 3 {
				panic("boom")
			}
			return graphql.MarshalInt(i)
		})
		if !slices.Equal(indexes, []int{0, 1, 2, 3, 4}) {
			t.Errorf("%s: indexes in the field contexts %v, want 0 to 4", tt.query, indexes)
		}
		for i, g := range ran {
			if (g == caller) != tt.sequential {
				t.Errorf("%s: element %d ran on the caller's goroutine: %t, want %t", tt.query, i, g == caller, tt.sequential)
			}
		}
		if ret[3] != graphql.Null || ret[2] == graphql.Null {
			t.Errorf("%s: elements %v, want element 3 (panicked) null, the others not", tt.query, ret)
		}
		errs := graphql.GetErrors(ctx)
		if len(errs) != 1 || errs[0].Message != "internal error" || errs[0].Path.String() != "edges[3]" {
			t.Errorf("%s: errors %v, want one internal error at edges[3]", tt.query, errs)
		}
	}
}
