package vendorhttp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dirgate/dirgate/providers/driver"
)

// Token is an access token and when it expires (zero: unknown, kept until
// the vendor refuses it).
type Token struct {
	Value  Secret
	Expiry time.Time
}

// DefaultTokenTimeout bounds one renewal when TokenOptions.Timeout is
// zero.
const DefaultTokenTimeout = 30 * time.Second

// TokenOptions configure a TokenCache.
type TokenOptions struct {
	// Timeout bounds one renewal. The renewal is shared by every caller
	// waiting for it, so it runs on a context detached from theirs (it
	// keeps their values, not their cancellation), bounded by Timeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// TokenCache holds an access token and renews it shortly before it
// expires: a quarter of its lifetime early, at most a minute. However
// many callers need a new token at once, one renewal runs. It is safe for
// concurrent use.
type TokenCache struct {
	renew   func(ctx context.Context) (Token, error)
	timeout time.Duration
	now     func() time.Time
	flight  singleflight.Group

	mu      sync.Mutex
	tok     Token
	fetched time.Time
}

// NewTokenCache returns a cache that gets tokens from renew. renew's
// context is marked ForToken.
func NewTokenCache(renew func(ctx context.Context) (Token, error), opts TokenOptions) *TokenCache {
	c := &TokenCache{renew: renew, timeout: opts.Timeout, now: opts.Now}
	if c.timeout <= 0 {
		c.timeout = DefaultTokenTimeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Token returns a token that is not about to expire, renewing it when
// needed. It returns when ctx ends, though the renewal goes on for the
// others waiting.
func (c *TokenCache) Token(ctx context.Context) (Secret, error) {
	if tok, ok := c.current(); ok {
		return tok, nil
	}
	ch := c.flight.DoChan("", func() (any, error) {
		if tok, ok := c.current(); ok {
			return tok, nil // renewed by a flight that just ended
		}
		rctx, cancel := context.WithTimeout(ForToken(context.WithoutCancel(ctx)), c.timeout)
		defer cancel()
		start := c.now()
		tok, err := c.renew(rctx)
		if err != nil {
			return nil, err
		}
		if tok.Value.IsZero() {
			return nil, fmt.Errorf("%w: a token answer without a token", driver.ErrBadResponse)
		}
		c.mu.Lock()
		c.tok, c.fetched = tok, start
		c.mu.Unlock()
		return tok.Value, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Secret{}, r.Err
		}
		return r.Val.(Secret), nil
	case <-ctx.Done():
		return Secret{}, fmt.Errorf("%w: waiting for a token: %w", driver.ErrUnavailable, ctx.Err())
	}
}

// current returns the cached token while it is fresh.
func (c *TokenCache) current() (Secret, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Value.IsZero() {
		return Secret{}, false
	}
	if c.tok.Expiry.IsZero() {
		return c.tok.Value, true
	}
	early := max(min(c.tok.Expiry.Sub(c.fetched)/4, time.Minute), 0)
	if !c.now().Before(c.tok.Expiry.Add(-early)) {
		return Secret{}, false
	}
	return c.tok.Value, true
}

// Invalidate drops the cached token if it is still stale (the vendor
// refused it), so the next Token renews it.
func (c *TokenCache) Invalidate(stale Secret) {
	c.mu.Lock()
	if c.tok.Value.Equal(stale) {
		c.tok = Token{}
	}
	c.mu.Unlock()
}

// TokenStore keeps what an adapter must remember across restarts (Concur's
// refresh token and geolocation), as an opaque blob. The default is a
// file; a store shared by replicas (Redis) implements the same interface.
type TokenStore interface {
	// Load returns what was saved, or nil when nothing was.
	Load(ctx context.Context) ([]byte, error)
	// Save replaces what was saved.
	Save(ctx context.Context, data []byte) error
}

// SharedTokenStore is a TokenStore that several replicas of dirgate share
// (in Redis). An adapter that finds its store is one renews through it:
// one replica at a time renews, and stores the result before another may;
// the others take what it stored, so that a credential the vendor rotates
// on renewal is never used twice.
type SharedTokenStore interface {
	TokenStore
	// Renew returns what is stored when it is newer than seen (another
	// replica renewed since this one read seen; with seen nil, anything
	// stored). Else it calls renew with what is stored (nil when nothing
	// is) and whether its refresh credential may be used (false when a
	// renewal that may have used it never finished), on one replica at a
	// time, stores what renew returns, and returns it. A renewal that
	// succeeded but could not be stored is returned with no error (the
	// store reports it).
	Renew(ctx context.Context, seen []byte, renew func(ctx context.Context, stored []byte, reusable bool) ([]byte, error)) ([]byte, error)
}

// MemoryStore is a TokenStore in memory: nothing outlives the process.
type MemoryStore struct {
	mu   sync.Mutex
	data []byte
}

// Load implements TokenStore.
func (m *MemoryStore) Load(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...), nil
}

// Save implements TokenStore.
func (m *MemoryStore) Save(_ context.Context, data []byte) error {
	m.mu.Lock()
	m.data = append([]byte(nil), data...)
	m.mu.Unlock()
	return nil
}

// FileStore is a TokenStore in a file, written atomically with mode 0600.
type FileStore struct{ Path string }

// Load implements TokenStore; a missing file is nothing saved.
func (f FileStore) Load(context.Context) ([]byte, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read token store: %w", err)
	}
	return b, nil
}

// Save implements TokenStore: it writes a temporary file (mode 0600)
// beside Path and renames it over Path.
func (f FileStore) Save(_ context.Context, data []byte) error {
	if err := writeFileAtomic(f.Path, data); err != nil {
		return fmt.Errorf("save token store: %w", err)
	}
	return nil
}

func writeFileAtomic(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
