package providertest

import (
	"fmt"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// filterCase is a filter the suite checks, by name.
type filterCase struct {
	name   string
	filter driver.Filter
}

// filterCases builds a filter for each filterable field from values in
// users, with letter case and surrounding spaces altered, plus values
// nobody has and two fields at once.
func filterCases(users []driver.User) []filterCase {
	mangle := func(s string) string {
		return "  " + strings.ToUpper(s[:1]) + strings.ToLower(s[1:]) + " "
	}
	pick := func(f driver.Field) string {
		for i := len(users) / 3; i < len(users); i++ {
			if v := f.Value(&users[i]); v != "" {
				return mangle(v)
			}
		}
		return "present-in-no-directory"
	}
	with := func(f driver.Field, v string) driver.Filter { return driver.Filter{}.With(f, v) }
	cases := []filterCase{
		{"active", with(driver.FieldActive, "true")},
		{"inactive", with(driver.FieldActive, "FALSE")},
	}
	for f := range driver.Filterable.All() {
		switch f {
		case driver.FieldActive:
		case driver.FieldID:
			// An id is matched exactly (driver.Filter.Match), surrounding
			// spaces aside; whether a vendor also finds it in another
			// letter case is its own affair.
			id := strings.TrimSpace(pick(f))
			for i := range users {
				if strings.EqualFold(users[i].ID, id) {
					id = users[i].ID
				}
			}
			cases = append(cases, filterCase{"id", with(f, " "+id+" ")})
		default:
			cases = append(cases, filterCase{f.String(), with(f, pick(f))})
		}
	}
	ln := pick(driver.FieldLastName)
	cases = append(cases,
		filterCase{"email nobody has", with(driver.FieldEmail, "nobody-has-this")},
		filterCase{"lastName nobody has", with(driver.FieldLastName, "nobody-has-this")},
		filterCase{"active and lastName", with(driver.FieldActive, "true").With(driver.FieldLastName, ln)},
		filterCase{"inactive and lastName", with(driver.FieldActive, "false").With(driver.FieldLastName, ln)},
		filterCase{"email and countryCode", with(driver.FieldEmail, pick(driver.FieldEmail)).With(driver.FieldCountryCode, pick(driver.FieldCountryCode))},
	)
	return cases
}

// Dataset returns n users with every field set, in a fixed order, with a
// few shared last names, inactive users, missing optional fields and
// non-ASCII text: enough variety to exercise filters and mappers.
func Dataset(n int) []driver.User {
	lastNames := []string{"Martin", "Nguyen", "O'Brien", "Søren", "Smith", "Dupont-Leroy", "García"}
	countries := []string{"US", "FR", "DE", "BR", "JP"}
	base := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	users := make([]driver.User, n)
	for i := range users {
		first := fmt.Sprintf("Ann%03d", i)
		last := lastNames[i%len(lastNames)]
		email := fmt.Sprintf("%s.%s%d@Example.com", strings.ToLower(first), strings.ToLower(strings.NewReplacer("'", "", "ø", "o", "í", "i").Replace(last)), i)
		u := driver.User{
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
func Diff(got, want []driver.User) string {
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

func diffUser(g, w *driver.User) string {
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
