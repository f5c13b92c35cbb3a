package providers

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
)

// LookupConcurrency bounds the vendor calls one lookup batch makes at the
// same time, for vendors whose filters take one value per call.
const LookupConcurrency = 8

// NormalizeEmail is the form in which emails are compared: trimmed and
// lower-cased.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// UserEmails returns u's emails, primary first, normalised and without
// repeats.
func UserEmails(u *User) []string {
	var out []string
	for _, e := range append([]string{u.Email}, u.Emails...) {
		if n := NormalizeEmail(e); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// All returns every user of a whole-directory (PagingSnapshot) provider.
// For other providers it is an error: they are never read whole.
func (s *Source) All(ctx context.Context) ([]User, error) {
	if s.desc.Paging != PagingSnapshot {
		return nil, fmt.Errorf("provider %q pages on the vendor side: it is never read whole", s.Key)
	}
	page, err := s.List(ctx, Filter{}, Position{}, math.MaxInt)
	if err != nil {
		return nil, err
	}
	return page.Users, nil
}

// Index finds the users of a whole directory by native id and by email.
type Index struct {
	byID    map[string]*User
	byEmail map[string][]User
}

// NewIndex indexes users: by id, and by every email, primary and others.
func NewIndex(users []User) *Index {
	x := &Index{byID: make(map[string]*User, len(users)), byEmail: make(map[string][]User, len(users))}
	for i := range users {
		u := &users[i]
		x.byID[u.ID] = u
		for _, e := range UserEmails(u) {
			x.byEmail[e] = append(x.byEmail[e], *u)
		}
	}
	return x
}

// User returns the user with the native id, or nil.
func (x *Index) User(id string) *User { return x.byID[id] }

// ByEmail returns the users with the normalised email, in directory order.
func (x *Index) ByEmail(email string) []User { return x.byEmail[email] }

// FindEach asks the provider, once per key and at most LookupConcurrency
// at a time, for the users that match filter(key). It is how vendors whose
// filters take one value are searched in bulk. Results and errors are
// aligned with keys.
func (s *Source) FindEach(ctx context.Context, keys []string, filter func(string) Filter, limit int) ([][]User, []error) {
	out := make([][]User, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, LookupConcurrency)
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			page, err := s.List(ctx, filter(k), Position{}, limit)
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = page.Users
		})
	}
	wg.Wait()
	return out, errs
}

// CanFilter reports whether the provider can find users by the given
// fields without reading its whole directory.
func (s *Source) CanFilter(f Field) bool {
	return s.desc.Paging != PagingSnapshot && s.desc.Filters.Has(f)
}
