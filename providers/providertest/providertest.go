// Package providertest is the conformance suite that every provider
// adapter passes, in the manner of go-cloud's drivertest: an adapter's test
// calls Run with a Harness that wires the real adapter to its vendor
// emulator, and the suite checks, through the portable layer, that listing,
// paging, totals and every filter behave as the contract says.
package providertest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
)

// Harness returns a provider that serves exactly users, in that order,
// belonging to company (nil: the vendor names none). It registers its own
// clean-up with t.Cleanup.
type Harness func(t *testing.T, users []providers.User, company *providers.Company) providers.Provider

// Options describe the vendor under test.
type Options struct {
	// Carries maps a user onto what the vendor can hold: the fields it
	// lacks zeroed, the others as the adapter returns them. Nil means the
	// vendor holds every field.
	Carries func(providers.User) providers.User
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness, opts Options) {
	carry := opts.Carries
	if carry == nil {
		carry = func(u providers.User) providers.User { return u }
	}
	users := Dataset(53)
	want := make([]providers.User, len(users))
	for i, u := range users {
		want[i] = carry(u)
	}
	open := func(t *testing.T, users []providers.User) *providers.Source {
		return providers.NewSource(providers.Info{Key: "p", Kind: "test"}, h(t, users, &testCompany), nil)
	}

	t.Run("Walk", func(t *testing.T) {
		src := open(t, users)
		for _, limit := range []int{1, 3, 7, 10, 53, 100, 1000} {
			var got []providers.User
			pos := providers.Position{}
			for calls := 0; ; calls++ {
				if calls > len(users)+1 {
					t.Fatalf("limit %d: no end after %d calls", limit, calls)
				}
				page, err := src.List(t.Context(), providers.Filter{}, pos, limit)
				if err != nil {
					t.Fatalf("limit %d: List at %d: %v", limit, pos.Offset, err)
				}
				if page.Total != len(users) {
					t.Errorf("limit %d: Total = %d, want %d", limit, page.Total, len(users))
				}
				if len(page.Users) > limit {
					t.Fatalf("limit %d: got %d users", limit, len(page.Users))
				}
				got = append(got, page.Users...)
				if len(page.Users) < limit {
					break
				}
				pos = page.Next
			}
			if d := Diff(got, want); d != "" {
				t.Errorf("walk with limit %d: %s", limit, d)
			}
		}
	})

	t.Run("Offsets", func(t *testing.T) {
		src := open(t, users)
		for _, tt := range []struct{ offset, limit int }{{0, 5}, {5, 3}, {50, 10}, {52, 1}, {53, 5}, {80, 5}, {10, 0}} {
			page, err := src.List(t.Context(), providers.Filter{}, providers.Position{Offset: tt.offset}, tt.limit)
			if err != nil {
				t.Fatalf("List(offset %d, limit %d): %v", tt.offset, tt.limit, err)
			}
			lo := min(tt.offset, len(want))
			hi := min(tt.offset+tt.limit, len(want))
			if d := Diff(page.Users, want[lo:hi]); d != "" {
				t.Errorf("List(offset %d, limit %d): %s", tt.offset, tt.limit, d)
			}
			if page.Total != len(users) {
				t.Errorf("List(offset %d, limit %d).Total = %d, want %d", tt.offset, tt.limit, page.Total, len(users))
			}
			if next := tt.offset + hi - lo; page.Next.Offset != next {
				t.Errorf("List(offset %d, limit %d).Next.Offset = %d, want %d", tt.offset, tt.limit, page.Next.Offset, next)
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		src := open(t, users)
		for _, tt := range filterCases(want) {
			page, err := src.List(t.Context(), tt.filter, providers.Position{}, 1000)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var expect []providers.User
			for i := range want {
				if providers.Match(&want[i], tt.filter) {
					expect = append(expect, want[i])
				}
			}
			if d := Diff(page.Users, expect); d != "" {
				t.Errorf("%s: %s", tt.name, d)
			}
			if page.Total != len(expect) {
				t.Errorf("%s: Total = %d, want %d", tt.name, page.Total, len(expect))
			}
		}
	})

	t.Run("FilteredPaging", func(t *testing.T) {
		src := open(t, users)
		active := true
		f := providers.Filter{Active: &active}
		var expect []providers.User
		for i := range want {
			if want[i].Active {
				expect = append(expect, want[i])
			}
		}
		var got []providers.User
		for pos := (providers.Position{}); ; {
			page, err := src.List(t.Context(), f, pos, 4)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.Users...)
			if len(page.Users) < 4 {
				break
			}
			pos = page.Next
		}
		if d := Diff(got, expect); d != "" {
			t.Errorf("active users in pages of 4: %s", d)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		src := open(t, nil)
		page, err := src.List(t.Context(), providers.Filter{}, providers.Position{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Users) != 0 || page.Total != 0 {
			t.Errorf("empty directory: %d users, Total %d; want none", len(page.Users), page.Total)
		}
	})

	t.Run("IDsAreStable", func(t *testing.T) {
		src := open(t, users)
		for _, i := range []int{0, 17, 52} {
			id := want[i].ID
			page, err := src.List(t.Context(), providers.Filter{ID: &id}, providers.Position{}, 10)
			if err != nil {
				t.Fatal(err)
			}
			if d := Diff(page.Users, want[i:i+1]); d != "" {
				t.Errorf("filter by id %q: %s", id, d)
			}
		}
	})
}

var testCompany = providers.Company{Name: "Conformance Ltd", City: "Lyon", Country: "FR"}

type filterCase struct {
	name   string
	filter providers.Filter
}

// filterCases builds a filter for each field from values in users, with
// letter case and surrounding spaces altered, plus values nobody has.
func filterCases(users []providers.User) []filterCase {
	mangle := func(s string) *string {
		m := "  " + strings.ToUpper(s[:1]) + strings.ToLower(s[1:]) + " "
		return &m
	}
	pick := func(get func(*providers.User) string) *string {
		for i := len(users) / 3; i < len(users); i++ {
			if v := get(&users[i]); v != "" {
				return mangle(v)
			}
		}
		v := "present-in-no-directory"
		return &v
	}
	yes, no := true, false
	none := "nobody-has-this"
	cases := []filterCase{
		{"active", providers.Filter{Active: &yes}},
		{"inactive", providers.Filter{Active: &no}},
		{"email", providers.Filter{Email: pick(func(u *providers.User) string { return u.Email })}},
		{"loginId", providers.Filter{LoginID: pick(func(u *providers.User) string { return u.LoginID })}},
		{"lastName", providers.Filter{LastName: pick(func(u *providers.User) string { return u.LastName })}},
		{"employeeId", providers.Filter{EmployeeID: pick(func(u *providers.User) string { return u.EmployeeID })}},
		{"countryCode", providers.Filter{CountryCode: pick(func(u *providers.User) string { return u.CountryCode })}},
		{"id", providers.Filter{ID: pick(func(u *providers.User) string { return u.ID })}},
		{"email nobody has", providers.Filter{Email: &none}},
		{"lastName nobody has", providers.Filter{LastName: &none}},
	}
	// Two fields at once are ANDed.
	ln := pick(func(u *providers.User) string { return u.LastName })
	cases = append(cases,
		filterCase{"active and lastName", providers.Filter{Active: &yes, LastName: ln}},
		filterCase{"inactive and lastName", providers.Filter{Active: &no, LastName: ln}},
	)
	return cases
}

// Dataset returns n users with every field set, in a fixed order, with a
// few shared last names, inactive users, missing optional fields and
// non-ASCII text: enough variety to exercise filters and mappers.
func Dataset(n int) []providers.User {
	lastNames := []string{"Martin", "Nguyen", "O'Brien", "Søren", "Smith", "Dupont-Leroy", "García"}
	countries := []string{"US", "FR", "DE", "BR", "JP"}
	base := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	users := make([]providers.User, n)
	for i := range users {
		first := fmt.Sprintf("Ann%03d", i)
		last := lastNames[i%len(lastNames)]
		email := fmt.Sprintf("%s.%s%d@Example.com", strings.ToLower(first), strings.ToLower(strings.NewReplacer("'", "", "ø", "o", "í", "i").Replace(last)), i)
		u := providers.User{
			ID:               fmt.Sprintf("ID-%04d-%x", i, i*7919),
			Email:            email,
			Emails:           []string{email},
			FirstName:        first,
			LastName:         last,
			Active:           i%5 != 3,
			LoginID:          fmt.Sprintf("login%03d@corp.example", i),
			EmployeeID:       fmt.Sprintf("E%05d", 1000+i),
			CountryCode:      countries[i%len(countries)],
			OrganizationUnit: fmt.Sprintf("OU-%d", i%4),
			CreatedAt:        base.Add(time.Duration(i) * time.Hour),
			LastActivityAt:   base.Add(time.Duration(i) * 24 * time.Hour),
		}
		if i%4 == 1 {
			u.MiddleName = "Q"
			u.CellPhone = fmt.Sprintf("+1555%07d", i)
			u.Emails = append(u.Emails, fmt.Sprintf("alt%d@example.org", i))
		}
		if i%9 == 4 {
			u.OrganizationUnit = ""
			u.CountryCode = ""
		}
		users[i] = u
	}
	return users
}

// Diff describes the first difference between two user lists, or returns
// "" when they are equal. Times compare as instants.
func Diff(got, want []providers.User) string {
	for i := range min(len(got), len(want)) {
		if d := diffUser(&got[i], &want[i]); d != "" {
			return fmt.Sprintf("user %d: %s", i, d)
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d users, want %d", len(got), len(want))
	}
	return ""
}

func diffUser(g, w *providers.User) string {
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.LastActivityAt.Equal(w.LastActivityAt) {
		return fmt.Sprintf("times %v/%v, want %v/%v", g.CreatedAt, g.LastActivityAt, w.CreatedAt, w.LastActivityAt)
	}
	gc, wc := *g, *w
	gc.CreatedAt, gc.LastActivityAt, wc.CreatedAt, wc.LastActivityAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(gc.Emails) == 0 {
		gc.Emails = nil
	}
	if len(wc.Emails) == 0 {
		wc.Emails = nil
	}
	if fmt.Sprintf("%#v", gc) != fmt.Sprintf("%#v", wc) {
		return fmt.Sprintf("\n got %+v\nwant %+v", gc, wc)
	}
	return ""
}
