package concur

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers"
)

// BenchmarkUsersFirst1000 is users(first: 1000) as the GraphQL resolver
// asks for it (one providers.Directory page), against the emulator over
// loopback HTTP with 50 ms of vendor latency and Concur pages of 100: ten
// vendor pages. Fetched concurrently they take about one round trip;
// one after another (concurrency=1, the old way), ten. roundtrips/op is
// the time per page in units of the vendor latency.
//
//	go test -run '^$' -bench UsersFirst1000 -benchtime 5x -count 3 ./providers/concur
func BenchmarkUsersFirst1000(b *testing.B) {
	const latency = 50 * time.Millisecond
	users := makeUsers(1000)
	for _, concurrency := range []int{1, DefaultConcurrency} {
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
			c, err := New(Config{
				TokenURL: srv.URL + tokenPath, ClientID: testClientID, ClientSecret: testClientSecret,
				CompanyUUID: testCompanyUUID, RequestToken: testRequestToken,
				PageSize: 100, Concurrency: concurrency,
			}, &Options{HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				b.Fatal(err)
			}
			dir, err := providers.NewDirectory(providers.NewSource(providers.Info{Key: "concur", Kind: "concur"}, c, nil))
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
