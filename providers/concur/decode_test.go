package concur

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

type wirePage struct {
	Total       vendorhttp.Int  `json:"total"`
	Company     *wireCompanyIn  `json:"company"`
	CompanyInfo *wireCompanyIn  `json:"companyinfo"`
	Items       json.RawMessage `json:"Items"`
}

type wireCompanyIn struct {
	Name    vendorhttp.String `json:"name"`
	Address vendorhttp.String `json:"address"`
	City    vendorhttp.String `json:"city"`
	State   vendorhttp.String `json:"state"`
	Zip     vendorhttp.String `json:"zip"`
	Country vendorhttp.String `json:"country"`
}

type wireUserIn struct {
	ID               vendorhttp.String  `json:"ID"`
	PrimaryEmail     vendorhttp.String  `json:"PrimaryEmail"`
	Emails           vendorhttp.Strings `json:"Emails"`
	FirstName        vendorhttp.String  `json:"FirstName"`
	MiddleName       vendorhttp.String  `json:"MiddleName"`
	LastName         vendorhttp.String  `json:"LastName"`
	Active           vendorhttp.Bool    `json:"Active"`
	LoginID          vendorhttp.String  `json:"LoginID"`
	EmployeeID       vendorhttp.String  `json:"EmployeeID"`
	CellPhoneNumber  vendorhttp.String  `json:"CellPhoneNumber"`
	OrganizationUnit vendorhttp.String  `json:"OrganizationUnit"`
	CountryCode      vendorhttp.String  `json:"CountryCode"`
}

// decodeUsersJSON is the decoder decodeUsers replaced: encoding/json into
// vendorhttp's tolerant types, Items decoded a second time from a
// json.RawMessage. It is the reference decodeUsers is held to.
func decodeUsersJSON(body []byte) (*driver.ListPage, error) {
	bad := func(why string) error { return fmt.Errorf("%w: %s", driver.ErrBadResponse, why) }
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, bad("undecodable JSON")
	}
	if len(w.Items) == 0 {
		return nil, bad("no Items")
	}
	var items []*wireUserIn
	if err := json.Unmarshal(w.Items, &items); err != nil {
		return nil, bad("undecodable Items")
	}
	page := &driver.ListPage{Total: -1, Users: make([]driver.User, 0, len(items))}
	if w.Total.Set {
		if w.Total.N < 0 || w.Total.N > 1<<31 {
			return nil, bad("a total out of range")
		}
		page.Total = int(w.Total.N)
	}
	if wc := w.Company; wc != nil || w.CompanyInfo != nil {
		if wc == nil {
			wc = w.CompanyInfo
		}
		page.Company = &driver.Company{
			Name: string(wc.Name), Address: string(wc.Address), City: string(wc.City),
			State: string(wc.State), Zip: string(wc.Zip), Country: string(wc.Country),
		}
	}
	for _, u := range items {
		if u == nil || strings.TrimSpace(string(u.ID)) == "" {
			return nil, bad("a user without an ID")
		}
		page.Users = append(page.Users, driver.User{
			ID:               string(u.ID),
			Email:            string(u.PrimaryEmail),
			Emails:           userEmails(string(u.PrimaryEmail), u.Emails),
			FirstName:        string(u.FirstName),
			MiddleName:       string(u.MiddleName),
			LastName:         string(u.LastName),
			Active:           bool(u.Active),
			LoginID:          string(u.LoginID),
			EmployeeID:       string(u.EmployeeID),
			CellPhone:        string(u.CellPhoneNumber),
			OrganizationUnit: string(u.OrganizationUnit),
			CountryCode:      string(u.CountryCode),
		})
	}
	return page, nil
}

// FuzzDecodeUsersAsJSON: decodeUsers, in one pass, decodes every answer
// as encoding/json into vendorhttp's types did (the same users, total and
// company, or a bad response for the same answers), whatever the shapes
// and types. Answers that repeat a member (under letter case folding) are
// left out: encoding/json merges repeats in ways no vendor relies on.
func FuzzDecodeUsersAsJSON(f *testing.F) {
	for _, seed := range decodeSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if providertest.RepeatsMember(body) {
			return
		}
		want, wantErr := decodeUsersJSON(body)
		got, err := decodeUsers(body, 100)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeUsers(%q): error %v, encoding/json's %v", body, err, wantErr)
		}
		if err != nil {
			if !errors.Is(err, driver.ErrBadResponse) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if len(got.Users) == 0 && len(want.Users) == 0 {
			got.Users, want.Users = nil, nil // the capacity differs
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeUsers(%q) =\n%+v\nencoding/json decoded\n%+v", body, got, want)
		}
	})
}

// decodeSeeds are answers of every shape the docs show, and near misses.
var decodeSeeds = []string{
	`{"total":2,"Items":[{"ID":"a","PrimaryEmail":"a@x.example"},{"ID":"b","Active":"true"}]}`,
	`{"total":"3","offset":"0","limit":"100","companyinfo":{"name":"Co","city":"X"},"Items":[{"ID":7,"Emails":{"Email1":"a@x","Email2":"B@X"},"EmployeeID":12345,"Active":1}]}`,
	`{"total":null,"company":null,"Items":null}`,
	`{"total":1.0,"company":{"name":null,"zip":98004},"Items":[{"ID":" x ","Emails":["a@x",null,"a@X"],"Active":null,"CellPhoneNumber":null}]}`,
	`{"total":1.5,"Items":[]}`,
	`{"total":-1,"Items":[]}`,
	`{"total":4294967296,"Items":[]}`,
	`{"total":true,"Items":[]}`,
	`{"Items":[null]}`,
	`{"Items":[{"ID":""}]}`,
	`{"Items":[{"ID":{}}]}`,
	`{"Items":[{"ID":"a","Active":"maybe"}]}`,
	`{"Items":[{"ID":"a","Emails":[{}]}]}`,
	`{"Items":[{"ID":"a","Emails":"solo@x"}]}`,
	`{"Items":{"ID":"a"}}`,
	`{"Items":"x"}`,
	`{"items":[{"id":"lower"}],"TOTAL":"9"}`,
	`{"Items":[{"ID":"a\u00e9\ud83d\ude00","FirstName":"bad\ud800","LastName":"\xff"}]}`,
	"{\"Items\":[{\"ID\":\"a\",\"FirstName\":\"raw\xff\xfe\"}]}",
	`{"company":{"name":"A"},"companyinfo":{"name":"B"},"Items":[]}`,
	`{"company":[],"Items":[]}`,
	`{"Items":[{"ID":"a","Unknown":{"deep":[1,2,{"x":null}]}}],"extra":[1,{"a":[]}]}`,
	`{"Items":[]} trailing`,
	`{"Items":[{"ID":"a"}]`,
	`[]`, `null`, `""`, ``,
}
