package providers

import "strings"

// Normalize returns f with every string value trimmed of surrounding white
// space. Matching ignores letter case on top of that.
func (f Filter) Normalize() Filter {
	for _, p := range []**string{&f.Email, &f.LoginID, &f.LastName, &f.EmployeeID, &f.CountryCode, &f.ID} {
		if *p != nil {
			s := strings.TrimSpace(**p)
			*p = &s
		}
	}
	return f
}

// Match reports whether u matches every field that f sets. String fields
// match the whole value, ignoring letter case and surrounding white space;
// an empty field (the vendor does not have it) matches no filter value.
func Match(u *User, f Filter) bool {
	if f.Active != nil && u.Active != *f.Active {
		return false
	}
	for _, c := range []struct {
		want *string
		got  string
	}{
		{f.Email, u.Email},
		{f.LoginID, u.LoginID},
		{f.LastName, u.LastName},
		{f.EmployeeID, u.EmployeeID},
		{f.CountryCode, u.CountryCode},
		{f.ID, u.ID},
	} {
		if c.want == nil {
			continue
		}
		got := strings.TrimSpace(c.got)
		if got == "" || !strings.EqualFold(got, strings.TrimSpace(*c.want)) {
			return false
		}
	}
	return true
}
