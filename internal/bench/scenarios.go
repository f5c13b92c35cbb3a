//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/demo"
)

// The queries of the scenarios.
const (
	fewFields = `nativeId firstName lastName email active`
	// queryA is the query: a page of 100 Concur users, five
	// plain fields each.
	queryA = `{ users(first: 100, filter: {providers: ["concur"]}) { edges { node { ` + fewFields + ` } } } }`
	// queryB is ten vendor pages of 100.
	queryB = `{ users(first: 1000, filter: {providers: ["concur"]}) { edges { node { ` + fewFields + ` } } } }`
	// queryD is a small page over the cached getbill directory.
	queryD = `{ users(first: 20, filter: {providers: ["getbill"]}) { edges { node { ` + fewFields + ` } } } }`
	// queryE is queryA with every User field and linked accounts.
	queryE = `{ users(first: 100, filter: {providers: ["concur"]}) { edges { node {
		id nativeId provider { id key kind name } email emails firstName middleName lastName displayName active
		loginId employeeId cellPhone organizationUnit countryCode createdAt lastActivityAt
		company { name address city state zip country } linkedAccounts { id } } } } }`
	// lookupsPerProvider is half of scenario c's 50 aliased lookups.
	lookupsPerProvider = 25
)

// queryC is 50 aliased user(id) lookups, the first 25 of Concur users and
// the others of getbill users, with the ids as variables (the document
// stays the same, as a client's would).
var queryC = func() string {
	var b strings.Builder
	b.WriteString("query Lookups(")
	for i := range 2 * lookupsPerProvider {
		fmt.Fprintf(&b, "$u%d: ID!, ", i)
	}
	b.WriteString(") {")
	for i := range 2 * lookupsPerProvider {
		fmt.Fprintf(&b, " u%d: user(id: $u%d) { nativeId email provider { key } }", i, i)
	}
	b.WriteString(" }")
	return b.String()
}()

// lookups returns the variables of the seq-th request of scenario c and
// the native ids it must return: 25 distinct Concur users and 25 getbill
// users, moving through the directory from one request to the next.
func lookups(seq int) (vars map[string]string, want []string) {
	concurUsers, getbillUsers := directory()
	vars = map[string]string{}
	for i := range lookupsPerProvider {
		c := concurUsers[(seq*lookupsPerProvider+i)%len(concurUsers)]
		g := getbillUsers[(seq*lookupsPerProvider+i)%len(getbillUsers)]
		vars["u"+strconv.Itoa(i)] = relay.UserID("concur", c.ID)
		vars["u"+strconv.Itoa(lookupsPerProvider+i)] = relay.UserID("getbill", g.ID)
		want = append(want, c.ID)
	}
	for i := range lookupsPerProvider {
		want = append(want, getbillUsers[(seq*lookupsPerProvider+i)%len(getbillUsers)].ID)
	}
	return vars, want
}

var directory = func() func() (concurIDs, getbillIDs []idUser) {
	people := demo.Directory()
	concurUsers, getbillUsers := people.Concur, people.Getbill
	var c, g []idUser
	for _, u := range concurUsers {
		c = append(c, idUser{u.ID})
	}
	for _, u := range getbillUsers {
		g = append(g, idUser{u.ID})
	}
	return func() ([]idUser, []idUser) { return c, g }
}()

type idUser struct{ ID string }

func gqlBody(query string, vars any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

func postGraphQL(url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// okGraphQL accepts a 200 without errors. (The first answer of every
// window is checked in full by checkUsers or checkLookups.)
func okGraphQL(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.300s", status, body)
	}
	if bytes.Contains(body, []byte(`"errors"`)) {
		return fmt.Errorf("errors: %.300s", body)
	}
	return nil
}

func ok200(status int, body []byte) error {
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %.300s", status, body)
	}
	return nil
}

type usersAnswer struct {
	Data struct {
		Users struct {
			Edges []struct {
				Node map[string]any `json:"node"`
			} `json:"edges"`
		} `json:"users"`
	} `json:"data"`
	Errors []any `json:"errors"`
}

// checkUsers checks an answer of users(first: n) in full.
func checkUsers(body []byte, n int, fields string) error {
	var a usersAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("answer is not JSON: %.300s", body)
	}
	if len(a.Errors) > 0 || len(a.Data.Users.Edges) != n {
		return fmt.Errorf("want %d users and no errors, got %d users: %.300s", n, len(a.Data.Users.Edges), body)
	}
	for _, e := range a.Data.Users.Edges {
		for f := range strings.FieldsSeq(fields) {
			if _, ok := e.Node[f]; !ok {
				return fmt.Errorf("a user without %s: %v", f, e.Node)
			}
		}
	}
	return nil
}

// checkLookups checks an answer of scenario c in full.
func checkLookups(body []byte, want []string) error {
	var a struct {
		Data   map[string]*struct{ NativeID string }
		Errors []any
	}
	if err := json.Unmarshal(body, &a); err != nil || len(a.Errors) > 0 {
		return fmt.Errorf("want 50 users and no errors: %.300s", body)
	}
	for i, id := range want {
		if u := a.Data["u"+strconv.Itoa(i)]; u == nil || u.NativeID != id {
			return fmt.Errorf("u%d = %+v, want %s", i, u, id)
		}
	}
	return nil
}

// sameJSON reports whether two answers hold the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
