package limits

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Fields refuses, before gqlgen validates a document, one that validation
// or execution would find too costly, with FIELD_LIMIT_EXCEEDED:
//
//   - more than Max fields once fragments are expanded: every operation and
//     every fragment definition, a fragment counted wherever it is spread
//     (the fragment of issue 10 that spreads the one before twice, forty
//     deep, selects 2^39 fields);
//   - one response name (an alias, or the field's name) selected more than
//     Repeats times at one place, that is at one path from its operation
//     or fragment, fragments expanded. Validation compares the fields of
//     one response name pairwise (overlapping-fields checking), so its
//     cost grows with the square of such repeats: 9,000 copies of id took
//     it 4 seconds.
//
// Both are counted in one walk that visits each fragment once per count
// and never more than Max fields per trie, so the check costs time linear
// in the document. It runs as an operation parameter mutator, after
// automatic persisted queries have filled in the query and before gqlgen
// parses and validates it; a query in Cache (validated before, so it
// passed) is not checked again.
type Fields struct {
	Max, Repeats int
	// TokenLimit is the parser's (gqlgen's SetParserTokenLimit): the check
	// parses no more than gqlgen will.
	TokenLimit int
	// Cache is gqlgen's query cache, or nil.
	Cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = Fields{}

// ExtensionName implements graphql.HandlerExtension.
func (Fields) ExtensionName() string { return "FieldLimit" }

// Validate implements graphql.HandlerExtension.
func (f Fields) Validate(graphql.ExecutableSchema) error {
	if f.Max < 1 || f.Repeats < 1 {
		return fmt.Errorf("limits: field limit %d, repeated field limit %d: must be at least 1", f.Max, f.Repeats)
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (f Fields) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	if params.Query == "" {
		return nil
	}
	if f.Cache != nil {
		if _, ok := f.Cache.Get(ctx, params.Query); ok {
			return nil
		}
	}
	err, _ := f.Check(ctx, params.Query)
	return err
}

// Check checks query and returns the refusal, if any, and the selections
// it visited (for tests: the bound of its work). A query that does not
// parse passes: gqlgen reports it.
func (f Fields) Check(ctx context.Context, query string) (*gqlerror.Error, int) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, f.TokenLimit)
	if err != nil {
		return nil, 0
	}
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, d := range doc.Fragments {
		if _, dup := frags[d.Name]; !dup {
			frags[d.Name] = d
		}
	}

	count := walker[size]{
		ctx: ctx,
		field: func(f *ast.Field, child size) size {
			return size{sat(1, child.fields), sat(1+values(f.Arguments)+directives(f.Directives), child.nodes)}
		},
		add:      size.plus,
		fragment: func(name string) *ast.FragmentDefinition { return frags[name] },
		inline:   func(d ast.DirectiveList) size { return size{0, directives(d)} },
	}
	var total size
	for _, set := range definitions(doc) {
		n, ok := count.fold(set)
		if !ok {
			return ended(ctx, errcode.FieldLimit), count.Visits
		}
		total = total.plus(n)
	}
	if total.fields > f.Max {
		e := reject(errcode.FieldLimit, "the document selects %s fields once its fragments are expanded, more than the limit of %d", atLeast(total.fields), f.Max)
		e.Extensions["limit"] = f.Max
		return e, count.Visits
	}
	if f.TokenLimit > 0 && total.nodes > f.TokenLimit {
		e := reject(errcode.TokenLimit, "the document holds %s fields, values and directives once its fragments are expanded, more than the token limit of %d", atLeast(total.nodes), f.TokenLimit)
		e.Extensions["limit"] = f.TokenLimit
		return e, count.Visits
	}

	r := repeats{ctx: ctx, frags: frags, max: f.Repeats, memo: map[string]*trie{}, active: map[string]bool{}}
	for _, op := range doc.Operations {
		r.set(op.SelectionSet, &trie{})
	}
	for _, d := range doc.Fragments {
		r.fragment(d.Name) // checked once, wherever spread
	}
	return r.err, count.Visits + r.visits
}

// size is what a selection set holds once its fragments are expanded:
// its fields, and its nodes (fields, argument values and directives: what
// validation walks, once per operation for every fragment the operation
// spreads).
type size struct{ fields, nodes int }

func (s size) plus(t size) size { return size{sat(s.fields, t.fields), sat(s.nodes, t.nodes)} }

// values counts the values of args, lists and objects and their members
// included.
func values(args ast.ArgumentList) int {
	n := 0
	for _, a := range args {
		n = sat(n, value(a.Value))
	}
	return n
}

func value(v *ast.Value) int {
	if v == nil {
		return 0
	}
	n := 1
	for _, c := range v.Children {
		n = sat(n, value(c.Value))
	}
	return n
}

// directives counts the directives of a selection, with their values.
func directives(ds ast.DirectiveList) int {
	n := len(ds)
	for _, d := range ds {
		n = sat(n, values(d.Arguments))
	}
	return n
}

// definitions returns the selection sets of every operation and fragment
// definition of doc: what validation walks.
func definitions(doc *ast.QueryDocument) []ast.SelectionSet {
	var out []ast.SelectionSet
	for _, op := range doc.Operations {
		out = append(out, op.SelectionSet)
	}
	for _, d := range doc.Fragments {
		out = append(out, d.SelectionSet)
	}
	return out
}

// trie counts the fields selected at each path below one place, by
// response name.
type trie struct {
	count int
	kids  map[string]*trie
}

func (t *trie) kid(name string) *trie {
	if t.kids == nil {
		t.kids = map[string]*trie{}
	}
	k := t.kids[name]
	if k == nil {
		k = &trie{}
		t.kids[name] = k
	}
	return k
}

// repeats counts the fields at each path of every definition, fragments
// expanded, until one path has more than max. A fragment's trie is built
// once and merged wherever the fragment is spread, so the walk costs the
// document's size plus the size of the tries merged, which is at most the
// expanded field count checked before (and for the fragment of issue 10,
// one node per fragment: its 2^39 fields all sit at one path).
type repeats struct {
	ctx    context.Context
	frags  map[string]*ast.FragmentDefinition
	max    int
	memo   map[string]*trie
	active map[string]bool
	visits int
	err    *gqlerror.Error
}

func (r *repeats) step() bool {
	if r.err != nil {
		return false
	}
	r.visits++
	if r.visits%ctxCheckEvery == 0 && r.ctx.Err() != nil {
		r.err = ended(r.ctx, errcode.FieldLimit)
	}
	return r.err == nil
}

// set adds the fields of set to the trie at.
func (r *repeats) set(set ast.SelectionSet, at *trie) {
	for _, sel := range set {
		if !r.step() {
			return
		}
		switch s := sel.(type) {
		case *ast.Field:
			name := s.Alias
			if name == "" {
				name = s.Name
			}
			k := at.kid(name)
			r.add(k, 1, name)
			r.set(s.SelectionSet, k)
		case *ast.InlineFragment:
			r.set(s.SelectionSet, at)
		case *ast.FragmentSpread:
			if t := r.fragment(s.Name); t != nil {
				r.merge(at, t)
			}
		}
	}
}

// fragment returns the trie of the fragment named name, built once; nil
// for an unknown fragment, or one that spreads itself.
func (r *repeats) fragment(name string) *trie {
	if t, ok := r.memo[name]; ok {
		return t
	}
	d := r.frags[name]
	if d == nil || r.active[name] {
		return nil
	}
	r.active[name] = true
	t := &trie{}
	r.set(d.SelectionSet, t)
	delete(r.active, name)
	r.memo[name] = t
	return t
}

// merge adds the counts of from to at, path by path.
func (r *repeats) merge(at, from *trie) {
	for name, f := range from.kids {
		if !r.step() {
			return
		}
		k := at.kid(name)
		r.add(k, f.count, name)
		r.merge(k, f)
	}
}

func (r *repeats) add(t *trie, n int, name string) {
	t.count = sat(t.count, n)
	if t.count > r.max && r.err == nil {
		r.err = reject(errcode.FieldLimit, "%q is selected more than %d times at one place", name, r.max)
		r.err.Extensions["limit"] = r.max
	}
}
