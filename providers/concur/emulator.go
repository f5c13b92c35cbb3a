package concur

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// tokenPath is where the emulator serves Concur's token endpoint.
const tokenPath = companyauth.TokenPath

// EmulatorOptions configure an Emulator. ClientID, ClientSecret, CompanyUUID
// and RequestToken are the credentials it accepts; the other fields have
// defaults.
type EmulatorOptions struct {
	ClientID     string
	ClientSecret string
	CompanyUUID  string
	RequestToken string

	// Users is the directory, in the order the API returns it.
	Users []driver.User
	// Company is returned with every page; nil leaves it out.
	Company *driver.Company

	// MaxLimit is the largest page size; larger limits are clamped to it
	// (the answer echoes the clamped limit), or refused with HTTP 400
	// "invalid query params" when RejectLimitAboveMax is set: the docs do
	// not say which. Default 100 (the GA doc; the pre-release doc said
	// 1000).
	MaxLimit            int
	RejectLimitAboveMax bool
	// AccessTTL is the lifetime of access tokens. Default 1h.
	AccessTTL time.Duration
	// RefreshTTL is the lifetime of refresh tokens; each refresh slides it.
	// Default 183 days.
	RefreshTTL time.Duration
	// Now is the emulator's clock. Default time.Now.
	Now func() time.Time

	// ExpiresInNumber sends expires_in as a JSON number rather than the
	// documented string "3600".
	ExpiresInNumber bool
	// RefreshExpiresInString sends refresh_expires_in as a JSON string
	// ("1735689600", as e-receipt guides show) rather than the documented
	// number of epoch seconds.
	RefreshExpiresInString bool
	// RotateRefreshToken makes the refresh grant issue a new refresh token
	// and retire the one it was given.
	RotateRefreshToken bool
	// OmitRefreshToken makes the refresh grant answer without a
	// refresh_token ("certain conditions" in the Concur docs).
	OmitRefreshToken bool
	// TMCShape answers /users in the shape a Concur TMC guide shows:
	// total, offset and limit as strings, "companyinfo" for "company",
	// Emails as an object of named slots, and all-digit EmployeeIDs as
	// numbers.
	TMCShape bool
	// ExpiredTokenStatus is the status /users answers for an unknown or
	// expired access token: 401 (default) or 403, as the legacy docs say.
	ExpiredTokenStatus int
	// Elsewhere, when set, makes the token endpoint answer every request
	// with HTTP 400, code 16 "user lives elsewhere" and this geolocation.
	Elsewhere string
	// Geolocation overrides the geolocation in token responses and the
	// base of NextPage links. Default: the URL the request came to.
	Geolocation string
	// Latency delays every answer, as a vendor across the internet does.
	// The delay ends early when the request is cancelled.
	Latency time.Duration
}

// Fault makes /users fail. The zero Fault is no fault.
type Fault struct {
	Status     int    // the HTTP status of every /users answer
	RetryAfter string // the Retry-After header, when not empty
	Body       string // the body, sent as is
}

// Storm makes bursts of /users calls fail, as a vendor under load does: of
// every Every calls counted from SetStorm on, the first Burst (default 1)
// are answered with Status, in the Concur v3 error shape, with a
// Retry-After header when RetryAfter is not empty. The zero Storm, or one
// with Every zero, is calm.
type Storm struct {
	Status     int
	RetryAfter string
	Every      int
	Burst      int
}

// TokenRequest is a request the token endpoint received.
type TokenRequest struct {
	ContentType string
	Form        url.Values
}

// Emulator is an http.Handler that emulates SAP Concur's OAuth2 token
// service (POST /oauth2/v0/token, company-level password and refresh
// grants) and the Users Bulk v3.1 API (GET /users/), in their wire format.
// The real Users Bulk API was decommissioned in January 2025, so the
// emulator follows the docs; where they are silent its choices are noted on
// the methods and options. It is safe for concurrent use.
type Emulator struct {
	opts    EmulatorOptions
	users   []wireUser
	company *wireCompany

	tokenCalls atomic.Int64
	usersCalls atomic.Int64
	failures   atomic.Int64

	mu           sync.Mutex
	requestToken string
	access       map[string]time.Time // access token → expiry
	refresh      map[string]time.Time // refresh token → expiry
	fault        Fault
	storm        Storm
	stormFrom    int64 // usersCalls when the storm began
	lastQuery    url.Values
	lastToken    TokenRequest
}

// NewEmulator returns an emulator serving opts.Users.
func NewEmulator(opts EmulatorOptions) *Emulator {
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 100
	}
	if opts.AccessTTL <= 0 {
		opts.AccessTTL = time.Hour
	}
	if opts.RefreshTTL <= 0 {
		opts.RefreshTTL = 183 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExpiredTokenStatus == 0 {
		opts.ExpiredTokenStatus = http.StatusUnauthorized
	}
	e := &Emulator{
		opts:         opts,
		requestToken: opts.RequestToken,
		access:       map[string]time.Time{},
		refresh:      map[string]time.Time{},
	}
	for _, u := range opts.Users {
		e.users = append(e.users, toWire(u))
	}
	if c := opts.Company; c != nil {
		e.company = &wireCompany{c.Name, c.Address, c.City, c.State, c.Zip, c.Country}
	}
	return e
}

// SetUsers replaces the directory, as people joining and leaving the
// company do.
func (e *Emulator) SetUsers(users []driver.User) {
	wire := make([]wireUser, 0, len(users))
	for _, u := range users {
		wire = append(wire, toWire(u))
	}
	e.mu.Lock()
	e.users = wire
	e.mu.Unlock()
}

// SetFault makes every later /users call answer f; the zero Fault ends it.
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	e.fault = f
	e.mu.Unlock()
}

// SetStorm starts s, replacing any storm before it; the zero Storm ends
// it.
func (e *Emulator) SetStorm(s Storm) {
	e.mu.Lock()
	e.storm, e.stormFrom = s, e.usersCalls.Load()
	e.mu.Unlock()
}

// Failures returns how many /users calls a Fault or a Storm has failed.
func (e *Emulator) Failures() int { return int(e.failures.Load()) }

// Calls returns how many requests the token endpoint and /users received.
func (e *Emulator) Calls() (token, users int) {
	return int(e.tokenCalls.Load()), int(e.usersCalls.Load())
}

// ExpireAccessTokens invalidates every access token issued so far.
func (e *Emulator) ExpireAccessTokens() {
	e.mu.Lock()
	clear(e.access)
	e.mu.Unlock()
}

// RevokeRefreshTokens invalidates every refresh token issued so far, as
// when a company's connection is revoked or its refresh token expires.
func (e *Emulator) RevokeRefreshTokens() {
	e.mu.Lock()
	clear(e.refresh)
	e.mu.Unlock()
}

// SetRequestToken replaces the company request token the password grant
// accepts, as when an administrator generates a new one.
func (e *Emulator) SetRequestToken(tok string) {
	e.mu.Lock()
	e.requestToken = tok
	e.mu.Unlock()
}

// LastQuery returns the query of the last /users request.
func (e *Emulator) LastQuery() url.Values {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.lastQuery)
}

// LastTokenRequest returns the last request the token endpoint received.
func (e *Emulator) LastTokenRequest() TokenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return TokenRequest{e.lastToken.ContentType, maps.Clone(e.lastToken.Form)}
}

// ServeHTTP serves the token endpoint and /users. Every response carries a
// concur-correlationid header.
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
	w.Header()["concur-correlationid"] = []string{newUUID()}
	switch r.URL.Path {
	case tokenPath:
		e.serveToken(w, r)
	case "/users", "/users/":
		e.serveUsers(w, r)
	default:
		e.restError(w, http.StatusNotFound, "Resource not found")
	}
}

// The token endpoint.

type tokenFailure struct {
	code        int
	err         string
	description string
}

var (
	errNoUsername     = tokenFailure{51, "invalid_request", "username was not supplied"}
	errNoPassword     = tokenFailure{52, "invalid_request", "password was not supplied"}
	errNoClientID     = tokenFailure{62, "invalid_request", "client_id was not supplied"}
	errNoClientSecret = tokenFailure{63, "invalid_request", "client_secret was not supplied"}
	errNoGrantType    = tokenFailure{65, "invalid_request", "grant_type was not supplied"}
	errNoClient       = tokenFailure{61, "invalid_client", "client not found"}
	errBadClient      = tokenFailure{64, "invalid_client", "Incorrect Credentials. Please Retry"}
	errBadCredentials = tokenFailure{5, "invalid_grant", "Incorrect Credentials. Please Retry"}
	errBadCredtype    = tokenFailure{120, "invalid_request", "credtype is invalid"}
	errBadGrant       = tokenFailure{60, "invalid_grant", "these are not the grants you are looking for"}
	errNoRefresh      = tokenFailure{106, "invalid_request", "refresh_token was not supplied"}
	errBadRefresh     = tokenFailure{108, "invalid_grant", "bad or expired refresh token"}
	errBadFormat      = tokenFailure{135, "invalid_request", "unsupported request format"}
)

func (e *Emulator) serveToken(w http.ResponseWriter, r *http.Request) {
	e.tokenCalls.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e.restError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var form url.Values
	if mt == "application/x-www-form-urlencoded" {
		if err := r.ParseForm(); err == nil {
			form = r.PostForm
		}
	}
	e.mu.Lock()
	e.lastToken = TokenRequest{ContentType: ct, Form: maps.Clone(form)}
	e.mu.Unlock()

	// Concur rejects keys in the URL and bodies that are not forms.
	if form == nil || r.URL.RawQuery != "" {
		e.tokenError(w, errBadFormat)
		return
	}
	if e.opts.Elsewhere != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error": "invalid_request", "error_description": "user lives elsewhere", "code": 16,
			"geolocation": e.opts.Elsewhere,
		})
		return
	}
	switch {
	case form.Get("client_id") == "":
		e.tokenError(w, errNoClientID)
		return
	case form.Get("client_secret") == "":
		e.tokenError(w, errNoClientSecret)
		return
	case form.Get("client_id") != e.opts.ClientID:
		e.tokenError(w, errNoClient)
		return
	case form.Get("client_secret") != e.opts.ClientSecret:
		e.tokenError(w, errBadClient)
		return
	}
	now := e.opts.Now()
	switch form.Get("grant_type") {
	case "":
		e.tokenError(w, errNoGrantType)
	case "password":
		credtype := form.Get("credtype")
		if credtype == "" {
			credtype = "password" // as Concur assumes
		}
		switch {
		case credtype != "authtoken" && credtype != "password":
			e.tokenError(w, errBadCredtype)
		case form.Get("username") == "":
			e.tokenError(w, errNoUsername)
		case form.Get("password") == "":
			e.tokenError(w, errNoPassword)
		case credtype == "password": // a user's login: the emulator has none
			e.tokenError(w, errBadCredentials)
		default:
			e.mu.Lock()
			ok := form.Get("username") == e.opts.CompanyUUID && e.requestToken != "" &&
				form.Get("password") == e.requestToken
			var refresh string
			if ok {
				refresh = newSecret()
				e.refresh[refresh] = now.Add(e.opts.RefreshTTL)
			}
			e.mu.Unlock()
			if !ok {
				e.tokenError(w, errBadCredentials)
				return
			}
			e.issue(w, r, now, refresh, refresh)
		}
	case "refresh_token":
		old := form.Get("refresh_token")
		if old == "" {
			e.tokenError(w, errNoRefresh)
			return
		}
		e.mu.Lock()
		exp, ok := e.refresh[old]
		ok = ok && now.Before(exp)
		refresh := old
		if ok {
			if e.opts.RotateRefreshToken {
				delete(e.refresh, old)
				refresh = newSecret()
			}
			e.refresh[refresh] = now.Add(e.opts.RefreshTTL)
		}
		e.mu.Unlock()
		if !ok {
			e.tokenError(w, errBadRefresh)
			return
		}
		sent := refresh
		if e.opts.OmitRefreshToken {
			sent = ""
		}
		e.issue(w, r, now, refresh, sent)
	default:
		e.tokenError(w, errBadGrant)
	}
}

// issue answers a token request with a new access token; refresh is the
// refresh token now valid and sent the one to put in the answer ("" for
// none).
func (e *Emulator) issue(w http.ResponseWriter, r *http.Request, now time.Time, refresh, sent string) {
	ttl := int64(e.opts.AccessTTL / time.Second)
	access := e.jwt(now, ttl, "*")
	e.mu.Lock()
	e.access[access] = now.Add(e.opts.AccessTTL)
	refreshExp := e.refresh[refresh]
	e.mu.Unlock()

	var expiresIn any = strconv.FormatInt(ttl, 10)
	if e.opts.ExpiresInNumber {
		expiresIn = ttl
	}
	body := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   expiresIn,
		"scope":        "openid user.read company.read",
		"id_token":     e.jwt(now, ttl, e.opts.ClientID),
		"geolocation":  e.base(r),
	}
	if sent != "" {
		body["refresh_token"] = sent
	}
	if !refreshExp.IsZero() {
		body["refresh_expires_in"] = refreshExp.Unix()
		if e.opts.RefreshExpiresInString {
			body["refresh_expires_in"] = strconv.FormatInt(refreshExp.Unix(), 10)
		}
	}
	writeJSON(w, http.StatusOK, body)
}

func (e *Emulator) tokenError(w http.ResponseWriter, f tokenFailure) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error": f.err, "error_description": f.description, "code": f.code,
	})
}

// jwt returns a string that looks like a Concur JWT (its signature is
// random bytes).
func (e *Emulator) jwt(now time.Time, ttl int64, aud string) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "emulator"})
	claims, _ := json.Marshal(map[string]any{
		"aud": aud, "sub": e.opts.CompanyUUID, "iss": "https://emulator.concursolutions.invalid",
		"concur.type": "company", "concur.version": 2,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Unix() + ttl, "jti": newUUID(),
	})
	sig := make([]byte, 64)
	rand.Read(sig)
	return enc.EncodeToString(header) + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig)
}

// base is the emulator's own base URL, the geolocation it hands out.
func (e *Emulator) base(r *http.Request) string {
	if e.opts.Geolocation != "" {
		return strings.TrimSuffix(e.opts.Geolocation, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// Users Bulk v3.1.

// usersParams is the closed, case-sensitive set of query parameters.
var usersParams = map[string]bool{
	"offset": true, "limit": true, "isactive": true, "loginid": true, "lastname": true,
	"employeeid": true, "primaryemail": true, "countrycode": true, "id": true,
}

func (e *Emulator) serveUsers(w http.ResponseWriter, r *http.Request) {
	n := e.usersCalls.Add(1)
	q, qerr := url.ParseQuery(r.URL.RawQuery)
	e.mu.Lock()
	e.lastQuery = maps.Clone(q)
	f, st, from := e.fault, e.storm, e.stormFrom
	e.mu.Unlock()

	if f.Status != 0 {
		e.failures.Add(1)
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		io.WriteString(w, f.Body)
		return
	}
	if st.Status != 0 && st.Every > 0 && n > from && (n-from-1)%int64(st.Every) < int64(max(st.Burst, 1)) {
		e.failures.Add(1)
		if st.RetryAfter != "" {
			w.Header().Set("Retry-After", st.RetryAfter)
		}
		e.restError(w, st.Status, http.StatusText(st.Status))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		e.restError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	if status, msg := e.authorize(r); status != 0 {
		e.restError(w, status, msg)
		return
	}

	// Query parameters: lower-case, case-sensitive, each at most once.
	if qerr != nil {
		e.restError(w, http.StatusBadRequest, "invalid query params")
		return
	}
	for k, v := range q {
		if !usersParams[k] || len(v) != 1 {
			e.restError(w, http.StatusBadRequest, "invalid query params")
			return
		}
	}
	offset, limit := 0, e.opts.MaxLimit
	if v, ok := q["offset"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			e.restError(w, http.StatusBadRequest, "invalid query params: offset must be a number from 0")
			return
		}
		offset = n
	}
	if v, ok := q["limit"]; ok {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 1 {
			e.restError(w, http.StatusBadRequest, "invalid query params: limit must be a number from 1")
			return
		}
		if n > e.opts.MaxLimit && e.opts.RejectLimitAboveMax {
			e.restError(w, http.StatusBadRequest, "invalid query params: limit must be at most "+strconv.Itoa(e.opts.MaxLimit))
			return
		}
		limit = min(n, e.opts.MaxLimit)
	}
	var active *bool
	if v, ok := q["isactive"]; ok {
		var b bool
		switch strings.ToLower(v[0]) {
		case "true":
			b = true
		case "false":
		default:
			e.restError(w, http.StatusBadRequest, "invalid query params: isactive must be true or false")
			return
		}
		active = &b
	}

	e.mu.Lock()
	all := e.users
	e.mu.Unlock()
	var matched []*wireUser
	for i := range all {
		if u := &all[i]; u.matches(q, active) {
			matched = append(matched, u)
		}
	}
	items := []any{}
	for _, u := range matched[min(offset, len(matched)):min(offset+limit, len(matched))] {
		items = append(items, u.wire(e.opts.TMCShape))
	}
	var next *string
	if offset+limit < len(matched) {
		nq := maps.Clone(q)
		nq.Set("offset", strconv.Itoa(offset+limit))
		nq.Set("limit", strconv.Itoa(limit))
		s := e.base(r) + r.URL.Path + "?" + nq.Encode()
		next = &s
	}
	resp := usersResponse{Total: len(matched), Offset: offset, Limit: limit, Company: e.company, Items: items, NextPage: next}
	if e.opts.TMCShape {
		resp.Total, resp.Offset, resp.Limit = strconv.Itoa(len(matched)), strconv.Itoa(offset), strconv.Itoa(limit)
		resp.Company, resp.CompanyInfo = nil, e.company
	}
	writeJSON(w, http.StatusOK, resp)
}

// authorize checks the bearer token of r and returns the status and message
// to refuse it with, or 0.
func (e *Emulator) authorize(r *http.Request) (int, string) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if h == "" || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return http.StatusUnauthorized, "Authorization Required"
	}
	e.mu.Lock()
	exp, ok := e.access[strings.TrimSpace(tok)]
	e.mu.Unlock()
	if !ok || !e.opts.Now().Before(exp) {
		return e.opts.ExpiredTokenStatus, "The Oauth token has expired or been revoked."
	}
	return 0, ""
}

// restError answers in the Concur v3 error shape.
func (e *Emulator) restError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"Error": map[string]string{
		"Message":     msg,
		"Server-Time": e.opts.Now().UTC().Format("2006-01-02T15:04:05"),
		"Id":          strings.ToUpper(newUUID()),
	}})
}

type usersResponse struct {
	Total       any          `json:"total"`
	Offset      any          `json:"offset"`
	Limit       any          `json:"limit"`
	Company     *wireCompany `json:"company,omitempty"`
	CompanyInfo *wireCompany `json:"companyinfo,omitempty"`
	Items       []any        `json:"Items"`
	NextPage    *string      `json:"NextPage"`
}

type wireCompany struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	City    string `json:"city"`
	State   string `json:"state"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

// wireUser is a user as Users Bulk v3.1 sends it.
type wireUser struct {
	ID               string   `json:"ID"`
	PrimaryEmail     string   `json:"PrimaryEmail"`
	Emails           []string `json:"Emails"`
	FirstName        string   `json:"FirstName"`
	MiddleName       string   `json:"MiddleName"`
	LastName         string   `json:"LastName"`
	Active           bool     `json:"Active"`
	LoginID          string   `json:"LoginID"`
	EmployeeID       string   `json:"EmployeeID"`
	CellPhoneNumber  *string  `json:"CellPhoneNumber"`
	OrganizationUnit *string  `json:"OrganizationUnit"`
	CountryCode      string   `json:"CountryCode"`
}

// tmcUser is a user in the TMC guide's shape.
type tmcUser struct {
	ID               string     `json:"ID"`
	PrimaryEmail     string     `json:"PrimaryEmail"`
	Emails           emailSlots `json:"Emails"`
	FirstName        string     `json:"FirstName"`
	MiddleName       string     `json:"MiddleName"`
	LastName         string     `json:"LastName"`
	Active           bool       `json:"Active"`
	LoginID          string     `json:"LoginID"`
	EmployeeID       any        `json:"EmployeeID"`
	CellPhoneNumber  *string    `json:"CellPhoneNumber"`
	OrganizationUnit *string    `json:"OrganizationUnit"`
	CountryCode      string     `json:"CountryCode"`
}

func toWire(u driver.User) wireUser {
	null := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	emails := u.Emails
	if emails == nil {
		emails = []string{}
	}
	return wireUser{
		ID: u.ID, PrimaryEmail: u.Email, Emails: emails,
		FirstName: u.FirstName, MiddleName: u.MiddleName, LastName: u.LastName,
		Active: u.Active, LoginID: u.LoginID, EmployeeID: u.EmployeeID,
		CellPhoneNumber: null(u.CellPhone), OrganizationUnit: null(u.OrganizationUnit),
		CountryCode: u.CountryCode,
	}
}

func (u *wireUser) wire(tmc bool) any {
	if !tmc {
		return u
	}
	t := tmcUser{
		ID: u.ID, PrimaryEmail: u.PrimaryEmail,
		FirstName: u.FirstName, MiddleName: u.MiddleName, LastName: u.LastName,
		Active: u.Active, LoginID: u.LoginID, EmployeeID: u.EmployeeID,
		CellPhoneNumber: u.CellPhoneNumber, OrganizationUnit: u.OrganizationUnit,
		CountryCode: u.CountryCode,
	}
	if n, err := strconv.ParseInt(u.EmployeeID, 10, 64); err == nil && strconv.FormatInt(n, 10) == u.EmployeeID {
		t.EmployeeID = n
	}
	// Named slots: the primary email, an unverified slot, then the others.
	t.Emails = emailSlots{{"PrimaryEmail", strPtr(u.PrimaryEmail)}, {"VerifiedEmail", nil}}
	n := 2
	for _, m := range u.Emails {
		if strings.EqualFold(m, u.PrimaryEmail) {
			continue
		}
		t.Emails = append(t.Emails, emailSlot{"email" + strconv.Itoa(n), strPtr(m)})
		n++
	}
	return t
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// matches reports whether u passes the filters in q: whole values,
// ignoring letter case; an empty field matches no filter.
func (u *wireUser) matches(q url.Values, active *bool) bool {
	if active != nil && u.Active != *active {
		return false
	}
	for _, c := range []struct{ param, value string }{
		{"loginid", u.LoginID},
		{"lastname", u.LastName},
		{"employeeid", u.EmployeeID},
		{"primaryemail", u.PrimaryEmail},
		{"countrycode", u.CountryCode},
		{"id", u.ID},
	} {
		want, ok := q[c.param]
		if !ok {
			continue
		}
		if c.value == "" || !strings.EqualFold(c.value, want[0]) {
			return false
		}
	}
	return true
}

// emailSlots is a JSON object of named emails that keeps its order.
type emailSlots []emailSlot

type emailSlot struct {
	name  string
	value *string
}

func (s emailSlots) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.name)
		v, _ := json.Marshal(e.value)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(b)
}

func newSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Demo credentials: the demo's emulator accepts them, and its
// configuration carries them like real ones.
const (
	demoClientID     = "demo-concur-client"
	demoClientSecret = "demo-concur-secret"
	demoCompany      = "8f3a2c1e-5b7d-4e6f-9a0b-1c2d3e4f5a6b"
	demoRequestToken = "demo-request-token"
)

// DemoAuth is the company authentication of the demo's emulator at base.
func DemoAuth(base string) companyauth.Config {
	return companyauth.Config{
		TokenURL: base + tokenPath, ClientID: demoClientID, ClientSecret: vendorhttp.NewSecret(demoClientSecret),
		CompanyUUID: demoCompany, RequestToken: vendorhttp.NewSecret(demoRequestToken),
	}
}

// Demo returns an emulator of users for the no-configuration demo, and
// the configuration of a provider that talks to it at base.
func Demo(base string, users []driver.User, company *driver.Company) (*Config, http.Handler) {
	e := NewEmulator(EmulatorOptions{
		ClientID: demoClientID, ClientSecret: demoClientSecret, CompanyUUID: demoCompany,
		RequestToken: demoRequestToken, Users: users, Company: company,
	})
	return &Config{Auth: DemoAuth(base), PageSize: DefaultPageSize}, e
}
