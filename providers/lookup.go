package providers

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// Lookups by native id and by email. A Source chooses per vendor: one
// filtered request per key for a vendor that filters on the field, the
// cached whole directory (and its index, built once per refresh) for a
// whole-directory vendor, and one read of the whole directory per batch
// for a paged vendor that cannot filter on the field.

// EmailMatches bounds the users one email may name in a vendor searched
// one email at a time.
const EmailMatches = 10

// NormalizeEmail is the form in which emails are compared: trimmed and
// lower-cased.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Emails returns u's emails, primary first, normalised and without
// repeats.
func Emails(u *driver.User) []string {
	var out []string
	for _, e := range append([]string{u.Email}, u.Emails...) {
		if n := NormalizeEmail(e); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Searches reports whether the Source finds users by field with one
// filtered request per value, rather than from a whole-directory read.
func (s *Source) Searches(f driver.Field) bool {
	return s.desc.Paging != driver.PagingSnapshot && s.desc.Filters.Has(f)
}

// UsersByID returns, for each native id, the user with it (nil: none),
// and per id the failure to look it up.
func (s *Source) UsersByID(ctx context.Context, ids []string) (_ []*driver.User, errs []error) {
	defer func(start time.Time) { s.observeCall(start, firstErr(errs)) }(time.Now())
	out := make([]*driver.User, len(ids))
	if s.Searches(driver.FieldID) {
		lists, errs := s.each(ctx, ids, driver.FieldID, 1)
		for i, l := range lists {
			if len(l) > 0 {
				out[i] = &l[0]
			}
		}
		return out, errs
	}
	sn, err := s.whole(ctx)
	errs = make([]error, len(ids))
	for i, id := range ids {
		if errs[i] = err; err == nil {
			out[i] = sn.User(id)
		}
	}
	return out, errs
}

// UsersByEmail returns, for each normalised email, the users with it: any
// of their emails for a directory read whole, the primary email for a
// vendor searched one email at a time. Per email, the failure to look it
// up.
func (s *Source) UsersByEmail(ctx context.Context, emails []string) (_ [][]driver.User, errs []error) {
	defer func(start time.Time) { s.observeCall(start, firstErr(errs)) }(time.Now())
	if s.Searches(driver.FieldEmail) {
		return s.each(ctx, emails, driver.FieldEmail, EmailMatches)
	}
	out := make([][]driver.User, len(emails))
	sn, err := s.whole(ctx)
	errs = make([]error, len(emails))
	for i, e := range emails {
		if errs[i] = err; err == nil {
			out[i] = sn.ByEmail(e)
		}
	}
	return out, errs
}

// each makes one filtered request per key, as many at a time as the
// provider's cap allows (SourceOptions.MaxConcurrency, which bounds them
// across batches too): a batch of as many keys takes one round trip.
func (s *Source) each(ctx context.Context, keys []string, field driver.Field, limit int) ([][]driver.User, []error) {
	out := make([][]driver.User, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, s.opts.MaxConcurrency)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = classify(s.Key, ctx.Err())
				return
			}
			defer func() { <-sem }()
			run, err := s.List(ctx, driver.Filter{}.With(field, k), Position{}, limit)
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = run.Users
		})
	}
	wg.Wait()
	return out, errs
}

// whole returns the whole directory with its index: the cached copy of a
// whole-directory vendor, or one read of a paged vendor's.
func (s *Source) whole(ctx context.Context) (*Snapshot, error) {
	if s.desc.Paging == driver.PagingSnapshot {
		return s.snap(ctx)
	}
	var users []driver.User
	err := s.scan(ctx, driver.Filter{}, Position{}, func(u *driver.User, _ Position) bool {
		users = append(users, *u)
		return true
	})
	if err != nil {
		return nil, err
	}
	return &Snapshot{Users: users}, nil
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Linked is a person's account in another provider.
type Linked struct {
	Source *Source
	User   driver.User
}

// LinkedAccounts finds the accounts, in the providers other than from, of
// the person u is in from: those with an email (trimmed, lower-cased)
// equal to one of u's. byEmail finds a provider's users by normalised
// emails (the request's loaders batch it; a vendor searched one email at
// a time matches its primary emails only). A provider that fails is an
// error beside the others' accounts.
func (d *Directory) LinkedAccounts(ctx context.Context, from *Source, u *driver.User,
	byEmail func(ctx context.Context, s *Source, emails []string) ([]driver.User, error)) ([]Linked, []error) {
	emails := Emails(u)
	if len(emails) == 0 {
		return nil, nil
	}
	found := make([][]driver.User, len(d.sources))
	errs := make([]error, len(d.sources))
	var wg sync.WaitGroup
	for i, s := range d.sources {
		if s != from {
			wg.Go(func() { found[i], errs[i] = byEmail(ctx, s, emails) })
		}
	}
	wg.Wait()
	var out []Linked
	var failed []error
	for i, s := range d.sources {
		if errs[i] != nil {
			failed = append(failed, errs[i])
		}
		for _, f := range found[i] {
			out = append(out, Linked{Source: s, User: f})
		}
	}
	return out, failed
}
