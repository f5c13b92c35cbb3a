package graph

import (
	"encoding/json"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
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
