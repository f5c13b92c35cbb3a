package vendorhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// TestSecretNeverPrints: a Secret shows as [redacted] however it is
// printed, logged or marshalled, so it cannot reach a log line or an
// error by accident; its text is reachable only through Reveal.
func TestSecretNeverPrints(t *testing.T) {
	s := vendorhttp.NewSecret("t0p-s3cret-value")
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(struct{ S vendorhttp.Secret }{s})
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ S vendorhttp.Secret }{s}), fmt.Errorf("wrapped: %v", s).Error(),
		logs.String(), string(j),
	} {
		if strings.Contains(out, "t0p") || !strings.Contains(out, "[redacted]") {
			t.Errorf("printed as %q", out)
		}
	}
	if s.Reveal() != "t0p-s3cret-value" {
		t.Error("Reveal lost the text")
	}
	var d vendorhttp.Secret
	if err := d.UnmarshalText([]byte(" from-config \n")); err != nil || d.Reveal() != "from-config" {
		t.Errorf("UnmarshalText = %q, %v", d.Reveal(), err)
	}
	if err := vendorhttp.NewSecret("t").Check("clientSecret"); err == nil || !strings.Contains(err.Error(), "clientSecret is too short") || strings.Contains(err.Error(), ": t") {
		t.Errorf("Check(t) = %v, want an error naming the key, not the value", err)
	}
}

func TestStatusError(t *testing.T) {
	now := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	h := http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}
	for _, tt := range []struct {
		status int
		is     error
		temp   bool
		retry  time.Duration
	}{
		{429, driver.ErrRateLimited, false, 90 * time.Second},
		{503, driver.ErrUnavailable, true, 90 * time.Second},
		{502, driver.ErrUnavailable, true, 90 * time.Second},
		{504, driver.ErrUnavailable, true, 90 * time.Second},
		{500, driver.ErrUnavailable, false, 0},
		{404, driver.ErrUnavailable, false, 0},
		{401, driver.ErrAuth, false, 0},
		{403, driver.ErrAuth, false, 0},
		{422, driver.ErrBadResponse, false, 0},
		{302, driver.ErrBadResponse, false, 0},
	} {
		err := vendorhttp.StatusError(tt.status, h, now)
		var te *driver.TemporaryError
		var rl *driver.RateLimitError
		got := time.Duration(0)
		if errors.As(err, &te) {
			got = te.RetryAfter
		} else if errors.As(err, &rl) {
			got = rl.RetryAfter
		}
		if !errors.Is(err, tt.is) || errors.As(err, &te) != tt.temp || got != tt.retry {
			t.Errorf("StatusError(%d) = %v (retry after %v), want %v, temporary %t, retry after %v", tt.status, err, got, tt.is, tt.temp, tt.retry)
		}
	}
	for give, want := range map[string]time.Duration{"7": 7 * time.Second, "0": 0, "-3": 0, "soon": 0, "": 0,
		now.Add(-time.Minute).Format(http.TimeFormat): 0} {
		if got := vendorhttp.RetryAfter(http.Header{"Retry-After": {give}}, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", give, got, want)
		}
	}
}

// TestTransportError: a failed round trip is temporary unless the
// caller's context ended, and its URL loses the query string.
func TestTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c := vendorhttp.New(vendorhttp.Options{})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users?primaryemail=jane%40example.com", nil)
	err := c.Do(t.Context(), req, 1<<10, func(*vendorhttp.Response) error { return nil })
	var te *driver.TemporaryError
	if !errors.As(err, &te) || strings.Contains(err.Error(), "jane") || strings.Contains(err.Error(), "primaryemail") {
		t.Errorf("err = %v, want a temporary error without the query", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = c.Do(ctx, req, 1<<10, func(*vendorhttp.Response) error { return nil })
	if errors.As(err, &te) || !errors.Is(err, driver.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: err = %v, want a final ErrUnavailable", err)
	}
}

// TestBodyLimits: an answer is bounded by what its request asked for, and
// read whole or refused, never cut short silently; and the bytes held at
// once across requests are bounded.
func TestBodyLimits(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("chunked") {
			w.(http.Flusher).Flush() // no Content-Length
		}
		io.WriteString(w, big)
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{Ceiling: 1 << 20})
	if got := []int64{c.Limit(0), c.Limit(1), c.Limit(10), c.Limit(100), c.Limit(1000)}; got[0] != 1<<20 || got[1] != vendorhttp.DefaultFloor ||
		got[2] != vendorhttp.DefaultFloor || got[3] != 100*vendorhttp.DefaultPerUser || got[4] != 1<<20 {
		t.Errorf("limits = %v", got)
	}
	for _, q := range []string{"", "?chunked=1"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+q, nil)
		read := false
		err := c.Do(t.Context(), req, c.Limit(50), func(*vendorhttp.Response) error { read = true; return nil })
		if !errors.Is(err, driver.ErrBadResponse) || read {
			t.Errorf("%q: a %d-byte answer to a request for 50 users: %v, read %t; want a bad response, unread", q, len(big), err, read)
		}
		err = c.Do(t.Context(), req, c.Limit(100), func(r *vendorhttp.Response) error {
			if len(r.Body) != len(big) {
				return fmt.Errorf("read %d bytes", len(r.Body))
			}
			return nil
		})
		if err != nil {
			t.Errorf("%q: a %d-byte answer to a request for 100 users: %v", q, len(big), err)
		}
	}

	// A budget of 1 MiB, requests of 400 KiB: two at once, the third waits.
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		var inside, peak atomic.Int64
		rt := roundTrip(func(r *http.Request) (*http.Response, error) {
			n := inside.Add(1)
			defer inside.Add(-1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-gate
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
		})
		c := vendorhttp.New(vendorhttp.Options{HTTP: &http.Client{Transport: rt}, Bodies: vendorhttp.NewBodyBudget(1 << 20)})
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodGet, "http://vendor.test/", nil)
				if err := c.Do(t.Context(), req, c.Limit(100), func(*vendorhttp.Response) error { return nil }); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		close(gate)
		wg.Wait()
		if peak.Load() != 2 {
			t.Errorf("%d requests of 400 KiB held at once under a budget of 1 MiB, want 2", peak.Load())
		}
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestNoRedirect: a Client follows no redirect: requests carry
// credentials.
func TestNoRedirect(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	redirect := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	req, _ := http.NewRequest(http.MethodPost, redirect.URL, strings.NewReader("client_secret=s3cret"))
	err := vendorhttp.New(vendorhttp.Options{}).Do(t.Context(), req, 1<<10, func(r *vendorhttp.Response) error {
		return vendorhttp.StatusError(r.Status, r.Header, time.Now())
	})
	if !errors.Is(err, driver.ErrBadResponse) || elsewhere.Load() != 0 {
		t.Errorf("err = %v, %d requests elsewhere; want a bad response and none", err, elsewhere.Load())
	}
}

// TestTokenCache: callers share one renewal, which runs on a context
// detached from theirs (a caller that gives up does not fail the others),
// bounded by the timeout; tokens are renewed before they expire, and
// dropped when the vendor refuses them.
func TestTokenCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var renewals atomic.Int64
		gate := make(chan struct{})
		c := vendorhttp.NewTokenCache(func(ctx context.Context) (vendorhttp.Token, error) {
			n := renewals.Add(1)
			select {
			case <-gate:
			case <-ctx.Done():
				return vendorhttp.Token{}, ctx.Err()
			}
			return vendorhttp.Token{Value: vendorhttp.NewSecret(fmt.Sprintf("token-%d", n)), Expiry: time.Now().Add(time.Hour)}, nil
		}, vendorhttp.TokenOptions{Timeout: 30 * time.Second})

		impatient, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var got [20]string
		wg.Go(func() {
			if _, err := c.Token(impatient); !errors.Is(err, context.Canceled) {
				t.Errorf("the impatient caller: %v", err)
			}
		})
		for i := range got {
			wg.Go(func() {
				tok, err := c.Token(t.Context())
				if err != nil {
					t.Error(err)
				}
				got[i] = tok.Reveal()
			})
		}
		synctest.Wait()
		cancel() // one caller gives up; the renewal goes on
		synctest.Wait()
		close(gate)
		wg.Wait()
		for _, g := range got {
			if g != "token-1" {
				t.Fatalf("tokens %v, want token-1 for all: one renewal", got)
			}
		}
		time.Sleep(59*time.Minute + 30*time.Second) // within a minute of expiry
		if tok, _ := c.Token(t.Context()); tok.Reveal() != "token-2" {
			t.Errorf("near expiry: %s, want a renewed token", tok.Reveal())
		}
		c.Invalidate(vendorhttp.NewSecret("token-1")) // an old one: ignored
		if tok, _ := c.Token(t.Context()); tok.Reveal() != "token-2" {
			t.Errorf("after invalidating an old token: %s", tok.Reveal())
		}
		c.Invalidate(vendorhttp.NewSecret("token-2"))
		if tok, _ := c.Token(t.Context()); tok.Reveal() != "token-3" || renewals.Load() != 3 {
			t.Errorf("after invalidating the current token: %s, %d renewals", tok.Reveal(), renewals.Load())
		}
	})

	// A renewal that hangs ends at its timeout, not the caller's.
	synctest.Test(t, func(t *testing.T) {
		c := vendorhttp.NewTokenCache(func(ctx context.Context) (vendorhttp.Token, error) {
			if !vendorhttp.IsTokenRequest((&http.Request{}).WithContext(ctx)) {
				t.Error("the renewal's context is not marked for token requests")
			}
			<-ctx.Done()
			return vendorhttp.Token{}, fmt.Errorf("%w: %w", driver.ErrUnavailable, ctx.Err())
		}, vendorhttp.TokenOptions{Timeout: 5 * time.Second})
		start := time.Now()
		_, err := c.Token(context.WithoutCancel(t.Context()))
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 5*time.Second {
			t.Errorf("err = %v after %v, want the 5s timeout", err, time.Since(start))
		}
	})
}

func TestTokenStores(t *testing.T) {
	path := t.TempDir() + "/token.json"
	for _, s := range []vendorhttp.TokenStore{&vendorhttp.MemoryStore{}, vendorhttp.FileStore{Path: path}} {
		if b, err := s.Load(t.Context()); err != nil || b != nil {
			t.Errorf("%T: empty Load = %q, %v", s, b, err)
		}
		if err := s.Save(t.Context(), []byte("refresh")); err != nil {
			t.Fatal(err)
		}
		if b, err := s.Load(t.Context()); err != nil || string(b) != "refresh" {
			t.Errorf("%T: Load = %q, %v", s, b, err)
		}
	}
}

// FuzzJSON: the tolerant scalars decode anything or refuse it; they never
// panic.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`"x"`, `12`, `1e400`, `-0.5`, `true`, `null`, `[1,"a",null]`, `{"a":"b","c":1}`, `{"a":[1]}`, `"2024-01-01T00:00:00Z"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var (
			a vendorhttp.String
			b vendorhttp.Int
			c vendorhttp.Bool
			d vendorhttp.Time
			e vendorhttp.Strings
		)
		for _, v := range []any{&a, &b, &c, &d, &e} {
			json.Unmarshal([]byte(s), v)
		}
	})
}
