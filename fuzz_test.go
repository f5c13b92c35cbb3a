package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/hostile"
)

// FuzzRequest sends any body (or, for GET, any query string) to dirgate's
// whole handler over the emulators: it must answer with JSON whose every
// error has a code of the closed set, never a 5xx or a panic, and within
// the body limit. The seeds are the hostile requests of issue 10.
func FuzzRequest(f *testing.F) {
	for _, q := range []string{
		hostile.FanOut(40),
		duplicateQuery(9000, " "),
		`{ users(first: 1) { totalCount } }`,
		`query($n: Int) { users(first: $n) { totalCount } }`,
		`{ usrs }`,
		`{ __schema { types { name } } }`,
		`{ nodes(ids: ["VXNlcjpjb25jdXI6eA", "!!"]) { id ... on User { linkedAccounts { id } } } }`,
	} {
		f.Add(http.MethodPost, gqlBody(q, map[string]any{"n": "1001"}))
	}
	f.Add(http.MethodPost, `{"query": "{ users { totalCount } }", "variables": {"x": [[[[[[[[1]]]]]]]]}}`)
	f.Add(http.MethodPost, `{"query": 1}`)
	f.Add(http.MethodPost, `{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "00"}}}`)
	f.Add(http.MethodGet, "query="+url.QueryEscape(hostile.FanOut(40)))
	f.Add(http.MethodGet, "query=%7B+users+%7B+totalCount+%7D+%7D&variables=%5B")
	f.Add(http.MethodPut, "")
	g := newGateway(f, nil)
	f.Fuzz(func(t *testing.T, method, body string) {
		if len(body) > 1<<20 {
			return
		}
		var r *http.Request
		switch method {
		case http.MethodGet:
			r = httptest.NewRequest(method, "/query?"+url.PathEscape(body), nil)
			r.URL.RawQuery = body
		default:
			if len(method) == 0 || len(method) > 16 || strings.ContainsAny(method, " \t\r\n/()<>@,;:\\\"[]?={}") {
				return
			}
			r = httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(body))
			r.Method = method
			r.Header.Set("Content-Type", "application/json")
		}
		r.Host = "localhost"
		w := httptest.NewRecorder()
		g.handler.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %.200q: status %d %s", method, body, w.Code, w.Body)
		}
		if method == http.MethodOptions {
			return
		}
		var resp response
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			t.Fatalf("%s %.200q: status %d, body %.200q is not JSON: %v", method, body, w.Code, w.Body, err)
		}
		for _, e := range resp.Errors {
			if c, _ := e.Extensions["code"].(string); !slices.Contains(errcode.All, errcode.Code(c)) {
				t.Fatalf("%s %.200q: error %+v has no code of the closed set", method, body, e)
			}
		}
	})
}
