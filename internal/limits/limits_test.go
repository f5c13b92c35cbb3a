package limits

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

func TestBody(t *testing.T) {
	srv := httptest.NewServer(Body(1024, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, strconv.Itoa(len(b)))
	})))
	defer srv.Close()
	tests := []struct {
		name       string
		size       int
		chunked    bool
		wantStatus int
	}{
		{"small", 10, false, 200},
		{"at the limit", 1024, false, 200},
		{"over the limit", 1025, false, 413},
		{"over the limit, no length", 5000, true, 413},
		{"small, no length", 20, true, 200},
	}
	for _, tt := range tests {
		var body io.Reader = strings.NewReader(strings.Repeat("x", tt.size))
		if tt.chunked {
			body = io.MultiReader(body) // hides the length: sent chunked
		}
		resp, err := http.Post(srv.URL, "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.wantStatus {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.wantStatus)
			continue
		}
		if tt.wantStatus == 200 && string(b) != strconv.Itoa(tt.size) {
			t.Errorf("%s: the handler read %s bytes, want %d", tt.name, b, tt.size)
		}
		if tt.wantStatus == 413 && !strings.Contains(string(b), `"code":"REQUEST_TOO_LARGE"`) {
			t.Errorf("%s: body %s, want a REQUEST_TOO_LARGE error", tt.name, b)
		}
	}
}

// blocking is a provider whose calls end only when their context does.
type blocking struct{}

func (blocking) Describe() driver.Description {
	return driver.Description{Paging: driver.PagingOffset, Totals: true, MaxPageSize: 100}
}

func (blocking) ListUsers(ctx context.Context, _ driver.ListRequest) (*driver.ListPage, error) {
	<-ctx.Done()
	return nil, &driver.TemporaryError{Err: ctx.Err()}
}

// TestDeadline: a vendor call made for a request ends at the request's
// deadline, though the provider's own timeout is longer.
func TestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src, err := providers.NewSource(providers.Info{Key: "slow"}, blocking{}, &providers.SourceOptions{Timeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var elapsed time.Duration
		h := Deadline(3*time.Second, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			_, err = src.List(r.Context(), driver.Filter{}, providers.Position{}, 10)
			elapsed = time.Since(start)
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/query", nil))
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Code != errcode.ProviderUnavailable {
			t.Errorf("List = %v, want PROVIDER_UNAVAILABLE", err)
		}
		if elapsed != 3*time.Second {
			t.Errorf("the vendor call took %v, want the request's 3s", elapsed)
		}
	})
}

const schema = `
type Query {
  users(first: Int, last: Int): UserConnection!
  user(id: ID!): User
}
type UserConnection { edges: [UserEdge!]! }
type UserEdge { node: User! }
type User { id: ID! friends(first: Int): UserConnection! }
`

// mutate runs ext on query with vars, as gqlgen would.
func mutate(t *testing.T, ext graphql.OperationContextMutator, query string, vars map[string]any) *gqlerror.Error {
	t.Helper()
	s := gqlparser.MustLoadSchema(&ast.Source{Input: schema})
	doc, errs := gqlparser.LoadQueryWithRules(s, query, nil)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	op := doc.Operations[0]
	coerced, err := validator.VariableValues(s, op, vars)
	if err != nil {
		t.Fatal(err)
	}
	return ext.MutateOperationContext(t.Context(), &graphql.OperationContext{Doc: doc, Operation: op, Variables: coerced})
}

func code(err *gqlerror.Error) errcode.Code {
	if err == nil {
		return ""
	}
	c, _ := err.Extensions["code"].(string)
	return errcode.Code(c)
}

func TestDepth(t *testing.T) {
	tests := []struct {
		query string
		want  errcode.Code
	}{
		{`{ users { edges { node { id } } } }`, ""},                                                // 4
		{`{ users { edges { node { friends { edges { node { id } } } } } } }`, errcode.DepthLimit}, // 7
		{`{ users { ...E } } fragment E on UserConnection { edges { node { id } } }`, ""},
		{`{ users { ...E } } fragment E on UserConnection { edges { node { friends { edges { node { id } } } } } }`, errcode.DepthLimit},
		{`{ users { edges { ... on UserEdge { node { friends { edges { node { id } } } } } } } }`, errcode.DepthLimit},
		{`{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }`, ""}, // introspection is not counted
		{`{ user(id: 1) { __typename id } }`, ""},
	}
	for _, tt := range tests {
		if got := code(mutate(t, Depth{Max: 5}, tt.query, nil)); got != tt.want {
			t.Errorf("depth 5, %s: code %q, want %q", tt.query, got, tt.want)
		}
	}
	err := mutate(t, Depth{Max: 3}, `{ users { edges { node { id } } } }`, nil)
	if err == nil || !strings.Contains(err.Message, "4 deep") || !strings.Contains(err.Message, "limit of 3") {
		t.Errorf("message = %v, want the depth and the limit", err)
	}
}

func TestPageSize(t *testing.T) {
	p := PageSize{Max: 100, Fields: []string{"Query.users", "User.friends"}}
	tests := []struct {
		query string
		vars  map[string]any
		want  errcode.Code
	}{
		{`{ users(first: 100) { edges { node { id } } } }`, nil, ""},
		{`{ users(first: 101) { edges { node { id } } } }`, nil, errcode.PageSizeLimit},
		{`{ users(last: 5000) { edges { node { id } } } }`, nil, errcode.PageSizeLimit},
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": 101}, errcode.PageSizeLimit},
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": json.Number("1000")}, errcode.PageSizeLimit},
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": 100}, ""},
		// A string of digits is an Int to the executor (issue 10, item 4).
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": "1001"}, errcode.PageSizeLimit},
		{`query($n: Int) { users(last: $n) { edges { node { id } } } }`, map[string]any{"n": "101"}, errcode.PageSizeLimit},
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, map[string]any{"n": "100"}, ""},
		{`query($n: Int) { users(first: $n) { edges { node { id } } } }`, nil, ""},
		{`{ users(first: -1) { edges { node { id } } } }`, nil, ""}, // the resolver's to refuse
		{`{ ...Q } fragment Q on Query { a: users(first: 1) { edges { node { id } } } b: users(first: 200) { edges { node { id } } } }`, nil, errcode.PageSizeLimit},
		{`{ user(id: 1) { friends(first: 101) { edges { node { id } } } } }`, nil, errcode.PageSizeLimit},
	}
	for _, tt := range tests {
		if got := code(mutate(t, p, tt.query, tt.vars)); got != tt.want {
			t.Errorf("%s %v: code %q, want %q", tt.query, tt.vars, got, tt.want)
		}
	}
}

func TestNoIntrospection(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  errcode.Code
	}{
		{`{ __schema { types { name } } }`, errcode.IntrospectionDisabled},
		{`{ __type(name: "User") { name } }`, errcode.IntrospectionDisabled},
		{`{ ...F } fragment F on Query { __schema { queryType { name } } }`, errcode.IntrospectionDisabled},
		{`{ __typename user(id: 1) { __typename id } }`, ""},
	} {
		if got := code(mutate(t, NoIntrospection{}, tt.query, nil)); got != tt.want {
			t.Errorf("%s: code %q, want %q", tt.query, got, tt.want)
		}
	}
}

// TestIsTokenLimit pins the parser's wording: if gqlparser changes it, the
// mapping to TOKEN_LIMIT_EXCEEDED must change too.
func TestIsTokenLimit(t *testing.T) {
	_, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: "{ a b c d e f g }"}, 5)
	var gqlErr *gqlerror.Error
	if !errors.As(err, &gqlErr) {
		t.Fatalf("ParseQueryWithTokenLimit = %v, want a *gqlerror.Error", err)
	}
	gqlErr.Extensions = map[string]any{"code": "GRAPHQL_PARSE_FAILED"} // as gqlgen sets it
	if !IsTokenLimit(gqlErr) {
		t.Errorf("IsTokenLimit(%q) = false", gqlErr.Message)
	}
	_, err = parser.ParseQuery(&ast.Source{Input: "{ a "})
	errors.As(err, &gqlErr)
	gqlErr.Extensions = map[string]any{"code": "GRAPHQL_PARSE_FAILED"}
	if IsTokenLimit(gqlErr) {
		t.Errorf("IsTokenLimit(%q) = true", gqlErr.Message)
	}
}
