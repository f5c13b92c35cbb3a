package getbill

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/dirgate/dirgate/providers"
)

// DefaultBaseURL is getbill's production host.
const DefaultBaseURL = "https://getbill.io"

const (
	// defaultTimeout bounds each HTTP call of a Client built without an
	// HTTP client of its own.
	defaultTimeout = 30 * time.Second
	// tokenTimeout bounds one token request, which is shared by every
	// caller waiting for it and so cannot use any one caller's context.
	tokenTimeout = 30 * time.Second
	// maxBody is the largest answer read (the whole directory).
	maxBody = 64 << 20
	// maxPages guards against a vendor that never stops paging.
	maxPages = 10000
	// maxMessage is the length to which vendor messages are cut in errors.
	maxMessage = 200
)

// Config is what a Client needs to reach a company's getbill directory.
// Either Token, or ClientID and ClientSecret, is required; when Token is
// set, the client credentials are not used.
type Config struct {
	// BaseURL is the scheme and host of the API; default DefaultBaseURL.
	BaseURL string
	// Token is a bearer token with the users:read scope, used as is.
	Token string
	// ClientID and ClientSecret are an OAuth client of the company
	// (Company → API Client Management), used for the client-credentials
	// grant at {BaseURL}/token with scope users:read.
	ClientID, ClientSecret string
}

// Options are a Client's optional settings; nil means the defaults.
type Options struct {
	// HTTPClient makes every call, token requests included; nil means a
	// client with a 30s timeout.
	HTTPClient *http.Client
}

// Client lists a company's users through getbill's external API. It
// implements providers.Provider and is safe for concurrent use.
type Client struct {
	usersURL string
	hc       *http.Client
	static   string      // Config.Token
	tokens   *tokenCache // nil with a static token
	secrets  []string    // never shown in errors

	mu sync.Mutex
	rl rateLimit
}

// rateLimit is what getbill's X-RateLimit-* headers last said.
type rateLimit struct {
	limit, remaining int
	reset            time.Time
	ok               bool
}

// New returns a Client for cfg. It validates cfg and does no I/O.
func New(cfg Config, opts *Options) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("getbill: config: BaseURL must be an absolute http or https URL without credentials, query or fragment")
	}
	switch {
	case cfg.Token == "" && cfg.ClientID == "" && cfg.ClientSecret == "":
		return nil, errors.New("getbill: config: Token, or ClientID and ClientSecret, is required")
	case cfg.Token == "" && cfg.ClientID == "":
		return nil, errors.New("getbill: config: ClientID is required with ClientSecret")
	case cfg.Token == "" && cfg.ClientSecret == "":
		return nil, errors.New("getbill: config: ClientSecret is required with ClientID")
	}

	hc := &http.Client{Timeout: defaultTimeout}
	if opts != nil && opts.HTTPClient != nil {
		hc = opts.HTTPClient
	}
	c := &Client{usersURL: base + usersPath, hc: hc, static: cfg.Token}
	if cfg.Token != "" {
		c.secrets = []string{cfg.Token}
		return c, nil
	}
	c.secrets = []string{cfg.ClientSecret}
	// Token requests carry the client secret: never follow a redirect
	// with them to wherever it points.
	th := *hc
	th.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.tokens = &tokenCache{
		conf: &clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     base + tokenPath,
			Scopes:       []string{scopeUsersRead},
		},
		hc: &th,
	}
	return c, nil
}

// Describe implements providers.Provider: getbill returns its whole
// directory in one answer.
func (c *Client) Describe() providers.Description {
	return providers.Description{Paging: providers.PagingSnapshot}
}

// ListUsers implements providers.Provider. It returns every user of the
// directory, inactive ones included, in getbill's order; req is ignored
// (it is always the zero request for a snapshot provider).
//
// If getbill pages the answer, ListUsers walks every page. Errors wrap
// providers.ErrUnavailable, ErrAuth or ErrBadResponse, or are a
// *providers.RateLimitError.
func (c *Client) ListUsers(ctx context.Context, _ providers.ListRequest) (*providers.ListPage, error) {
	users, err := c.listAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("getbill: list users: %w", err)
	}
	return &providers.ListPage{
		Users: users,
		Next:  providers.Position{Offset: len(users)},
		Total: len(users),
	}, nil
}

// RateLimit returns what getbill's X-RateLimit-* headers said on the last
// answer that carried them; ok is false before the first one. It makes
// Client a providers.RateBudgeter, so the portable layer refreshes its
// cached copy less often when the budget runs low.
func (c *Client) RateLimit() (limit, remaining int, reset time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rl.limit, c.rl.remaining, c.rl.reset, c.rl.ok
}

// listAll fetches the directory. The first request asks for page 1 of
// the largest size: getbill documents page and limit for every list
// endpoint, and an endpoint that does not page ignores them. If the answer
// carries a pagination object that says there is more, the rest is walked
// page by page.
func (c *Client) listAll(ctx context.Context) ([]providers.User, error) {
	first, err := c.fetchPage(ctx, 1)
	if err != nil {
		return nil, err
	}
	p := first.pagination
	if p == nil || (p.pages <= p.page && p.total <= len(first.users)) {
		return first.users, nil
	}
	if p.pages <= p.page {
		// More users than the page holds, and no way to reach them: say
		// so rather than return part of the directory as the whole.
		return nil, c.badResponse("pagination says %d users, the answer holds %d, and names no further page", p.total, len(first.users))
	}
	if p.page != 1 {
		return nil, c.badResponse("pagination says page %d, want page 1", p.page)
	}

	users := first.users
	seen := make(map[string]bool, len(users))
	for _, u := range users {
		seen[u.ID] = true
	}
	pages := p.pages
	for n := 2; n <= pages; n++ {
		if n > maxPages {
			return nil, c.badResponse("more than %d pages", maxPages)
		}
		pg, err := c.fetchPage(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		switch {
		case pg.pagination == nil:
			return nil, c.badResponse("page %d has no pagination", n)
		case pg.pagination.page != n:
			return nil, c.badResponse("asked for page %d, got page %d", n, pg.pagination.page)
		case pg.pagination.limit != p.limit:
			return nil, c.badResponse("page size changed from %d to %d", p.limit, pg.pagination.limit)
		}
		// The directory may change while it is walked, shifting users
		// across page boundaries; keep each user once.
		for _, u := range pg.users {
			if !seen[u.ID] {
				seen[u.ID] = true
				users = append(users, u)
			}
		}
		pages = pg.pagination.pages
	}
	return users, nil
}

// page is one decoded answer of the users endpoint.
type page struct {
	users      []providers.User
	pagination *pagination
}

type pagination struct {
	total, page, limit, pages int
}

// fetchPage gets and decodes one page of the users endpoint.
func (c *Client) fetchPage(ctx context.Context, n int) (*page, error) {
	u := c.usersURL + "?" + url.Values{
		"page":  {strconv.Itoa(n)},
		"limit": {strconv.Itoa(maxPageLimit)},
	}.Encode()
	status, header, body, err := c.get(ctx, u)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, c.statusError(status, header, body)
	}
	return c.decodePage(header, body, n)
}

// get sends an authorised GET and reads the answer. With client
// credentials, a 401 drops the token, and the call is made once more with
// a new one.
func (c *Client) get(ctx context.Context, u string) (status int, header http.Header, body []byte, err error) {
	for attempt := 0; ; attempt++ {
		tok := c.static
		if c.tokens != nil {
			if tok, err = c.tokens.token(ctx); err != nil {
				return 0, nil, nil, c.tokenError(err)
			}
		}
		status, header, body, err = c.do(ctx, u, tok)
		if err != nil {
			return 0, nil, nil, err
		}
		if status == http.StatusUnauthorized && c.tokens != nil && attempt == 0 {
			c.tokens.drop(tok)
			continue
		}
		return status, header, body, nil
	}
}

// do sends one GET with the bearer token and reads the answer, recording
// its rate-limit headers.
func (c *Client) do(ctx context.Context, u, tok string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	c.recordRateLimit(resp.Header)
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, nil, c.transportError(ctx, err)
	}
	if len(body) > maxBody {
		return 0, nil, nil, c.badResponse("answer is larger than %d bytes", maxBody)
	}
	return resp.StatusCode, resp.Header, body, nil
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
	Message    json.RawMessage `json:"message"`
	Data       json.RawMessage `json:"data"`
	Pagination json.RawMessage `json:"pagination"`
	Code       json.RawMessage `json:"code"`
	Details    json.RawMessage `json:"details"`
}

// decodeEnvelope reads body as getbill's envelope; ok is false when it is
// not one.
func decodeEnvelope(body []byte) (env envelope, failed bool, ok bool) {
	if err := json.Unmarshal(body, &env); err != nil || len(env.Error) == 0 {
		return env, false, false
	}
	failed, known := flexBool(env.Error)
	return env, failed, known
}

// decodePage decodes a 200 answer of the users endpoint to a request for
// page n.
func (c *Client) decodePage(header http.Header, body []byte, n int) (*page, error) {
	env, failed, ok := decodeEnvelope(body)
	switch {
	case !ok:
		return nil, c.badResponse("answer is not getbill's JSON envelope (%s, %d bytes)", contentType(header), len(body))
	case failed:
		// An error envelope on a 200: its code says what went wrong.
		if code, ok := flexInt(env.Code); ok && code >= 400 && code <= 599 {
			return nil, fmt.Errorf("error envelope on status 200: %w", c.statusError(code, header, body))
		}
		return nil, c.badResponse("status 200 with error %s", c.vendorMessage(env.Message))
	}
	var wire []map[string]json.RawMessage
	if len(env.Data) == 0 {
		return nil, c.badResponse("answer has no data")
	}
	if err := json.Unmarshal(env.Data, &wire); err != nil {
		return nil, c.badResponse("data is not a list of users")
	}
	pg := &page{users: make([]providers.User, 0, len(wire))}
	for i, w := range wire {
		if w == nil {
			return nil, c.badResponse("user %d is null", i)
		}
		u, err := toUser(w)
		if err != nil {
			return nil, c.badResponse("user %d: %v", i, err)
		}
		pg.users = append(pg.users, u)
	}
	if p := env.Pagination; len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(p, &raw); err != nil {
			return nil, c.badResponse("pagination is not an object")
		}
		// Missing fields are zero, except page, which is then the one
		// asked for.
		pag := &pagination{page: n}
		for _, f := range []struct {
			name string
			v    *int
		}{{"total", &pag.total}, {"page", &pag.page}, {"limit", &pag.limit}, {"pages", &pag.pages}} {
			v := raw[f.name]
			if len(v) == 0 || bytes.Equal(v, []byte("null")) {
				continue
			}
			i, ok := flexInt(v)
			if !ok || i < 0 {
				return nil, c.badResponse("pagination.%s is not a count", f.name)
			}
			*f.v = i
		}
		if pag.pages == 0 && pag.limit > 0 {
			pag.pages = (pag.total + pag.limit - 1) / pag.limit
		}
		pg.pagination = pag
	}
	return pg, nil
}

// toUser maps one wire user onto providers.User. Only a missing id is an
// error; unreadable optional fields are left empty.
func toUser(w map[string]json.RawMessage) (providers.User, error) {
	id := flexString(w["id"])
	if id == "" {
		return providers.User{}, errors.New("no id")
	}
	u := providers.User{
		ID:             id,
		Email:          flexString(w["email"]),
		FirstName:      flexString(w["firstname"]),
		LastName:       flexString(w["lastname"]),
		CreatedAt:      flexTime(w["created_at"]),
		LastActivityAt: flexTime(w["last_activity"]),
	}
	if u.Email != "" {
		u.Emails = []string{u.Email}
	}
	if raw := w["is_active"]; len(raw) > 0 {
		active, ok := flexBool(raw)
		if !ok {
			return providers.User{}, fmt.Errorf("user %q: is_active is not a boolean", id)
		}
		u.Active = active
	}
	return u, nil
}

// flexString reads a JSON string or number; anything else is "".
func flexString(raw json.RawMessage) string {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if len(raw) == 0 || d.Decode(&v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case json.Number:
		return v.String()
	}
	return ""
}

// flexBool reads a JSON boolean, 0 or 1, or a string such as "true" or
// "0"; null is false. ok is false for anything else.
func flexBool(raw json.RawMessage) (b, ok bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, false
	}
	switch v := v.(type) {
	case nil:
		return false, true
	case bool:
		return v, true
	case float64:
		switch v {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(v)); err == nil {
			return b, true
		}
	}
	return false, false
}

// flexInt reads a JSON integer, or a string holding one.
func flexInt(raw json.RawMessage) (int, bool) {
	s := flexString(raw)
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// timeLayouts are the forms in which a timestamp is accepted.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// flexTime reads an RFC 3339 timestamp (or a near variant) as UTC;
// anything unreadable is the zero time.
func flexTime(raw json.RawMessage) time.Time {
	s := flexString(raw)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// statusError classifies an answer other than 200.
func (c *Client) statusError(status int, header http.Header, body []byte) error {
	env, _, isEnv := decodeEnvelope(body)
	msg := fmt.Sprintf("status %d", status)
	if isEnv && len(env.Message) > 0 {
		msg += " " + c.vendorMessage(env.Message)
	}
	switch {
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w", msg, &providers.RateLimitError{RetryAfter: retryAfter(env.Details, header)})
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w: getbill refused the credentials: %s", providers.ErrAuth, msg)
	case temporaryStatus(status):
		return &providers.TemporaryError{
			RetryAfter: retryAfter(env.Details, header),
			Err:        fmt.Errorf("%w: %s", providers.ErrUnavailable, msg),
		}
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusNotFound:
		return fmt.Errorf("%w: %s", providers.ErrUnavailable, msg)
	}
	return fmt.Errorf("%w: unexpected %s", providers.ErrBadResponse, msg)
}

// temporaryStatus reports whether an HTTP status is worth retrying soon
// (see providers.TemporaryError).
func temporaryStatus(s int) bool {
	return s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout
}

// retryAfter reads details.retry_after (seconds), else the Retry-After
// header (seconds or an HTTP date); zero when neither says.
func retryAfter(details json.RawMessage, header http.Header) time.Duration {
	var d map[string]json.RawMessage
	if json.Unmarshal(details, &d) == nil {
		if s, err := strconv.ParseFloat(flexString(d["retry_after"]), 64); err == nil && s > 0 && s < 1e9 {
			return time.Duration(s * float64(time.Second))
		}
	}
	v := strings.TrimSpace(header.Get("Retry-After"))
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
	}
	return 0
}

// tokenError classifies a failure to get an access token.
func (c *Client) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		var header http.Header
		if re.Response != nil {
			status, header = re.Response.StatusCode, re.Response.Header
		}
		msg := fmt.Sprintf("token endpoint answered status %d", status)
		if re.ErrorCode != "" {
			msg += " " + c.redact(strconv.Quote(clip(re.ErrorCode)))
		}
		if re.ErrorDescription != "" {
			msg += ": " + c.redact(strconv.Quote(clip(re.ErrorDescription)))
		}
		switch {
		case status == http.StatusTooManyRequests:
			env, _, _ := decodeEnvelope(re.Body)
			return fmt.Errorf("%s: %w", msg, &providers.RateLimitError{RetryAfter: retryAfter(env.Details, header)})
		case temporaryStatus(status):
			env, _, _ := decodeEnvelope(re.Body)
			return &providers.TemporaryError{
				RetryAfter: retryAfter(env.Details, header),
				Err:        fmt.Errorf("%w: %s", providers.ErrUnavailable, msg),
			}
		case status >= 500 || status == http.StatusRequestTimeout:
			return fmt.Errorf("%w: %s", providers.ErrUnavailable, msg)
		}
		return fmt.Errorf("%w: getbill refused the client credentials: %s", providers.ErrAuth, msg)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: token: %w", providers.ErrUnavailable, err)
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return &providers.TemporaryError{Err: fmt.Errorf("%w: token: %s", providers.ErrUnavailable, c.redact(err.Error()))}
	}
	// The oauth2 package's own errors: an unparsable answer or one without
	// an access token. Their text carries no secrets, but redact anyway.
	return fmt.Errorf("%w: token: %s", providers.ErrBadResponse, c.redact(err.Error()))
}

// transportError classifies a failed round trip: temporary, unless the
// caller's context ended. It keeps the context's error visible to
// errors.Is.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: %w", providers.ErrUnavailable, ctxErr)
	}
	return &providers.TemporaryError{Err: fmt.Errorf("%w: %s", providers.ErrUnavailable, c.redact(err.Error()))}
}

// badResponse is an ErrBadResponse with a formatted reason.
func (c *Client) badResponse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", providers.ErrBadResponse, c.redact(fmt.Sprintf(format, args...)))
}

// vendorMessage renders a vendor's message field for an error, quoted,
// cut short and stripped of secrets.
func (c *Client) vendorMessage(raw json.RawMessage) string {
	return c.redact(strconv.Quote(clip(flexString(raw))))
}

// redact removes the client secret, the static token and the current
// access token from s.
func (c *Client) redact(s string) string {
	secrets := c.secrets
	if c.tokens != nil {
		if t := c.tokens.current(); t != "" {
			secrets = append(secrets[:len(secrets):len(secrets)], t)
		}
	}
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxMessage], "") + "…"
}

func contentType(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return strconv.Quote(clip(ct))
	}
	return "no content type"
}

// tokenCache holds the client-credentials access token and reuses it until
// shortly before it expires. Concurrent callers share one token request.
type tokenCache struct {
	conf *clientcredentials.Config // built once; it caches the auth style
	hc   *http.Client
	sf   singleflight.Group

	mu      sync.Mutex
	tok     *oauth2.Token
	fetched time.Time
}

// token returns a valid access token, fetching one if needed.
func (tc *tokenCache) token(ctx context.Context) (string, error) {
	tc.mu.Lock()
	tok, fetched := tc.tok, tc.fetched
	tc.mu.Unlock()
	if fresh(tok, fetched, time.Now()) {
		return tok.AccessToken, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ch := tc.sf.DoChan("token", func() (any, error) {
		// Another flight may have just stored a token.
		tc.mu.Lock()
		tok, fetched := tc.tok, tc.fetched
		tc.mu.Unlock()
		if fresh(tok, fetched, time.Now()) {
			return tok.AccessToken, nil
		}
		// The request is shared, so one caller's cancellation must not
		// fail the others: detach it, but bound it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tokenTimeout)
		defer cancel()
		fctx = context.WithValue(fctx, oauth2.HTTPClient, tc.hc)
		start := time.Now()
		t, err := tc.conf.TokenSource(fctx).Token()
		if err != nil {
			return nil, err
		}
		tc.mu.Lock()
		tc.tok, tc.fetched = t, start
		tc.mu.Unlock()
		return t.AccessToken, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// fresh reports whether tok can still be used at now: it must not be
// within a quarter of its lifetime (at most a minute) of its expiry.
func fresh(tok *oauth2.Token, fetched, now time.Time) bool {
	if tok == nil || tok.AccessToken == "" {
		return false
	}
	if tok.Expiry.IsZero() {
		return true
	}
	early := max(min(tok.Expiry.Sub(fetched)/4, time.Minute), 0)
	return now.Before(tok.Expiry.Add(-early))
}

// drop forgets the cached token if it is still tok.
func (tc *tokenCache) drop(tok string) {
	tc.mu.Lock()
	if tc.tok != nil && tc.tok.AccessToken == tok {
		tc.tok = nil
	}
	tc.mu.Unlock()
}

// current returns the cached access token, if any.
func (tc *tokenCache) current() string {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if tc.tok == nil {
		return ""
	}
	return tc.tok.AccessToken
}

var (
	_ providers.Provider     = (*Client)(nil)
	_ providers.RateBudgeter = (*Client)(nil)
)
