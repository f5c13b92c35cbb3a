package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// replay serves each distinct GET of Concur's /users/ from the emulator
// once, then from memory: the vendor then costs the benchmark next to
// nothing, and what it measures is dirgate.
type replay struct {
	h    http.Handler
	mu   sync.Mutex
	seen map[string]*httptest.ResponseRecorder
}

func (rp *replay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/users") {
		rp.h.ServeHTTP(w, r)
		return
	}
	rp.mu.Lock()
	rec := rp.seen[r.URL.RawQuery]
	rp.mu.Unlock()
	if rec == nil {
		rec = httptest.NewRecorder()
		rp.h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK {
			rp.mu.Lock()
			rp.seen[r.URL.RawQuery] = rec
			rp.mu.Unlock()
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

// BenchmarkQuery sends whole GraphQL requests (one op each) through
// dirgate's handler, as run() wires it (JSON logs at info, to nowhere),
// over the demo's directory: the Concur emulator's answers replayed from
// memory, the getbill directory cached. The scenarios are the load
// command's (go run ./internal/bench), without its HTTP client and
// processes.
//
//	go test -run '^$' -bench Query -benchmem .
func BenchmarkQuery(b *testing.B) {
	people := demo.Directory()
	concurUsers, getbillUsers := people.Concur, people.Getbill
	cs := httptest.NewServer(&replay{seen: map[string]*httptest.ResponseRecorder{}, h: concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: "concur-client-secret", CompanyUUID: "company-uuid", RequestToken: "request-token-secret",
		Users: concurUsers, Company: &driver.Company{Name: "Acme"},
	})})
	defer cs.Close()
	gs := httptest.NewServer(getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "gid", ClientSecret: "getbill-client-secret", Users: getbillUsers}))
	defer gs.Close()
	cfg := &config.Config{Providers: []config.Provider{
		{Key: "concur", Kind: "concur", Settings: &concur.Config{Auth: companyauth.Config{TokenURL: cs.URL + "/oauth2/v0/token", ClientID: "cid", ClientSecret: vendorhttp.NewSecret("concur-client-secret"), CompanyUUID: "company-uuid", RequestToken: vendorhttp.NewSecret("request-token-secret")}, PageSize: 100}},
		{Key: "getbill", Kind: "getbill", CacheTTL: config.DefaultCacheTTL, MaxStale: config.DefaultMaxStale, Settings: &getbill.Config{
			BaseURL: gs.URL, ClientID: "gid", ClientSecret: vendorhttp.NewSecret("getbill-client-secret"),
		}},
	}}
	cfg.Server.DefaultPageSize, cfg.Server.MaxPageSize = config.DefaultPageSize, config.DefaultMaxPageSize
	h := newHandler(b, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	const fields = `nativeId firstName lastName email active`
	for _, tt := range []struct {
		name, query string
		users       int
		vars        map[string]any
	}{
		{"users100", `{ users(first: 100, filter: {providers: ["concur"]}) { edges { node { ` + fields + ` } } } }`, 100, nil},
		{"users100-all-fields", `{ users(first: 100, filter: {providers: ["concur"]}) { edges { node {
			id nativeId provider { id key kind name } email emails firstName middleName lastName displayName active
			loginId employeeId cellPhone organizationUnit countryCode createdAt lastActivityAt
			company { name address city state zip country } linkedAccounts { id } } } } }`, 100, nil},
		{"users20-cached", `{ users(first: 20, filter: {providers: ["getbill"]}) { edges { node { ` + fields + ` } } } }`, 20, nil},
		// The largest body a request may have (server.limits.bodyBytes), in
		// one variable: what reading and decoding it costs.
		{"body-1MiB", `query($email: String) { users(first: 20, filter: {providers: ["getbill"], email: $email}) { edges { node { ` + fields + ` } } } }`, 0,
			map[string]any{"email": strings.Repeat("x", config.DefaultBodyBytes-200)}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			body, _ := json.Marshal(map[string]any{"query": tt.query, "variables": tt.vars})
			var rec *httptest.ResponseRecorder
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "http://localhost/query", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
			}
			var answer struct {
				Data struct {
					Users struct {
						Edges []struct{ Node struct{ NativeID string } }
					}
				}
				Errors []any
			}
			err := json.Unmarshal(rec.Body.Bytes(), &answer)
			if rec.Code != http.StatusOK || err != nil || len(answer.Errors) > 0 || len(answer.Data.Users.Edges) != tt.users {
				b.Fatalf("%d: %.500s", rec.Code, rec.Body)
			}
		})
	}
}
