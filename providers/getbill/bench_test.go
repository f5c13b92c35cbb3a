package getbill

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// BenchmarkDecodePage decodes getbill's answer of 1,000 users (one op), as
// the emulator sends the whole directory.
//
//	go test -run '^$' -bench DecodePage -benchmem ./providers/getbill
func BenchmarkDecodePage(b *testing.B) {
	users := providertest.Dataset(1000)
	e := newEmulator(EmulatorOptions{Users: users})
	req := httptest.NewRequest(http.MethodGet, usersPath, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("users: %d %s", rec.Code, rec.Body)
	}
	body, header := rec.Body.Bytes(), rec.Result().Header
	b.SetBytes(int64(len(body)))
	var c Client
	var page *driver.ListPage
	for b.Loop() {
		var err error
		if page, err = c.decodePage(header, body, 1, 0, false); err != nil {
			b.Fatal(err)
		}
	}
	if len(page.Users) != len(users) {
		b.Fatalf("decoded %d users, want %d", len(page.Users), len(users))
	}
}
