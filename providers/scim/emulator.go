package scim

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EmulatorOptions configure an Emulator. The zero value of each field is
// noted on it; at least one of Index and Cursor must be set.
type EmulatorOptions struct {
	// Users is the directory, in the order the server lists it.
	Users []User

	// Base is the path prefix of the SCIM endpoints: {Base}/Users,
	// {Base}/Users/.search, {Base}/ServiceProviderConfig. "" serves them
	// at the root.
	Base string

	// Token is a bearer token the server accepts as it is.
	Token string
	// ClientID and ClientSecret, when set, make POST {TokenPath} issue
	// bearer tokens for the client-credentials grant (RFC 6749 §4.4),
	// with the client's credentials in HTTP Basic or in the form.
	ClientID, ClientSecret string
	// TokenPath is the token endpoint; default "/oauth/token".
	TokenPath string
	// TokenTTL is the lifetime of issued tokens; default 1h.
	TokenTTL time.Duration
	// Authorize, when set, decides on every SCIM request in place of
	// Token and issued tokens: 0 accepts it, anything else refuses it
	// with that status. SAP Concur's Identity v4.1 uses it to accept
	// Concur's company tokens.
	Authorize func(r *http.Request) (status int)

	// Index and Cursor are the paging methods served: index paging (RFC
	// 7644 §3.4.2.4: startIndex and count, totalResults) and cursor paging
	// (RFC 9865: cursor and count, nextCursor until the last page).
	Index, Cursor bool
	// DefaultPaging is the method of a request that names neither
	// startIndex nor cursor: "index" or "cursor". Default: index when
	// served.
	DefaultPaging string
	// DefaultPageSize is the page size when count is absent; default 100.
	DefaultPageSize int
	// MaxPageSize caps count, as RFC 7644 says, silently; default 1000.
	MaxPageSize int
	// RejectStartIndex refuses a startIndex with 400 invalidValue on a
	// server that does not page by index (SAP Concur's Identity v4.1),
	// where others ignore the unknown parameter.
	RejectStartIndex bool
	// StrictCursorCount refuses a cursor request whose count differs
	// from that of the query's first page with 400 invalidCount (RFC 9865
	// allows it).
	StrictCursorCount bool
	// CursorTTL, when set, makes a cursor older than it expire: 400
	// expiredCursor.
	CursorTTL time.Duration

	// Search serves POST {Base}/Users/.search (RFC 7644 §3.4.3), whose
	// body must carry SearchSchema (default SearchRequestSchema).
	Search       bool
	SearchSchema string
	// NoGetFilter refuses a filter on GET {Base}/Users with 400
	// invalidFilter (SAP Concur takes filters only in .search).
	NoGetFilter bool
	// FilterAttributes are the attributes the server filters on, as paths
	// ("userName", "emails.value", or "emails" for value filters); nil:
	// every attribute. A filter on another attribute is refused with 400
	// invalidFilter.
	FilterAttributes []string
	// FilterUnsupported makes /ServiceProviderConfig say
	// filter.supported false, and refuses filters with 501 (or ignores
	// them, with IgnoreFilter).
	FilterUnsupported bool
	// IgnoreFilter makes the server answer as if no filter was given.
	IgnoreFilter bool
	// CaseExact are the attributes whose values compare with exact
	// letter case; nil: id and externalId, as RFC 7643 says. Every other
	// string compares ignoring case.
	CaseExact []string
	// NoPaginationConfig leaves "pagination" out of
	// /ServiceProviderConfig, as servers from before RFC 9865 do.
	NoPaginationConfig bool

	// EmployeeIDInExternalID puts each user's employee id in
	// "externalId" instead of the enterprise employeeNumber, as some
	// servers do.
	EmployeeIDInExternalID bool
	// Flavor, when set, adds a vendor's own attributes to each resource.
	Flavor func(u *User, res map[string]any)

	// Quirks are the ways real servers stray from the RFCs.
	Quirks Quirks

	// Latency delays every answer; the delay ends early when the request
	// is cancelled.
	Latency time.Duration
	// Now is the emulator's clock; default time.Now.
	Now func() time.Time
}

// Quirks are the departures from RFC 7644 that real SCIM servers show,
// each a switch.
type Quirks struct {
	// CapCount serves at most this many resources per page, whatever
	// count asked for, without saying so.
	CapCount int
	// NoItemsPerPage and NoStartIndex leave those members out.
	NoItemsPerPage, NoStartIndex bool
	// NoResourcesWhenEmpty leaves "Resources" out of an empty page.
	NoResourcesWhenEmpty bool
	// NoTotalResults leaves "totalResults" out.
	NoTotalResults bool
	// PageTotalResults makes "totalResults" count only the page.
	PageTotalResults bool
	// NoPrimaryEmail marks no email primary (the primary one is typed
	// "work", the others "home").
	NoPrimaryEmail bool
	// OddCase writes member names, and canonical values such as email
	// types, in unexpected letter case: "Resources" as "resources",
	// "userName" as "UserName", "work" as "WORK".
	OddCase bool
}

// Fault makes every SCIM request fail. The zero Fault is no fault.
type Fault struct {
	Status     int    // the HTTP status
	RetryAfter string // the Retry-After header, sent when not empty ("0" too)
	Body       string // the body; empty: a SCIM error object for Status
}

// Storm makes bursts of SCIM requests fail: of every Every requests
// counted from SetStorm on, the first Burst (default 1) are answered with
// Status, a SCIM error object, and Retry-After when not empty. The zero
// Storm is calm.
type Storm struct {
	Status     int
	RetryAfter string
	Every      int
	Burst      int
}

// Request is a SCIM request the emulator served or refused, as parsed.
type Request struct {
	Method     string
	Path       string
	Filter     string // "" when none
	Count      string // as sent; "" when absent
	StartIndex string
	Cursor     *string // nil when absent
}

// Emulator is an http.Handler that emulates a SCIM 2.0 service provider
// serving Users: index and cursor paging, each switchable,
// /ServiceProviderConfig, POST /.search, a filter language with eq and
// and (anything else is refused with 400 invalidFilter), SCIM error
// objects, bearer tokens (static or issued for client credentials), and
// faults. It is safe for concurrent use.
type Emulator struct {
	opts      EmulatorOptions
	caseExact map[string]bool
	filterOK  map[string]bool // nil: any attribute

	calls    atomic.Int64 // SCIM requests
	failures atomic.Int64

	mu        sync.Mutex
	users     []emuUser // in order, seq ascending
	tokens    map[string]time.Time
	fault     Fault
	storm     Storm
	stormFrom int64
	requests  []Request
	secret    []byte // signs cursors
}

type emuUser struct {
	seq uint64 // the user's place: cursors continue after a seq
	u   User
	res object // the resource, canonical case
}

// seqStep spaces the seqs of the initial users, leaving room for
// insertions between them.
const seqStep = 1 << 32

// maxRequestsKept bounds Requests.
const maxRequestsKept = 10000

// NewEmulator returns an emulator serving opts.Users.
func NewEmulator(opts EmulatorOptions) *Emulator {
	if !opts.Index && !opts.Cursor {
		panic("scim: NewEmulator: serve index paging, cursor paging or both")
	}
	if opts.DefaultPaging == "" {
		opts.DefaultPaging = "index"
		if !opts.Index {
			opts.DefaultPaging = "cursor"
		}
	}
	if opts.DefaultPageSize <= 0 {
		opts.DefaultPageSize = 100
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = 1000
	}
	opts.DefaultPageSize = min(opts.DefaultPageSize, opts.MaxPageSize)
	if opts.TokenPath == "" {
		opts.TokenPath = "/oauth/token"
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.SearchSchema == "" {
		opts.SearchSchema = SearchRequestSchema
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CaseExact == nil {
		opts.CaseExact = []string{"id", "externalId"}
	}
	opts.Base = strings.TrimSuffix(opts.Base, "/")
	e := &Emulator{opts: opts, caseExact: map[string]bool{}, tokens: map[string]time.Time{}, secret: make([]byte, 16)}
	rand.Read(e.secret)
	for _, a := range opts.CaseExact {
		e.caseExact[strings.ToLower(a)] = true
	}
	if opts.FilterAttributes != nil {
		e.filterOK = map[string]bool{}
		for _, a := range opts.FilterAttributes {
			e.filterOK[strings.ToLower(a)] = true
		}
	}
	e.SetUsers(opts.Users)
	return e
}

// SetUsers replaces the directory. A user already there keeps its place,
// so that cursors handed out before continue after the user they stopped
// at, as a server's cursors do; a new user takes a place between its
// neighbours. (When the order of the users already there changed, every
// place is new.)
func (e *Emulator) SetUsers(users []User) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := make(map[string]uint64, len(e.users))
	for _, u := range e.users {
		old[u.u.ID] = u.seq
	}
	seqs := make([]uint64, len(users))
	var last uint64
	for i, u := range users {
		if s, ok := old[u.ID]; ok {
			if s <= last {
				seqs = nil // reordered
				break
			}
			seqs[i], last = s, s
		}
	}
	if seqs != nil && !fillGaps(seqs) {
		seqs = nil
	}
	e.users = e.users[:0]
	for i := range users {
		seq := uint64(i+1) * seqStep
		if seqs != nil {
			seq = seqs[i]
		}
		e.users = append(e.users, e.newUser(seq, users[i]))
	}
}

// fillGaps gives the zero seqs places between their neighbours', and
// reports whether there was room.
func fillGaps(seqs []uint64) bool {
	for i := 0; i < len(seqs); {
		if seqs[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(seqs) && seqs[j] == 0 {
			j++
		}
		var lo uint64
		if i > 0 {
			lo = seqs[i-1]
		}
		hi := lo + uint64(j-i+1)*seqStep
		if j < len(seqs) {
			hi = seqs[j]
		}
		n := uint64(j - i + 1)
		if hi-lo < n+1 {
			return false
		}
		for k := i; k < j; k++ {
			seqs[k] = lo + (hi-lo)*uint64(k-i+1)/n
		}
		i = j
	}
	return true
}

// Insert puts u at position i of the directory (0 is the first), between
// the users there, as a directory does when a user is created mid-walk
// at a place cursors have passed or not.
func (e *Emulator) Insert(i int, u User) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i = max(0, min(i, len(e.users)))
	lo, hi := e.gap(i)
	if hi-lo < 2 { // no room left: spread everyone out again
		for j := range e.users {
			e.users[j].seq = uint64(j+1) * seqStep
		}
		lo, hi = e.gap(i)
	}
	e.users = slices.Insert(e.users, i, e.newUser(lo+(hi-lo)/2, u))
}

// gap returns the seqs around position i. e.mu is held.
func (e *Emulator) gap(i int) (lo, hi uint64) {
	hi = uint64(len(e.users)+2) * seqStep
	if i > 0 {
		lo = e.users[i-1].seq
	}
	if i < len(e.users) {
		hi = e.users[i].seq
	} else {
		hi = max(hi, lo+seqStep)
	}
	return lo, hi
}

// Delete removes the user with the given id, and reports whether there
// was one.
func (e *Emulator) Delete(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.users)
	e.users = slices.DeleteFunc(e.users, func(x emuUser) bool { return x.u.ID == id })
	return len(e.users) < n
}

// SetFault makes every later SCIM request answer f; the zero Fault ends
// it.
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	e.fault = f
	e.mu.Unlock()
}

// SetStorm starts s, replacing any storm before it; the zero Storm ends
// it.
func (e *Emulator) SetStorm(s Storm) {
	e.mu.Lock()
	e.storm, e.stormFrom = s, e.calls.Load()
	e.mu.Unlock()
}

// ExpireTokens invalidates every token the token endpoint issued.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	clear(e.tokens)
	e.mu.Unlock()
}

// Calls returns how many SCIM requests the emulator received, and how
// many a Fault or Storm failed.
func (e *Emulator) Calls() (calls, failures int) {
	return int(e.calls.Load()), int(e.failures.Load())
}

// Requests returns the SCIM list requests received so far (the last
// 10,000), oldest first.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// ServeHTTP serves the SCIM endpoints and the token endpoint.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d := e.opts.Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	path := r.URL.Path
	if e.opts.ClientID != "" && path == e.opts.TokenPath {
		e.serveToken(w, r)
		return
	}
	rel, ok := strings.CutPrefix(path, e.opts.Base)
	if !ok {
		writeError(w, http.StatusNotFound, "", "no such endpoint")
		return
	}
	rel = strings.TrimSuffix(rel, "/")
	var serve func(http.ResponseWriter, *http.Request)
	method := http.MethodGet
	switch {
	case rel == "/ServiceProviderConfig":
		serve = e.serveConfig
	case rel == "/Users":
		serve = e.serveList
	case rel == "/Users/.search" && e.opts.Search:
		serve, method = e.serveList, http.MethodPost
	default:
		writeError(w, http.StatusNotFound, "", "no such endpoint")
		return
	}
	n := e.calls.Add(1)
	if e.failed(w, n) {
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, "", "method not allowed")
		return
	}
	if status := e.authorize(r); status != 0 {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		}
		writeError(w, status, "", "authentication required")
		return
	}
	serve(w, r)
}

// failed answers the request with the fault or storm in force, if any.
func (e *Emulator) failed(w http.ResponseWriter, n int64) bool {
	e.mu.Lock()
	f, st, from := e.fault, e.storm, e.stormFrom
	e.mu.Unlock()
	if f.Status == 0 && st.Status != 0 && st.Every > 0 && n > from && (n-from-1)%int64(st.Every) < int64(max(st.Burst, 1)) {
		f = Fault{Status: st.Status, RetryAfter: st.RetryAfter}
	}
	if f.Status == 0 {
		return false
	}
	e.failures.Add(1)
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", scimContentType)
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body)
		return true
	}
	writeError(w, f.Status, "", http.StatusText(f.Status))
	return true
}

// authorize returns 0 when r may be served, else the status to refuse it
// with.
func (e *Emulator) authorize(r *http.Request) int {
	if e.opts.Authorize != nil {
		return e.opts.Authorize(r)
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return http.StatusUnauthorized
	}
	if e.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(e.opts.Token)) == 1 {
		return 0
	}
	e.mu.Lock()
	exp, ok := e.tokens[tok]
	e.mu.Unlock()
	if ok && e.opts.Now().Before(exp) {
		return 0
	}
	return http.StatusUnauthorized
}

// serveToken is the client-credentials grant.
func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	oauthError := func(status int, code string) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSONAs(w, status, "application/json", map[string]string{"error": code})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		oauthError(http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if subtle.ConstantTimeCompare([]byte(id), []byte(e.opts.ClientID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(e.opts.ClientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		oauthError(http.StatusUnauthorized, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := base64.RawURLEncoding.EncodeToString(b)
	e.mu.Lock()
	e.tokens[tok] = e.opts.Now().Add(e.opts.TokenTTL)
	e.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	writeJSONAs(w, http.StatusOK, "application/json", map[string]any{
		"access_token": tok, "token_type": "Bearer", "expires_in": int(e.opts.TokenTTL / time.Second),
	})
}

// serveConfig is /ServiceProviderConfig.
func (e *Emulator) serveConfig(w http.ResponseWriter, r *http.Request) {
	o := e.opts
	cfg := object{
		"schemas":          []any{ServiceProviderConfigSchema},
		"documentationUri": "https://scim.emulator.invalid/docs",
		"patch":            object{"supported": false},
		"bulk":             object{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           object{"supported": !o.FilterUnsupported, "maxResults": o.MaxPageSize},
		"changePassword":   object{"supported": false},
		"sort":             object{"supported": false},
		"etag":             object{"supported": false},
		"authenticationSchemes": []any{object{
			"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": true,
			"description": "Authentication with an OAuth bearer token",
			"specUri":     "https://www.rfc-editor.org/info/rfc6750",
		}},
		"meta": object{"resourceType": "ServiceProviderConfig", "location": e.base(r) + "/ServiceProviderConfig"},
	}
	if !o.NoPaginationConfig {
		pg := object{
			"cursor": o.Cursor, "index": o.Index, "defaultPaginationMethod": o.DefaultPaging,
			"defaultPageSize": o.DefaultPageSize, "maxPageSize": o.MaxPageSize,
		}
		if o.CursorTTL > 0 {
			pg["cursorTimeout"] = int(o.CursorTTL / time.Second)
		}
		cfg["pagination"] = pg
	}
	e.write(w, http.StatusOK, cfg)
}

// listQuery is a list request's parameters, from the URL or a .search
// body.
type listQuery struct {
	filter     string
	count      string
	startIndex string
	cursor     *string
}

// searchBody is the body of POST /.search.
type searchBody struct {
	Schemas    []string        `json:"schemas"`
	Filter     *string         `json:"filter"`
	Count      json.RawMessage `json:"count"`
	StartIndex json.RawMessage `json:"startIndex"`
	Cursor     *string         `json:"cursor"`
}

const maxSearchBody = 64 << 10

// serveList is GET /Users and POST /Users/.search.
func (e *Emulator) serveList(w http.ResponseWriter, r *http.Request) {
	var q listQuery
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != scimContentType && mt != "application/json" {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "the body must be application/scim+json")
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, maxSearchBody+1))
		if err != nil || len(b) > maxSearchBody {
			writeError(w, http.StatusRequestEntityTooLarge, "", "the body is too large")
			return
		}
		var body searchBody
		if err := json.Unmarshal(b, &body); err != nil {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "the body is not a SearchRequest")
			return
		}
		if !slices.ContainsFunc(body.Schemas, func(s string) bool { return strings.EqualFold(s, e.opts.SearchSchema) }) {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "schemas must name "+e.opts.SearchSchema)
			return
		}
		if body.Filter != nil {
			q.filter = *body.Filter
		}
		q.count, q.startIndex, q.cursor = rawNumber(body.Count), rawNumber(body.StartIndex), body.Cursor
	} else {
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "the query does not parse")
			return
		}
		if f, ok := v["filter"]; ok {
			if e.opts.NoGetFilter {
				e.record(r, q)
				writeError(w, http.StatusBadRequest, "invalidFilter", "filters go in the body of POST /Users/.search")
				return
			}
			q.filter = f[0]
		}
		q.count, q.startIndex = v.Get("count"), v.Get("startIndex")
		if c, ok := v["cursor"]; ok {
			q.cursor = &c[0]
		}
	}
	e.record(r, q)

	// The filter.
	var x expr
	if q.filter != "" && !e.opts.IgnoreFilter {
		if e.opts.FilterUnsupported {
			writeError(w, http.StatusNotImplemented, "", "this server does not filter")
			return
		}
		var err error
		if x, err = parseFilter(q.filter); err != nil {
			writeError(w, http.StatusBadRequest, "invalidFilter", err.Error())
			return
		}
		if err := e.supported(x, ""); err != nil {
			writeError(w, http.StatusBadRequest, "invalidFilter", err.Error())
			return
		}
	}

	// Paging.
	count := e.opts.DefaultPageSize
	if q.count != "" {
		n, err := strconv.Atoi(q.count)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalidValue", "count must be a number")
			return
		}
		count = min(max(n, 0), e.opts.MaxPageSize)
	}
	mode := e.opts.DefaultPaging
	switch {
	case q.cursor != nil && q.startIndex != "" && e.opts.Cursor && e.opts.Index:
		writeError(w, http.StatusBadRequest, "invalidValue", "startIndex and cursor cannot be used together")
		return
	case q.cursor != nil && e.opts.Cursor:
		mode = "cursor"
	case q.startIndex != "" && e.opts.Index:
		mode = "index"
	case q.startIndex != "" && e.opts.RejectStartIndex:
		writeError(w, http.StatusBadRequest, "invalidValue", "startIndex is not supported: page with cursor")
		return
	}

	e.mu.Lock()
	matched := make([]*emuUser, 0, len(e.users))
	for i := range e.users {
		if x == nil || e.match(x, e.users[i].res) {
			matched = append(matched, &e.users[i])
		}
	}
	page, resp, status, scimType, detail := e.paginate(mode, q, count, matched)
	// Render under the lock: the users may change after it.
	resources := make([]any, len(page))
	for i, u := range page {
		resources[i] = u.res
	}
	e.mu.Unlock()
	if status != 0 {
		writeError(w, status, scimType, detail)
		return
	}

	qk := e.opts.Quirks
	switch {
	case qk.NoTotalResults:
		delete(resp, "totalResults")
	case qk.PageTotalResults:
		resp["totalResults"] = len(page)
	}
	if qk.NoItemsPerPage {
		delete(resp, "itemsPerPage")
	}
	if qk.NoStartIndex {
		delete(resp, "startIndex")
	}
	if count > 0 && (len(page) > 0 || !qk.NoResourcesWhenEmpty) {
		resp["Resources"] = resources
	}
	for k, v := range resp {
		if v == nil {
			delete(resp, k)
		}
	}
	e.write(w, http.StatusOK, resp)
}

// paginate cuts the page out of matched. It returns the page and the
// ListResponse without Resources, or a status, scimType and detail to
// refuse the request with. e.mu is held.
func (e *Emulator) paginate(mode string, q listQuery, count int, matched []*emuUser) ([]*emuUser, object, int, string, string) {
	served := count
	if c := e.opts.Quirks.CapCount; c > 0 {
		served = min(served, c)
	}
	resp := object{"schemas": []any{ListResponseSchema}, "totalResults": len(matched)}
	if mode == "index" {
		start := 1
		if q.startIndex != "" {
			n, err := strconv.Atoi(q.startIndex)
			if err != nil {
				return nil, nil, http.StatusBadRequest, "invalidValue", "startIndex must be a number"
			}
			start = max(n, 1)
		}
		lo := min(start-1, len(matched))
		page := matched[lo:min(lo+served, len(matched))]
		resp["startIndex"], resp["itemsPerPage"] = start, len(page)
		return page, resp, 0, "", ""
	}

	// Cursor paging: a cursor names the query and the place of the last
	// user served.
	query := e.queryKey(q.filter)
	var after uint64
	if q.cursor != nil && *q.cursor != "" {
		c, ok := e.openCursor(*q.cursor)
		switch {
		case !ok || c.Query != query:
			return nil, nil, http.StatusBadRequest, "invalidCursor", "the cursor is not one this server gave for this query"
		case e.opts.CursorTTL > 0 && e.opts.Now().Unix() > c.Expires:
			return nil, nil, http.StatusBadRequest, "expiredCursor", "the cursor has expired"
		case e.opts.StrictCursorCount && c.Count != count:
			return nil, nil, http.StatusBadRequest, "invalidCount", "count must stay that of the query's first page"
		}
		after = c.After
	}
	lo, _ := slices.BinarySearchFunc(matched, after+1, func(u *emuUser, seq uint64) int {
		switch {
		case u.seq < seq:
			return -1
		case u.seq > seq:
			return 1
		}
		return 0
	})
	page := matched[lo:min(lo+served, len(matched))]
	resp["startIndex"], resp["itemsPerPage"] = lo+1, len(page)
	if len(page) > 0 && lo+len(page) < len(matched) {
		resp["nextCursor"] = e.makeCursor(cursorState{
			Query: query, After: page[len(page)-1].seq, Count: count,
			Expires: e.opts.Now().Add(e.opts.CursorTTL).Unix(),
		})
	}
	return page, resp, 0, "", ""
}

// cursorState is what a cursor carries.
type cursorState struct {
	Query   string `json:"q"`
	After   uint64 `json:"a"`
	Count   int    `json:"c"`
	Expires int64  `json:"e"`
}

// makeCursor encodes c with a signature: base64url, which RFC 9865's
// unreserved characters allow.
func (e *Emulator) makeCursor(c cursorState) string {
	b, _ := json.Marshal(c)
	mac := sha256.Sum256(append(slices.Clone(e.secret), b...))
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(mac[:8])
}

func (e *Emulator) openCursor(s string) (cursorState, bool) {
	body, sig, ok := strings.Cut(s, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err1 != nil || err2 != nil {
		return cursorState{}, false
	}
	want := sha256.Sum256(append(slices.Clone(e.secret), b...))
	var c cursorState
	if subtle.ConstantTimeCompare(mac, want[:8]) != 1 || json.Unmarshal(b, &c) != nil {
		return cursorState{}, false
	}
	return c, true
}

// queryKey binds cursors to the filter they were made for.
func (e *Emulator) queryKey(filter string) string {
	h := sha256.Sum256([]byte(filter))
	return hex.EncodeToString(h[:8])
}

// record keeps r's parameters for Requests.
func (e *Emulator) record(r *http.Request, q listQuery) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.requests) >= maxRequestsKept {
		e.requests = e.requests[1:]
	}
	e.requests = append(e.requests, Request{
		Method: r.Method, Path: r.URL.Path, Filter: q.filter,
		Count: q.count, StartIndex: q.startIndex, Cursor: q.cursor,
	})
}

// rawNumber returns a JSON number (or numeric string) as text; "" for
// none.
func rawNumber(b json.RawMessage) string {
	var v any
	if len(b) == 0 || json.Unmarshal(b, &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case string:
		return v
	}
	return "x" // a type count cannot have: refused as not a number
}

// errUnsupportedFilter marks a filter the emulator parses but does not
// evaluate.
var errUnsupportedFilter = errors.New("unsupported")

// supported checks that x uses only eq, and, and value filters, on
// attributes the server filters on; prefix is the attribute of an
// enclosing value filter.
func (e *Emulator) supported(x expr, prefix string) error {
	switch x := x.(type) {
	case *logical:
		if x.op != "and" {
			return fmt.Errorf("%w: %q: this server filters with eq and and only", errUnsupportedFilter, x.op)
		}
		if err := e.supported(x.left, prefix); err != nil {
			return err
		}
		return e.supported(x.right, prefix)
	case *negation:
		return fmt.Errorf("%w: \"not\": this server filters with eq and and only", errUnsupportedFilter)
	case *valuePath:
		if prefix != "" {
			return fmt.Errorf("%w: nested value filters", errUnsupportedFilter)
		}
		if err := e.attributeOK(x.path.String()); err != nil {
			return err
		}
		return e.supported(x.filter, x.path.String())
	case *compare:
		if x.op != "eq" {
			return fmt.Errorf("%w: %q: this server filters with eq and and only", errUnsupportedFilter, x.op)
		}
		if prefix != "" {
			return nil
		}
		return e.attributeOK(x.path.String())
	}
	return fmt.Errorf("%w: %s", errUnsupportedFilter, x)
}

func (e *Emulator) attributeOK(path string) error {
	if e.filterOK == nil || e.filterOK[strings.ToLower(path)] {
		return nil
	}
	return fmt.Errorf("%w: this server does not filter on %s", errUnsupportedFilter, path)
}

// match evaluates a supported filter on a resource.
func (e *Emulator) match(x expr, res object) bool {
	switch x := x.(type) {
	case *logical:
		return e.match(x.left, res) && e.match(x.right, res)
	case *valuePath:
		list, _ := attribute(res, x.path).([]any)
		for _, v := range list {
			if o, ok := v.(object); ok && e.match(x.filter, o) {
				return true
			}
		}
		return false
	case *compare:
		exact := e.caseExact[strings.ToLower(x.path.name)]
		for _, v := range values(res, x.path) {
			switch x.val.kind {
			case litBool:
				if b, ok := v.(bool); ok && b == x.val.b {
					return true
				}
			case litString, litNumber:
				s := text(v)
				if _, isBool := v.(bool); !isBool && (s == x.val.str || !exact && strings.EqualFold(s, x.val.str)) {
					return true
				}
			}
		}
	}
	return false
}

// values returns the scalar values path names in o: of a multi-valued
// attribute, each element's sub-attribute (or "value").
func values(o object, path attrPath) []any {
	v := attribute(o, path)
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []any
	for _, v := range list {
		if m, ok := v.(object); ok {
			sub := path.sub
			if sub == "" {
				sub = "value"
			}
			v = value(m, sub)
		} else if path.sub != "" {
			continue
		}
		if v != nil {
			out = append(out, v)
		}
	}
	return out
}

// newUser renders u as a resource. e.mu is held.
func (e *Emulator) newUser(seq uint64, u User) emuUser {
	u.Emails = slices.Clone(u.Emails)
	res := object{
		"schemas": []any{UserSchema, EnterpriseUserSchema},
		"id":      u.ID,
		"active":  u.Active,
		"meta":    object{"resourceType": "User", "location": e.opts.Base + "/Users/" + url.PathEscape(u.ID)},
	}
	set := func(o object, k, v string) {
		if v != "" {
			o[k] = v
		}
	}
	set(res, "userName", u.LoginID)
	name := object{}
	set(name, "givenName", u.FirstName)
	set(name, "middleName", u.MiddleName)
	set(name, "familyName", u.LastName)
	set(name, "formatted", strings.Join(slices.DeleteFunc([]string{u.FirstName, u.MiddleName, u.LastName}, func(s string) bool { return s == "" }), " "))
	if len(name) > 0 {
		res["name"] = name
		set(res, "displayName", name["formatted"].(string))
	}
	var mails []any
	seen := map[string]bool{}
	for _, m := range append([]string{u.Email}, u.Emails...) {
		if m == "" || seen[strings.ToLower(m)] {
			continue
		}
		seen[strings.ToLower(m)] = true
		primary := strings.EqualFold(m, u.Email)
		em := object{"value": m, "type": "other"}
		switch {
		case primary && e.opts.Quirks.NoPrimaryEmail:
			em["type"] = "work"
		case primary:
			em["type"], em["primary"] = "work", true
		case e.opts.Quirks.NoPrimaryEmail:
			em["type"] = "home"
		}
		mails = append(mails, em)
	}
	if mails != nil {
		res["emails"] = mails
	}
	if u.CellPhone != "" {
		// A desk line first, so that a client must look for the mobile one.
		res["phoneNumbers"] = []any{object{"value": "+1 555 0100", "type": "work"}, object{"value": u.CellPhone, "type": "mobile"}}
	}
	if u.CountryCode != "" {
		res["addresses"] = []any{object{"type": "work", "country": u.CountryCode, "primary": true}}
	}
	if !u.CreatedAt.IsZero() {
		meta := res["meta"].(object)
		meta["created"] = u.CreatedAt.UTC().Format(time.RFC3339Nano)
		meta["lastModified"] = meta["created"]
	}
	ent := object{}
	if e.opts.EmployeeIDInExternalID {
		set(res, "externalId", u.EmployeeID)
	} else {
		set(ent, "employeeNumber", u.EmployeeID)
	}
	set(ent, "department", u.OrganizationUnit)
	res[EnterpriseUserSchema] = ent
	if e.opts.Flavor != nil {
		e.opts.Flavor(&u, res)
	}
	return emuUser{seq: seq, u: u, res: res}
}

// base is the URL of the SCIM endpoints, as r reached them.
func (e *Emulator) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + e.opts.Base
}

// write sends v as SCIM JSON, in odd case when that quirk is on.
func (e *Emulator) write(w http.ResponseWriter, status int, v object) {
	var out any = v
	if e.opts.Quirks.OddCase {
		out = oddCase(v)
	}
	writeJSONAs(w, status, scimContentType, out)
}

// oddCase returns a copy of v with every member name in another letter
// case (by the parity of its length: "Resources" → "resources",
// "userName" → "UserName") and the canonical values of "type" in upper
// case.
func oddCase(v any) any {
	switch v := v.(type) {
	case object:
		out := make(object, len(v))
		for k, x := range v {
			if strings.EqualFold(k, "type") {
				if s, ok := x.(string); ok {
					x = strings.ToUpper(s)
				}
			}
			if len(k)%2 == 0 {
				k = strings.ToUpper(k[:1]) + k[1:]
			} else {
				k = strings.ToLower(k)
			}
			out[k] = oddCase(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = oddCase(x)
		}
		return out
	}
	return v
}

// writeError answers with a SCIM error object: "status" is a string.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{ErrorSchema}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	writeJSONAs(w, status, scimContentType, body)
}

func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	w.Write(b)
}
