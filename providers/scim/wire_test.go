package scim

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// rfcList is the shape of RFC 7643 §8.2's full User, in a ListResponse.
const rfcList = `{
  "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
  "totalResults": 2, "itemsPerPage": 2, "startIndex": 1,
  "Resources": [{
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara", "middleName": "Jane"},
    "emails": [
      {"value": "babs@jensen.org", "type": "home"},
      {"value": "bjensen@example.com", "type": "work", "primary": true}
    ],
    "addresses": [
      {"type": "home", "country": "CA"},
      {"type": "work", "country": "USA", "primary": true}
    ],
    "phoneNumbers": [
      {"value": "555-555-5555", "type": "work"},
      {"value": "555-555-4444", "type": "mobile"}
    ],
    "active": true,
    "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"},
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
      "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
      "division": "Theme Park", "department": "Tour Operations"
    }
  }, {
    "id": "c75ad752-64ae-4823-840d-ffa80929976c",
    "userName": "jsmith",
    "active": false
  }]
}`

func TestDecodeListRFC(t *testing.T) {
	p, err := DefaultMapping().DecodeList([]byte(rfcList))
	if err != nil {
		t.Fatal(err)
	}
	if p.TotalResults != 2 || p.ItemsPerPage != 2 || p.StartIndex != 1 || p.NextCursor != "" {
		t.Errorf("page = %d/%d/%d/%q, want 2/2/1/\"\"", p.TotalResults, p.ItemsPerPage, p.StartIndex, p.NextCursor)
	}
	want := []User{{
		ID: "2819c223-7f76-453a-919d-413861904646", LoginID: "bjensen@example.com",
		Email: "bjensen@example.com", Emails: []string{"bjensen@example.com", "babs@jensen.org"},
		FirstName: "Barbara", MiddleName: "Jane", LastName: "Jensen", Active: true,
		EmployeeID: "701984", CellPhone: "555-555-4444", OrganizationUnit: "Tour Operations", CountryCode: "USA",
		CreatedAt: time.Date(2010, 1, 23, 4, 56, 22, 0, time.UTC),
	}, {ID: "c75ad752-64ae-4823-840d-ffa80929976c", LoginID: "jsmith"}}
	if d := diffUsers(p.Users, want); d != "" {
		t.Error(d)
	}
}

func TestDecodeListLoose(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		want Page
	}{
		{"no Resources on an empty page", `{"totalResults":0}`, Page{TotalResults: 0, ItemsPerPage: -1}},
		{"Resources null", `{"totalResults":0,"Resources":null,"itemsPerPage":0}`, Page{TotalResults: 0}},
		{"counts as strings, names in odd case", `{"TOTALRESULTS":"3","ItemsPerPage":"1","startindex":"2","resources":[{"ID":"a","UserName":"x"}],"NextCursor":"abc"}`,
			Page{TotalResults: 3, ItemsPerPage: 1, StartIndex: 2, NextCursor: "abc", Users: []User{{ID: "a", LoginID: "x", Active: true}}}},
		{"no counts at all", `{"Resources":[{"id":"a"}]}`, Page{TotalResults: -1, ItemsPerPage: -1, Users: []User{{ID: "a", Active: true}}}},
		{"Concur's strings for booleans", `{"Resources":[{"id":"a","active":"false"},{"id":"b","active":"true"}]}`,
			Page{TotalResults: -1, ItemsPerPage: -1, Users: []User{{ID: "a"}, {ID: "b", Active: true}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DefaultMapping().DecodeList([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if p.TotalResults != tt.want.TotalResults || p.ItemsPerPage != tt.want.ItemsPerPage ||
				p.StartIndex != tt.want.StartIndex || p.NextCursor != tt.want.NextCursor {
				t.Errorf("page = %+v, want %+v", p, tt.want)
			}
			if d := diffUsers(p.Users, tt.want.Users); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestDecodeListRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":               `<html>`,
		"an array":               `[]`,
		"two objects":            `{"totalResults":0} {}`,
		"a resource without id":  `{"totalResults":1,"Resources":[{"userName":"x"}]}`,
		"a resource not object":  `{"totalResults":1,"Resources":["x"]}`,
		"Resources not a list":   `{"totalResults":1,"Resources":{"id":"x"}}`,
		"a negative total":       `{"totalResults":-1,"Resources":[]}`,
		"a total not a number":   `{"totalResults":"many","Resources":[]}`,
		"an error object on 200": `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"boom"}`,
	} {
		if _, err := DefaultMapping().DecodeList([]byte(body)); !errors.Is(err, driver.ErrBadResponse) {
			t.Errorf("%s: err = %v, want ErrBadResponse", name, err)
		}
	}
}

func TestMappingChoices(t *testing.T) {
	res := `{"Resources":[{"id":"u1","externalId":"X-9",
	  "emails":[{"value":"home@x.org","type":"home"},{"value":"Work@X.com","type":"WORK"},{"value":"work@x.com","type":"other"}],
	  "phoneNumbers":[{"value":"1","type":"work"}],
	  "addresses":[{"type":"home","country":"FR"}],
	  "urn:ietf:params:scim:schemas:extension:spend:2.0:User":{"country":"DE","orgUnit1":"Sales"}}]}`

	p, err := DefaultMapping().DecodeList([]byte(res))
	if err != nil {
		t.Fatal(err)
	}
	u := p.Users[0]
	// No primary: the work email; the repeat differing in case is dropped.
	if u.Email != "Work@X.com" || strings.Join(u.Emails, ",") != "Work@X.com,home@x.org" {
		t.Errorf("email %q, emails %q", u.Email, u.Emails)
	}
	if u.CellPhone != "" || u.CountryCode != "FR" || u.EmployeeID != "" {
		t.Errorf("cell %q, country %q, employee %q; want no mobile, the only address's country, no employee number", u.CellPhone, u.CountryCode, u.EmployeeID)
	}

	m := DefaultMapping()
	for _, c := range []struct{ field, sel string }{
		{"employeeId", "externalId"},
		{"organizationUnit", SpendUserSchema + ":orgUnit1"},
		{"cellPhone", `phoneNumbers[type eq "work"].value`},
	} {
		if err := m.Set(c.field, c.sel); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Add("countryCode", SpendUserSchema+":country"); err != nil {
		t.Fatal(err)
	}
	p, err = m.DecodeList([]byte(strings.Replace(res, `"country":"FR"`, `"locality":"Paris"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	u = p.Users[0]
	if u.EmployeeID != "X-9" || u.OrganizationUnit != "Sales" || u.CellPhone != "1" || u.CountryCode != "DE" {
		t.Errorf("with overrides: employee %q, unit %q, cell %q, country %q", u.EmployeeID, u.OrganizationUnit, u.CellPhone, u.CountryCode)
	}
	if got := m.FilterPath("employeeId"); got != "externalId" {
		t.Errorf("FilterPath(employeeId) = %q, want externalId", got)
	}
	if got := m.FilterPath("cellPhone"); got != "" {
		t.Errorf("FilterPath(cellPhone) = %q, want none for a value filter", got)
	}
	for _, bad := range []struct{ field, sel string }{
		{"shoeSize", "userName"},
		{"email", "emails[type eq]"},
		{"email", `emails[type eq "work" or type eq "home"].value`},
		{"email", `emails[type eq "work"]value`},
		{"email", `name.x[type eq "a"]`},
		{"loginId", "user name"},
	} {
		if err := DefaultMapping().Set(bad.field, bad.sel); err == nil {
			t.Errorf("Set(%q, %q) accepted", bad.field, bad.sel)
		}
	}
}

func TestDecodeServiceProviderConfig(t *testing.T) {
	cfg, err := DecodeServiceProviderConfig([]byte(`{"Filter":{"Supported":"true","maxResults":200},
	  "PAGINATION":{"cursor":true,"index":false,"defaultPaginationMethod":"Cursor","defaultPageSize":"50","maxPageSize":500,"cursorTimeout":3600}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Pagination{Cursor: true, DefaultMethod: "cursor", DefaultPageSize: 50, MaxPageSize: 500, CursorTimeout: 3600}
	if !cfg.FilterSupported || cfg.FilterMaxResults != 200 || cfg.Pagination == nil || *cfg.Pagination != want {
		t.Errorf("config = %+v / %+v", cfg, cfg.Pagination)
	}
	cfg, err = DecodeServiceProviderConfig([]byte(`{"filter":{"supported":false}}`))
	if err != nil || cfg.FilterSupported || cfg.Pagination != nil {
		t.Errorf("pre-9865 config = %+v, %v", cfg, err)
	}
}

func TestClassify(t *testing.T) {
	body := func(status, kw string) []byte {
		return []byte(`{"schemas":["` + ErrorSchema + `"],"status":"` + status + `","scimType":"` + kw + `","detail":"userName eq \"secret@example.com\" is bad"}`)
	}
	for _, tt := range []struct {
		status    int
		kw        string
		sentinel  error
		temporary bool
	}{
		{429, "", driver.ErrRateLimited, false},
		{401, "", driver.ErrAuth, false},
		{403, "", driver.ErrAuth, false},
		{503, "", driver.ErrUnavailable, true},
		{502, "", driver.ErrUnavailable, true},
		{504, "", driver.ErrUnavailable, true},
		{500, "", driver.ErrUnavailable, false},
		{501, "", driver.ErrUnavailable, false},
		{400, "invalidFilter", driver.ErrBadResponse, false},
		{400, "expiredCursor", driver.ErrBadResponse, false},
		{404, "", driver.ErrUnavailable, false},
	} {
		err := Classify(tt.status, http.Header{"Retry-After": {"2"}}, time.Now(), body(strconv.Itoa(tt.status), tt.kw))
		if !errors.Is(err, tt.sentinel) {
			t.Errorf("%d %s: %v is not %v", tt.status, tt.kw, err, tt.sentinel)
		}
		var te *driver.TemporaryError
		if errors.As(err, &te) != tt.temporary {
			t.Errorf("%d %s: temporary = %v, want %v", tt.status, tt.kw, !tt.temporary, tt.temporary)
		}
		if strings.Contains(err.Error(), "secret@example.com") {
			t.Errorf("%d: the server's detail reached the error: %v", tt.status, err)
		}
		if tt.kw != "" && !errors.Is(err, &Error{ScimType: tt.kw}) {
			t.Errorf("%d: errors.Is(%v, %s) = false", tt.status, err, tt.kw)
		}
	}
	var rl *driver.RateLimitError
	if err := Classify(429, http.Header{"Retry-After": {"0"}}, time.Now(), nil); !errors.As(err, &rl) || rl.RetryAfter != 0 {
		t.Errorf("429 with retry-after 0: %v", err)
	}
	if err := Classify(400, nil, time.Now(), body("400", "expiredCursor")); !errors.Is(err, ErrExpiredCursor) || errors.Is(err, ErrInvalidCursor) {
		t.Errorf("expiredCursor: %v", err)
	}
	if e := ParseError(400, []byte(`{"scimType":"bad keyword with spaces"}`)); e.ScimType != "" {
		t.Errorf("a scimType that is not a keyword was kept: %q", e.ScimType)
	}
}

// diffUsers describes the first difference, or returns "".
func diffUsers(got, want []User) string { return providertest.Diff(got, want) }

// dataset is the conformance suite's users.
func dataset(n int) []User { return providertest.Dataset(n) }
