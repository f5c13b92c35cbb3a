package getbill

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// The emulator's routes, as on getbill.io.
const (
	tokenPath = "/token"
	usersPath = "/external-api/v1/company/users"
)

// Paging limits of getbill's list endpoints (docs.getbill.io, Pagination).
const (
	defaultPageLimit = 20
	maxPageLimit     = 100
)

// knownScopes are the scopes getbill documents; the token endpoint refuses
// any other.
var knownScopes = map[string]bool{
	"debts:read": true, "debts:write": true,
	"followups:read": true, "followups:write": true,
	"reports:read": true, "company:read": true,
	"users:read": true, "webhooks:read": true,
	"debtors:read": true,
}

// scopeUsersRead is the scope GET /company/users requires.
const scopeUsersRead = "users:read"

// EmulatorOptions configures an Emulator. Zero values take the defaults
// noted on each field.
type EmulatorOptions struct {
	// ClientID and ClientSecret are the one OAuth client the token
	// endpoint accepts. Empty ClientID: no client is accepted.
	ClientID, ClientSecret string
	// StaticTokens are bearer tokens accepted as they are, with the
	// users:read scope, that never expire.
	StaticTokens []string
	// Users is the company's directory, in the order it is listed.
	Users []driver.User
	// TokenTTL is the lifetime of issued access tokens; default 1h.
	TokenTTL time.Duration
	// RateLimit is the number of API calls a client may make per
	// RateWindow; default 1000.
	RateLimit int
	// RateWindow is the sliding rate-limit window; default 1h.
	RateWindow time.Duration
	// Paginate makes the users endpoint honour page (1-based, default 1)
	// and limit (default 20, max 100) and answer with a pagination object.
	// Off (the default), it returns every user in one answer, without
	// pagination, as in getbill's own example.
	Paginate bool
	// Now is the emulator's clock; default time.Now.
	Now func() time.Time
}

// Fault is an answer the users endpoint gives instead of the real one. The
// zero Fault means none.
type Fault struct {
	// Status is the HTTP status to answer with.
	Status int
	// Body is the body to send; empty means getbill's standard error
	// body, {"error":true,"message":..,"code":Status}.
	Body string
}

// Emulator is an http.Handler that emulates getbill.io's OAuth token
// endpoint (POST /token) and GET /external-api/v1/company/users, in the
// vendor's wire format: error envelopes, per-client sliding-window rate
// limits with X-RateLimit-* headers, optional page/limit pagination, and
// injected faults.
//
// It is safe for concurrent use.
type Emulator struct {
	clientID, clientSecret string
	ttl                    time.Duration
	limit                  int
	window                 time.Duration
	now                    func() time.Time

	tokenCalls, usersCalls atomic.Int64

	mu       sync.Mutex
	users    []wireUser
	tokens   map[string]grant
	hits     map[string][]time.Time // per rate-limit key, oldest first
	fault    Fault
	paginate bool
}

// grant is what an access token stands for.
type grant struct {
	client  string          // the rate-limit key
	scopes  map[string]bool // the granted scopes
	expires time.Time       // zero: never
}

// wireUser is a user as GET /company/users sends it.
type wireUser struct {
	ID           string  `json:"id"`
	Email        string  `json:"email"`
	FirstName    string  `json:"firstname"`
	LastName     string  `json:"lastname"`
	IsActive     bool    `json:"is_active"`
	CreatedAt    *string `json:"created_at"`
	LastActivity *string `json:"last_activity"`
}

// NewEmulator returns an Emulator configured by opts.
func NewEmulator(opts EmulatorOptions) *Emulator {
	e := &Emulator{
		clientID:     opts.ClientID,
		clientSecret: opts.ClientSecret,
		ttl:          opts.TokenTTL,
		limit:        opts.RateLimit,
		window:       opts.RateWindow,
		paginate:     opts.Paginate,
		now:          opts.Now,
		tokens:       make(map[string]grant),
		hits:         make(map[string][]time.Time),
	}
	if e.ttl <= 0 {
		e.ttl = time.Hour
	}
	if e.limit <= 0 {
		e.limit = 1000
	}
	if e.window <= 0 {
		e.window = time.Hour
	}
	if e.now == nil {
		e.now = time.Now
	}
	for _, t := range opts.StaticTokens {
		e.tokens[t] = grant{client: "static:" + t, scopes: map[string]bool{scopeUsersRead: true}}
	}
	e.users = toWire(opts.Users)
	return e
}

// SetUsers replaces the directory.
func (e *Emulator) SetUsers(users []driver.User) {
	w := toWire(users)
	e.mu.Lock()
	e.users = w
	e.mu.Unlock()
}

// SetPaginate turns the pagination of the users endpoint on or off from
// now on (see EmulatorOptions.Paginate).
func (e *Emulator) SetPaginate(on bool) {
	e.mu.Lock()
	e.paginate = on
	e.mu.Unlock()
}

// SetFault makes the users endpoint answer with f from now on; the zero
// Fault clears it.
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	e.fault = f
	e.mu.Unlock()
}

// ExpireTokens expires every access token issued so far. Static tokens
// stay valid.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for t, g := range e.tokens {
		if !g.expires.IsZero() {
			delete(e.tokens, t)
		}
	}
}

// Calls returns the number of requests served so far by the token endpoint
// and by the users endpoint, whatever their outcome.
func (e *Emulator) Calls() (token, users int) {
	return int(e.tokenCalls.Load()), int(e.usersCalls.Load())
}

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == tokenPath && r.Method == http.MethodPost:
		e.tokenCalls.Add(1)
		e.serveToken(w, r)
	case r.URL.Path == usersPath && r.Method == http.MethodGet:
		e.usersCalls.Add(1)
		e.serveUsers(w, r)
	default:
		g, _ := e.authenticate(r)
		if e.rateLimit(w, g.client) { // the headers go on every API answer
			writeError(w, http.StatusNotFound, "")
		}
	}
}

// serveToken implements POST /token, the client-credentials grant.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be parsed")
		return
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: Basic credentials are form-encoded first.
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if e.clientID == "" || !equal(id, e.clientID) || !equal(secret, e.clientSecret) {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="getbill"`)
		}
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The grant_type parameter is missing")
		return
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "The grant type is not supported")
		return
	}
	scopes := make(map[string]bool)
	var granted []string
	for s := range strings.FieldsSeq(r.PostForm.Get("scope")) {
		if !knownScopes[s] {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "The requested scope is invalid, unknown, or malformed")
			return
		}
		if !scopes[s] {
			scopes[s] = true
			granted = append(granted, s)
		}
	}

	tok := newToken()
	now := e.now()
	e.mu.Lock()
	for t, g := range e.tokens { // forget expired tokens
		if !g.expires.IsZero() && !now.Before(g.expires) {
			delete(e.tokens, t)
		}
	}
	e.tokens[tok] = grant{client: "client:" + id, scopes: scopes, expires: now.Add(e.ttl)}
	e.mu.Unlock()

	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int64(e.ttl / time.Second),
		"scope":        strings.Join(granted, " "),
	})
}

// serveUsers implements GET /external-api/v1/company/users.
func (e *Emulator) serveUsers(w http.ResponseWriter, r *http.Request) {
	g, authed := e.authenticate(r)
	if !e.rateLimit(w, g.client) {
		return
	}

	e.mu.Lock()
	fault := e.fault
	users := e.users // never modified in place
	paginate := e.paginate
	e.mu.Unlock()

	switch {
	case fault.Status != 0:
		if fault.Body == "" {
			writeError(w, fault.Status, "")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fault.Status)
		_, _ = w.Write([]byte(fault.Body))
		return
	case !authed:
		writeError(w, http.StatusUnauthorized, "")
		return
	case !g.scopes[scopeUsersRead]:
		writeError(w, http.StatusForbidden, `Required scope "users:read" not found in token`)
		return
	}

	body := map[string]any{"error": false, "message": "Success"}
	if !paginate {
		body["data"] = users
		writeJSON(w, http.StatusOK, body)
		return
	}
	page, limit, details := pageParams(r.URL.Query())
	if details != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": true, "message": "Validation failed", "code": http.StatusBadRequest, "details": details,
		})
		return
	}
	total := len(users)
	lo := min((page-1)*limit, total)
	hi := min(lo+limit, total)
	body["data"] = users[lo:hi]
	body["pagination"] = map[string]int{
		"total": total,
		"page":  page,
		"limit": limit,
		"pages": (total + limit - 1) / limit,
	}
	writeJSON(w, http.StatusOK, body)
}

// pageParams reads page and limit. A limit above the maximum is clamped; a
// value that is not a positive integer is a validation error.
func pageParams(q url.Values) (page, limit int, details map[string][]string) {
	page, limit = 1, defaultPageLimit
	for _, p := range []struct {
		name string
		v    *int
	}{{"page", &page}, {"limit", &limit}} {
		s := q.Get(p.name)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			if details == nil {
				details = make(map[string][]string)
			}
			details[p.name] = []string{"The " + p.name + " must be a positive integer"}
			continue
		}
		*p.v = n
	}
	return page, min(limit, maxPageLimit), details
}

// authenticate finds the grant of the request's bearer token.
func (e *Emulator) authenticate(r *http.Request) (grant, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return grant{}, false
	}
	e.mu.Lock()
	g, ok := e.tokens[tok]
	e.mu.Unlock()
	if !ok || (!g.expires.IsZero() && !e.now().Before(g.expires)) {
		return grant{}, false
	}
	return g, true
}

// rateLimit counts a request against the sliding window of the client
// with the given key, sets the X-RateLimit-* headers and, over the limit,
// answers 429 and reports false. Requests without a valid token (empty
// key) share one anonymous window.
func (e *Emulator) rateLimit(w http.ResponseWriter, key string) bool {
	now := e.now()

	e.mu.Lock()
	hits := e.hits[key]
	i := 0
	for i < len(hits) && !hits[i].Add(e.window).After(now) {
		i++
	}
	hits = hits[i:]
	allowed := len(hits) < e.limit
	if allowed {
		hits = append(hits, now)
	}
	e.hits[key] = hits
	reset := now.Add(e.window)
	if len(hits) > 0 {
		reset = hits[0].Add(e.window)
	}
	remaining := e.limit - len(hits)
	e.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(e.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Window", strconv.FormatInt(int64(e.window/time.Second), 10))
	if allowed {
		return true
	}
	retry := max(int64(math.Ceil(reset.Sub(now).Seconds())), 1)
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error":   true,
		"message": errorMessages[http.StatusTooManyRequests],
		"code":    http.StatusTooManyRequests,
		"details": map[string]any{
			"retry_after": retry,
			"limit":       e.limit,
			"reset_time":  reset.UTC().Format(time.RFC3339),
		},
	})
	return false
}

// errorMessages are getbill's messages for the statuses it documents.
var errorMessages = map[int]string{
	http.StatusBadRequest:          "Bad request",
	http.StatusUnauthorized:        "Authentication credentials are missing or invalid",
	http.StatusForbidden:           "Access forbidden",
	http.StatusNotFound:            "Resource not found",
	http.StatusUnprocessableEntity: "Validation failed",
	http.StatusTooManyRequests:     "Rate limit exceeded. Please try again later.",
	http.StatusInternalServerError: "Internal server error",
	http.StatusBadGateway:          "Bad gateway",
	http.StatusServiceUnavailable:  "Service unavailable",
	http.StatusGatewayTimeout:      "Gateway timeout",
}

// writeError writes getbill's error envelope; an empty message means the
// standard one for status.
func writeError(w http.ResponseWriter, status int, message string) {
	if message == "" {
		message = errorMessages[status]
	}
	if message == "" {
		message = http.StatusText(status)
	}
	writeJSON(w, status, map[string]any{"error": true, "message": message, "code": status})
}

// writeOAuthError writes an RFC 6749 §5.2 error (getbill's own token
// errors are undocumented).
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// toWire converts users to getbill's wire form.
func toWire(users []driver.User) []wireUser {
	out := make([]wireUser, len(users))
	for i, u := range users {
		out[i] = wireUser{
			ID:           u.ID,
			Email:        u.Email,
			FirstName:    u.FirstName,
			LastName:     u.LastName,
			IsActive:     u.Active,
			CreatedAt:    wireTime(u.CreatedAt),
			LastActivity: wireTime(u.LastActivityAt),
		}
	}
	return out
}

func wireTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// newToken returns a fresh, JWT-looking access token.
func newToken() string {
	var b [48]byte
	_, _ = rand.Read(b[:])
	enc := base64.RawURLEncoding
	return enc.EncodeToString(b[:12]) + "." + enc.EncodeToString(b[12:36]) + "." + enc.EncodeToString(b[36:])
}

// equal compares secrets in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
