// Package httperr writes the errors dirgate answers before any GraphQL
// runs (a missing API key, a body too large) in the shape of a GraphQL
// response, so that clients read every error the same way:
//
//	{"errors":[{"message":"...","extensions":{"code":"UNAUTHENTICATED"}}]}
package httperr

import (
	"encoding/json"
	"net/http"

	"github.com/dirgate/dirgate/internal/errcode"
)

type body struct {
	Errors []entry `json:"errors"`
}

type entry struct {
	Message    string            `json:"message"`
	Extensions map[string]string `json:"extensions"`
}

// Write answers with status and one error with message and
// extensions.code. The message must be safe for clients.
func Write(w http.ResponseWriter, status int, code errcode.Code, message string) {
	b, _ := json.Marshal(body{Errors: []entry{{Message: message, Extensions: map[string]string{"code": string(code)}}}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if h.Get("Cache-Control") == "" { // else as the endpoint set it
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
