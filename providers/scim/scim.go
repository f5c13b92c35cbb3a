package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Options are a Client's shared dependencies; nil means the defaults.
type Options struct {
	// HTTP makes every request; nil means a vendorhttp.Client of its own.
	HTTP *vendorhttp.Client
	// TokenTimeout bounds one token renewal, and one read of
	// /ServiceProviderConfig; zero means vendorhttp.DefaultTokenTimeout.
	TokenTimeout time.Duration
}

// Client lists the users of a SCIM 2.0 service provider. It implements
// driver.Provider and is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *vendorhttp.Client
	tokens  *vendorhttp.TokenCache // nil with a static token
	mapping *Mapping
	filters driver.FieldSet
	timeout time.Duration

	flight singleflight.Group
	mu     sync.Mutex
	found  *discovery // what /ServiceProviderConfig said; nil until read
}

// discovery is what a paging auto provider learnt from the server's
// /ServiceProviderConfig.
type discovery struct {
	driver.Discovery
	filtering bool // filter.supported
}

// New returns a Client for cfg, which it checks. It does no I/O: a token,
// and with paging auto the server's configuration, are read on the first
// call.
func New(cfg Config, opts *Options) (*Client, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	if opts == nil {
		opts = &Options{}
	}
	m, _ := cfg.mapping() // checked
	c := &Client{cfg: cfg, http: opts.HTTP, mapping: m, timeout: opts.TokenTimeout}
	if c.http == nil {
		c.http = vendorhttp.New(vendorhttp.Options{})
	}
	if c.timeout <= 0 {
		c.timeout = vendorhttp.DefaultTokenTimeout
	}
	c.filters = cfg.filters(m)
	if cfg.Token.IsZero() {
		c.tokens = vendorhttp.NewTokenCache(c.clientCredentials, vendorhttp.TokenOptions{Timeout: opts.TokenTimeout, Now: c.http.Now})
	}
	return c, nil
}

// Describe says how the provider pages: with paging index, by offset;
// otherwise by cursor (with paging auto, over index paging too, which
// copes with every looseness of real servers). Answers carry the server's
// totalResults: with paging index it must be the total, or the answer is
// refused; otherwise a total that could count only the page, or none, is
// answered as -1, and the portable layer counts by reading, as it does for
// any cursor vendor that does not say. (Declaring no totals would make
// every totalCount a read of the whole directory, on the honest servers
// too.) It holds every field but the last activity, which SCIM has not.
func (c *Client) Describe() driver.Description {
	d := driver.Description{
		Paging:      driver.PagingCursor,
		MaxPageSize: c.cfg.PageSize,
		PageSize:    c.cfg.PageSize,
		Totals:      true,
		Fields:      driver.AllFields &^ driver.Fields(driver.FieldLastActivityAt),
		Filters:     c.filters,
	}
	if c.cfg.Paging == PagingIndex {
		d.Paging = driver.PagingOffset
	}
	return d
}

// Discovered returns what paging auto learnt from the server's
// /ServiceProviderConfig, and whether it has (driver.Discoverer).
func (c *Client) Discovered() (driver.Discovery, bool) {
	d, ok := c.discovered()
	return d.Discovery, ok
}

func (c *Client) discovered() (discovery, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.found == nil {
		return discovery{}, false
	}
	return *c.found, true
}

// Cursors. A cursor dirgate hands out names the wire method, so that an
// index cursor is never sent as a server cursor:
//
//	i<startIndex>            index paging, from that 1-based index
//	c<count>.<server cursor> RFC 9865 paging, continuing with that count
//
// RFC 9865 lets a server refuse a count that differs from that of the
// query's first page (invalidCount), so the count goes with the cursor.

// ListUsers makes one request to {baseURL}/Users (or /Users/.search).
func (c *Client) ListUsers(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	page, err := c.list(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("scim: list users: %w", err)
	}
	return page, nil
}

func (c *Client) list(ctx context.Context, req driver.ListRequest) (*driver.ListPage, error) {
	wire := c.cfg.Paging
	if wire == PagingAuto {
		d, err := c.discover(ctx)
		if err != nil {
			return nil, err
		}
		wire = d.Paging
	}
	filter, err := c.mapping.Filter(req.Filter, c.filters)
	if err != nil {
		return nil, err
	}
	if filter != "" {
		if d, ok := c.discovered(); ok && !d.filtering {
			return nil, fmt.Errorf("%w: the server says it does not filter (filter.supported is false): give this provider filters: []", driver.ErrUnavailable)
		}
	}
	// A Limit of 0 asks only for the total: ask for one user, which tells
	// an honest total from one that counts only the page.
	count := max(req.Limit, 1)
	q := query{filter: filter, count: count}
	switch {
	case c.cfg.Paging == PagingIndex:
		q.start = max(req.Offset, 0) + 1
	case req.Cursor == "" && wire == PagingIndex:
		q.start = 1
	case req.Cursor == "":
		q.cursor = new(string)
	case req.Cursor[0] == 'i' && wire == PagingIndex:
		n, err := strconv.Atoi(req.Cursor[1:])
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: a cursor dirgate did not make", driver.ErrBadResponse)
		}
		q.start = n
	case req.Cursor[0] == 'c' && wire == PagingCursor:
		n, tok, ok := strings.Cut(req.Cursor[1:], ".")
		cn, err := strconv.Atoi(n)
		if !ok || err != nil || cn < 1 || cn > MaxPageSize {
			return nil, fmt.Errorf("%w: a cursor dirgate did not make", driver.ErrBadResponse)
		}
		q.count, q.cursor = cn, &tok
	default:
		return nil, fmt.Errorf("%w: a cursor of another paging method (the server's configuration changed): restart the walk", driver.ErrBadResponse)
	}
	p, err := c.send(ctx, q)
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{Users: p.Users, Total: p.TotalResults}
	switch {
	case c.cfg.Paging == PagingIndex:
		if err := checkIndex(q, p); err != nil {
			return nil, err
		}
		if p.TotalResults < 0 {
			return nil, fmt.Errorf("%w: no totalResults, which paging index needs: set paging auto", driver.ErrBadResponse)
		}
		if len(p.Users) > 0 && p.TotalResults < q.start-1+len(p.Users) {
			return nil, fmt.Errorf("%w: a totalResults smaller than the users listed (the server counts only the page?): set paging auto", driver.ErrBadResponse)
		}
	case wire == PagingIndex:
		if err := checkIndex(q, p); err != nil {
			return nil, err
		}
		seen := q.start - 1 + len(p.Users)
		page.Total = plausibleTotal(p, q.start-1, q.start == 1)
		// Go on until an empty page, unless the total says this is the
		// end; a total equal to the page might count only the page.
		t := p.TotalResults
		if len(p.Users) > 0 && !(t >= 0 && seen >= t && t != len(p.Users)) {
			page.NextCursor = "i" + strconv.Itoa(seen+1)
		}
	default:
		first := q.cursor == nil || *q.cursor == ""
		before := -1 // unknown after the first page
		if first {
			before = 0
		}
		page.Total = plausibleTotal(p, before, first)
		if p.NextCursor != "" {
			if strings.Trim(p.NextCursor, unreserved) != "" {
				return nil, fmt.Errorf("%w: a nextCursor with characters RFC 9865 does not allow", driver.ErrBadResponse)
			}
			page.NextCursor = "c" + strconv.Itoa(q.count) + "." + p.NextCursor
		} else if t := p.TotalResults; t > len(p.Users) && len(p.Users) == q.count && q.cursor != nil && *q.cursor == "" {
			// A full first page, fewer users than the total, and no
			// cursor: the server does not page by cursor.
			return nil, fmt.Errorf("%w: a full page without nextCursor, short of totalResults: the server does not page by cursor; set paging index or auto", driver.ErrBadResponse)
		}
	}
	if req.Limit == 0 {
		page.Users = nil
	}
	return page, nil
}

// unreserved are the characters RFC 9865 allows in a cursor (RFC 3986
// §2.3).
const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// checkIndex checks that an index-paged answer starts where it was asked
// to: a server that ignores startIndex would serve the first page again
// and again.
func checkIndex(q query, p *Page) error {
	if p.StartIndex > 0 && p.StartIndex != q.start && len(p.Users) > 0 {
		return fmt.Errorf("%w: asked for startIndex %d, the server answered from %d", driver.ErrBadResponse, q.start, p.StartIndex)
	}
	return nil
}

// plausibleTotal returns the server's total when it cannot be a count of
// the page alone (some servers send that): a total larger than the page,
// and no smaller than the users before it and in it (before: -1 when not
// known), or zero for an empty first page; -1 otherwise, and the portable
// layer counts.
func plausibleTotal(p *Page, before int, first bool) int {
	t, n := p.TotalResults, len(p.Users)
	switch {
	case t > n && (before < 0 || t >= before+n):
		return t
	case t == 0 && n == 0 && first:
		return 0
	}
	return -1
}

// query is one list request's parameters.
type query struct {
	filter string
	count  int
	start  int     // index paging: the 1-based startIndex; 0: none
	cursor *string // cursor paging: the server's cursor, "" for the first page; nil: none
}

// send makes the list request of q.
func (c *Client) send(ctx context.Context, q query) (*Page, error) {
	var page *Page
	err := c.do(ctx, c.http.Limit(q.count), func() (*http.Request, error) { return c.request(ctx, q) }, func(body []byte) (err error) {
		page, err = c.mapping.DecodeList(body)
		return err
	})
	return page, err
}

// do sends the request build makes, with a token, renewing an issued
// token once if the server refuses it, and hands the body of a 200 answer
// to ok; it classifies the other answers.
func (c *Client) do(ctx context.Context, limit int64, build func() (*http.Request, error), ok func(body []byte) error) error {
	for renewed := false; ; renewed = true {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		req, err := build()
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok.Reveal())
		refused := false
		err = c.http.Do(ctx, req, limit, func(r *vendorhttp.Response) error {
			switch s := r.Status; {
			case s == http.StatusOK:
				return ok(r.Body)
			case s == http.StatusUnauthorized && c.tokens != nil && !renewed:
				refused = true
				return nil
			}
			return Classify(r.Status, r.Header, c.http.Now(), r.Body)
		})
		if err != nil || !refused {
			return err
		}
		c.tokens.Invalidate(tok)
	}
}

// request builds the HTTP request of q.
func (c *Client) request(ctx context.Context, q query) (*http.Request, error) {
	if c.cfg.Search && q.filter != "" {
		body := map[string]any{"schemas": []string{SearchRequestSchema}, "filter": q.filter, "count": q.count}
		if q.start > 0 {
			body["startIndex"] = q.start
		}
		if q.cursor != nil {
			body["cursor"] = *q.cursor
		}
		b, _ := json.Marshal(body)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/Users/.search", bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: an unusable baseURL", driver.ErrBadResponse)
		}
		req.Header.Set("Content-Type", scimContentType)
		req.Header.Set("Accept", scimContentType+", application/json")
		return req, nil
	}
	v := url.Values{}
	if q.filter != "" {
		v.Set("filter", q.filter)
	}
	v.Set("count", strconv.Itoa(q.count))
	if q.start > 0 {
		v.Set("startIndex", strconv.Itoa(q.start))
	}
	raw := v.Encode()
	if q.cursor != nil {
		// An empty cursor asks for cursor paging from the first page
		// (RFC 9865 §2).
		raw += "&cursor=" + url.QueryEscape(*q.cursor)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+"/Users?"+raw, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: an unusable baseURL", driver.ErrBadResponse)
	}
	req.Header.Set("Accept", scimContentType+", application/json")
	return req, nil
}

// token returns the bearer token to send.
func (c *Client) token(ctx context.Context) (vendorhttp.Secret, error) {
	if c.tokens == nil {
		return c.cfg.Token, nil
	}
	return c.tokens.Token(ctx)
}

// clientCredentials gets a token by the client-credentials grant.
func (c *Client) clientCredentials(ctx context.Context) (vendorhttp.Token, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return vendorhttp.Token{}, fmt.Errorf("scim: token: %w: an unusable tokenURL", driver.ErrBadResponse)
	}
	// RFC 6749 §2.3.1: the credentials form-encoded, then in Basic.
	req.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret.Reveal()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	var tok vendorhttp.Token
	err = c.http.Do(ctx, req, c.http.Limit(1), func(r *vendorhttp.Response) error {
		switch {
		case r.Status == http.StatusBadRequest || r.Status == http.StatusUnauthorized:
			// RFC 6749 §5.2: the client or the grant was refused.
			return fmt.Errorf("%w: the token endpoint refused the client credentials (HTTP %d)", driver.ErrAuth, r.Status)
		case r.Status != http.StatusOK:
			return vendorhttp.StatusError(r.Status, r.Header, c.http.Now())
		}
		var v struct {
			AccessToken string         `json:"access_token"`
			TokenType   string         `json:"token_type"`
			ExpiresIn   vendorhttp.Int `json:"expires_in"`
		}
		if json.Unmarshal(r.Body, &v) != nil || v.AccessToken == "" {
			return fmt.Errorf("%w: a token answer without access_token", driver.ErrBadResponse)
		}
		if v.TokenType != "" && !strings.EqualFold(v.TokenType, "bearer") {
			return fmt.Errorf("%w: a token of type %.20q, not a bearer token", driver.ErrBadResponse, v.TokenType)
		}
		tok.Value = vendorhttp.NewSecret(v.AccessToken)
		if v.ExpiresIn.Set && v.ExpiresIn.N > 0 {
			tok.Expiry = c.http.Now().Add(time.Duration(v.ExpiresIn.N) * time.Second)
		}
		return nil
	})
	if err != nil {
		return vendorhttp.Token{}, fmt.Errorf("scim: token: %w", err)
	}
	return tok, nil
}

// discover reads /ServiceProviderConfig once (again after a failure), for
// paging auto. However many callers wait, one request is made.
func (c *Client) discover(ctx context.Context) (discovery, error) {
	if d, ok := c.discovered(); ok {
		return d, nil
	}
	ch := c.flight.DoChan("", func() (any, error) {
		if d, ok := c.discovered(); ok {
			return d, nil
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		cfg, err := c.serviceProviderConfig(rctx)
		if err != nil {
			return nil, fmt.Errorf("reading /ServiceProviderConfig for paging auto: %w", err)
		}
		d := discovery{Discovery: driver.Discovery{Paging: PagingIndex, At: c.http.Now()}, filtering: cfg.FilterSupported}
		var offered []string
		if pg := cfg.Pagination; pg == nil {
			offered = append(offered, "index paging (no pagination settings: a server from before RFC 9865)")
		} else {
			switch {
			case pg.Cursor && pg.Index && pg.DefaultMethod != "":
				offered = append(offered, "cursor and index paging (by default "+pg.DefaultMethod+")")
			case pg.Cursor && pg.Index:
				offered = append(offered, "cursor and index paging")
			case pg.Cursor:
				offered = append(offered, "cursor paging")
			case pg.Index:
				offered = append(offered, "index paging")
			default:
				offered = append(offered, "no paging method (index assumed)")
			}
			if pg.Cursor {
				d.Paging = PagingCursor
			}
			if pg.MaxPageSize > 0 {
				offered = append(offered, "pages of at most "+strconv.Itoa(pg.MaxPageSize))
			}
		}
		if cfg.FilterSupported {
			offered = append(offered, "filters")
		} else {
			offered = append(offered, "no filters")
		}
		d.Offered = strings.Join(offered, ", ")
		c.mu.Lock()
		c.found = &d
		c.mu.Unlock()
		return d, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return discovery{}, r.Err
		}
		return r.Val.(discovery), nil
	case <-ctx.Done():
		return discovery{}, fmt.Errorf("%w: waiting for /ServiceProviderConfig: %w", driver.ErrUnavailable, ctx.Err())
	}
}

// serviceProviderConfig reads {baseURL}/ServiceProviderConfig.
func (c *Client) serviceProviderConfig(ctx context.Context) (*ServiceProviderConfig, error) {
	var cfg *ServiceProviderConfig
	err := c.do(ctx, c.http.Limit(1), func() (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.BaseURL+"/ServiceProviderConfig", nil)
		if err != nil {
			return nil, fmt.Errorf("%w: an unusable baseURL", driver.ErrBadResponse)
		}
		req.Header.Set("Accept", scimContentType+", application/json")
		return req, nil
	}, func(body []byte) (err error) {
		cfg, err = DecodeServiceProviderConfig(body)
		return err
	})
	return cfg, err
}

var (
	_ driver.Provider   = (*Client)(nil)
	_ driver.Discoverer = (*Client)(nil)
)
