package concur

import "net/http"

// Authorize checks the bearer token of r as every emulated Concur API
// does, so that another API emulated beside this one (Identity v4.1)
// accepts the same company tokens: it returns 0 for an access token the
// token endpoint issued and that has not expired, else the status to
// refuse r with (401 without a token; ExpiredTokenStatus for an unknown
// or expired one).
func (e *Emulator) Authorize(r *http.Request) int {
	status, _ := e.authorize(r)
	return status
}
