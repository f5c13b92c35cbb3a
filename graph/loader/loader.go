// Package loader holds the per-request dataloaders through which the
// resolvers look users up by id and by email, and companies by provider.
// The loaders only batch: how a provider is searched (one filtered request
// per key, or its cached whole directory and the index built once per
// refresh) is the portable layer's choice (providers.Source).
//
// Every GraphQL request gets fresh loaders (Middleware), so nothing is
// cached across requests or shared between callers; all the lookups of one
// provider in one request form one batch; and users the request already
// listed are primed into the loaders, so they are not fetched again. Both
// cost nothing until the request looks something up: most requests list
// users and look none up, so a provider's dataloaders are made, and the
// users listed handed to them, on its first lookup.
package loader

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// Wait is how long a loader collects keys before it runs a batch: long
// enough for sibling fields resolved at the same time to join, short
// enough not to matter next to a vendor call.
const Wait = 2 * time.Millisecond

// BatchCapacity bounds one batch. It is the largest page of the vendors
// (Concur's pre-release maximum); lookups one key a request run as many at
// a time as the provider's cap allows, whatever the batch's size.
const BatchCapacity = 1000

type ctxKey struct{}

// Middleware gives every request its own Loaders over dir, and makes it
// read each whole directory at most once (providers.WithRequest).
func Middleware(dir *providers.Directory, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := providers.WithRequest(r.Context())
		next.ServeHTTP(w, r.WithContext(With(ctx, New(dir))))
	})
}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// For returns the request's Loaders. Outside a request (in a test that
// calls resolvers directly) it returns nil.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(ctxKey{}).(*Loaders)
	return l
}

// Loaders are one request's dataloaders, one set per provider.
type Loaders struct {
	dir     *providers.Directory
	sources map[string]*source

	companyOnce sync.Once
	company     *dataloader.Loader[string, *driver.Company]

	mu       sync.Mutex
	reported map[string]bool
	// listed holds the pages of edges the request listed and has not yet
	// handed to the dataloaders.
	listed [][]providers.Edge
}

// FirstReport reports whether err is the first failure of its provider,
// with its code, in this request: a provider that fails under a page of
// users is then one error in the response (and one log line), not one per
// user.
func (l *Loaders) FirstReport(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return true
	}
	key := pe.Provider + "/" + string(pe.Code)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reported[key] {
		return false
	}
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	l.reported[key] = true
	return true
}

type source struct {
	s       *providers.Source
	byID    *dataloader.Loader[string, *driver.User]
	byEmail *dataloader.Loader[string, []driver.User]
}

// New returns fresh loaders over dir.
func New(dir *providers.Directory) *Loaders {
	return &Loaders{dir: dir}
}

// source returns the dataloaders of the provider with the key, or nil
// when there is none, after handing them every user the request has
// listed so far: a lookup never misses a user listed before it.
func (l *Loaders) source(ctx context.Context, key string) *source {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sources == nil {
		l.sources = map[string]*source{}
		for _, s := range l.dir.Sources() {
			l.sources[s.Key] = &source{s: s}
		}
	}
	src := l.sources[key]
	if src == nil {
		return nil
	}
	if len(l.listed) > 0 {
		l.primeListed(ctx)
	}
	if src.byID == nil {
		src.init()
	}
	return src
}

func (src *source) init() {
	s := src.s
	src.byID = dataloader.NewBatchedLoader(batch(s.UsersByID),
		dataloader.WithWait[string, *driver.User](Wait), dataloader.WithBatchCapacity[string, *driver.User](BatchCapacity))
	src.byEmail = dataloader.NewBatchedLoader(batch(s.UsersByEmail),
		dataloader.WithWait[string, []driver.User](Wait), dataloader.WithBatchCapacity[string, []driver.User](BatchCapacity))
}

// batch turns a lookup of the portable layer into a batch function.
func batch[V any](lookup func(context.Context, []string) ([]V, []error)) dataloader.BatchFunc[string, V] {
	return func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		vals, errs := lookup(ctx, keys)
		out := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			out[i] = &dataloader.Result[V]{Data: vals[i], Error: errs[i]}
		}
		return out
	}
}

// User returns the user with a native id in the provider with the key, or
// nil when there is none.
func (l *Loaders) User(ctx context.Context, key, id string) (*driver.User, error) {
	src := l.source(ctx, key)
	if src == nil {
		return nil, nil
	}
	u, err := src.byID.Load(ctx, id)()
	forgetTransient(ctx, src.byID, id, err)
	return u, err
}

// ByEmail returns the users of the provider with the key that have any of
// the normalised emails, in the order of the emails, without repeats. When
// some emails fail, the users of the others still come back, with the
// provider's error.
func (l *Loaders) ByEmail(ctx context.Context, key string, emails []string) ([]driver.User, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	src := l.source(ctx, key)
	if src == nil {
		return nil, nil
	}
	lists, errs := src.byEmail.LoadMany(ctx, emails)()
	var out []driver.User
	seen := map[string]bool{}
	if len(errs) == 0 {
		errs = make([]error, len(emails)) // LoadMany returns none when none failed
	}
	for i, list := range lists {
		forgetTransient(ctx, src.byEmail, emails[i], errs[i])
		for _, u := range list {
			if !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
	}
	for _, err := range errs {
		if err != nil {
			return out, err // every failure here is the one provider's
		}
	}
	return out, nil
}

// Company returns the company of the provider with the key.
func (l *Loaders) Company(ctx context.Context, key string) (*driver.Company, error) {
	l.companyOnce.Do(func() {
		l.company = dataloader.NewBatchedLoader(l.companies, dataloader.WithWait[string, *driver.Company](Wait))
	})
	c, err := l.company.Load(ctx, key)()
	forgetTransient(ctx, l.company, key, err)
	return c, err
}

// Listed records the users of a page the request listed, so that looking
// them up by id costs nothing, and, for providers searched one email at a
// time, neither does looking up their emails: a listed user's email is
// taken to name that user alone in its directory. The edges must not
// change after.
func (l *Loaders) Listed(edges []providers.Edge) {
	if len(edges) == 0 {
		return
	}
	l.mu.Lock()
	l.listed = append(l.listed, edges)
	l.mu.Unlock()
}

// primeListed hands the users listed so far to their providers'
// dataloaders. l.mu is held.
func (l *Loaders) primeListed(ctx context.Context) {
	byEmail := map[*source]map[string][]driver.User{}
	prime := func(src *source, u *driver.User) {
		if src.byID == nil {
			src.init()
		}
		src.byID.Prime(ctx, u.ID, u)
		if e := providers.NormalizeEmail(u.Email); e != "" && src.s.Searches(driver.FieldEmail) {
			if byEmail[src] == nil {
				byEmail[src] = map[string][]driver.User{}
			}
			byEmail[src][e] = append(byEmail[src][e], *u)
		}
	}
	for _, edges := range l.listed {
		for i := range edges {
			if src := l.sources[edges[i].Source.Key]; src != nil {
				prime(src, &edges[i].User)
			}
		}
	}
	l.listed = nil
	for src, emails := range byEmail {
		for e, list := range emails {
			src.byEmail.Prime(ctx, e, list)
		}
	}
}

func (l *Loaders) companies(ctx context.Context, keys []string) []*dataloader.Result[*driver.Company] {
	out := make([]*dataloader.Result[*driver.Company], len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		out[i] = &dataloader.Result[*driver.Company]{}
		s := l.dir.Source(key)
		if s == nil {
			continue
		}
		wg.Go(func() { out[i].Data, out[i].Error = s.Company(ctx) })
	}
	wg.Wait()
	return out
}

// forgetTransient drops a failed lookup from the loader's memory when the
// failure may pass (the vendor was down or rate limited), so a later
// lookup in the same request asks again. (dataloader v7.2's
// NewSkipCacheError does this; the module proxy serves v7.1.)
func forgetTransient[V any](ctx context.Context, l *dataloader.Loader[string, V], key string, err error) {
	var pe *providers.Error
	if errors.As(err, &pe) && (pe.Code == errcode.ProviderUnavailable || pe.Code == errcode.ProviderRateLimited) {
		l.Clear(ctx, key)
	}
}
