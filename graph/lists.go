package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// marshalList marshals the elements of a list of objects (the executor
// calls it for every such list; see internal/graphgen). A list of users
// or edges whose selection is plain is written by a precompiled plan (see
// plain.go). Otherwise, when no field
// selected under the elements may wait on I/O, it marshals them one after
// another on the caller's goroutine: a page of plain fields then costs no
// goroutine, and no stack growth, per element. Otherwise each element gets
// a goroutine of its own, as gqlgen does, so that the loaders of all the
// elements' fields wait together, in one batch.
//
// Either way each element has a field context with its index (error paths
// name it), and a panic in one element makes it null with an error, as in
// graphql.MarshalSliceConcurrently.
func marshalList[T any](ctx context.Context, ec *executionContext, sel ast.SelectionSet, v []T, marshal func(ctx context.Context, i int) graphql.Marshaler) graphql.Array {
	if r, _ := ec.Resolvers.(*Resolver); r == nil || !r.GqlgenOnly {
		if ret := precompiled(ec.OperationContext, sel, v); ret != nil {
			return ret
		}
	}
	n := len(v)
	if n > 1 && selectionMayWait(sel) {
		return graphql.MarshalSliceConcurrently(ctx, n, 0, false, marshal)
	}
	ret := make(graphql.Array, n)
	fcs := make([]graphql.FieldContext, n)
	index := make([]int, n)
	for i := range n {
		index[i] = i
		fcs[i].Index = &index[i]
		marshalElement(graphql.WithFieldContext(ctx, &fcs[i]), ret, i, marshal)
	}
	return ret
}

func marshalElement(ctx context.Context, ret graphql.Array, i int, marshal func(ctx context.Context, i int) graphql.Marshaler) {
	defer func() {
		if r := recover(); r != nil {
			graphql.AddError(ctx, graphql.Recover(ctx, r))
			ret[i] = graphql.Null
		}
	}()
	ret[i] = marshal(ctx, i)
}

// selectionMayWait reports whether a field that may wait on I/O is
// selected anywhere in sel, fragments included.
func selectionMayWait(sel ast.SelectionSet) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.ObjectDefinition != nil && mayWait(s.ObjectDefinition.Name, s.Name) || selectionMayWait(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if selectionMayWait(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && selectionMayWait(s.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}
