package limits

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Cost is what a selection costs: Points of complexity, and the vendor
// Calls it may make.
type Cost struct {
	Points int
	Calls  int
	// Each is the cost paid once per item of the enclosing connection: a
	// connection's list fields (edges, nodes) report the cost of their
	// items here, and the connection's own field, which knows its page
	// size, multiplies it out. So a fragment on a connection type costs
	// the same wherever it is spread.
	Each Items
}

// Items is the part of a Cost paid per item of a page.
type Items struct{ Points, Calls int }

// Plus is the cost of two selections of one selection set.
func (c Cost) Plus(d Cost) Cost {
	return Cost{
		Points: sat(c.Points, d.Points),
		Calls:  sat(c.Calls, d.Calls),
		Each:   Items{sat(c.Each.Points, d.Each.Points), sat(c.Each.Calls, d.Each.Calls)},
	}
}

// Times is the cost of n of c (Each included).
func (c Cost) Times(n int) Cost {
	return Cost{
		Points: satMul(c.Points, n),
		Calls:  satMul(c.Calls, n),
		Each:   Items{satMul(c.Each.Points, n), satMul(c.Each.Calls, n)},
	}
}

// PerItem turns c, the cost of one item, into the Each of a list field.
func (c Cost) PerItem() Cost {
	return Cost{Each: Items{sat(c.Points, c.Each.Points), sat(c.Calls, c.Each.Calls)}}
}

// Page is the cost of a connection field with a page of n items: the
// items' cost n times, plus the rest of its selection once.
func (c Cost) Page(n int) Cost {
	return Cost{
		Points: sat(c.Points, satMul(c.Each.Points, n)),
		Calls:  sat(c.Calls, satMul(c.Each.Calls, n)),
	}
}

// Model prices fields. Field returns the cost of one selection of f, given
// its arguments and the cost of its selection set.
type Model interface {
	Field(f *ast.Field, args Args, child Cost) Cost
}

// Args are the arguments of one field, read as the executor will coerce
// them, with a memo shared by every field of the operation: one variable
// (a list of 30,000 ids, say) can be the argument of a thousand fields,
// and what a Model works out from it must be worked out once.
type Args struct {
	field *ast.Field
	vars  map[string]any
	memo  map[argKey]any
	vals  map[string]any
}

type argKey struct {
	value any // the variable's name, or the literal's *ast.Value
	what  string
}

// Value returns the argument's value, coerced, or nil.
func (a *Args) Value(name string) any {
	if a.vals == nil {
		a.vals = a.field.ArgumentMap(a.vars)
	}
	return a.vals[name]
}

// Int reads an Int argument (see the function Int).
func (a *Args) Int(name string) (int, bool) { return Int(a.Value(name)) }

// Strings reads a list of String or ID arguments (see the function
// Strings), once per value in the operation.
func (a *Args) Strings(name string) []string {
	l, _ := a.Memo(name, "strings", func() any { return Strings(a.Value(name)) }).([]string)
	return l
}

// Memo returns what f works out from the argument name, computing it once
// per value in the operation (per variable, or per literal) and per what.
func (a *Args) Memo(name, what string, f func() any) any {
	var key argKey
	for _, arg := range a.field.Arguments {
		if arg.Name != name {
			continue
		}
		key = argKey{value: arg.Value, what: what}
		if arg.Value.Kind == ast.Variable {
			key.value = "$" + arg.Value.Raw
		}
	}
	if key.value == nil { // absent: nothing to share
		return f()
	}
	if v, ok := a.memo[key]; ok {
		return v
	}
	v := f()
	a.memo[key] = v
	return v
}

// Complexity rejects an operation whose estimated vendor calls are more
// than Calls (VENDOR_CALL_LIMIT_EXCEEDED) or whose complexity is more than
// Points (COMPLEXITY_LIMIT_EXCEEDED), as Model prices them. The cost is
// computed in one walk linear in the document's size, each fragment once.
type Complexity struct {
	Model  Model
	Points int
	Calls  int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Complexity{}

// ExtensionName implements graphql.HandlerExtension.
func (Complexity) ExtensionName() string { return "ComplexityLimit" }

// Validate implements graphql.HandlerExtension.
func (c Complexity) Validate(graphql.ExecutableSchema) error {
	if c.Model == nil || c.Points < 1 || c.Calls < 0 {
		return fmt.Errorf("limits: complexity limit %d, vendor-call limit %d: need a model, a positive complexity and a vendor-call limit not negative", c.Points, c.Calls)
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (c Complexity) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	cost, _, err := c.Cost(ctx, opCtx.Operation, opCtx.Variables)
	if err != nil {
		return err
	}
	if cost.Calls > c.Calls {
		e := reject(errcode.VendorCallLimit, "the operation may make %s vendor calls, more than the limit of %d", atLeast(cost.Calls), c.Calls)
		e.Extensions["limit"] = c.Calls
		return e
	}
	if cost.Points > c.Points {
		e := reject(errcode.ComplexityLimit, "the operation has complexity %s, more than the limit of %d", atLeast(cost.Points), c.Points)
		e.Extensions["limit"] = c.Points
		return e
	}
	return nil
}

// Cost returns the cost of op with the (coerced) variables vars, and the
// selections visited to find it. The error is the request's end, when its
// context ended during the walk.
func (c Complexity) Cost(ctx context.Context, op *ast.OperationDefinition, vars map[string]any) (Cost, int, *gqlerror.Error) {
	memo := map[argKey]any{}
	w := walker[Cost]{
		ctx: ctx,
		field: func(f *ast.Field, child Cost) Cost {
			if f.Definition == nil || f.ObjectDefinition == nil {
				return Cost{}
			}
			return c.Model.Field(f, Args{field: f, vars: vars, memo: memo}, child)
		},
		add: Cost.Plus,
	}
	cost, ok := w.fold(op.SelectionSet)
	if !ok {
		return Cost{}, w.Visits, ended(ctx, errcode.ComplexityLimit)
	}
	return cost, w.Visits, nil
}

// atLeast prints a saturated count as what it is: a lower bound.
func atLeast(n int) string {
	if n == maxInt {
		return fmt.Sprintf("at least %d", n)
	}
	return fmt.Sprint(n)
}

// ended is the error of a check cut short by the end of the request: the
// request is refused with the check's code.
func ended(ctx context.Context, code errcode.Code) *gqlerror.Error {
	return reject(code, "the request ended before its limits were checked: %v", ctx.Err())
}

// Int reads an Int argument as the executor will: literal, or a variable
// given as a number or as a string of digits. ok is false when v is null
// or not an Int (the executor will refuse it).
func Int(v any) (n int, ok bool) {
	if v == nil {
		return 0, false
	}
	n, err := graphql.UnmarshalInt(v)
	return n, err == nil
}

// Strings reads a list of String or ID arguments as the executor will: a
// list, or one value standing for a list of one. Values that are not
// strings are skipped.
func Strings(v any) []string {
	switch l := v.(type) {
	case nil:
		return nil
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, e := range l {
			if s, err := graphql.UnmarshalID(e); err == nil && e != nil {
				out = append(out, s)
			}
		}
		return out
	}
	if s, err := graphql.UnmarshalID(v); err == nil {
		return []string{s}
	}
	return nil
}
