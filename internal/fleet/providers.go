package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// The fleet's stores, as the providers use them: a whole-directory
// provider's copy, refresh lease and rate budget (providers.SnapshotStore
// and providers.Shared), and an adapter's tokens
// (vendorhttp.SharedTokenStore).

// Directory is the state of one whole-directory provider that the
// replicas share. It keeps a copy of its own, which it serves while it is
// fresh without asking Redis, and while Redis is away.
type Directory struct {
	r    *Redis
	key  string
	keep time.Duration
	now  func() time.Time

	mu    sync.Mutex
	local *providers.Snapshot
}

var (
	_ providers.SnapshotStore = (*Directory)(nil)
	_ providers.Shared        = (*Directory)(nil)
)

// Directory returns the shared state of the provider with key, on clock
// now (nil: time.Now). A copy is kept in Redis for keep after it was
// fetched (the provider's maxStale, at least).
func (r *Redis) Directory(key string, keep time.Duration, now func() time.Time) *Directory {
	if now == nil {
		now = time.Now
	}
	return &Directory{r: r, key: key, keep: keep, now: now}
}

// wireDirectory is a copy as it is stored (then compressed and sealed).
type wireDirectory struct {
	Users   []driver.User   `json:"users"`
	Company *driver.Company `json:"company,omitempty"`
}

// Get implements providers.SnapshotStore: the replica's own copy while it
// is fresh; after that, a newer one from Redis if another replica stored
// one; else (nothing newer, or Redis away) the replica's own.
func (d *Directory) Get(ctx context.Context) (*providers.Snapshot, error) {
	d.mu.Lock()
	local := d.local
	d.mu.Unlock()
	if local != nil && d.now().Before(local.RefreshAt) {
		return local, nil
	}
	var after time.Time
	if local != nil {
		after = local.Fetched
	}
	s, err := d.r.Snapshots().Load(ctx, d.key, after)
	if err != nil || s == nil {
		if err != nil && !errors.Is(err, ErrUnavailable) {
			d.r.log.WarnContext(ctx, "a directory in Redis could not be read; using this replica's copy", "provider", d.key, "err", err)
		}
		return local, nil
	}
	var w wireDirectory
	if err := json.Unmarshal(s.Data, &w); err != nil {
		d.r.log.WarnContext(ctx, "a directory in Redis could not be decoded; using this replica's copy", "provider", d.key)
		return local, nil
	}
	sn := &providers.Snapshot{Users: w.Users, Company: w.Company, Fetched: s.Fetched, RefreshAt: s.RefreshAt}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.local == nil || sn.Fetched.After(d.local.Fetched) {
		d.local = sn
	}
	return d.local, nil
}

// Put implements providers.SnapshotStore: the copy becomes the replica's
// own, and goes to Redis for the others.
func (d *Directory) Put(ctx context.Context, sn *providers.Snapshot) error {
	d.mu.Lock()
	d.local = sn
	d.mu.Unlock()
	data, err := json.Marshal(wireDirectory{Users: sn.Users, Company: sn.Company})
	if err != nil {
		return err
	}
	keep := max(d.keep, sn.RefreshAt.Sub(sn.Fetched))
	err = d.r.Snapshots().Store(ctx, d.key, &Snapshot{Data: data, Fetched: sn.Fetched, RefreshAt: sn.RefreshAt}, keep)
	if errors.Is(err, ErrUnavailable) {
		return nil // the replica keeps its copy; Redis's state is reported
	}
	return err
}

// Lease implements providers.Shared. While Redis is away, it grants: the
// replica refreshes its own copy.
func (d *Directory) Lease(ctx context.Context, ttl time.Duration) (func(), bool) {
	l, err := d.r.Locks().TryLock(ctx, "dir:"+d.key, ttl)
	switch {
	case err != nil:
		return func() {}, true
	case l == nil:
		return nil, false
	}
	return func() { l.Release(ctx) }, true
}

// Budget implements providers.Shared.
func (d *Directory) Budget(ctx context.Context) (providers.SharedBudget, bool) {
	b, ok, err := d.r.Rates().Load(ctx, d.key)
	return b, ok && err == nil
}

// Record implements providers.Shared.
func (d *Directory) Record(ctx context.Context, b providers.SharedBudget) {
	d.r.Rates().Record(ctx, d.key, b)
}

// Sharing implements providers.Shared.
func (d *Directory) Sharing() bool { return d.r.Status().State == StateOK }

// tokenKeep is how long a token outlives its last renewal in Redis:
// longer than Concur's refresh tokens live (six months).
const tokenKeep = 200 * 24 * time.Hour

// Tokens is an adapter's token store shared by the replicas: the sealed
// Secret name in Redis, renewed once across them.
type Tokens struct {
	r    *Redis
	s    Secrets
	name string

	mu   sync.Mutex
	last Secret // what this replica last read or stored
}

var _ vendorhttp.SharedTokenStore = (*Tokens)(nil)

// Tokens returns the token store of the provider with key.
func (r *Redis) Tokens(key string) *Tokens {
	return &Tokens{r: r, s: r.Secrets(0), name: "token:" + key}
}

// Load implements vendorhttp.TokenStore.
func (t *Tokens) Load(ctx context.Context) ([]byte, error) {
	s, err := t.s.Load(ctx, t.name)
	if err != nil {
		return nil, err
	}
	t.remember(s)
	return s.Value, nil
}

// Save implements vendorhttp.TokenStore, for an adapter that does not
// renew through Renew: it replaces what is stored, unless another replica
// stored something newer since this one last read it.
func (t *Tokens) Save(ctx context.Context, data []byte) error {
	_, err := t.Renew(ctx, t.lastValue(), func(context.Context, []byte, bool) ([]byte, error) { return data, nil })
	return err
}

// Renew implements vendorhttp.SharedTokenStore.
func (t *Tokens) Renew(ctx context.Context, seen []byte, renew func(ctx context.Context, stored []byte, reusable bool) ([]byte, error)) ([]byte, error) {
	t.mu.Lock()
	prev := Secret{Value: seen}
	if seen != nil && bytes.Equal(seen, t.last.Value) {
		prev = t.last
	}
	t.mu.Unlock()
	s, err := t.s.Renew(ctx, t.name, prev, func(ctx context.Context, cur Secret) ([]byte, time.Duration, error) {
		v, err := renew(ctx, cur.Value, !cur.Claimed)
		return v, tokenKeep, err
	})
	if s.Value != nil {
		t.remember(s)
	}
	if err != nil && s.Value != nil {
		// Renewed, but not stored: this replica goes on with it; the
		// others will renew with what they hold.
		t.r.log.WarnContext(ctx, "a renewed token could not be stored for the other replicas", "store", t.name, "err", err)
		return s.Value, nil
	}
	return s.Value, err
}

func (t *Tokens) remember(s Secret) {
	t.mu.Lock()
	t.last = s
	t.mu.Unlock()
}

func (t *Tokens) lastValue() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last.Value
}
