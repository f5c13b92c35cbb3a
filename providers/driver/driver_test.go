package driver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// TestFieldTable: every field has a GraphQL name that parses back to it,
// and Set reads what Value writes.
func TestFieldTable(t *testing.T) {
	u := driver.User{
		ID: "u1", Email: "a@x.example", Emails: []string{"a@x.example", "b@x.example"}, FirstName: "Ann", MiddleName: "Q",
		LastName: "Lee", Active: true, LoginID: "ann", EmployeeID: "E1", CellPhone: "+1555", OrganizationUnit: "OU",
		CountryCode: "FR", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), LastActivityAt: time.Date(2024, 2, 3, 4, 5, 6, 7, time.UTC),
	}
	var back driver.User
	n := 0
	for f := range driver.AllFields.All() {
		n++
		if g, ok := driver.ParseField(strings.ToUpper(f.String())); !ok || g != f {
			t.Errorf("ParseField(%q) = %v, %t", f.String(), g, ok)
		}
		if err := f.Set(&back, f.Value(&u)); err != nil {
			t.Errorf("%s: Set(Value) = %v", f, err)
		}
	}
	if n != 14 || !driver.AllFields.Has(driver.FieldLastActivityAt) || driver.AllFields.Has(0) {
		t.Errorf("AllFields = %s", driver.AllFields)
	}
	if back.ID != u.ID || back.Email != u.Email || strings.Join(back.Emails, ",") != strings.Join(u.Emails, ",") || !back.Active ||
		back.CountryCode != u.CountryCode || !back.CreatedAt.Equal(u.CreatedAt) || !back.LastActivityAt.Equal(u.LastActivityAt) {
		t.Errorf("round trip = %+v, want %+v", back, u)
	}
	if err := driver.FieldActive.Set(&back, "perhaps"); err == nil || strings.Contains(err.Error(), "perhaps") {
		t.Errorf("Set(active, perhaps) = %v, want an error that does not quote the value", err)
	}
}

func TestFilter(t *testing.T) {
	f := driver.Filter{}.With(driver.FieldEmail, "  A@X.example ").With(driver.FieldActive, "TRUE")
	u := driver.User{ID: "1", Email: "a@x.EXAMPLE", Active: true}
	if !f.Match(&u) {
		t.Error("no match ignoring case and spaces")
	}
	if v, ok := f.Get(driver.FieldEmail); !ok || v != "A@X.example" {
		t.Errorf("Get(email) = %q, %t; want the trimmed value", v, ok)
	}
	if f.Match(&driver.User{ID: "2", Email: "a@x.example"}) {
		t.Error("an inactive user matched active")
	}
	if (driver.Filter{}).With(driver.FieldLoginID, "x").Match(&u) {
		t.Error("an empty user value matched a filter value")
	}
	// An id is the directory's key: exact, spaces aside.
	byID := driver.User{ID: "Ab-7"}
	if !(driver.Filter{}).With(driver.FieldID, " Ab-7 ").Match(&byID) || (driver.Filter{}).With(driver.FieldID, "ab-7").Match(&byID) {
		t.Error("ids do not match exactly")
	}
	if f.Only(driver.Fields(driver.FieldActive)) != (driver.Filter{}).With(driver.FieldActive, "TRUE") ||
		f.Without(driver.Fields(driver.FieldActive)) != (driver.Filter{}).With(driver.FieldEmail, "A@X.example") {
		t.Error("Only and Without do not split the filter")
	}
	if f.Key() != (driver.Filter{}).With(driver.FieldActive, "true").With(driver.FieldEmail, "a@x.example").Key() {
		t.Error("filters that match the same users have different keys")
	}
	if s := f.String(); strings.Contains(s, "@") || !strings.Contains(s, "email") {
		t.Errorf("String() = %q: it names the fields, never the values", s)
	}
	defer func() {
		if recover() == nil {
			t.Error("With accepted a field that cannot be filtered on")
		}
	}()
	driver.Filter{}.With(driver.FieldCellPhone, "1")
}
