package companyauth

import (
	"errors"
	"testing"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// FuzzTokenAnswer: whatever the token endpoint answers with 200, keeping
// it gives a token or a bad response; it never panics.
func FuzzTokenAnswer(f *testing.F) {
	f.Add([]byte(`{"access_token":"at","expires_in":"3600","refresh_token":"rt","refresh_expires_in":1900000000,"geolocation":"https://us.api.concursolutions.com"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		a := New(Config{ClientID: "id", ClientSecret: vendorhttp.NewSecret("client-secret"), CompanyUUID: "co", RequestToken: vendorhttp.NewSecret("request-token")}, nil)
		tok, err := a.keep(t.Context(), body, DefaultTokenURL)
		if err != nil {
			if !errors.Is(err, driver.ErrBadResponse) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if tok.Value.IsZero() || tok.Expiry.IsZero() {
			t.Fatalf("a token without a value or an expiry: %+v", tok)
		}
		if a.geo == "" {
			t.Fatal("no geolocation kept")
		}
	})
}
