package vendorhttp

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/dirgate/dirgate/providers/driver"
)

// Body limits: what one answer may hold, by the users it was asked for.
const (
	// DefaultPerUser is the allowance per user asked for: about eight
	// times a Concur user's JSON.
	DefaultPerUser = 4 << 10
	// DefaultFloor is the least any answer may hold (token answers,
	// errors, an answer asked only for a total).
	DefaultFloor = 64 << 10
	// DefaultCeiling is the most any one answer may hold: a whole
	// directory's, when the vendor decides the page size.
	DefaultCeiling = 32 << 20
	// DefaultInFlight bounds the answer bytes held at once by every
	// request of every provider of a Client's BodyBudget.
	DefaultInFlight = 128 << 20
)

// BodyBudget bounds the bytes of vendor answers held at once, across
// every request of every provider that shares it. A request reserves its
// whole limit before it reads, and releases it once its answer is
// decoded.
type BodyBudget struct {
	sem *semaphore.Weighted
	max int64
}

// NewBodyBudget returns a budget of max bytes (DefaultInFlight when max is
// not positive).
func NewBodyBudget(max int64) *BodyBudget {
	if max <= 0 {
		max = DefaultInFlight
	}
	return &BodyBudget{sem: semaphore.NewWeighted(max), max: max}
}

// Max returns the budget's size.
func (b *BodyBudget) Max() int64 { return b.max }

// Options configure a Client. The zero value is usable.
type Options struct {
	// HTTP is the client whose transport makes the requests (its
	// CheckRedirect is replaced: a Client follows no redirect). Nil means
	// a client on http.DefaultTransport. Its Timeout should be zero: the
	// portable layer bounds each request.
	HTTP *http.Client
	// Now is the clock of Retry-After dates and token expiry; nil means
	// time.Now.
	Now func() time.Time
	// PerUser, Floor and Ceiling size the limit of each answer (see
	// Limit); zero means the defaults.
	PerUser, Floor, Ceiling int64
	// Bodies is shared by every Client of a process, to bound the answer
	// bytes held at once; nil gives the Client one of its own.
	Bodies *BodyBudget
}

// Client sends an adapter's requests: it follows no redirect (requests
// carry credentials, and a vendor API that redirects is misconfigured),
// bounds every answer, and classifies failures.
type Client struct {
	hc                      *http.Client
	now                     func() time.Time
	perUser, floor, ceiling int64
	bodies                  *BodyBudget
	// buffers holds the *bytes.Buffer answers are read into: read decodes
	// an answer and keeps none of its bytes, so its buffer serves a next
	// one, and a page costs no growing of a fresh buffer.
	buffers sync.Pool
}

// maxPooled is the largest answer buffer kept for the next answer.
const maxPooled = 1 << 20

// New returns a Client.
func New(opts Options) *Client {
	hc := &http.Client{}
	if opts.HTTP != nil {
		cp := *opts.HTTP
		hc = &cp
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{hc: hc, now: opts.Now, perUser: opts.PerUser, floor: opts.Floor, ceiling: opts.Ceiling, bodies: opts.Bodies}
	if c.now == nil {
		c.now = time.Now
	}
	if c.perUser <= 0 {
		c.perUser = DefaultPerUser
	}
	if c.floor <= 0 {
		c.floor = DefaultFloor
	}
	if c.ceiling <= 0 {
		c.ceiling = DefaultCeiling
	}
	c.floor = min(c.floor, c.ceiling)
	if c.bodies == nil {
		c.bodies = NewBodyBudget(0)
	}
	return c
}

// Now returns the Client's clock.
func (c *Client) Now() time.Time { return c.now() }

// Limit is the most bytes an answer to a request for users users may hold:
// the per-user allowance times users, at least the floor and at most the
// ceiling. users <= 0 (a whole directory, whose size the vendor decides)
// gets the ceiling.
func (c *Client) Limit(users int) int64 {
	if users <= 0 {
		return c.ceiling
	}
	return min(max(int64(users)*c.perUser, c.floor), c.ceiling)
}

// Response is an answer read whole.
type Response struct {
	Status int
	Header http.Header
	// Body is valid until read returns: it is then read over by another
	// answer. Decode it; keep no slice of it.
	Body []byte
}

// Do sends req (made with ctx) and, when the answer's body fits in limit
// bytes, hands it to read; the bytes are held against the body budget
// until read returns, so read should decode and let go of them. Failures
// are classified: transport failures and a body cut short by the network
// as TransportError says, a body over limit as driver.ErrBadResponse. The
// status is not checked: read does (see StatusError).
func (c *Client) Do(ctx context.Context, req *http.Request, limit int64, read func(*Response) error) error {
	limit = min(max(limit, 1), c.bodies.max)
	if err := c.bodies.sem.Acquire(ctx, limit); err != nil {
		return fmt.Errorf("%w: %w", driver.ErrUnavailable, err)
	}
	defer c.bodies.sem.Release(limit)
	resp, err := c.hc.Do(req.WithContext(ctx))
	if err != nil {
		return TransportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return fmt.Errorf("%w: an answer of %d bytes, more than the %d this request allows", driver.ErrBadResponse, resp.ContentLength, limit)
	}
	buf, _ := c.buffers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooled {
			buf.Reset()
			c.buffers.Put(buf)
		}
	}()
	buf.Reset()
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, limit+1)); err != nil {
		return TransportError(ctx, fmt.Errorf("reading the answer: %w", err))
	}
	if int64(buf.Len()) > limit {
		return fmt.Errorf("%w: an answer of more than the %d bytes this request allows", driver.ErrBadResponse, limit)
	}
	return read(&Response{Status: resp.StatusCode, Header: resp.Header, Body: buf.Bytes()})
}

// Token request marking, so that the transport that counts vendor
// requests can tell token requests from API requests without knowing any
// vendor's paths.

type tokenKey struct{}

// ForToken returns ctx marked: requests made with it are token requests.
func ForToken(ctx context.Context) context.Context {
	return context.WithValue(ctx, tokenKey{}, true)
}

// IsTokenRequest reports whether r was made with a context from ForToken.
func IsTokenRequest(r *http.Request) bool {
	v, _ := r.Context().Value(tokenKey{}).(bool)
	return v
}

// Env is what dirgate hands every adapter it builds from its
// configuration.
type Env struct {
	// HTTP is the provider's client: its requests are counted, timed and
	// logged under the provider's key.
	HTTP *Client
	// Tokens keeps what the adapter must remember across restarts; nil
	// means the adapter's own default.
	Tokens TokenStore
}
