package graph

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Unsupported is the last transport: it answers every request the real
// transports do not support with a coded JSON error, instead of gqlgen's
// uncoded "transport not supported".
type Unsupported struct{}

// Supports reports true: Unsupported takes whatever is left.
func (Unsupported) Supports(*http.Request) bool { return true }

// Do writes the error.
func (Unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	status, msg := http.StatusBadRequest, "send a GraphQL request as POST with Content-Type: application/json, or as GET with a query parameter"
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, POST, OPTIONS")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{{
		Message:    msg,
		Extensions: map[string]any{"code": string(errcode.BadRequest)},
	}}})
}

// GET is gqlgen's GET transport, answering with a coded BAD_REQUEST what
// gqlgen would answer with an uncoded error: a query string, variables or
// extensions it cannot decode. (FuzzRequest found them.)
type GET struct{ transport.GET }

// Do checks what gqlgen's GET transport decodes before it runs it.
func (g GET) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	msg := "the query string is not a GraphQL request dirgate can read"
	for _, k := range []string{"variables", "extensions"} {
		if err != nil {
			break
		}
		if v := q.Get(k); v != "" {
			var m map[string]any
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if err = dec.Decode(&m); err != nil {
				msg = k + " must be a JSON object"
			}
		}
	}
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(graphql.Response{Errors: gqlerror.List{{
			Message:    msg,
			Extensions: map[string]any{"code": string(errcode.BadRequest)},
		}}})
		return
	}
	g.GET.Do(w, r, exec)
}
