package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers/getbill"
)

// answer is one HTTP exchange with /query, as the client saw it.
type answer struct {
	status int
	header http.Header
	body   []byte
	r      response
	// hasData is whether the body has a data entry at all, null or not.
	hasData bool
}

// send makes a request with headers given as name, value pairs ("Host"
// names the request's host), and decodes a JSON answer; a 5xx fails the
// test.
func send(t *testing.T, method, url, body string, headers ...string) answer {
	t.Helper()
	a := sendAny(t, method, url, body, headers...)
	if a.status >= 500 {
		t.Fatalf("%s %s: status %d: %s", method, url, a.status, a.body)
	}
	return a
}

// sendAny is send for a caller that expects a 5xx.
func sendAny(t *testing.T, method, url, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	var keys map[string]json.RawMessage
	if strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(a.body, &keys); err != nil {
			t.Fatalf("%s %s: status %d, body %q is not a JSON object: %v", method, url, resp.StatusCode, a.body, err)
		}
		json.Unmarshal(a.body, &a.r)
	}
	_, a.hasData = keys["data"]
	return a
}

const (
	jsonType = "application/json"
	gqlType  = "application/graphql-response+json"
)

// TestStatusCodes: the GraphQL-over-HTTP spec's status codes, media types
// and data entries, for both response media types. Request errors found
// on the document (parse, validation, variables, dirgate's limits) are a
// 200 to an application/json client and a 400 without data to an
// application/graphql-response+json one; requests that are not
// well-formed GraphQL-over-HTTP requests are a 4xx in both; every error
// has a code.
func TestStatusCodes(t *testing.T) {
	g := newGateway(t, nil)
	tests := []struct {
		name     string
		body     string
		wantJSON int // status when the client accepts application/json
		wantGQL  int // and application/graphql-response+json
		code     string
		message  string // a part of the message
		data     bool   // whether the answer has a data entry
	}{
		{"ok", `{"query":"{ providers { key } }"}`, 200, 200, "", "", true},
		{"ok with nulls", `{"query":"{ providers { key } }","variables":null,"operationName":null,"extensions":null}`, 200, 200, "", "", true},
		{"ok with an unknown extension", `{"query":"{ providers { key } }","extensions":{"some":"value"}}`, 200, 200, "", "", true},
		{"a field error keeps data", `{"query":"{ user(id: \"garbage\") { id } }"}`, 200, 200, "BAD_USER_INPUT", "", true},
		{"parse", `{"query":"{"}`, 200, 400, "GRAPHQL_PARSE_FAILED", "", false},
		{"validation", `{"query":"{ nope }"}`, 200, 400, "GRAPHQL_VALIDATION_FAILED", "nope", false},
		{"no such operation", `{"query":"query A { __typename }","operationName":"B"}`, 200, 400, "GRAPHQL_VALIDATION_FAILED", "", false},
		{"variable coercion", `{"query":"query($id: ID!) { user(id: $id) { id } }","variables":{"id":null}}`, 200, 400, "GRAPHQL_VALIDATION_FAILED", "", false},
		{"page size limit", `{"query":"{ users(first: 1001) { totalCount } }"}`, 200, 400, "PAGE_SIZE_LIMIT_EXCEEDED", "at most 1000", false},
		{"introspection off", `{"query":"{ __schema { queryType { name } } }"}`, 200, 400, "INTROSPECTION_DISABLED", "", false},
		{"@defer", `{"query":"{ users(first: 1) { ... @defer { totalCount } } }"}`, 200, 400, "GRAPHQL_VALIDATION_FAILED", `Unknown directive "@defer"`, false},
		{"misspelled key", `{"qeury":"{ __typename }"}`, 400, 400, "BAD_REQUEST", `unknown parameter "qeury"`, false},
		{"no query", `{"variables":{}}`, 400, 400, "BAD_REQUEST", "no query", false},
		{"empty query", `{"query":""}`, 400, 400, "BAD_REQUEST", "no query", false},
		{"query not a string", `{"query":{"obj":"ect"}}`, 400, 400, "BAD_REQUEST", "query parameter must be a string", false},
		{"operationName not a string", `{"query":"{ __typename }","operationName":0}`, 400, 400, "BAD_REQUEST", "operationName parameter", false},
		{"variables not an object", `{"query":"{ __typename }","variables":"string"}`, 400, 400, "BAD_REQUEST", "variables parameter must be a JSON object", false},
		{"variables an array", `{"query":"{ __typename }","variables":["array"]}`, 400, 400, "BAD_REQUEST", "variables parameter", false},
		{"extensions not an object", `{"query":"{ __typename }","extensions":false}`, 400, 400, "BAD_REQUEST", "extensions parameter", false},
		{"not JSON", `{ "not a JSON`, 400, 400, "BAD_REQUEST", "not a JSON object", false},
		{"JSON but not an object", `"{ __typename }"`, 400, 400, "BAD_REQUEST", "not a JSON object", false},
		{"two objects", `{"query":"{ __typename }"} {"query":"{ __typename }"}`, 400, 400, "BAD_REQUEST", "not a JSON object", false},
		{"batched", `[{"query":"{ __typename }"}]`, 400, 400, "BAD_REQUEST", "batched requests are not supported", false},
		{"empty body", ``, 400, 400, "BAD_REQUEST", "empty", false},
	}
	for _, tt := range tests {
		for _, accept := range []string{jsonType, gqlType} {
			a := send(t, http.MethodPost, g.url+"/query", tt.body, "Content-Type", "application/json", "Accept", accept)
			want := tt.wantJSON
			if accept == gqlType {
				want = tt.wantGQL
			}
			var wantCodes []string
			if tt.code != "" {
				wantCodes = []string{tt.code}
			}
			if a.status != want || !slices.Equal(codes(a.r.Errors), wantCodes) || a.hasData != tt.data {
				t.Errorf("%s, Accept %s: %d %s, want %d, codes %v, data entry %t", tt.name, accept, a.status, a.body, want, wantCodes, tt.data)
			}
			if ct := a.header.Get("Content-Type"); ct != accept+"; charset=utf-8" {
				t.Errorf("%s, Accept %s: Content-Type %q", tt.name, accept, ct)
			}
			if tt.message != "" && (len(a.r.Errors) == 0 || !strings.Contains(a.r.Errors[0].Message, tt.message)) {
				t.Errorf("%s: errors %+v, want a message containing %q", tt.name, a.r.Errors, tt.message)
			}
		}
	}

	// Requests dirgate will not take, whatever they accept.
	for _, tt := range []struct {
		name, method, contentType, accept string
		status                            int
		allow                             string
	}{
		{"PUT", http.MethodPut, jsonType, "", http.StatusMethodNotAllowed, "GET, POST, OPTIONS"},
		{"DELETE", http.MethodDelete, "", "", http.StatusMethodNotAllowed, "GET, POST, OPTIONS"},
		{"no Content-Type", http.MethodPost, "", "", http.StatusUnsupportedMediaType, ""},
		{"text/plain", http.MethodPost, "text/plain;charset=UTF-8", "", http.StatusUnsupportedMediaType, ""},
		{"a charset other than UTF-8", http.MethodPost, "application/json; charset=iso-8859-1", "", http.StatusUnsupportedMediaType, ""},
		{"accepts HTML only", http.MethodPost, jsonType, "text/html", http.StatusNotAcceptable, ""},
		{"refuses both JSON types", http.MethodPost, jsonType, "application/json;q=0, application/graphql-response+json;q=0", http.StatusNotAcceptable, ""},
	} {
		headers := []string{"Accept", tt.accept}
		if tt.contentType != "" {
			headers = append(headers, "Content-Type", tt.contentType)
		}
		a := send(t, tt.method, g.url+"/query", `{"query":"{ __typename }"}`, headers...)
		if a.status != tt.status || !slices.Equal(codes(a.r.Errors), []string{"BAD_REQUEST"}) || a.hasData || a.header.Get("Allow") != tt.allow {
			t.Errorf("%s: %d Allow %q %s, want %d BAD_REQUEST, Allow %q", tt.name, a.status, a.header.Get("Allow"), a.body, tt.status, tt.allow)
		}
	}
	if a := send(t, http.MethodPost, g.url+"/query", `{"query":"{ __type(name: \"Run🏃Swim🏊\") { name } }"}`, "Content-Type", "application/json; charset=UTF-8"); a.status != 200 {
		t.Errorf("charset=UTF-8: %d %s", a.status, a.body)
	}
	if a := send(t, http.MethodOptions, g.url+"/query", ""); a.status != http.StatusNoContent || a.header.Get("Allow") != "GET, POST, OPTIONS" {
		t.Errorf("OPTIONS: %d Allow %q", a.status, a.header.Get("Allow"))
	}

	// Accept negotiation, as real clients send it.
	for _, tt := range []struct{ accept, want string }{
		{"", jsonType},
		{"*/*", jsonType}, // Apollo Client 3
		{"application/graphql-response+json,application/json;q=0.9", gqlType},                                                          // Apollo Client 4
		{"application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed", gqlType}, // urql
		{"application/graphql-response+json;q=0.5, application/json", jsonType},
		{"application/json;q=0, */*", gqlType},
	} {
		a := send(t, http.MethodPost, g.url+"/query", `{"query":"{ nope }"}`, "Content-Type", "application/json", "Accept", tt.accept)
		wantStatus := 200
		if tt.want == gqlType {
			wantStatus = 400
		}
		if ct := a.header.Get("Content-Type"); ct != tt.want+"; charset=utf-8" || a.status != wantStatus {
			t.Errorf("Accept %q: %d %s, want %d %s", tt.accept, a.status, ct, wantStatus, tt.want)
		}
	}
	if strings.Contains(g.logs.String(), "internal error") {
		t.Errorf("a request error was logged as an internal error:\n%s", g.logs)
	}
}

// TestGETRequests: GET takes the same parameters, URL-encoded, with the
// same checks; every malformed one is a coded 400, none of them quoted
// back.
func TestGETRequests(t *testing.T) {
	g := newGateway(t, nil)
	q := func(params ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(params); i += 2 {
			v.Add(params[i], params[i+1])
		}
		return g.url + "/query?" + v.Encode()
	}
	const byID = `query($id: ID!) { user(id: $id) { id } }`
	for _, tt := range []struct {
		name    string
		url     string
		status  int
		code    string
		message string
	}{
		{"variables not JSON", q("query", byID, "variables", "notjson"), 400, "BAD_REQUEST", "variables parameter is not a URL-encoded JSON object"},
		{"variables an array", q("query", byID, "variables", `["a"]`), 400, "BAD_REQUEST", "variables parameter"},
		{"extensions not JSON", q("query", "{ __typename }", "extensions", "{bad"), 400, "BAD_REQUEST", "extensions parameter is not a URL-encoded JSON object"},
		{"unknown parameter", q("qeury", "{ __typename }"), 400, "BAD_REQUEST", `unknown parameter "qeury"`},
		{"query twice", q("query", "{ __typename }", "query", "{ providers { key } }"), 400, "BAD_REQUEST", "more than once"},
		{"no query", g.url + "/query", 400, "BAD_REQUEST", "no query"},
		{"malformed query string", g.url + "/query?query=%zz", 400, "BAD_REQUEST", "malformed"},
		{"mutation", q("query", "mutation { __typename }"), 200, "GRAPHQL_VALIDATION_FAILED", ""}, // dirgate has no mutations
		{"variable coercion", q("query", byID, "variables", `{"id":null}`), 200, "GRAPHQL_VALIDATION_FAILED", ""},
		{"ok", q("query", byID, "variables", `{"id":"garbage"}`), 200, "BAD_USER_INPUT", "not a dirgate id"},
	} {
		a := send(t, http.MethodGet, tt.url, "")
		if a.status != tt.status || !slices.Equal(codes(a.r.Errors), []string{tt.code}) {
			t.Errorf("%s: %d %s, want %d %s", tt.name, a.status, a.body, tt.status, tt.code)
			continue
		}
		if !strings.Contains(a.r.Errors[0].Message, tt.message) {
			t.Errorf("%s: message %q, want it to contain %q", tt.name, a.r.Errors[0].Message, tt.message)
		}
		if strings.Contains(string(a.body), "notjson") || strings.Contains(string(a.body), "{bad") {
			t.Errorf("%s: the answer quotes the parameter back: %s", tt.name, a.body)
		}
	}
	if a := send(t, http.MethodGet, q("query", "mutation { __typename }"), "", "Accept", gqlType); a.status != 400 || a.hasData {
		t.Errorf("mutation over GET, accepting %s: %d %s, want 400 without data", gqlType, a.status, a.body)
	}
	a := send(t, http.MethodGet, q("query", `query O { __typename } query P($k: ID!) { providers { key } p: nodes(ids: [$k]) { id } }`,
		"variables", fmt.Sprintf(`{"k":%q}`, relay.ProviderID("getbill")), "operationName", "P"), "")
	if a.status != 200 || len(a.r.Errors) != 0 || !strings.Contains(string(a.r.Data), `"p":[{"id":`) {
		t.Errorf("GET with variables and operationName: %d %s", a.status, a.body)
	}
}

// TestCacheHeaders: every answer of /query, GET or POST, data or error,
// a 401 and a 413 included, tells caches not to store it and what it
// varies on.
func TestCacheHeaders(t *testing.T) {
	key, hash := auth.GenerateKey()
	for _, cacheControl := range []string{"", "private, no-store"} {
		g := newGateway(t, func(c *config.Config) {
			c.Server.Auth.APIKeys = []string{hash}
			c.Server.CacheControl = cacheControl
			c.Server.Limits.BodyBytes = 2048
			c.Server.SchemaSDL = true
		})
		want := cacheControl
		if want == "" {
			want = "no-store"
		}
		bearer := []string{"Authorization", "Bearer " + key}
		get := g.url + "/query?query=" + url.QueryEscape("{ users(first: 2) { edges { node { email } } } }")
		for _, tt := range []struct {
			name    string
			method  string
			url     string
			body    string
			headers []string
			status  int
		}{
			{"GET with data", http.MethodGet, get, "", bearer, 200},
			{"POST with data", http.MethodPost, g.url + "/query", gqlBody(`{ users(first: 2) { edges { node { email } } } }`, nil), append([]string{"Content-Type", jsonType}, bearer...), 200},
			{"GET request error", http.MethodGet, g.url + "/query?variables=notjson", "", bearer, 400},
			{"POST request error", http.MethodPost, g.url + "/query", `{"query":"{"}`, append([]string{"Content-Type", jsonType, "Accept", gqlType}, bearer...), 400},
			{"GET unauthenticated", http.MethodGet, get, "", nil, 401},
			{"POST too large", http.MethodPost, g.url + "/query", gqlBody("{ __typename }"+strings.Repeat(" ", 3000), nil), append([]string{"Content-Type", jsonType}, bearer...), 413},
			{"method not allowed", http.MethodPatch, g.url + "/query", "", bearer, 405},
			{"not acceptable", http.MethodGet, get, "", append([]string{"Accept", "text/html"}, bearer...), 406},
			{"the schema", http.MethodGet, g.url + "/schema.graphql", "", bearer, 200},
		} {
			req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Cache-Control") != want || resp.Header.Values("Vary")[0] != "Accept, Authorization, Origin" || len(resp.Header.Values("Vary")) != 1 {
				t.Errorf("cacheControl %q, %s: %d, Cache-Control %q, Vary %q; want %d, %q and Vary: Accept, Authorization, Origin",
					cacheControl, tt.name, resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Values("Vary"), tt.status, want)
			}
		}
		// CORS adds nothing to Vary that is not there already.
		a := send(t, http.MethodPost, g.url+"/query", `{"query":"{ __typename }"}`, append([]string{"Content-Type", jsonType, "Origin", "https://dash.example.com"}, bearer...)...)
		if a.header.Get("Access-Control-Allow-Origin") != "https://dash.example.com" || !slices.Equal(a.header.Values("Vary"), []string{"Accept, Authorization, Origin"}) {
			t.Errorf("from an allowed origin: Allow-Origin %q, Vary %q", a.header.Get("Access-Control-Allow-Origin"), a.header.Values("Vary"))
		}
	}
}

// apqBody is a request with an automatic persisted query's extension.
func apqBody(query string, ext any) string {
	m := map[string]any{"extensions": map[string]any{"persistedQuery": ext}}
	if query != "" {
		m["query"] = query
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestPersistedQueryErrors: each way a persisted query can go wrong has
// its own code and a message that says what is wrong, over POST and GET.
func TestPersistedQueryErrors(t *testing.T) {
	g := newGateway(t, nil)
	const q = `{ providers { key } }`
	for _, tt := range []struct {
		name     string
		body     string
		wantJSON int
		code     string
		message  string
	}{
		{"hash mismatch", apqBody(q, map[string]any{"version": 1, "sha256Hash": sha256Hex("another query")}), 400, "BAD_REQUEST", "sha256Hash is not the SHA-256 of the query"},
		{"unsupported version", apqBody(q, map[string]any{"version": 2, "sha256Hash": sha256Hex(q)}), 200, "PERSISTED_QUERY_NOT_SUPPORTED", "supports version 1"},
		{"hash not hex", apqBody("", map[string]any{"version": 1, "sha256Hash": "xyz"}), 400, "BAD_REQUEST", "sha256Hash"},
		{"no version", apqBody("", map[string]any{"sha256Hash": sha256Hex(q)}), 400, "BAD_REQUEST", "version 1"},
		{"not an object", apqBody("", "abc"), 400, "BAD_REQUEST", "extensions.persistedQuery must be an object"},
		{"unknown hash", apqBody("", map[string]any{"version": 1, "sha256Hash": sha256Hex(q)}), 200, "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"},
	} {
		for _, accept := range []string{jsonType, gqlType} {
			want := tt.wantJSON
			if accept == gqlType {
				want = 400
			}
			a := send(t, http.MethodPost, g.url+"/query", tt.body, "Content-Type", jsonType, "Accept", accept)
			if a.status != want || !slices.Equal(codes(a.r.Errors), []string{tt.code}) || !strings.Contains(a.r.Errors[0].Message, tt.message) || a.hasData {
				t.Errorf("%s, Accept %s: %d %s, want %d %s with a message containing %q, no data", tt.name, accept, a.status, a.body, want, tt.code, tt.message)
			}
		}
		// The same over GET.
		var m map[string]json.RawMessage
		json.Unmarshal([]byte(tt.body), &m)
		v := url.Values{"extensions": {string(m["extensions"])}}
		if m["query"] != nil {
			var s string
			json.Unmarshal(m["query"], &s)
			v.Set("query", s)
		}
		if a := send(t, http.MethodGet, g.url+"/query?"+v.Encode(), ""); a.status != tt.wantJSON || !slices.Equal(codes(a.r.Errors), []string{tt.code}) {
			t.Errorf("%s over GET: %d %s, want %d %s", tt.name, a.status, a.body, tt.wantJSON, tt.code)
		}
	}
	// Registered over POST, then run by hash over GET, with extra keys in
	// the extension (urql adds miss: true).
	ext := map[string]any{"version": 1, "sha256Hash": sha256Hex(q), "miss": true}
	if a := send(t, http.MethodPost, g.url+"/query", apqBody(q, ext), "Content-Type", jsonType); a.status != 200 || len(a.r.Errors) > 0 {
		t.Fatalf("register: %d %s", a.status, a.body)
	}
	extJSON, _ := json.Marshal(map[string]any{"persistedQuery": ext})
	a := send(t, http.MethodGet, g.url+"/query?"+url.Values{"extensions": {string(extJSON)}}.Encode(), "", "Accept", gqlType)
	if a.status != 200 || len(a.r.Errors) > 0 || !strings.Contains(string(a.r.Data), `"key":"concur"`) {
		t.Errorf("by hash over GET: %d %s", a.status, a.body)
	}
}

// TestSchemaSDL: /schema.graphql serves the schema the server runs, for
// callers of /query, when introspection or server.schemaSDL is on; and
// dirgate -print-schema prints the same.
func TestSchemaSDL(t *testing.T) {
	key, hash := auth.GenerateKey()
	running := formatSchema(graph.Schema())
	for _, tt := range []struct {
		name                     string
		introspection, schemaSDL bool
		served                   bool
	}{
		{"default", false, false, false},
		{"introspection", true, false, true},
		{"schemaSDL", false, true, true},
	} {
		g := newGateway(t, func(c *config.Config) {
			c.Server.Auth.APIKeys = []string{hash}
			c.Server.Introspection, c.Server.SchemaSDL = tt.introspection, tt.schemaSDL
		})
		a := send(t, http.MethodGet, g.url+"/schema.graphql", "", "Authorization", "Bearer "+key)
		if !tt.served {
			if a.status != http.StatusNotFound {
				t.Errorf("%s: /schema.graphql: %d, want 404", tt.name, a.status)
			}
			continue
		}
		if a.status != 200 || a.header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%s: /schema.graphql: %d %s", tt.name, a.status, a.header.Get("Content-Type"))
		}
		s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(a.body)})
		if err != nil {
			t.Fatalf("%s: the SDL does not parse: %v", tt.name, err)
		}
		if got := formatSchema(s); got != running {
			t.Errorf("%s: the SDL is not the schema the server runs:\n%s\nwant\n%s", tt.name, got, running)
		}
		if !bytes.Contains(a.body, []byte(`"""`)) {
			t.Errorf("%s: the SDL has no descriptions", tt.name)
		}
		if a := send(t, http.MethodGet, g.url+"/schema.graphql", ""); a.status != http.StatusUnauthorized || !slices.Equal(codes(a.r.Errors), []string{"UNAUTHENTICATED"}) {
			t.Errorf("%s: /schema.graphql without a key: %d %s, want 401", tt.name, a.status, a.body)
		}
		var out bytes.Buffer
		if err := run(t.Context(), []string{"dirgate", "-print-schema"}, func(string) string { return "" }, &out, io.Discard); err != nil {
			t.Fatalf("-print-schema: %v", err)
		}
		if out.String() != string(a.body) {
			t.Errorf("-print-schema prints another SDL than /schema.graphql serves")
		}
	}
}

// formatSchema prints s with gqlparser's formatter: the same schema
// prints the same, whatever order its source gave it in.
func formatSchema(s *ast.Schema) string {
	var b strings.Builder
	formatter.NewFormatter(&b).FormatSchema(s)
	return b.String()
}

// TestREADMEStatuses: the HTTP statuses the README's error table gives for
// each code and media type are the ones dirgate answers with.
func TestREADMEStatuses(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][2][]string{} // code: statuses for application/json, for application/graphql-response+json
	for _, m := range regexp.MustCompile("(?m)^\\| *(`[A-Z_]+`(?:, *`[A-Z_]+`)*) *\\| *([0-9, ]+?) *\\| *([0-9, ]+?) *\\|").FindAllStringSubmatch(string(b), -1) {
		for _, c := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(m[1], -1) {
			documented[c[1]] = [2][]string{strings.Split(m[2], ", "), strings.Split(m[3], ", ")}
		}
	}
	key, hash := auth.GenerateKey()
	g := newGateway(t, func(c *config.Config) {
		c.Server.Auth.APIKeys = []string{hash}
		c.Server.Limits = config.Limits{Depth: 6, Complexity: 500, Tokens: 200, BodyBytes: 4096}
	})
	bearer := "Bearer " + key
	post := func(body string) func(accept string) answer {
		return func(accept string) answer {
			return send(t, http.MethodPost, g.url+"/query", body, "Content-Type", jsonType, "Accept", accept, "Authorization", bearer)
		}
	}
	tests := []struct {
		code string
		do   func(accept string) answer
	}{
		{"BAD_USER_INPUT", post(`{"query":"{ user(id: \"garbage\") { id } }"}`)},
		{"BAD_CURSOR", post(`{"query":"{ users(first: 1, after: \"garbage\") { totalCount } }"}`)},
		{"PROVIDER_UNAVAILABLE", func(accept string) answer {
			g.getbill.SetFault(getbill.Fault{Status: http.StatusNotFound}) // not retried
			defer g.getbill.SetFault(getbill.Fault{})
			return post(`{"query":"{ users(first: 1, filter: {providers: [\"getbill\"]}) { totalCount } }"}`)(accept)
		}},
		{"BAD_REQUEST", post(`{"qeury":"{ __typename }"}`)},
		{"BAD_REQUEST", func(accept string) answer {
			return send(t, http.MethodPut, g.url+"/query", "", "Accept", accept, "Authorization", bearer)
		}},
		{"BAD_REQUEST", func(string) answer {
			return send(t, http.MethodPost, g.url+"/query", `{"query":"{ __typename }"}`, "Content-Type", jsonType, "Accept", "text/html", "Authorization", bearer)
		}},
		{"BAD_REQUEST", func(accept string) answer {
			return send(t, http.MethodPost, g.url+"/query", `{"query":"{ __typename }"}`, "Content-Type", "text/plain", "Accept", accept, "Authorization", bearer)
		}},
		{"GRAPHQL_PARSE_FAILED", post(`{"query":"{"}`)},
		{"GRAPHQL_VALIDATION_FAILED", post(`{"query":"{ nope }"}`)},
		{"UNAUTHENTICATED", func(accept string) answer {
			return send(t, http.MethodPost, g.url+"/query", `{"query":"{ __typename }"}`, "Content-Type", jsonType, "Accept", accept)
		}},
		{"REQUEST_TOO_LARGE", post(gqlBody("{ __typename }"+strings.Repeat(" ", 5000), nil))},
		{"DEPTH_LIMIT_EXCEEDED", post(gqlBody(`{ users(first: 1) { edges { node { linkedAccounts { provider { company { name } } } } } } }`, nil))},
		{"COMPLEXITY_LIMIT_EXCEEDED", post(gqlBody(`{ users(first: 200) { edges { node { id email } } } }`, nil))},
		{"TOKEN_LIMIT_EXCEEDED", post(gqlBody("{"+strings.Repeat(" __typename", 300)+" }", nil))},
		{"PAGE_SIZE_LIMIT_EXCEEDED", post(gqlBody(`{ users(first: 1001) { totalCount } }`, nil))},
		{"INTROSPECTION_DISABLED", post(gqlBody(`{ __schema { queryType { name } } }`, nil))},
		{"PERSISTED_QUERY_NOT_FOUND", post(apqBody("", map[string]any{"version": 1, "sha256Hash": sha256Hex("{ never sent }")}))},
		{"PERSISTED_QUERY_NOT_SUPPORTED", post(apqBody("{ __typename }", map[string]any{"version": 2, "sha256Hash": sha256Hex("{ __typename }")}))},
	}
	for _, tt := range tests {
		doc, ok := documented[tt.code]
		if !ok {
			t.Errorf("%s: not in the README's error table", tt.code)
			continue
		}
		for i, accept := range []string{jsonType, gqlType} {
			a := tt.do(accept)
			if !slices.ContainsFunc(a.r.Errors, func(e gqlError) bool { return e.Extensions["code"] == tt.code }) {
				t.Errorf("%s, Accept %s: %d %s: the request did not produce the code", tt.code, accept, a.status, a.body)
				continue
			}
			if !slices.Contains(doc[i], strconv.Itoa(a.status)) {
				t.Errorf("%s, Accept %s: status %d, the README says %v", tt.code, accept, a.status, doc[i])
			}
		}
	}
}
