package concur

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
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
