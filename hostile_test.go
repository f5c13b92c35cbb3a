package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/hostile"
	"github.com/dirgate/dirgate/providers/concur"
)

// The hostile queries of issue 10, items 1 to 5.

// duplicateQuery is item 2: n copies of id in one selection; sep changes
// the document's text (and so misses the query cache) without changing
// what it asks.
func duplicateQuery(n int, sep string) string {
	return "{ users(first:1){edges{node{" + strings.Repeat("id"+sep, n) + "}}} }"
}

// ask sends query by POST, or by GET in the URL, within a bound that only
// a hung server reaches (the test then fails; it measures no time).
func ask(t *testing.T, base, method, query string, vars map[string]any) (int, response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var req *http.Request
	if method == http.MethodGet {
		v := url.Values{"query": {query}}
		if vars != nil {
			b, _ := json.Marshal(vars)
			v.Set("variables", string(b))
		}
		req, _ = http.NewRequestWithContext(ctx, method, base+"/query?"+v.Encode(), nil)
	} else {
		req, _ = http.NewRequestWithContext(ctx, method, base+"/query", strings.NewReader(gqlBody(query, vars)))
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r response
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: status %d, body %.200q: %v", method, resp.StatusCode, b, err)
	}
	return resp.StatusCode, r
}

// refused checks that r is a refusal with the one code want, with no data,
// and that no vendor was called for it.
func refused(t *testing.T, g *gateway, name string, r response, before [4]int, want string) {
	t.Helper()
	if got := codes(r.Errors); !slices.Equal(got, []string{want}) || len(r.Data) > 0 && string(r.Data) != "null" {
		t.Errorf("%s: errors %v, data %.100s; want only %s and no data", name, got, r.Data, want)
	}
	if after := vendorCalls(g); after != before {
		t.Errorf("%s: vendor calls went from %v to %v: a resolver ran", name, before, after)
	}
}

// TestHostileQueries: the fragment fan-out of item 1 and the duplicate
// fields of item 2 are refused with their codes before anything runs, by
// POST and by GET. With the field and token limits lifted, the fan-out still meets
// the complexity limit, priced in a walk that visits each fragment once.
// (Today's code never answers the fan-out: gqlgen's complexity walk
// expands 2^39 spreads.)
func TestHostileQueries(t *testing.T) {
	g := newGateway(t, nil)
	lifted := newGateway(t, func(c *config.Config) {
		l := &c.Server.Limits
		l.Fields, l.FieldRepeats, l.Tokens = math.MaxInt, math.MaxInt, math.MaxInt
	})
	for _, tt := range []struct {
		name  string
		g     *gateway
		query string
		code  string
	}{
		{"40 fragments", g, hostile.FanOut(40), "FIELD_LIMIT_EXCEEDED"},
		{"9000 copies of id", g, duplicateQuery(9000, " "), "FIELD_LIMIT_EXCEEDED"},
		{"9000 copies of id, other whitespace", g, duplicateQuery(9000, ","), "FIELD_LIMIT_EXCEEDED"},
		{"40 fragments, field limits lifted", lifted, hostile.FanOut(40), "COMPLEXITY_LIMIT_EXCEEDED"},
		{"64 fragments, field limits lifted", lifted, hostile.FanOut(64), "COMPLEXITY_LIMIT_EXCEEDED"},
	} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			before := vendorCalls(tt.g)
			_, r := ask(t, tt.g.url, method, tt.query, nil)
			refused(t, tt.g, tt.name+" by "+method, r, before, tt.code)
		}
	}
	// Variables are bounded before they are decoded: 20,000 values cost
	// gqlgen's decoding and coercion time in their number.
	many := make([]int, 20000)
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		before := vendorCalls(g)
		_, r := ask(t, g.url, method, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": many})
		refused(t, g, "20,000 values in a variable by "+method, r, before, "REQUEST_TOO_LARGE")
	}
	// An honest query with fragments still runs.
	r := g.query(t, `{ users(first: 2) { ...C } } fragment C on UserConnection { edges { node { ...U } } nodes { ...U } }
		fragment U on User { id email provider { key } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"email"`) {
		t.Errorf("honest fragments: %s %+v", r.Data, r.Errors)
	}
}

// TestVendorCallLimit (item 3): aliases multiply vendor calls, so an
// operation whose estimate is over server.limits.vendorCalls is refused
// before any call; and a request that reaches the budget while running
// (here, by retrying a failing Concur) stops calling and reports
// VENDOR_CALL_LIMIT_EXCEEDED beside the data it has.
func TestVendorCallLimit(t *testing.T) {
	g := newGateway(t, nil)
	aliases := func(n int, field string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			fmt.Fprintf(&b, " a%d: %s", i, field)
		}
		return b.String() + " }"
	}
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = relay.UserID("concur", fmt.Sprintf("U%04d", i))
	}
	for _, tt := range []struct {
		name, query string
		vars        map[string]any
		code        string
	}{
		// Today: 900 Concur calls, and 40,000.
		{"900 × users(first:0){totalCount}", aliases(900, "users(first: 0) { totalCount }"), nil, "FIELD_LIMIT_EXCEEDED"},
		// Each costs 10 Concur pages of 100 and a total: 46 × 11 = 506.
		{"46 × users(first:1000){totalCount}", aliases(46, "users(first: 1000) { totalCount }"), nil, "VENDOR_CALL_LIMIT_EXCEEDED"},
		{"40 × nodes(1000 ids)", `query($ids: [ID!]!)` + aliases(40, "nodes(ids: $ids) { id }"), map[string]any{"ids": ids}, "VENDOR_CALL_LIMIT_EXCEEDED"},
		{"nodes(501 ids)", `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids[:501]}, "VENDOR_CALL_LIMIT_EXCEEDED"},
		{"linkedAccounts of 600 users", `{ users(first: 600) { nodes { linkedAccounts { id } } } }`, nil, "VENDOR_CALL_LIMIT_EXCEEDED"},
	} {
		before := vendorCalls(g)
		refused(t, g, tt.name, g.query(t, tt.query, tt.vars), before, tt.code)
	}
	// Within the estimate, the same shapes run.
	for _, q := range []string{aliases(45, "users(first: 1000) { totalCount }"), `{ users(first: 300) { nodes { linkedAccounts { id } } } }`} {
		if r := g.query(t, q, nil); len(r.Errors) > 0 {
			t.Errorf("%.60s: %v", q, codes(r.Errors))
		}
	}
	if r := g.query(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids[:500]}); len(r.Errors) > 0 {
		t.Errorf("nodes(500 ids): %v", codes(r.Errors))
	}

	// At run time: a page estimated at 2 Concur calls (one page, one
	// total) with a budget of 2, against a Concur that fails with 503s,
	// which dirgate retries: the third attempt is not made.
	tight := newGateway(t, func(c *config.Config) { c.Server.Limits.VendorCalls = 2 })
	tight.concur.SetFault(concur.Fault{Status: http.StatusServiceUnavailable})
	before, _ := tight.calls()
	r := tight.query(t, `{ users(first: 50) { edges { node { id provider { key } } } } }`, nil)
	after, _ := tight.calls()
	if !slices.Equal(codes(r.Errors), []string{"VENDOR_CALL_LIMIT_EXCEEDED@concur"}) {
		t.Errorf("a Concur failing under a budget of 2: errors %v, want VENDOR_CALL_LIMIT_EXCEEDED@concur", codes(r.Errors))
	}
	if n := after - before; n != 2 {
		t.Errorf("%d Concur calls under a budget of 2", n)
	}
	var p struct {
		Users struct {
			Edges []struct {
				Node struct{ Provider struct{ Key string } }
			}
		}
	}
	json.Unmarshal(r.Data, &p)
	if len(p.Users.Edges) != 50 || p.Users.Edges[0].Node.Provider.Key != "getbill" {
		t.Errorf("beside the error, %d edges (%s), want getbill's 50", len(p.Users.Edges), r.Data)
	}
	if st := readyState(t, tight, "concur"); st == "FAILING" {
		t.Errorf("concur is %s after the budget stopped its calls: a spent budget says nothing of the vendor", st)
	}
}

// readyState returns the state /readyz reports for a provider.
func readyState(t *testing.T, g *gateway, key string) string {
	t.Helper()
	_, rep := readyz(t, g)
	for _, p := range rep.Providers {
		if p.Key == key {
			return string(p.State)
		}
	}
	return ""
}

// TestLimitsReadCoercedVariables (item 4): a page size sent as a string in
// a variable is what the executor reads, so the page-size limit refuses it
// before anything runs, not the resolver after other fields ran.
func TestLimitsReadCoercedVariables(t *testing.T) {
	g := newGateway(t, nil)
	for _, vars := range []map[string]any{{"n": "1001"}, {"n": 1001}, {"n": "5000"}} {
		before := vendorCalls(g)
		r := g.query(t, `query($n: Int) { big: users(first: $n) { totalCount } other: users(first: 1) { totalCount } }`, vars)
		refused(t, g, fmt.Sprintf("first: %#v", vars["n"]), r, before, "PAGE_SIZE_LIMIT_EXCEEDED")
	}
	// The complexity and vendor-call estimates read them the same way.
	lowComplexity := newGateway(t, func(c *config.Config) { c.Server.Limits.Complexity = 500 })
	before := vendorCalls(lowComplexity)
	r := lowComplexity.query(t, `query($n: Int) { users(first: $n) { edges { node { id email } } } }`, map[string]any{"n": "200"})
	refused(t, lowComplexity, `first: "200"`, r, before, "COMPLEXITY_LIMIT_EXCEEDED")
}

// TestNoSuggestionsWithoutIntrospection (item 5): "Did you mean" names the
// fields introspection hides, so it is off when introspection is.
func TestNoSuggestionsWithoutIntrospection(t *testing.T) {
	for _, introspection := range []bool{false, true} {
		g := newGateway(t, func(c *config.Config) { c.Server.Introspection = introspection })
		for _, q := range []string{`{ usrs { totalCount } }`, `{ users(first: 1) { edges { node { emal } } } }`} {
			r := g.query(t, q, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("%s: no error", q)
			}
			if got := strings.Contains(r.Errors[0].Message, "Did you mean"); got != introspection {
				t.Errorf("introspection %t, %s: %q", introspection, q, r.Errors[0].Message)
			}
		}
	}
}
