package driver

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// Field names a field of User. The table below is the one place where the
// fields are written out: their GraphQL names, the values filters compare,
// and which of them can be filtered on.
type Field uint8

// The fields of User.
const (
	FieldID Field = iota + 1
	FieldEmail
	FieldEmails
	FieldFirstName
	FieldMiddleName
	FieldLastName
	FieldActive
	FieldLoginID
	FieldEmployeeID
	FieldCellPhone
	FieldOrganizationUnit
	FieldCountryCode
	FieldCreatedAt
	FieldLastActivityAt

	numFields = iota
)

// fieldInfo is one line of the field table.
type fieldInfo struct {
	name  string // the GraphQL name
	value func(*User) string
	set   func(*User, string) error
}

var fields = [numFields + 1]fieldInfo{
	FieldID:               {"id", func(u *User) string { return u.ID }, func(u *User, s string) error { u.ID = s; return nil }},
	FieldEmail:            {"email", func(u *User) string { return u.Email }, func(u *User, s string) error { u.Email = s; return nil }},
	FieldEmails:           {"emails", func(u *User) string { return strings.Join(u.Emails, " ") }, setEmails},
	FieldFirstName:        {"firstName", func(u *User) string { return u.FirstName }, func(u *User, s string) error { u.FirstName = s; return nil }},
	FieldMiddleName:       {"middleName", func(u *User) string { return u.MiddleName }, func(u *User, s string) error { u.MiddleName = s; return nil }},
	FieldLastName:         {"lastName", func(u *User) string { return u.LastName }, func(u *User, s string) error { u.LastName = s; return nil }},
	FieldActive:           {"active", func(u *User) string { return strconv.FormatBool(u.Active) }, setActive},
	FieldLoginID:          {"loginId", func(u *User) string { return u.LoginID }, func(u *User, s string) error { u.LoginID = s; return nil }},
	FieldEmployeeID:       {"employeeId", func(u *User) string { return u.EmployeeID }, func(u *User, s string) error { u.EmployeeID = s; return nil }},
	FieldCellPhone:        {"cellPhone", func(u *User) string { return u.CellPhone }, func(u *User, s string) error { u.CellPhone = s; return nil }},
	FieldOrganizationUnit: {"organizationUnit", func(u *User) string { return u.OrganizationUnit }, func(u *User, s string) error { u.OrganizationUnit = s; return nil }},
	FieldCountryCode:      {"countryCode", func(u *User) string { return u.CountryCode }, func(u *User, s string) error { u.CountryCode = s; return nil }},
	FieldCreatedAt:        {"createdAt", func(u *User) string { return timeValue(u.CreatedAt) }, func(u *User, s string) error { return setTime(&u.CreatedAt, s) }},
	FieldLastActivityAt:   {"lastActivityAt", func(u *User) string { return timeValue(u.LastActivityAt) }, func(u *User, s string) error { return setTime(&u.LastActivityAt, s) }},
}

// AllFields holds every field of User.
var AllFields = allFields()

// Filterable holds the fields a filter may name: the ones dirgate's users
// can be found by.
var Filterable = Fields(FieldID, FieldEmail, FieldActive, FieldLoginID, FieldLastName, FieldEmployeeID, FieldCountryCode)

func allFields() FieldSet {
	var s FieldSet
	for f := Field(1); f <= numFields; f++ {
		s |= 1 << f
	}
	return s
}

// String returns the field's GraphQL name: "email", "loginId", …
func (f Field) String() string {
	if f < 1 || f > numFields {
		return "Field(" + strconv.Itoa(int(f)) + ")"
	}
	return fields[f].name
}

// Value returns u's value of the field as filters compare it: the text,
// "true" or "false" for active, RFC 3339 for times ("" when zero), and the
// emails separated by spaces.
func (f Field) Value(u *User) string {
	if f < 1 || f > numFields {
		return ""
	}
	return fields[f].value(u)
}

// Set sets u's field from its text form, as Value writes it (a boolean
// also as 1/0, yes/no; emails separated by spaces, commas or semicolons;
// times as RFC 3339 or a date). It is for adapters that read text, such as
// a CSV file.
func (f Field) Set(u *User, value string) error {
	if f < 1 || f > numFields {
		return fmt.Errorf("no field %d", f)
	}
	if err := fields[f].set(u, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("%s: %w", f, err)
	}
	return nil
}

// ParseField returns the field with the GraphQL name, ignoring letter
// case.
func ParseField(name string) (Field, bool) {
	for f := Field(1); f <= numFields; f++ {
		if strings.EqualFold(fields[f].name, strings.TrimSpace(name)) {
			return f, true
		}
	}
	return 0, false
}

func setActive(u *User, s string) error {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y":
		u.Active = true
	case "false", "0", "no", "n", "":
		u.Active = false
	default:
		return fmt.Errorf("want true or false")
	}
	return nil
}

func setEmails(u *User, s string) error {
	u.Emails = nil
	for e := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
		u.Emails = append(u.Emails, e)
	}
	return nil
}

func timeValue(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func setTime(t *time.Time, s string) error {
	if s == "" {
		*t = time.Time{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", time.DateOnly} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("want an RFC 3339 time or a date")
}

// FieldSet is a set of fields.
type FieldSet uint32

// Fields returns the set of fs.
func Fields(fs ...Field) FieldSet {
	var s FieldSet
	for _, f := range fs {
		s |= 1 << f
	}
	return s
}

// Has reports whether f is in s.
func (s FieldSet) Has(f Field) bool { return f >= 1 && f <= numFields && s&(1<<f) != 0 }

// All yields the fields of s in table order.
func (s FieldSet) All() iter.Seq[Field] {
	return func(yield func(Field) bool) {
		for f := Field(1); f <= numFields; f++ {
			if s.Has(f) && !yield(f) {
				return
			}
		}
	}
}

// String lists the fields' names, comma-separated.
func (s FieldSet) String() string {
	var names []string
	for f := range s.All() {
		names = append(names, f.String())
	}
	return strings.Join(names, ",")
}

// Filter is a set of Filterable fields and the values they must have. It
// is a comparable value; the zero Filter matches every user. Values are
// kept trimmed of surrounding white space, and matched ignoring letter
// case.
type Filter struct {
	set  FieldSet
	vals [numFields + 1]string
}

// MaxFilterValue is the longest filter value, in bytes after trimming,
// dirgate accepts: more than any email (254), name or id a directory
// holds, and short enough that every vendor takes it in a URL or a
// search body (a longer one is a 400, 413 or 414 that would read as the
// vendor failing).
const MaxFilterValue = 256

// With returns f with field set to value (trimmed). It panics when field
// is not Filterable: filters are built by dirgate, from its own table.
func (f Filter) With(field Field, value string) Filter {
	if !Filterable.Has(field) {
		panic(fmt.Sprintf("driver: %s is not filterable", field))
	}
	f.set |= 1 << field
	f.vals[field] = strings.TrimSpace(value)
	return f
}

// Get returns the value field must have, and whether f sets it.
func (f Filter) Get(field Field) (string, bool) {
	if !f.set.Has(field) {
		return "", false
	}
	return f.vals[field], true
}

// Fields returns the fields f sets.
func (f Filter) Fields() FieldSet { return f.set }

// IsZero reports whether f sets no field.
func (f Filter) IsZero() bool { return f.set == 0 }

// Only returns the part of f on the fields of s: what a vendor that
// filters on s is asked to apply.
func (f Filter) Only(s FieldSet) Filter {
	var out Filter
	for field, v := range f.All() {
		if s.Has(field) {
			out = out.With(field, v)
		}
	}
	return out
}

// Without returns the part of f on fields outside s: what the portable
// layer applies itself.
func (f Filter) Without(s FieldSet) Filter { return f.Only(f.set &^ s) }

// Match reports whether u has every value f sets: the whole value,
// ignoring surrounding white space, and letter case but for the native
// id. An id is the directory's own key, compared exactly as the
// directories compare it (SCIM's id is case-exact, RFC 7643 §3.1) and as
// a cached directory's index finds it. An empty user value (the vendor
// does not hold the field) matches no filter value.
func (f Filter) Match(u *User) bool {
	for field, want := range f.All() {
		got := strings.TrimSpace(field.Value(u))
		if got == "" || field == FieldID && got != want || field != FieldID && !strings.EqualFold(got, want) {
			return false
		}
	}
	return true
}

// All yields the fields f sets and their values, in table order.
func (f Filter) All() iter.Seq2[Field, string] {
	return func(yield func(Field, string) bool) {
		for field := range f.set.All() {
			if !yield(field, f.vals[field]) {
				return
			}
		}
	}
}

// Key is f in a canonical, case-folded text form: filters that match the
// same users have the same key. It binds cursors and keys caches.
func (f Filter) Key() string {
	var b strings.Builder
	for field, v := range f.All() {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(field.String())
		b.WriteByte('=')
		b.WriteString(strconv.Quote(strings.ToLower(v)))
	}
	return b.String()
}

// String names the fields f sets, never their values (which may be
// personal data): "Filter(email,active)".
func (f Filter) String() string { return "Filter(" + f.set.String() + ")" }
