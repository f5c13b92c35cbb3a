package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
)

// overlapping returns directories with known overlaps: getbill users
// 0-29 are Concur people, by the same email (some in other letter case,
// some with spaces), by an email that is only secondary in Concur, or by
// an email only one of the directories has.
func overlapping() (concurUsers, billUsers []driver.User) {
	all := providertest.Dataset(200)
	concurUsers, billUsers = all[:140], slices.Clone(all[140:])
	for j := range 30 {
		c := concurUsers[j*4+1] // every one of these has a secondary email
		switch j % 3 {
		case 0:
			billUsers[j].Email = strings.ToUpper(c.Email)
		case 1:
			billUsers[j].Email = "  " + c.Email + " "
		case 2:
			billUsers[j].Email = c.Emails[1] // secondary in Concur
		}
	}
	return concurUsers, billUsers
}

// cachedGetbill is the production default: one directory fetch is reused.
func cachedGetbill(c *config.Config) { c.Providers[1].CacheTTL = config.DefaultCacheTTL }

type linkedPage struct {
	Users struct {
		Edges []struct {
			Node struct {
				NativeID       string
				Provider       struct{ Key string }
				LinkedAccounts []struct{ ID string }
				Company        *struct{ Name string }
			}
		}
	}
}

func (g *gateway) calls() (concurUsers, getbillUsers int) {
	_, c := g.concur.Calls()
	_, b := g.getbill.Calls()
	return c, b
}

const linkedQuery = `query($first: Int, $last: Int, $filter: UserFilter) {
  users(first: $first, last: $last, filter: $filter) {
    edges { node { nativeId provider { key } linkedAccounts { id } company { name } } } } }`

const plainQuery = `query($first: Int, $last: Int, $filter: UserFilter) {
  users(first: $first, last: $last, filter: $filter) { edges { node { nativeId } } } }`

// TestLinkedAccounts checks linkedAccounts against the ground truth and
// bounds the vendor calls it costs: for each page, the calls of the same
// page without linkedAccounts and company, plus at most one getbill call
// and one Concur call per distinct email the request had not seen.
func TestLinkedAccounts(t *testing.T) {
	cu, bu := overlapping()
	for _, tt := range []struct {
		name string
		vars map[string]any
	}{
		{"a page of Concur users", map[string]any{"first": 100}},
		{"a page across both", map[string]any{"last": 100}},
		{"getbill only", map[string]any{"first": 100, "filter": map[string]any{"providers": []string{"getbill"}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := newGatewayWith(t, cu, bu, cachedGetbill)
			if r := base.query(t, plainQuery, tt.vars); len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			baseConcur, baseBill := base.calls()

			g := newGatewayWith(t, cu, bu, cachedGetbill)
			r := g.query(t, linkedQuery, tt.vars)
			if len(r.Errors) > 0 {
				t.Fatal(r.Errors)
			}
			var p linkedPage
			if err := json.Unmarshal(r.Data, &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Users.Edges) != 100 && len(p.Users.Edges) != len(bu) {
				t.Fatalf("%d users", len(p.Users.Edges))
			}
			byID := map[string]driver.User{}
			for _, u := range g.concurUsers {
				byID["concur/"+u.ID] = u
			}
			for _, u := range g.billUsers {
				byID["getbill/"+u.ID] = u
			}
			linked, primed, listedConcur, unseen := 0, 0, map[string]bool{}, map[string]bool{}
			for _, e := range p.Users.Edges {
				if e.Node.Provider.Key == "concur" {
					listedConcur[providers.NormalizeEmail(byID["concur/"+e.Node.NativeID].Email)] = true
				}
			}
			for _, e := range p.Users.Edges {
				key := e.Node.Provider.Key
				u := byID[key+"/"+e.Node.NativeID]
				var got []string
				for _, l := range e.Node.LinkedAccounts {
					got = append(got, l.ID)
				}
				if want := expectLinked(g, key, u); !slices.Equal(got, want) {
					t.Errorf("%s/%s (%s) linkedAccounts = %v, want %v", key, u.ID, u.Email, got, want)
				}
				linked += len(got)
				if key == "getbill" {
					for _, em := range providers.Emails(&u) {
						if !listedConcur[em] {
							unseen[em] = true
						} else {
							primed++
						}
					}
				}
				wantCompany := key == "concur"
				if (e.Node.Company != nil) != wantCompany || wantCompany && e.Node.Company.Name != "Acme" {
					t.Errorf("%s/%s company = %+v", key, u.ID, e.Node.Company)
				}
			}
			if linked == 0 {
				t.Fatal("no linked accounts at all: the dataset does not test anything")
			}
			if tt.name == "a page across both" && primed == 0 {
				t.Fatal("no getbill email was listed in Concur on the page: priming is not tested")
			}
			gotConcur, gotBill := g.calls()
			t.Logf("vendor calls: concur %d (page alone %d, unseen emails %d, primed %d), getbill %d (page alone %d); %d links",
				gotConcur, baseConcur, len(unseen), primed, gotBill, baseBill, linked)
			if gotBill > max(baseBill, 1) {
				t.Errorf("getbill calls = %d, want at most %d", gotBill, max(baseBill, 1))
			}
			if gotConcur > baseConcur+len(unseen) {
				t.Errorf("concur calls = %d, want at most %d (page) + %d (distinct unseen emails)", gotConcur, baseConcur, len(unseen))
			}
		})
	}
}

// TestBatchedUserLookups: 50 aliased user(id) lookups over both providers,
// some repeated, cost at most one getbill call and one Concur call per
// distinct Concur id.
func TestBatchedUserLookups(t *testing.T) {
	g := newGateway(t, nil)
	var b strings.Builder
	b.WriteString("{")
	var want []string
	distinct := map[string]bool{}
	for i := range 50 {
		key, u := "getbill", g.billUsers[(i*7)%len(g.billUsers)]
		if i%2 == 0 {
			key, u = "concur", g.concurUsers[(i*3)%36] // repeats: 25 lookups, 6 distinct ids
			distinct[u.ID] = true
		}
		fmt.Fprintf(&b, " u%d: user(id: %q) { nativeId provider { key } }", i, relay.UserID(key, u.ID))
		want = append(want, key+"/"+u.ID)
	}
	b.WriteString(" }")
	r := g.query(t, b.String(), nil)
	if len(r.Errors) > 0 {
		t.Fatal(r.Errors)
	}
	var got map[string]struct {
		NativeID string
		Provider struct{ Key string }
	}
	json.Unmarshal(r.Data, &got)
	for i, w := range want {
		u := got[fmt.Sprintf("u%d", i)]
		if u.Provider.Key+"/"+u.NativeID != w {
			t.Errorf("u%d = %+v, want %s", i, u, w)
		}
	}
	concurCalls, billCalls := g.calls()
	t.Logf("50 lookups (%d distinct Concur ids): concur calls %d, getbill calls %d", len(distinct), concurCalls, billCalls)
	if billCalls > 1 || concurCalls > len(distinct) {
		t.Errorf("vendor calls: getbill %d (want ≤ 1), concur %d (want ≤ %d distinct ids)", billCalls, concurCalls, len(distinct))
	}
}

// TestOneErrorPerFailure: a provider that fails under a page of users is
// one error in the response, not one per user; and nodes takes no more ids
// than a page holds.
func TestOneErrorPerFailure(t *testing.T) {
	g := newGateway(t, nil)
	g.getbill.SetFault(getbill.Fault{Status: http.StatusServiceUnavailable})
	r := g.query(t, `{ users(first: 30) { edges { node { linkedAccounts { id } } } } }`, nil)
	if !slices.Equal(codes(r.Errors), []string{"PROVIDER_UNAVAILABLE@getbill"}) {
		t.Errorf("errors = %v, want one PROVIDER_UNAVAILABLE@getbill", codes(r.Errors))
	}
	if n := strings.Count(g.logs.String(), "provider failed"); n != 1 {
		t.Errorf("%d log lines for the failure, want 1", n)
	}
	ids := make([]string, 1001)
	for i := range ids {
		ids[i] = relay.UserID("concur", fmt.Sprint(i))
	}
	// Each Concur id costs a Concur call: refused before any, by the
	// vendor-call limit (500) before the resolver's cap on ids (1000).
	r = g.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids})
	if !slices.Equal(codes(r.Errors), []string{"VENDOR_CALL_LIMIT_EXCEEDED"}) {
		t.Errorf("nodes of 1001 ids: errors %v, want VENDOR_CALL_LIMIT_EXCEEDED", codes(r.Errors))
	}
	if c, _ := g.calls(); c > 1 {
		t.Errorf("concur calls = %d: the ids were looked up", c)
	}
}
