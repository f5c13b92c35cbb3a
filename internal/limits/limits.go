// Package limits bounds what one request may ask of dirgate, and rejects
// what is too much before any resolver runs, each rejection with its own
// extensions.code:
//
//   - Body, an HTTP middleware: a request body larger than the limit is a
//     413 REQUEST_TOO_LARGE, before anything reads it as GraphQL;
//   - Depth, a gqlgen extension: DEPTH_LIMIT_EXCEEDED;
//   - PageSize, a gqlgen extension: a connection asked for more than the
//     largest page is PAGE_SIZE_LIMIT_EXCEEDED;
//   - NoIntrospection, a gqlgen extension used when introspection is off:
//     INTROSPECTION_DISABLED;
//   - Deadline, an HTTP middleware: the per-request deadline that every
//     vendor call made for the request inherits.
//
// gqlgen's own extension.ComplexityLimit gives COMPLEXITY_LIMIT_EXCEEDED,
// and its parser token limit an error that graph.PresentError reports as
// TOKEN_LIMIT_EXCEEDED.
//
// The extensions are operation context mutators: gqlgen runs them after
// parsing and validation and, when one fails, answers with the error alone
// and never dispatches the operation, on every transport. (An operation
// interceptor that rejects must instead return graphql.OneShot, or a
// streaming transport would ask it again and again; none here does.)
package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/httperr"
)

// Body answers a request whose body is larger than max bytes with a 413
// REQUEST_TOO_LARGE, and hands next the body read into memory otherwise.
func Body(max int64, next http.Handler) http.Handler {
	tooLarge := fmt.Sprintf("the request body is larger than %d bytes", max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			httperr.Write(w, http.StatusRequestEntityTooLarge, errcode.RequestTooLarge, tooLarge)
			return
		}
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		switch {
		case err != nil:
			httperr.Write(w, http.StatusBadRequest, errcode.BadRequest, "the request body could not be read")
			return
		case int64(len(b)) > max:
			httperr.Write(w, http.StatusRequestEntityTooLarge, errcode.RequestTooLarge, tooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r)
	})
}

// Deadline gives every request d to finish: its context ends then, and so
// does every vendor call made for it.
func Deadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// IsTokenLimit reports whether err is the parser's refusal to read more
// tokens than gqlgen's SetParserTokenLimit allows.
func IsTokenLimit(err *gqlerror.Error) bool {
	return err.Extensions["code"] == string(errcode.ParseFailed) && strings.HasPrefix(err.Message, "exceeded token limit of ")
}

func reject(code errcode.Code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	err.Extensions = map[string]any{"code": string(code)}
	return err
}

// Depth rejects an operation that nests fields deeper than Max: in
// { users { edges { node { id } } } } id is at depth 4. Fragments add no
// depth of their own; introspection fields (__schema, __type, and all
// below them) are not counted, since gqlparser bounds them already.
type Depth struct{ Max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = Depth{}

// ExtensionName implements graphql.HandlerExtension.
func (Depth) ExtensionName() string { return "DepthLimit" }

// Validate implements graphql.HandlerExtension.
func (d Depth) Validate(graphql.ExecutableSchema) error {
	if d.Max < 1 {
		return fmt.Errorf("limits: depth limit %d: must be at least 1", d.Max)
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (d Depth) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	w := depthWalker{memo: map[string]int{}}
	if n := w.depth(opCtx.Operation.SelectionSet); n > d.Max {
		return reject(errcode.DepthLimit, "the operation nests fields %d deep, more than the limit of %d", n, d.Max)
	}
	return nil
}

// depthWalker measures selection sets, each fragment once.
type depthWalker struct{ memo map[string]int }

func (w depthWalker) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		var n int
		switch s := sel.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			n = 1 + w.depth(s.SelectionSet)
		case *ast.InlineFragment:
			n = w.depth(s.SelectionSet)
		case *ast.FragmentSpread:
			m, ok := w.memo[s.Name]
			if !ok && s.Definition != nil {
				w.memo[s.Name] = 0 // a cycle (invalid anyway) ends here
				m = w.depth(s.Definition.SelectionSet)
				w.memo[s.Name] = m
			}
			n = m
		}
		deepest = max(deepest, n)
	}
	return deepest
}

// PageSize rejects an operation in which one of Fields ("Type.field", a
// connection) is asked for more than Max items with its first or last
// argument, literal or variable. Smaller mistakes (a negative count, first
// with last) are left to the resolver.
type PageSize struct {
	Max    int
	Fields []string
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = PageSize{}

// ExtensionName implements graphql.HandlerExtension.
func (PageSize) ExtensionName() string { return "PageSizeLimit" }

// Validate implements graphql.HandlerExtension.
func (p PageSize) Validate(graphql.ExecutableSchema) error {
	if p.Max < 1 {
		return fmt.Errorf("limits: page size limit %d: must be at least 1", p.Max)
	}
	return nil
}

// MutateOperationContext implements graphql.OperationContextMutator.
func (p PageSize) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	var found *gqlerror.Error
	walk(opCtx.Operation.SelectionSet, map[string]bool{}, func(f *ast.Field) bool {
		if f.ObjectDefinition == nil || !slices.Contains(p.Fields, f.ObjectDefinition.Name+"."+f.Name) {
			return true
		}
		args := f.ArgumentMap(opCtx.Variables)
		for _, arg := range []string{"first", "last"} {
			if n, ok := asInt(args[arg]); ok && n > int64(p.Max) {
				found = reject(errcode.PageSizeLimit, "%s: %s must be at most %d", f.Name, arg, p.Max)
				found.Extensions["limit"] = p.Max
				found.Path = ast.Path{ast.PathName(f.Alias)}
				return false
			}
		}
		return true
	})
	return found
}

// NoIntrospection rejects operations that ask for __schema or __type,
// with INTROSPECTION_DISABLED, instead of letting gqlgen fail them during
// execution as if they were dirgate's bugs. __typename stays allowed.
type NoIntrospection struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = NoIntrospection{}

// ExtensionName implements graphql.HandlerExtension.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate implements graphql.HandlerExtension.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator.
func (NoIntrospection) MutateOperationContext(_ context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	var found *gqlerror.Error
	walk(opCtx.Operation.SelectionSet, map[string]bool{}, func(f *ast.Field) bool {
		if f.Name == "__schema" || f.Name == "__type" {
			found = reject(errcode.IntrospectionDisabled, "introspection is disabled on this server")
			return false
		}
		return true
	})
	return found
}

// walk calls visit for every field of set, fragments included (each
// once), until visit returns false.
func walk(set ast.SelectionSet, seen map[string]bool, visit func(*ast.Field) bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if !visit(s) || !walk(s.SelectionSet, seen, visit) {
				return false
			}
		case *ast.InlineFragment:
			if !walk(s.SelectionSet, seen, visit) {
				return false
			}
		case *ast.FragmentSpread:
			if seen[s.Name] || s.Definition == nil {
				continue
			}
			seen[s.Name] = true
			if !walk(s.Definition.SelectionSet, seen, visit) {
				return false
			}
		}
	}
	return true
}

// asInt reads an Int argument as gqlparser hands it over: int64 from a
// literal, and int64, int or json.Number from a variable.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// MaxPersistedQueryBytes is the largest query the automatic persisted
// query cache keeps; a larger one runs, but must be sent in full each time.
const MaxPersistedQueryBytes = 64 << 10

// PersistedQueries returns the cache of automatic persisted queries: the
// size most recently used queries of at most MaxPersistedQueryBytes each,
// so that it holds at most size × 64 KiB.
func PersistedQueries(size int) graphql.Cache[string] {
	return persisted{lru.New[string](size)}
}

type persisted struct{ graphql.Cache[string] }

func (c persisted) Add(ctx context.Context, hash, query string) {
	if len(query) <= MaxPersistedQueryBytes {
		c.Cache.Add(ctx, hash, query)
	}
}
