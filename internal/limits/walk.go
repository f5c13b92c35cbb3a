package limits

import (
	"context"

	"github.com/vektah/gqlparser/v2/ast"
)

// ctxCheckEvery is how many selections a walk visits between two looks at
// its context.
const ctxCheckEvery = 256

// walker folds an operation's selections into one value, bottom up,
// visiting each fragment's selections once however often it is spread (a
// fragment's value does not depend on where it is spread), and stops when
// its context ends. So every check built on it costs time linear in the
// document's size, and ends with the request.
//
// Visits counts the selections visited, for tests and fuzzing: the bound
// of the work is asserted on it, never on time.
type walker[T any] struct {
	ctx context.Context
	// field is the value of one field, given the value of its selection
	// set; add combines the values of two selections of one set.
	field func(f *ast.Field, child T) T
	add   func(a, b T) T
	// fragment finds a fragment definition by name; nil uses the spread's
	// Definition, which validation fills in.
	fragment func(name string) *ast.FragmentDefinition
	// inline, when set, is the value of an inline fragment or a spread
	// itself (its directives, say), added to its selections'.
	inline func(directives ast.DirectiveList) T

	memo   map[string]T
	active map[string]bool // fragments being folded: a cycle ends there
	Visits int
	err    error
}

// fold returns the value of set, or the zero value and false when the
// walk's context ended.
func (w *walker[T]) fold(set ast.SelectionSet) (T, bool) {
	v := w.set(set)
	if w.err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

func (w *walker[T]) set(set ast.SelectionSet) T {
	var acc T
	for i, sel := range set {
		if !w.step() {
			return acc
		}
		var v T
		switch s := sel.(type) {
		case *ast.Field:
			v = w.field(s, w.set(s.SelectionSet))
		case *ast.InlineFragment:
			v = w.set(s.SelectionSet)
			if w.inline != nil {
				v = w.add(v, w.inline(s.Directives))
			}
		case *ast.FragmentSpread:
			v = w.spread(s)
			if w.inline != nil {
				v = w.add(v, w.inline(s.Directives))
			}
		}
		if i == 0 {
			acc = v
		} else {
			acc = w.add(acc, v)
		}
	}
	return acc
}

func (w *walker[T]) spread(s *ast.FragmentSpread) T {
	if v, ok := w.memo[s.Name]; ok {
		return v
	}
	var zero T
	if w.active[s.Name] {
		return zero // a cycle, which validation refuses anyway
	}
	def := s.Definition
	if w.fragment != nil {
		def = w.fragment(s.Name)
	}
	if def == nil {
		return zero
	}
	if w.memo == nil {
		w.memo, w.active = map[string]T{}, map[string]bool{}
	}
	w.active[s.Name] = true
	v := w.set(def.SelectionSet)
	delete(w.active, s.Name)
	if w.err == nil {
		w.memo[s.Name] = v
	}
	return v
}

func (w *walker[T]) step() bool {
	if w.err != nil {
		return false
	}
	w.Visits++
	if w.Visits%ctxCheckEvery == 0 && w.ctx != nil {
		w.err = w.ctx.Err()
	}
	return w.err == nil
}

// saturating arithmetic, so that no document overflows a count into a
// small or negative number.
const maxInt = int(^uint(0) >> 1)

func sat(a, b int) int {
	if a > maxInt-b {
		return maxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxInt/b {
		return maxInt
	}
	return a * b
}
