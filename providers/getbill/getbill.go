package getbill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// DefaultBaseURL is getbill's production host.
const DefaultBaseURL = "https://getbill.io"

// Config is what a Client needs to reach a company's getbill directory:
// its keys under providers[] in dirgate's configuration, decoded strictly.
// Either Token, or ClientID and ClientSecret, is required; with Token the
// client credentials are not used.
type Config struct {
	// BaseURL is the scheme and host of the API.
	BaseURL string `yaml:"baseURL"`
	// Token is a bearer token with the users:read scope, used as is.
	Token vendorhttp.Secret `yaml:"token"`
	// ClientID and ClientSecret are an OAuth client of the company
	// (Company → API Client Management), for the client-credentials grant
	// at {BaseURL}/token with scope users:read.
	ClientID     string            `yaml:"clientID"`
	ClientSecret vendorhttp.Secret `yaml:"clientSecret"`
}

// Check applies the defaults and checks cfg; errors name the key.
func (cfg *Config) Check() error {
	var errs []error
	cfg.BaseURL = strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, errors.New("baseURL must be an absolute http or https URL without credentials, query or fragment"))
	}
	switch {
	case !cfg.Token.IsZero() && (cfg.ClientID != "" || !cfg.ClientSecret.IsZero()):
		errs = append(errs, errors.New("token: set together with clientID/clientSecret: give a token, or client credentials, not both"))
	case cfg.Token.IsZero() && cfg.ClientID == "" && cfg.ClientSecret.IsZero():
		errs = append(errs, errors.New(`missing required key "token" (or "clientID" and "clientSecret")`))
	case cfg.Token.IsZero() && cfg.ClientID == "":
		errs = append(errs, errors.New(`missing required key "clientID" (with "clientSecret")`))
	case cfg.Token.IsZero() && cfg.ClientSecret.IsZero():
		errs = append(errs, errors.New(`missing required key "clientSecret" (with "clientID")`))
	}
	return errors.Join(append(errs, cfg.Token.Check("token"), cfg.ClientSecret.Check("clientSecret"))...)
}

// Open builds a Client from dirgate's configuration and shared
// environment.
func Open(cfg *Config, env vendorhttp.Env) (driver.Provider, error) {
	return New(*cfg, &Options{HTTP: env.HTTP})
}

// Options are a Client's shared dependencies; nil means the defaults.
type Options struct {
	// HTTP makes every request; nil means a vendorhttp.Client of its own.
	HTTP *vendorhttp.Client
	// TokenTimeout bounds one token request; zero means
	// vendorhttp.DefaultTokenTimeout.
	TokenTimeout time.Duration
}

// Client lists a company's users through getbill's external API. It
// implements driver.Provider and driver.RateBudgeter, and is safe for
// concurrent use.
type Client struct {
	cfg    Config
	http   *vendorhttp.Client
	tokens *vendorhttp.TokenCache // nil with a static token

	mu sync.Mutex
	rl rateLimit
}

// rateLimit is what getbill's X-RateLimit-* headers last said.
type rateLimit struct {
	limit, remaining int
	reset            time.Time
	ok               bool
}

// New returns a Client for cfg, which it checks. It does no I/O.
func New(cfg Config, opts *Options) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("getbill: config: %w", err)
	}
	if opts == nil {
		opts = &Options{}
	}
	c := &Client{cfg: cfg, http: opts.HTTP}
	if c.http == nil {
		c.http = vendorhttp.New(vendorhttp.Options{})
	}
	if cfg.Token.IsZero() {
		c.tokens = vendorhttp.NewTokenCache(c.grant, vendorhttp.TokenOptions{Timeout: opts.TokenTimeout, Now: c.http.Now})
	}
	return c, nil
}

// Describe says that getbill returns its whole directory (in chained
// pages when it pages), and which fields it holds.
func (c *Client) Describe() driver.Description {
	return driver.Description{
		Paging: driver.PagingSnapshot,
		Fields: driver.Fields(driver.FieldID, driver.FieldEmail, driver.FieldEmails, driver.FieldFirstName,
			driver.FieldLastName, driver.FieldActive, driver.FieldCreatedAt, driver.FieldLastActivityAt),
	}
}

// RateLimit returns what getbill's X-RateLimit-* headers said on the last
// answer that carried them; ok is false before the first one.
func (c *Client) RateLimit() (limit, remaining int, reset time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rl.limit, c.rl.remaining, c.rl.reset, c.rl.ok
}

// ListUsers makes one request for a page of the users endpoint: the first
// for req.Cursor "", the one the cursor names after that. getbill
// documents page and limit for every list endpoint; when the answer
// carries a pagination object that says there is more, NextCursor names
// the next page.
func (c *Client) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	n, limit := 1, maxPageLimit
	if req.Cursor != "" {
		var err error
		if n, limit, err = parseCursor(req.Cursor); err != nil {
			return nil, fmt.Errorf("getbill: list users: %w", err)
		}
	}
	u := c.cfg.BaseURL + usersPath + "?" + url.Values{"page": {strconv.Itoa(n)}, "limit": {strconv.Itoa(limit)}}.Encode()
	page, err := c.get(ctx, u, n, limit, req.Cursor != "")
	if err != nil {
		return nil, fmt.Errorf("getbill: list users: %w", err)
	}
	return page, nil
}

// The cursor is "page/limit": the page to ask for, and the page size the
// first answer set, which the others must keep.
func parseCursor(s string) (page, limit int, err error) {
	a, b, _ := strings.Cut(s, "/")
	page, err1 := strconv.Atoi(a)
	limit, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || page < 2 || limit < 1 {
		return 0, 0, fmt.Errorf("%w: a cursor that is not dirgate's", driver.ErrBadResponse)
	}
	return page, limit, nil
}

// get sends an authorised GET for page n and decodes the answer. With
// client credentials, a 401 drops the token, and the request is made once
// more with a new one.
func (c *Client) get(ctx context.Context, u string, n, limit int, chained bool) (*driver.ListPage, error) {
	for renewed := false; ; renewed = true {
		tok := c.cfg.Token
		if c.tokens != nil {
			var err error
			if tok, err = c.tokens.Token(ctx); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: an unusable URL", driver.ErrBadResponse)
		}
		req.Header.Set("Authorization", "Bearer "+tok.Reveal())
		req.Header.Set("Accept", "application/json")
		var page *driver.ListPage
		again := false
		err = c.http.Do(ctx, req, c.http.Limit(0), func(r *vendorhttp.Response) error {
			c.recordRateLimit(r.Header)
			if r.Status == http.StatusUnauthorized && c.tokens != nil && !renewed {
				again = true
				return nil
			}
			if r.Status != http.StatusOK {
				return c.statusError(r.Status, r.Header, r.Body)
			}
			var derr error
			page, derr = c.decodePage(r.Header, r.Body, n, limit, chained)
			return derr
		})
		if err != nil || !again {
			return page, err
		}
		c.tokens.Invalidate(tok)
	}
}

// grant gets an access token by the client-credentials grant.
func (c *Client) grant(ctx context.Context) (vendorhttp.Token, error) {
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret.Reveal()}, "scope": {scopeUsersRead},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return vendorhttp.Token{}, fmt.Errorf("%w: an unusable token URL", driver.ErrBadResponse)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tok vendorhttp.Token
	err = c.http.Do(ctx, req, c.http.Limit(1), func(r *vendorhttp.Response) error {
		switch s := r.Status; {
		case s == http.StatusOK:
			var v struct {
				AccessToken string         `json:"access_token"`
				ExpiresIn   vendorhttp.Int `json:"expires_in"`
			}
			if json.Unmarshal(r.Body, &v) != nil || v.AccessToken == "" {
				return fmt.Errorf("%w: a token answer without an access token", driver.ErrBadResponse)
			}
			tok.Value = vendorhttp.NewSecret(v.AccessToken)
			if v.ExpiresIn.Set && v.ExpiresIn.N > 0 && v.ExpiresIn.N < 1<<31 {
				tok.Expiry = c.http.Now().Add(time.Duration(v.ExpiresIn.N) * time.Second)
			}
			return nil
		case s == http.StatusTooManyRequests || s >= 500 || s == http.StatusRequestTimeout:
			return c.statusError(s, r.Header, r.Body)
		}
		return fmt.Errorf("%w: getbill refused the client credentials: HTTP %d", driver.ErrAuth, r.Status)
	})
	if err != nil {
		return vendorhttp.Token{}, fmt.Errorf("token: %w", err)
	}
	return tok, nil
}

// recordRateLimit keeps the X-RateLimit-* headers, when all are readable.
func (c *Client) recordRateLimit(h http.Header) {
	limit, err1 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	remaining, err2 := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	reset, err3 := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return
	}
	c.mu.Lock()
	c.rl = rateLimit{limit: limit, remaining: remaining, reset: time.Unix(reset, 0).UTC(), ok: true}
	c.mu.Unlock()
}

// envelope is getbill's answer to every API call.
type envelope struct {
	Error      json.RawMessage `json:"error"`
	Data       json.RawMessage `json:"data"`
	Pagination json.RawMessage `json:"pagination"`
	Code       vendorhttp.Int  `json:"code"`
	Details    struct {
		RetryAfter vendorhttp.String `json:"retry_after"`
	} `json:"details"`
}

// decodeEnvelope reads body as getbill's envelope; ok is false when it is
// not one (its error field must be a boolean).
func decodeEnvelope(body []byte) (env envelope, failed, ok bool) {
	if err := json.Unmarshal(body, &env); err != nil || len(env.Error) == 0 {
		return env, false, false
	}
	var b vendorhttp.Bool
	if json.Unmarshal(env.Error, &b) != nil || bytes.HasPrefix(bytes.TrimSpace(env.Error), []byte(`"`)) {
		return env, false, false
	}
	return env, bool(b), true
}

// statusError classifies an answer other than 200 (or an error envelope
// on a 200, by its code): by the status, with details.retry_after, when
// given, as the time to wait.
func (c *Client) statusError(status int, header http.Header, body []byte) error {
	err := vendorhttp.StatusError(status, header, c.http.Now())
	if status == http.StatusForbidden {
		err = fmt.Errorf("%w (the token may lack the %s scope)", err, scopeUsersRead)
	}
	env, _, _ := decodeEnvelope(body)
	if d := vendorhttp.Seconds(string(env.Details.RetryAfter)); d > 0 {
		var rl *driver.RateLimitError
		var te *driver.TemporaryError
		switch {
		case errors.As(err, &rl):
			rl.RetryAfter = d
		case errors.As(err, &te):
			te.RetryAfter = d
		}
	}
	return err
}

// decodePage decodes a 200 answer to a request for page n of size limit,
// in one pass: each member is read once, straight into what is kept, as
// encoding/json reads getbill's envelope (members matched ignoring case;
// data, error and pagination as json.RawMessage, the last of repeats
// winning and decoded after the rest). It never quotes the body.
func (c *Client) decodePage(header http.Header, body []byte, n, limit int, chained bool) (*driver.ListPage, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", driver.ErrBadResponse, fmt.Sprintf(format, args...))
	}
	var a answer
	switch err := a.read(body); {
	case err != nil || a.errKind == 0 || a.errKind == '"' || a.errBad:
		return nil, bad("an answer that is not getbill's JSON envelope (%d bytes, %s)", len(body), contentType(header))
	case a.failed && a.code.N >= 400 && a.code.N <= 599:
		return nil, fmt.Errorf("an error envelope on status 200: %w", c.statusError(int(a.code.N), header, body))
	case a.failed:
		return nil, bad("status 200 with an error envelope and no error code")
	case !a.data:
		return nil, bad("an answer without data")
	case a.dataErr != nil:
		return nil, bad("data is not a list of users")
	case a.userErr != "":
		return nil, bad("%s", a.userErr)
	case a.pagErr:
		return nil, fmt.Errorf("%w: pagination is not an object of counts", driver.ErrBadResponse)
	}
	page := &driver.ListPage{Total: -1, Users: a.users}
	if page.Users == nil {
		page.Users = []driver.User{}
	}
	p, err := a.pagination(n)
	if err != nil {
		return nil, err
	}
	return paged(page, p, n, limit, chained)
}

// paged checks the pagination p of page n of size limit (nil: the answer
// had none) against what was asked, and sets page's next cursor from it.
func paged(page *driver.ListPage, p *pagination, n, limit int, chained bool) (*driver.ListPage, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", driver.ErrBadResponse, fmt.Sprintf(format, args...))
	}
	switch {
	case p == nil && chained:
		return nil, bad("page %d has no pagination", n)
	case p == nil:
		return page, nil
	case p.page != n:
		return nil, bad("asked for page %d, got page %d", n, p.page)
	case chained && p.limit != limit:
		return nil, bad("the page size changed from %d to %d", limit, p.limit)
	case p.pages > n:
		page.NextCursor = strconv.Itoa(n+1) + "/" + strconv.Itoa(max(p.limit, 1))
	case n == 1 && p.total > len(page.Users):
		// More users than the page holds, and no way to reach them: say
		// so rather than return part of the directory as the whole.
		return nil, bad("pagination says %d users, the answer holds %d, and names no further page", p.total, len(page.Users))
	}
	return page, nil
}

// answer is what a 200 answer of the users endpoint says.
type answer struct {
	errKind byte // the kind of the last "error" member; 0: none
	errBad  bool // it does not read as a boolean
	failed  bool
	code    vendorhttp.Int

	data    bool // a "data" member; of the last one:
	users   []driver.User
	dataErr error  // not a list of users
	userErr string // the first user without an id or with an unreadable is_active

	pag      bool // a pagination that is not null; of the last one:
	pagErr   bool // not an object of counts
	pagCount [4]vendorhttp.Int
}

// The members of an answer, of its details, of a user and of its
// pagination.
var (
	answerMembers     = []string{"error", "data", "pagination", "code", "details"}
	detailsMembers    = []string{"retry_after"}
	userMembers       = []string{"id", "email", "firstname", "lastname", "is_active", "created_at", "last_activity"}
	paginationMembers = []string{"total", "page", "limit", "pages"}
)

// read reads body. Its error is a syntax error, or a value of the wrong
// type where encoding/json would fail the whole envelope (code, details).
func (a *answer) read(body []byte) error {
	r := vendorhttp.NewReader(body)
	err := r.Members(answerMembers, func(i int) error {
		switch i {
		case 0:
			a.errKind = r.Kind()
			if a.errKind == '"' {
				return r.Skip()
			}
			var err error
			a.failed, err = r.Bool()
			a.errBad = isType(err)
			if a.errBad {
				return nil
			}
			return err
		case 1:
			return a.readData(r)
		case 2:
			return a.readPagination(r)
		case 3:
			var err error
			a.code, err = r.Int()
			return err
		}
		return r.Members(detailsMembers, func(int) error {
			_, err := r.String()
			return err
		})
	})
	if err != nil {
		return err
	}
	return r.End()
}

func isType(err error) bool {
	_, ok := errors.AsType[*vendorhttp.TypeError](err)
	return ok
}

// readData reads a data member: a list of users, decoded as encoding/json
// decodes it into []*wireUser, then checked user by user.
func (a *answer) readData(r *vendorhttp.Reader) error {
	a.data, a.users, a.dataErr, a.userErr = true, nil, nil, ""
	depth := r.Depth()
	i := 0
	err := r.Elements(func() error {
		defer func() { i++ }()
		if r.Kind() == 'n' {
			a.userFailed(fmt.Sprintf("user %d has no id", i))
			return r.Skip()
		}
		var u driver.User
		activeBad := false
		err := r.Members(userMembers, func(f int) error {
			var err error
			switch f {
			case 4:
				u.Active, err = r.Bool()
				if activeBad = isType(err); activeBad {
					err = nil
				}
			case 5:
				u.CreatedAt, err = r.Time()
			case 6:
				u.LastActivityAt, err = r.Time()
			default:
				var s string
				s, err = r.String()
				*[]*string{&u.ID, &u.Email, &u.FirstName, &u.LastName}[f] = strings.TrimSpace(s)
			}
			return err
		})
		if err != nil {
			return err
		}
		switch {
		case u.ID == "":
			a.userFailed(fmt.Sprintf("user %d has no id", i))
		case activeBad:
			a.userFailed(fmt.Sprintf("user %d: is_active is not a boolean", i))
		}
		if u.Email != "" {
			u.Emails = []string{u.Email}
		}
		a.users = append(a.users, u)
		return nil
	})
	if isType(err) {
		a.dataErr = err
		return r.SkipRest(depth)
	}
	return err
}

func (a *answer) userFailed(why string) {
	if a.userErr == "" {
		a.userErr = why
	}
}

// readPagination reads a pagination member: null, or an object of counts.
func (a *answer) readPagination(r *vendorhttp.Reader) error {
	a.pag, a.pagErr, a.pagCount = r.Kind() != 'n', false, [4]vendorhttp.Int{}
	if !a.pag {
		return r.Skip()
	}
	depth := r.Depth()
	err := r.Members(paginationMembers, func(i int) error {
		var err error
		a.pagCount[i], err = r.Int()
		return err
	})
	if isType(err) {
		a.pagErr = true
		return r.SkipRest(depth)
	}
	return err
}

// pagination is the answer's pagination; nil when there is none. Missing
// counts are zero, except page, which is then the one asked for.
func (a *answer) pagination(n int) (*pagination, error) {
	if !a.pag {
		return nil, nil
	}
	p := &pagination{page: n}
	for i, out := range []*int{&p.total, &p.page, &p.limit, &p.pages} {
		if v := a.pagCount[i]; v.Set {
			if v.N < 0 || v.N > 1<<31 {
				return nil, fmt.Errorf("%w: pagination holds a count out of range", driver.ErrBadResponse)
			}
			*out = int(v.N)
		}
	}
	if p.pages == 0 && p.limit > 0 {
		p.pages = (p.total + p.limit - 1) / p.limit
	}
	return p, nil
}

type pagination struct{ total, page, limit, pages int }

func contentType(h http.Header) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return "no content type"
	}
	if mt, _, _ := strings.Cut(ct, ";"); len(mt) < 100 {
		return strconv.Quote(strings.TrimSpace(mt))
	}
	return "an unreadable content type"
}

var (
	_ driver.Provider     = (*Client)(nil)
	_ driver.RateBudgeter = (*Client)(nil)
)
