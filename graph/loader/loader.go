// Package loader holds the per-request dataloaders through which the
// resolvers look users up by id and by email, and companies by provider.
//
// Every GraphQL request gets fresh loaders (Middleware), so nothing is
// cached across requests or shared between callers, and all the lookups of
// one provider in one request form one batch:
//
//   - a whole-directory provider (getbill) answers every batch from one
//     directory fetch per request;
//   - a provider whose filters take one value (Concur's id and
//     primaryemail) gets bounded, deduplicated, concurrent single-value
//     calls;
//   - users the request already listed are primed into the loaders, so
//     they are not fetched again.
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
)

// Wait is how long a loader collects keys before it runs a batch: long
// enough for sibling fields resolved at the same time to join, short
// enough not to matter next to a vendor call.
const Wait = 2 * time.Millisecond

// BatchCapacity bounds one batch. It is the largest page of the vendors
// (Concur's pre-release maximum); batches of single-value lookups run
// LookupConcurrency calls at a time whatever their size.
const BatchCapacity = 1000

type ctxKey struct{}

// Middleware gives every request its own Loaders over dir.
func Middleware(dir *providers.Directory, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(With(r.Context(), New(dir))))
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
	company *dataloader.Loader[string, *providers.Company]

	mu       sync.Mutex
	reported map[string]bool
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
	byID    *dataloader.Loader[string, *providers.User]
	byEmail *dataloader.Loader[string, []providers.User]
	// index is the request's one read of a whole directory.
	index func(context.Context) (*providers.Index, error)
}

// New returns fresh loaders over dir.
func New(dir *providers.Directory) *Loaders {
	l := &Loaders{dir: dir, sources: map[string]*source{}}
	for _, s := range dir.Sources() {
		src := &source{s: s}
		var mu sync.Mutex
		var idx *providers.Index
		src.index = func(ctx context.Context) (*providers.Index, error) {
			// Keep a good read for the request; after a failure, the next
			// batch asks again.
			mu.Lock()
			defer mu.Unlock()
			if idx == nil {
				users, err := s.All(ctx)
				if err != nil {
					return nil, err
				}
				idx = providers.NewIndex(users)
			}
			return idx, nil
		}
		src.byID = dataloader.NewBatchedLoader(src.usersByID,
			dataloader.WithWait[string, *providers.User](Wait), dataloader.WithBatchCapacity[string, *providers.User](BatchCapacity))
		src.byEmail = dataloader.NewBatchedLoader(src.usersByEmail,
			dataloader.WithWait[string, []providers.User](Wait), dataloader.WithBatchCapacity[string, []providers.User](BatchCapacity))
		l.sources[s.Key] = src
	}
	l.company = dataloader.NewBatchedLoader(l.companies, dataloader.WithWait[string, *providers.Company](Wait))
	return l
}

// User returns the user with a native id in the provider with the key, or
// nil when there is none.
func (l *Loaders) User(ctx context.Context, key, id string) (*providers.User, error) {
	src := l.sources[key]
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
func (l *Loaders) ByEmail(ctx context.Context, key string, emails []string) ([]providers.User, error) {
	src := l.sources[key]
	if src == nil || len(emails) == 0 {
		return nil, nil
	}
	lists, errs := src.byEmail.LoadMany(ctx, emails)()
	var out []providers.User
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
func (l *Loaders) Company(ctx context.Context, key string) (*providers.Company, error) {
	c, err := l.company.Load(ctx, key)()
	forgetTransient(ctx, l.company, key, err)
	return c, err
}

// Prime records users the request has listed, so that looking them up by
// id costs nothing, and, for providers that are searched one email at a
// time, neither does looking up their emails: a listed user's email is
// taken to name that user alone in its directory.
func (l *Loaders) Prime(ctx context.Context, key string, users []providers.User) {
	src := l.sources[key]
	if src == nil {
		return
	}
	byEmail := map[string][]providers.User{}
	for i := range users {
		u := users[i]
		src.byID.Prime(ctx, u.ID, &u)
		if e := providers.NormalizeEmail(u.Email); e != "" && src.s.CanFilter(providers.FieldEmail) {
			byEmail[e] = append(byEmail[e], u)
		}
	}
	for e, list := range byEmail {
		src.byEmail.Prime(ctx, e, list)
	}
}

func (src *source) usersByID(ctx context.Context, ids []string) []*dataloader.Result[*providers.User] {
	out := make([]*dataloader.Result[*providers.User], len(ids))
	if !src.s.CanFilter(providers.FieldID) {
		idx, err := src.index(ctx)
		for i, id := range ids {
			out[i] = &dataloader.Result[*providers.User]{Error: err}
			if err == nil {
				out[i].Data = idx.User(id)
			}
		}
		return out
	}
	lists, errs := src.s.FindEach(ctx, ids, func(id string) providers.Filter { return providers.Filter{ID: &id} }, 1)
	for i := range ids {
		out[i] = &dataloader.Result[*providers.User]{Error: errs[i]}
		if len(lists[i]) > 0 {
			out[i].Data = &lists[i][0]
		}
	}
	return out
}

// emailMatchesPerCall bounds the users one email may name in a provider
// searched one email at a time.
const emailMatchesPerCall = 10

func (src *source) usersByEmail(ctx context.Context, emails []string) []*dataloader.Result[[]providers.User] {
	out := make([]*dataloader.Result[[]providers.User], len(emails))
	if !src.s.CanFilter(providers.FieldEmail) {
		idx, err := src.index(ctx)
		for i, e := range emails {
			out[i] = &dataloader.Result[[]providers.User]{Error: err}
			if err == nil {
				out[i].Data = idx.ByEmail(e)
			}
		}
		return out
	}
	lists, errs := src.s.FindEach(ctx, emails, func(e string) providers.Filter { return providers.Filter{Email: &e} }, emailMatchesPerCall)
	for i := range emails {
		out[i] = &dataloader.Result[[]providers.User]{Data: lists[i], Error: errs[i]}
	}
	return out
}

func (l *Loaders) companies(ctx context.Context, keys []string) []*dataloader.Result[*providers.Company] {
	out := make([]*dataloader.Result[*providers.Company], len(keys))
	var wg sync.WaitGroup
	for i, key := range keys {
		out[i] = &dataloader.Result[*providers.Company]{}
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
