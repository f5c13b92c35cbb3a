package concur

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
)

// BenchmarkUsersFirst1000 is users(first: 1000) as the GraphQL resolver
// asks for it (one providers.Directory page), against the emulator over
// loopback HTTP with 50 ms of vendor latency and Concur pages of 100: ten
// vendor pages. Fetched with the default cap of 8 requests in flight they
// take about two round trips; one after another (concurrency=1), ten.
// roundtrips/op is the time per page in units of the vendor latency.
//
//	go test -run '^$' -bench UsersFirst1000 -benchtime 5x -count 3 ./providers/concur
func BenchmarkUsersFirst1000(b *testing.B) {
	const latency = 50 * time.Millisecond
	users := makeUsers(1000)
	for _, concurrency := range []int{1, providers.DefaultMaxConcurrency, 10} {
		b.Run(fmt.Sprintf("concurrency=%d", concurrency), func(b *testing.B) {
			emu := NewEmulator(EmulatorOptions{
				ClientID: testClientID, ClientSecret: testClientSecret,
				CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
				Users: users, Company: testCompanyInfo, Latency: latency,
			})
			srv := httptest.NewServer(emu)
			defer srv.Close()
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 32 // as server.go's client
			c, err := New(Config{Auth: companyauth.Config{TokenURL: srv.URL + tokenPath, ClientID: testClientID, ClientSecret: sec(testClientSecret), CompanyUUID: testCompanyUUID, RequestToken: sec(testRequestToken)}, PageSize: 100}, &Options{HTTP: httpClient(&http.Client{Transport: tr}, nil)})
			if err != nil {
				b.Fatal(err)
			}
			src, err := providers.NewSource(providers.Info{Key: "concur", Kind: "concur"}, c, &providers.SourceOptions{MaxConcurrency: concurrency})
			if err != nil {
				b.Fatal(err)
			}
			dir, err := providers.NewDirectory(src)
			if err != nil {
				b.Fatal(err)
			}
			page := func() {
				p, err := dir.Page(b.Context(), providers.PageRequest{Count: 1000})
				if err != nil || len(p.Failed) > 0 || len(p.Edges) != 1000 || p.HasNextPage != (len(users) > 1000) {
					b.Fatalf("page: %v, %v, %d users", err, p.Failed, len(p.Edges))
				}
			}
			page() // log in, as a running gateway has
			for b.Loop() {
				page()
			}
			b.ReportMetric(float64(b.Elapsed())/float64(b.N)/float64(latency), "roundtrips/op")
		})
	}
}

// emulatorPages returns the emulator's answers to GET /users/ for users,
// in pages of size, as the adapter receives them.
func emulatorPages(b *testing.B, users []driver.User, size int, tmc bool) [][]byte {
	emu := NewEmulator(EmulatorOptions{
		ClientID: testClientID, ClientSecret: testClientSecret,
		CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
		Users: users, Company: testCompanyInfo, MaxLimit: size, TMCShape: tmc,
	})
	form := url.Values{
		"grant_type": {"password"}, "credtype": {"authtoken"}, "client_id": {testClientID},
		"client_secret": {testClientSecret}, "username": {testCompanyUUID}, "password": {testRequestToken},
	}
	req := httptest.NewRequest(http.MethodPost, tokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	emu.ServeHTTP(rec, req)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	var pages [][]byte
	for off := 0; off < len(users); off += size {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/users/?offset=%d&limit=%d", off, size), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		rec := httptest.NewRecorder()
		emu.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("page at %d: %d %s", off, rec.Code, rec.Body)
		}
		pages = append(pages, rec.Body.Bytes())
	}
	return pages
}

// BenchmarkDecodeUsers decodes 1,000 users (one op) as Concur sends them:
// ten pages of 100, in the documented shape and in the TMC guide's
// (numbers as strings, Emails as an object).
//
//	go test -run '^$' -bench DecodeUsers -benchmem ./providers/concur
func BenchmarkDecodeUsers(b *testing.B) {
	users := makeUsers(1000)
	for _, tmc := range []bool{false, true} {
		b.Run(fmt.Sprintf("tmc=%t", tmc), func(b *testing.B) {
			pages := emulatorPages(b, users, 100, tmc)
			n, size := 0, 0
			for _, p := range pages {
				size += len(p)
			}
			b.SetBytes(int64(size))
			for b.Loop() {
				n = 0
				for _, p := range pages {
					page, err := decodeUsers(p, 100)
					if err != nil {
						b.Fatal(err)
					}
					n += len(page.Users)
				}
			}
			if n != len(users) {
				b.Fatalf("decoded %d users, want %d", n, len(users))
			}
		})
	}
}
