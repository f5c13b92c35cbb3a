package graph

import (
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// SDL returns dirgate's schema as one SDL document: the schema files
// (graph/*.graphqls) the executor was generated from, schema.graphqls
// first, each headed by a comment that names it. It is the schema the
// server runs, with every description, and parses as it is.
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
