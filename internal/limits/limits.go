// Package limits bounds what one request may ask of dirgate, and rejects
// what is too much before any resolver runs, each rejection with its own
// extensions.code. HTTP middlewares, in the order a request meets them:
//
//   - Hosts: a Host header naming a host dirgate does not serve is a 421
//     HOST_NOT_ALLOWED (DNS rebinding);
//   - InFlight: beyond the requests served at once, a 503 OVERLOADED;
//   - Body: a body larger than the limit is a 413 REQUEST_TOO_LARGE;
//   - JSONValues: JSON holding more values than the limit is a 413
//     REQUEST_TOO_LARGE, before it is decoded;
//   - Deadline and CallBudget: the per-request deadline and vendor-call
//     budget that every vendor call made for the request inherits.
//
// Conns bounds the connections of the HTTP server itself.
//
// gqlgen extensions: Fields, an operation parameter mutator, runs before
// gqlgen parses and validates the document (FIELD_LIMIT_EXCEEDED, and
// TOKEN_LIMIT_EXCEEDED for a document too large once its fragments are
// expanded); NoIntrospection, Depth, PageSize and Complexity (which
// counts estimated vendor calls too, VENDOR_CALL_LIMIT_EXCEEDED) are
// operation context mutators that run after validation. gqlgen's parser
// token limit gives an error that graph.PresentError reports as
// TOKEN_LIMIT_EXCEEDED.
//
// Every check walks the document in time linear in its size, each
// fragment once however often it is spread (walk.go), reads variables as
// the executor will coerce them, and stops when the request's context
// ends. When a check fails, gqlgen answers with the error alone and never
// dispatches the operation, on every transport.
package limits

import (
	"bytes"
	"context"
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
// REQUEST_TOO_LARGE, and hands next the body read into memory otherwise,
// for ReadBody to take without copying it.
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
		r.Body = &readBody{Reader: bytes.NewReader(b), b: b}
		next.ServeHTTP(w, r)
	})
}

// readBody is a request body Body has read into memory.
type readBody struct {
	*bytes.Reader
	b []byte
}

func (*readBody) Close() error { return nil }

// ReadBody returns the whole body of r: the bytes Body read, as they are
// (the caller must not change them), however much of them was read
// before; else what is left of r.Body, read to its end.
func ReadBody(r *http.Request) ([]byte, error) {
	if b, ok := r.Body.(*readBody); ok {
		return b.b, nil
	}
	return io.ReadAll(r.Body)
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
func (d Depth) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	n, _, ok := depth(ctx, opCtx.Operation.SelectionSet)
	if !ok {
		return ended(ctx, errcode.DepthLimit)
	}
	if n > d.Max {
		return reject(errcode.DepthLimit, "the operation nests fields %d deep, more than the limit of %d", n, d.Max)
	}
	return nil
}

// depth measures how deep set nests fields, each fragment once, and
// returns the selections visited.
func depth(ctx context.Context, set ast.SelectionSet) (n, visits int, ok bool) {
	w := walker[int]{
		ctx: ctx,
		field: func(f *ast.Field, child int) int {
			if strings.HasPrefix(f.Name, "__") {
				return 0
			}
			return 1 + child
		},
		add: func(a, b int) int { return max(a, b) },
	}
	n, ok = w.fold(set)
	return n, w.Visits, ok
}

// PageSize rejects an operation in which one of Fields ("Type.field", a
// connection) is asked for more than Max items with its first or last
// argument, literal or variable (a variable read as the executor will
// coerce it, so "1001" is 1001). Smaller mistakes (a negative count, first
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
func (p PageSize) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	found, ok := first(ctx, opCtx.Operation.SelectionSet, func(f *ast.Field) *gqlerror.Error {
		if f.ObjectDefinition == nil || !slices.Contains(p.Fields, f.ObjectDefinition.Name+"."+f.Name) {
			return nil
		}
		args := f.ArgumentMap(opCtx.Variables)
		for _, arg := range []string{"first", "last"} {
			if n, ok := Int(args[arg]); ok && n > p.Max {
				e := reject(errcode.PageSizeLimit, "%s: %s must be at most %d", f.Name, arg, p.Max)
				e.Extensions["limit"] = p.Max
				e.Path = ast.Path{ast.PathName(f.Alias)}
				return e
			}
		}
		return nil
	})
	if !ok {
		return ended(ctx, errcode.PageSizeLimit)
	}
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
func (NoIntrospection) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	found, ok := first(ctx, opCtx.Operation.SelectionSet, func(f *ast.Field) *gqlerror.Error {
		if f.Name == "__schema" || f.Name == "__type" {
			return reject(errcode.IntrospectionDisabled, "introspection is disabled on this server")
		}
		return nil
	})
	if !ok {
		return ended(ctx, errcode.IntrospectionDisabled)
	}
	return found
}

// first returns the first error check finds in a field of set, fragments
// included (each once).
func first(ctx context.Context, set ast.SelectionSet, check func(*ast.Field) *gqlerror.Error) (*gqlerror.Error, bool) {
	w := walker[*gqlerror.Error]{
		ctx: ctx,
		field: func(f *ast.Field, child *gqlerror.Error) *gqlerror.Error {
			if err := check(f); err != nil {
				return err
			}
			return child
		},
		add: func(a, b *gqlerror.Error) *gqlerror.Error {
			if a != nil {
				return a
			}
			return b
		},
	}
	return w.fold(set)
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
