package graph

import (
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// SDL returns dirgate's schema as one SDL document: the schema files
// (graph/*.graphqls) the executor was generated from, schema.graphqls
// first, each headed by a comment that names it. It is the schema the
// server runs (Schema), with every description, and parses as it is.
func SDL() string {
	srcs := slices.Clone(sources)
	slices.SortStableFunc(srcs, func(a, b *ast.Source) int {
		switch {
		case a.Name == b.Name:
			return 0
		case a.Name == "schema.graphqls":
			return -1
		case b.Name == "schema.graphqls":
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	var b strings.Builder
	b.WriteString("# dirgate's GraphQL schema. Served at /schema.graphql and printed by\n# dirgate -print-schema.\n")
	for _, s := range srcs {
		b.WriteString("\n# graph/" + s.Name + "\n\n")
		b.WriteString(strings.TrimSpace(s.Input) + "\n")
	}
	return b.String()
}

// SDLHandler serves SDL as text.
func SDLHandler() http.Handler {
	sdl := SDL()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, sdl)
	})
}

// Schema returns the schema dirgate serves: the one generated from
// graph/*.graphqls, less gqlparser's built-in @defer directive. dirgate
// answers each request with one response, and gqlgen would send the
// deferred parts of an operation in later responses that no transport of
// dirgate's writes: they would be lost without a word. Without the
// directive, an operation that uses @defer fails validation, and
// introspection does not offer it.
func Schema() *ast.Schema {
	s := *parsedSchema
	s.Directives = maps.Clone(s.Directives)
	delete(s.Directives, "defer")
	return &s
}
