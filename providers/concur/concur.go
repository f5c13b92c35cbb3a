package concur

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dirgate/dirgate/providers"
)

// DefaultTokenURL is where third-party partners must request company
// tokens since March 2025 (the Global Landing Zone).
const DefaultTokenURL = "https://glz.api.concursolutions.com/oauth2/v0/token"

// Page sizes: the default, and the largest Config.PageSize accepts (the
// pre-release doc's maximum; the GA doc says 100).
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// DefaultTimeout bounds each HTTP call to Concur when Options.CallTimeout
// is zero. Concur says its services answer within 60 seconds.
const DefaultTimeout = 60 * time.Second

// DefaultConcurrency is how many calls to Concur one ListUsers makes at a
// time when Config.Concurrency is zero: enough to fetch a page of
// MaxPageSize users, in calls of DefaultPageSize, in one round trip.
const DefaultConcurrency = 10

// maxConcurrency bounds Config.Concurrency.
const maxConcurrency = 64

const (
	tokenPath = "/oauth2/v0/token"
	// renewMargin is how long before its expiry an access token is renewed.
	renewMargin = time.Minute
	// defaultAccessTTL is assumed when a token response has no expires_in.
	defaultAccessTTL = time.Hour
	maxTokenBody     = 1 << 20
	maxUsersBody     = 64 << 20
)

// Config is the configuration of a Concur Users Bulk v3.1 provider.
type Config struct {
	// TokenURL is the token endpoint for the password grant. Default
	// DefaultTokenURL. Refresh grants and API calls go to the geolocation
	// the token service returns.
	TokenURL string
	// ClientID and ClientSecret are the app's credentials (App Management).
	ClientID     string
	ClientSecret string
	// CompanyUUID and RequestToken come from the Company Request Token
	// tool or an App Center connection. The request token is valid for 24
	// hours; after the first login the refresh token takes over.
	CompanyUUID  string
	RequestToken string
	// TokenStore is a file where the refresh token, its expiry and the
	// geolocation are kept across restarts (JSON, mode 0600). Optional, but
	// without it every start needs a valid request token.
	TokenStore string
	// PageSize is the number of users asked for in each call to Concur,
	// 1 to MaxPageSize. Default DefaultPageSize. If Concur answers with
	// smaller pages (it echoes a smaller limit, or refuses a limit above
	// 100 with HTTP 400), the client asks for pages of that size from then
	// on.
	PageSize int
	// Concurrency is the most calls to Concur that one ListUsers makes at
	// a time, when it needs several vendor pages. Default
	// DefaultConcurrency; 1 fetches them one after another.
	Concurrency int
}

// Options are the optional dependencies of a Client.
type Options struct {
	// HTTPClient makes every call. Nil means a client with DefaultTimeout.
	HTTPClient *http.Client
	// CallTimeout bounds each HTTP call to Concur (token or /users),
	// whatever the caller's context allows. Default DefaultTimeout.
	CallTimeout time.Duration
}

// Client lists the users of one company through Concur's Users Bulk v3.1
// API (GET /users/), with a company-level token. It implements
// providers.Provider and is safe for concurrent use.
type Client struct {
	cfg         Config
	hc          *http.Client
	th          *http.Client // hc, not following redirects: the secret is in the body
	callTimeout time.Duration
	now         func() time.Time
	renew       chan struct{} // holds one token: one renewal at a time
	// limitCap is the largest page Concur has been seen to serve, when it
	// served less than Config.PageSize; 0 until then.
	limitCap atomic.Int64

	hintMu sync.Mutex
	hints  map[string]int // filter query → the last total Concur reported

	mu         sync.Mutex // guards the fields below
	loaded     bool       // the token store has been read
	access     string
	accessExp  time.Time
	refresh    string
	refreshExp time.Time // zero: unknown
	geo        string    // base URL for refreshes and API calls
	spent      []string  // earlier access and refresh tokens, kept out of errors
}

// New returns a Client for cfg. It checks cfg and does no I/O: the first
// token is fetched on the first call.
func New(cfg Config, opts *Options) (*Client, error) {
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if u, err := url.Parse(cfg.TokenURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("concur: TokenURL must be an absolute http or https URL")
	}
	for _, f := range []struct{ name, value string }{
		{"ClientID", cfg.ClientID},
		{"ClientSecret", cfg.ClientSecret},
		{"CompanyUUID", cfg.CompanyUUID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, fmt.Errorf("concur: %s is required", f.name)
		}
	}
	if cfg.RequestToken == "" && cfg.TokenStore == "" {
		return nil, errors.New("concur: RequestToken is required (or a TokenStore holding a refresh token)")
	}
	switch {
	case cfg.PageSize == 0:
		cfg.PageSize = DefaultPageSize
	case cfg.PageSize < 1 || cfg.PageSize > MaxPageSize:
		return nil, fmt.Errorf("concur: PageSize %d is out of range 1..%d", cfg.PageSize, MaxPageSize)
	}
	switch {
	case cfg.Concurrency == 0:
		cfg.Concurrency = DefaultConcurrency
	case cfg.Concurrency < 1 || cfg.Concurrency > maxConcurrency:
		return nil, fmt.Errorf("concur: Concurrency %d is out of range 1..%d", cfg.Concurrency, maxConcurrency)
	}
	c := &Client{cfg: cfg, now: time.Now, renew: make(chan struct{}, 1), callTimeout: DefaultTimeout}
	if opts != nil && opts.HTTPClient != nil {
		c.hc = opts.HTTPClient
	} else {
		c.hc = &http.Client{Timeout: DefaultTimeout}
	}
	if opts != nil && opts.CallTimeout > 0 {
		c.callTimeout = opts.CallTimeout
	}
	th := *c.hc
	th.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.th = &th
	return c, nil
}

// Describe says that Concur pages by offset, in pages of Config.PageSize,
// and filters on every field it has.
func (c *Client) Describe() providers.Description {
	return providers.Description{
		Paging: providers.PagingOffset,
		Filters: providers.FieldEmail | providers.FieldActive | providers.FieldLoginID |
			providers.FieldLastName | providers.FieldEmployeeID | providers.FieldCountryCode | providers.FieldID,
		PageSize: c.cfg.PageSize,
	}
}

// ListUsers returns up to req.Limit users matching req.Filter from
// req.Start.Offset on. It asks Concur for pages of at most PageSize users,
// up to Concurrency of them at a time, and never assumes Concur honoured
// a limit: it advances by the users received and stops at the total, and
// when a page comes back short before the total it asks again from there.
// A limit of zero returns only the total and the company.
func (c *Client) ListUsers(ctx context.Context, req providers.ListRequest) (*providers.ListPage, error) {
	start := req.Start.Offset
	if start < 0 || req.Limit < 0 {
		return nil, fmt.Errorf("concur: list users: negative offset or limit")
	}
	filters := filterQuery(req.Filter)
	page := &providers.ListPage{Next: providers.Position{Offset: start}, Total: -1}
	if req.Limit == 0 {
		vp, err := c.usersPage(ctx, filters, 0, 1)
		if err != nil {
			return nil, err
		}
		page.Total, page.Company = vp.total, vp.company
		c.setHint(filters, page.Total)
		return page, nil
	}
	size := c.pageSize()
	offset := start
	for len(page.Users) < req.Limit && (page.Total < 0 || offset < page.Total) {
		want := req.Limit - len(page.Users)
		if page.Total >= 0 {
			want = min(want, page.Total-offset)
		} else if hint, ok := c.hint(filters); ok {
			// Do not ask for pages the directory most likely does not
			// have. If it grew, the total in the answer says so and the
			// next round fetches the rest.
			want = min(want, max(hint-offset, 1))
		}
		round, err := c.fetch(ctx, filters, plan(offset, want, size))
		if err != nil && len(page.Users) == 0 && len(round) == 0 {
			return nil, err
		}
		before := len(page.Users)
		for i, r := range round {
			if i == 0 {
				page.Total, page.Company = r.total, r.company
			}
			got := r.users[:min(len(r.users), r.asked)]
			page.Users = append(page.Users, got...)
			offset += len(got)
			if len(got) < r.asked {
				// Concur sent fewer users than asked: its pages are
				// smaller than ours, or the directory ends here. The
				// pages after this one start in the wrong place; ask
				// again from here, in pages of the size that came back.
				if len(got) > 0 {
					size = len(got)
				}
				break
			}
		}
		if err != nil {
			// Hand back the users before the failure with it: the
			// portable layer keeps them and asks again from there.
			page.Next.Offset = start + len(page.Users)
			return page, err
		}
		if len(page.Users) == before {
			break // nothing more, whatever the total says
		}
	}
	c.setHint(filters, page.Total)
	page.Next.Offset = start + len(page.Users)
	return page, nil
}

// chunk is one call's worth of a listing: limit users from offset.
type chunk struct{ offset, limit int }

// plan splits want users from offset into calls of at most size users.
func plan(offset, want, size int) []chunk {
	var out []chunk
	for n := 0; n < want; n += size {
		out = append(out, chunk{offset + n, min(size, want-n)})
	}
	return out
}

// fetch makes the calls of a plan, at most Config.Concurrency at a time,
// and returns their answers in the plan's order. The first failure stops
// the others.
func (c *Client) fetch(ctx context.Context, filters url.Values, chunks []chunk) ([]*vendorPage, error) {
	out := make([]*vendorPage, len(chunks))
	if len(chunks) == 1 {
		vp, err := c.fetchChunk(ctx, filters, chunks[0])
		if err != nil {
			return nil, err
		}
		out[0] = vp
		return out, nil
	}
	// Every chunk runs to its end, so that the ones before a failure are
	// kept (see ListUsers).
	errs := make([]error, len(chunks))
	var g errgroup.Group
	g.SetLimit(c.cfg.Concurrency)
	for i, ch := range chunks {
		g.Go(func() error {
			out[i], errs[i] = c.fetchChunk(ctx, filters, ch)
			return nil
		})
	}
	g.Wait()
	for i, err := range errs {
		if err != nil {
			return out[:i], err // the chunks before the first failure
		}
	}
	return out, nil
}

// fetchChunk makes one call. When Concur refuses a limit above the GA
// maximum (100), the client asks for pages of 100 from then on.
func (c *Client) fetchChunk(ctx context.Context, filters url.Values, ch chunk) (*vendorPage, error) {
	vp, err := c.usersPage(ctx, filters, ch.offset, ch.limit)
	if ch.limit > DefaultPageSize && errors.Is(err, errQueryRefused) {
		c.lowerPageSize(DefaultPageSize)
		vp, err = c.usersPage(ctx, filters, ch.offset, DefaultPageSize)
	}
	if err != nil {
		return nil, err
	}
	vp.asked = ch.limit
	return vp, nil
}

// pageSize is Config.PageSize, or less when Concur showed it serves less.
func (c *Client) pageSize() int {
	if n := int(c.limitCap.Load()); n > 0 && n < c.cfg.PageSize {
		return n
	}
	return c.cfg.PageSize
}

// lowerPageSize records that Concur serves pages of at most n users.
func (c *Client) lowerPageSize(n int) {
	for {
		old := c.limitCap.Load()
		if n < 1 || (old > 0 && old <= int64(n)) || c.limitCap.CompareAndSwap(old, int64(n)) {
			return
		}
	}
}

// maxHints bounds the totals remembered for planning.
const maxHints = 256

// hint returns the total Concur last reported for these filters. It only
// plans how many calls to make at once; the answers decide what is
// returned.
func (c *Client) hint(filters url.Values) (int, bool) {
	c.hintMu.Lock()
	defer c.hintMu.Unlock()
	n, ok := c.hints[filters.Encode()]
	return n, ok
}

func (c *Client) setHint(filters url.Values, total int) {
	if total < 0 {
		return
	}
	c.hintMu.Lock()
	defer c.hintMu.Unlock()
	if c.hints == nil || len(c.hints) >= maxHints {
		c.hints = make(map[string]int)
	}
	c.hints[filters.Encode()] = total
}

// filterQuery maps f onto the query parameters of /users/.
func filterQuery(f providers.Filter) url.Values {
	q := url.Values{}
	if f.Active != nil {
		q.Set("isactive", strconv.FormatBool(*f.Active))
	}
	for _, p := range []struct {
		name  string
		value *string
	}{
		{"primaryemail", f.Email},
		{"loginid", f.LoginID},
		{"lastname", f.LastName},
		{"employeeid", f.EmployeeID},
		{"countrycode", f.CountryCode},
		{"id", f.ID},
	} {
		if p.value != nil {
			q.Set(p.name, strings.TrimSpace(*p.value))
		}
	}
	return q
}

// vendorPage is one decoded answer of /users/.
type vendorPage struct {
	users   []providers.User
	total   int // -1: not said
	limit   int // the limit Concur says it applied; -1: not said
	company *providers.Company
	asked   int // the limit dirgate asked for
}

// errQueryRefused marks an HTTP 400 from /users: Concur refused the query
// (an unknown parameter, or a limit above its maximum).
var errQueryRefused = errors.New("query refused")

// usersPage makes one call to /users/, renewing the access token once if
// Concur refuses it.
func (c *Client) usersPage(ctx context.Context, filters url.Values, offset, limit int) (*vendorPage, error) {
	query := "offset=" + strconv.Itoa(offset) + "&limit=" + strconv.Itoa(limit)
	if len(filters) > 0 {
		query += "&" + filters.Encode()
	}
	tok, geo, err := c.token(ctx, "")
	if err != nil {
		return nil, err
	}
	resp, body, err := c.getUsers(ctx, geo, tok, query)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		if tok, geo, err = c.token(ctx, tok); err != nil {
			return nil, err
		}
		if resp, body, err = c.getUsers(ctx, geo, tok, query); err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, fmt.Errorf("concur: list users: %w: HTTP %d with a fresh access token%s",
				providers.ErrAuth, resp.StatusCode, c.vendorMessage(body))
		}
	}
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
		vp, err := c.decodeUsers(body)
		if err == nil && vp.limit > 0 && vp.limit < limit {
			c.lowerPageSize(vp.limit) // Concur clamped the limit
		}
		return vp, err
	case s == http.StatusTooManyRequests:
		return nil, fmt.Errorf("concur: list users: %w", rateLimit(resp, c.now()))
	case temporaryStatus(s):
		return nil, &providers.TemporaryError{
			RetryAfter: retryAfter(resp, c.now()),
			Err:        fmt.Errorf("concur: list users: %w: HTTP %d%s", providers.ErrUnavailable, s, c.vendorMessage(body)),
		}
	case s >= 500:
		return nil, fmt.Errorf("concur: list users: %w: HTTP %d%s", providers.ErrUnavailable, s, c.vendorMessage(body))
	case s == http.StatusBadRequest:
		return nil, fmt.Errorf("concur: list users: %w: %w: HTTP 400 for limit=%d%s",
			providers.ErrUnavailable, errQueryRefused, limit, c.vendorMessage(body))
	default:
		return nil, fmt.Errorf("concur: list users: %w: unexpected HTTP %d%s", providers.ErrUnavailable, s, c.vendorMessage(body))
	}
}

// temporaryStatus reports whether an HTTP status is worth retrying soon
// (see providers.TemporaryError).
func temporaryStatus(s int) bool {
	return s == http.StatusBadGateway || s == http.StatusServiceUnavailable || s == http.StatusGatewayTimeout
}

func (c *Client) getUsers(ctx context.Context, geo, tok, query string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, geo+"/users/?"+query, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("concur: list users: %w: bad geolocation", providers.ErrBadResponse)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	return c.do(ctx, c.hc, "list users", req, maxUsersBody)
}

// do sends req (made with ctx) and reads the whole answer, within
// c.callTimeout. Transport failures are ErrUnavailable, and temporary
// unless ctx ended.
func (c *Client) do(ctx context.Context, hc *http.Client, op string, req *http.Request, max int64) (*http.Response, []byte, error) {
	cctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	resp, err := hc.Do(req.WithContext(cctx))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = stripQuery(ue.URL) // filter values are nobody's business
		}
		return nil, nil, transportError(ctx, fmt.Errorf("concur: %s: %w: %w", op, providers.ErrUnavailable, err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, nil, transportError(ctx, fmt.Errorf("concur: %s: %w: reading the answer: %w", op, providers.ErrUnavailable, err))
	}
	if int64(len(body)) > max {
		return nil, nil, fmt.Errorf("concur: %s: %w: answer larger than %d bytes", op, providers.ErrBadResponse, max)
	}
	return resp, body, nil
}

// transportError marks err, a failure to talk to Concur, temporary: the
// network or Concur failed, or one call took longer than c.callTimeout.
// When ctx ended, the caller gave up and trying again would not help.
func transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	return &providers.TemporaryError{Err: err}
}

func stripQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	return s
}

// rateLimit is the error for a 429.
func rateLimit(resp *http.Response, now time.Time) *providers.RateLimitError {
	return &providers.RateLimitError{RetryAfter: retryAfter(resp, now)}
}

// retryAfter reads a Retry-After header, in seconds or as a date; zero
// when there is none (or it says 0).
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

// vendorMessage returns ": " and the message of a Concur error body, or "".
// Any credential it might echo is blanked.
func (c *Client) vendorMessage(body []byte) string {
	var v struct {
		Error struct {
			Message string `json:"Message"`
		} `json:"Error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	msg := v.Error.Message
	if msg == "" {
		msg = v.Message
	}
	if msg = c.redact(msg); msg == "" {
		return ""
	}
	return ": " + msg
}

// redact removes every credential the client knows from s, and bounds its
// length.
func (c *Client) redact(s string) string {
	c.mu.Lock()
	secrets := append([]string{c.cfg.ClientSecret, c.cfg.RequestToken, c.access, c.refresh}, c.spent...)
	c.mu.Unlock()
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
	}
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// Tokens.

// token returns an access token that is not stale and the base URL to use
// it with, renewing it when it expires within renewMargin or equals stale
// (Concur refused it). However many callers wait, one renews.
func (c *Client) token(ctx context.Context, stale string) (access, geo string, err error) {
	if access, geo, ok := c.current(stale); ok {
		return access, geo, nil
	}
	select {
	case c.renew <- struct{}{}:
	case <-ctx.Done():
		return "", "", fmt.Errorf("concur: token: %w: %w", providers.ErrUnavailable, ctx.Err())
	}
	defer func() { <-c.renew }()
	if access, geo, ok := c.current(stale); ok {
		return access, geo, nil // renewed while we waited
	}
	if err := c.load(); err != nil {
		return "", "", err
	}
	if err := c.renewToken(ctx); err != nil {
		return "", "", err
	}
	access, geo, _ = c.current("")
	return access, geo, nil
}

func (c *Client) current(stale string) (access, geo string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.access == "" || c.access == stale || !c.now().Add(renewMargin).Before(c.accessExp) {
		return "", "", false
	}
	return c.access, c.geo, true
}

// renewToken gets a new access token: with the refresh token while it
// lasts, else (or when Concur refuses it) with the request token.
func (c *Client) renewToken(ctx context.Context) error {
	c.mu.Lock()
	refresh, refreshExp, geo := c.refresh, c.refreshExp, c.geo
	c.mu.Unlock()

	var refreshErr error
	if refresh != "" && (refreshExp.IsZero() || c.now().Before(refreshExp)) {
		tokenURL := c.cfg.TokenURL
		if geo != "" {
			tokenURL = geo + tokenPath
		}
		err := c.grant(ctx, tokenURL, url.Values{
			"client_id":     {c.cfg.ClientID},
			"client_secret": {c.cfg.ClientSecret},
			"grant_type":    {"refresh_token"},
			"refresh_token": {refresh},
		})
		var te *tokenError
		if !errors.As(err, &te) || (te.Code != 108 && te.Code != 105) {
			return err // nil, or a failure the request token cannot fix
		}
		refreshErr = err
		c.mu.Lock()
		c.spend(c.refresh)
		c.refresh, c.refreshExp = "", time.Time{}
		c.mu.Unlock()
	}
	if c.cfg.RequestToken == "" {
		if refreshErr != nil {
			return fmt.Errorf("%w; no RequestToken is configured: a new company request token is needed", refreshErr)
		}
		return fmt.Errorf("concur: token: %w: no usable refresh token and no RequestToken: a new company request token is needed", providers.ErrAuth)
	}
	err := c.grant(ctx, c.cfg.TokenURL, url.Values{
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"grant_type":    {"password"},
		"username":      {c.cfg.CompanyUUID},
		"password":      {c.cfg.RequestToken},
		"credtype":      {"authtoken"},
	})
	if err != nil && refreshErr != nil {
		return fmt.Errorf("%w (after the refresh token was refused)", err)
	}
	return err
}

// grant posts one token request, following a "user lives elsewhere"
// answer once, and keeps what comes back.
func (c *Client) grant(ctx context.Context, tokenURL string, form url.Values) error {
	kind := form.Get("grant_type")
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return fmt.Errorf("concur: token: %w: bad token URL", providers.ErrBadResponse)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, body, err := c.do(ctx, c.th, "token", req, maxTokenBody)
		if err != nil {
			return err
		}
		s := resp.StatusCode
		switch {
		case s == http.StatusOK:
			return c.keep(body, tokenURL)
		case s == http.StatusTooManyRequests:
			return fmt.Errorf("concur: token: %w", rateLimit(resp, c.now()))
		case temporaryStatus(s):
			return &providers.TemporaryError{
				RetryAfter: retryAfter(resp, c.now()),
				Err:        fmt.Errorf("concur: token: %w: HTTP %d", providers.ErrUnavailable, s),
			}
		case s >= 500:
			return fmt.Errorf("concur: token: %w: HTTP %d", providers.ErrUnavailable, s)
		}
		te := &tokenError{Grant: kind, Status: s}
		var v struct {
			Error       flexString `json:"error"`
			Description flexString `json:"error_description"`
			Code        flexInt    `json:"code"`
			Geolocation flexString `json:"geolocation"`
		}
		if json.Unmarshal(body, &v) == nil {
			te.Err, te.Description, te.Code = c.redact(string(v.Error)), c.redact(string(v.Description)), int(v.Code.n)
		}
		if te.Code == 16 && v.Geolocation != "" && hop == 0 {
			geo, ok := baseURL(string(v.Geolocation))
			if !ok {
				return fmt.Errorf("concur: token: %w: user lives elsewhere, at an unusable geolocation", providers.ErrBadResponse)
			}
			tokenURL = geo + tokenPath
			continue
		}
		switch {
		case te.Code == 134: // company undergoing scheduled maintenance
			return fmt.Errorf("concur: token: %w: %s", providers.ErrUnavailable, te.Description)
		case te.Code == 0 && s != http.StatusBadRequest && s != http.StatusUnauthorized && s != http.StatusForbidden:
			// Not an OAuth2 refusal: a wrong URL, a redirect, a proxy.
			return fmt.Errorf("concur: token: %w: unexpected HTTP %d", providers.ErrUnavailable, s)
		}
		return te
	}
}

// tokenError is a refusal from the token endpoint. It is an ErrAuth.
type tokenError struct {
	Grant       string // password or refresh_token
	Status      int
	Code        int // 0: no code
	Err         string
	Description string
}

func (e *tokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "concur: token: %s grant refused: HTTP %d", e.Grant, e.Status)
	if e.Err != "" {
		b.WriteString(" " + e.Err)
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if advice := tokenAdvice[e.Code]; advice != "" {
		b.WriteString("; " + advice)
	}
	return b.String()
}

func (e *tokenError) Unwrap() error { return providers.ErrAuth }

// Advice for the documented token-endpoint error codes, for the operator
// who reads the log. Where a person must act, it says who and what.
const (
	adviceNewRequestToken = "a new company request token is needed"
	adviceBug             = "dirgate sent a request Concur does not accept; please report it"
	adviceSupport         = "contact SAP Concur support"
)

var tokenAdvice = map[int]string{
	5:   "the company request token or CompanyUUID was refused (a request token is valid for 24 hours): " + adviceNewRequestToken,
	19:  "the company request token or CompanyUUID was refused (a request token is valid for 24 hours): " + adviceNewRequestToken,
	136: "the company request token was made for another app: " + adviceNewRequestToken + ", made for this ClientID",
	10:  "the account is disabled: " + adviceSupport,
	11:  "the account is disabled: " + adviceSupport,
	12:  "logon denied: " + adviceSupport,
	13:  "logon denied: " + adviceSupport,
	14:  "the account is locked: " + adviceSupport,
	16:  "the company lives in another data center, and its geolocation could not be followed",
	20:  "logon denied, typically by an IP restriction: a Concur administrator must allow dirgate's address",
	53:  "the company has not enabled this app: a Concur administrator must connect it, and " + adviceNewRequestToken,
	54:  "the requested scope exceeds the app's scopes: check the app in App Management",
	59:  "the app is disabled: check it in App Management",
	61:  "Concur does not know this ClientID: check clientID",
	64:  "ClientSecret does not match ClientID: check clientSecret",
	105: "the refresh token was issued to another app",
	107: "refresh is disabled for this app: check it in App Management",
	108: "the refresh token is bad, expired or revoked",
	123: "the company's principal is disabled: " + adviceSupport,
	51:  adviceBug, 52: adviceBug, 60: adviceBug, 62: adviceBug, 63: adviceBug,
	65: adviceBug, 106: adviceBug, 120: adviceBug, 135: adviceBug,
}

// keep stores a successful token response, in memory and in the token
// store.
func (c *Client) keep(body []byte, tokenURL string) error {
	var v struct {
		AccessToken      string     `json:"access_token"`
		ExpiresIn        flexInt    `json:"expires_in"`
		RefreshToken     flexString `json:"refresh_token"`
		RefreshExpiresIn flexInt    `json:"refresh_expires_in"`
		Geolocation      flexString `json:"geolocation"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("concur: token: %w: undecodable token response", providers.ErrBadResponse)
	}
	if v.AccessToken == "" {
		return fmt.Errorf("concur: token: %w: token response without access_token", providers.ErrBadResponse)
	}
	geo, ok := baseURL(string(v.Geolocation))
	if v.Geolocation == "" {
		geo, ok = baseURL(tokenURL)
	}
	if !ok {
		return fmt.Errorf("concur: token: %w: unusable geolocation", providers.ErrBadResponse)
	}
	now := c.now()
	ttl := defaultAccessTTL
	if v.ExpiresIn.set && v.ExpiresIn.n > 0 {
		ttl = time.Duration(v.ExpiresIn.n) * time.Second
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if rt := string(v.RefreshToken); rt != "" && rt != c.refresh {
		c.spend(c.refresh)
		c.refresh, c.refreshExp = rt, time.Time{}
	}
	if v.RefreshExpiresIn.set && v.RefreshExpiresIn.n > 0 {
		if n := v.RefreshExpiresIn.n; n > 1e9 { // epoch seconds, as documented
			c.refreshExp = time.Unix(n, 0)
		} else { // seconds from now, as some clients expect
			c.refreshExp = now.Add(time.Duration(n) * time.Second)
		}
	}
	c.geo = geo
	c.spend(c.access)
	c.access, c.accessExp = "", time.Time{}
	if err := c.save(); err != nil {
		// Keep the new refresh token in memory but not the access token,
		// so that the next call refreshes and tries to save again.
		return err
	}
	c.access, c.accessExp = v.AccessToken, now.Add(ttl)
	return nil
}

// spend remembers a token that is no longer current, to keep it out of
// error messages. c.mu is held.
func (c *Client) spend(tok string) {
	if tok == "" {
		return
	}
	if len(c.spent) >= 8 {
		c.spent = c.spent[1:]
	}
	c.spent = append(c.spent, tok)
}

// baseURL returns the scheme and host of a geolocation (some docs show it
// with the token path).
func baseURL(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	return u.Scheme + "://" + u.Host, true
}

// The token store.

type storedToken struct {
	ClientID         string    `json:"client_id"`
	CompanyUUID      string    `json:"company_uuid"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	Geolocation      string    `json:"geolocation"`
}

// load reads the token store once. A missing, unreadable-as-JSON or
// foreign store is ignored: the request token takes over.
func (c *Client) load() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded || c.cfg.TokenStore == "" {
		c.loaded = true
		return nil
	}
	b, err := os.ReadFile(c.cfg.TokenStore)
	if errors.Is(err, os.ErrNotExist) {
		c.loaded = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("concur: read token store: %w", err)
	}
	c.loaded = true
	var st storedToken
	if json.Unmarshal(b, &st) != nil || st.ClientID != c.cfg.ClientID || st.CompanyUUID != c.cfg.CompanyUUID {
		return nil
	}
	geo, ok := baseURL(st.Geolocation)
	if st.RefreshToken == "" || !ok {
		return nil
	}
	if c.refresh == "" {
		c.refresh, c.refreshExp, c.geo = st.RefreshToken, st.RefreshExpiresAt, geo
	}
	return nil
}

// save writes the refresh token, its expiry and the geolocation to the
// token store, atomically. c.mu is held.
func (c *Client) save() error {
	if c.cfg.TokenStore == "" || c.refresh == "" {
		return nil
	}
	b, err := json.MarshalIndent(storedToken{
		ClientID:         c.cfg.ClientID,
		CompanyUUID:      c.cfg.CompanyUUID,
		RefreshToken:     c.refresh,
		RefreshExpiresAt: c.refreshExp.UTC(),
		Geolocation:      c.geo,
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("concur: save token store: %w", err)
	}
	if err := writeFileAtomic(c.cfg.TokenStore, append(b, '\n')); err != nil {
		return fmt.Errorf("concur: save token store: %w", err)
	}
	return nil
}

// writeFileAtomic writes b to a temporary file (mode 0600) beside name and
// renames it over name.
func writeFileAtomic(name string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

// Decoding /users/, tolerantly.

type wirePageIn struct {
	Total       flexInt         `json:"total"`
	Limit       flexInt         `json:"limit"`
	Company     *wireCompanyIn  `json:"company"`
	CompanyInfo *wireCompanyIn  `json:"companyinfo"`
	Items       json.RawMessage `json:"Items"`
}

type wireCompanyIn struct {
	Name    flexString `json:"name"`
	Address flexString `json:"address"`
	City    flexString `json:"city"`
	State   flexString `json:"state"`
	Zip     flexString `json:"zip"`
	Country flexString `json:"country"`
}

type wireUserIn struct {
	ID               flexString `json:"ID"`
	PrimaryEmail     flexString `json:"PrimaryEmail"`
	Emails           flexEmails `json:"Emails"`
	FirstName        flexString `json:"FirstName"`
	MiddleName       flexString `json:"MiddleName"`
	LastName         flexString `json:"LastName"`
	Active           flexBool   `json:"Active"`
	LoginID          flexString `json:"LoginID"`
	EmployeeID       flexString `json:"EmployeeID"`
	CellPhoneNumber  flexString `json:"CellPhoneNumber"`
	OrganizationUnit flexString `json:"OrganizationUnit"`
	CountryCode      flexString `json:"CountryCode"`
}

func (c *Client) decodeUsers(body []byte) (*vendorPage, error) {
	bad := func(why string) error {
		return fmt.Errorf("concur: list users: %w: %s", providers.ErrBadResponse, why)
	}
	var w wirePageIn
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, bad("undecodable JSON")
	}
	if len(w.Items) == 0 {
		return nil, bad("no Items")
	}
	var items []*wireUserIn
	if err := json.Unmarshal(w.Items, &items); err != nil {
		return nil, bad("undecodable Items")
	}
	p := &vendorPage{total: -1, limit: -1}
	if w.Total.set {
		p.total = int(w.Total.n)
	}
	if w.Limit.set {
		p.limit = int(w.Limit.n)
	}
	if wc := w.Company; wc != nil || w.CompanyInfo != nil {
		if wc == nil {
			wc = w.CompanyInfo
		}
		p.company = &providers.Company{
			Name: string(wc.Name), Address: string(wc.Address), City: string(wc.City),
			State: string(wc.State), Zip: string(wc.Zip), Country: string(wc.Country),
		}
	}
	for _, u := range items {
		if u == nil || strings.TrimSpace(string(u.ID)) == "" {
			return nil, bad("a user without an ID")
		}
		p.users = append(p.users, providers.User{
			ID:               string(u.ID),
			Email:            string(u.PrimaryEmail),
			Emails:           userEmails(string(u.PrimaryEmail), u.Emails),
			FirstName:        string(u.FirstName),
			MiddleName:       string(u.MiddleName),
			LastName:         string(u.LastName),
			Active:           bool(u.Active),
			LoginID:          string(u.LoginID),
			EmployeeID:       string(u.EmployeeID),
			CellPhone:        string(u.CellPhoneNumber),
			OrganizationUnit: string(u.OrganizationUnit),
			CountryCode:      string(u.CountryCode),
		})
	}
	return p, nil
}

// userEmails returns the primary email, then the other values that look
// like emails (the docs' samples list slot names), without repeats that
// differ only in letter case. It returns nil when there are none.
func userEmails(primary string, others []string) []string {
	var out []string
	add := func(e string) {
		e = strings.TrimSpace(e)
		if !strings.Contains(e, "@") {
			return
		}
		for _, o := range out {
			if strings.EqualFold(o, e) {
				return
			}
		}
		out = append(out, e)
	}
	add(primary)
	for _, e := range others {
		add(e)
	}
	return out
}

// flexString is a JSON string, number, boolean or null (""), as Concur's
// samples disagree on types.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case string(b) == "true" || string(b) == "false":
		*s = flexString(b)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string, got %.20s", b)
		}
		*s = flexString(n.String())
	}
	return nil
}

// flexInt is an integer sent as a JSON number or string; null and "" leave
// it unset.
type flexInt struct {
	n   int64
	set bool
}

func (i *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	v := strings.TrimSpace(string(s))
	if v == "" {
		*i = flexInt{}
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(f) || math.Abs(f) > 1<<62 {
			return fmt.Errorf("want an integer, got %.20q", v)
		}
		n = int64(f)
	}
	*i = flexInt{n: n, set: true}
	return nil
}

// flexBool is a JSON boolean, or a string or number that reads as one;
// null is false.
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t := strings.TrimSpace(string(s))
	if t == "" {
		*v = false
		return nil
	}
	p, err := strconv.ParseBool(t)
	if err != nil {
		return fmt.Errorf("want a boolean, got %.20q", t)
	}
	*v = flexBool(p)
	return nil
}

// flexEmails is Emails as an array of strings, an object of named slots
// (in their order), a single string, or null.
type flexEmails []string

func (e *flexEmails) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*e = nil
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	switch b[0] {
	case '[':
		var vs []flexString
		if err := json.Unmarshal(b, &vs); err != nil {
			return err
		}
		for _, v := range vs {
			*e = append(*e, string(v))
		}
		return nil
	case '{':
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.Token() // {
		for dec.More() {
			if _, err := dec.Token(); err != nil { // the slot name
				return err
			}
			var v flexString
			if err := dec.Decode(&v); err != nil {
				return err
			}
			*e = append(*e, string(v))
		}
		return nil
	}
	var v flexString
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*e = flexEmails{string(v)}
	return nil
}

var _ providers.Provider = (*Client)(nil)
