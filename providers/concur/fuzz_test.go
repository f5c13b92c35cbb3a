package concur

import (
	"errors"
	"testing"

	"github.com/dirgate/dirgate/providers/driver"
)

// FuzzDecodeUsers: whatever Concur answers to /users/, decoding gives
// users with ids and a sane total, or a bad response that quotes nothing
// of the answer; it never panics. The seeds (testdata/fuzz) hold the
// attacks the hardening issue lists: an empty page that claims a total,
// totals and numbers out of range, nulls and wrong types everywhere,
// deep nesting, a vendor echoing personal data.
func FuzzDecodeUsers(f *testing.F) {
	f.Add([]byte(`{"total":2,"Items":[{"ID":"a","PrimaryEmail":"a@x.example"},{"ID":"b","Active":"true"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		page, err := decodeUsers(body, 100)
		if err != nil {
			if !errors.Is(err, driver.ErrBadResponse) {
				t.Fatalf("unclassified error %v", err)
			}
			if len(body) > 8 && len(err.Error()) > 200 {
				t.Fatalf("an error of %d bytes: it quotes the answer", len(err.Error()))
			}
			return
		}
		if page.Total < -1 {
			t.Fatalf("total %d", page.Total)
		}
		for _, u := range page.Users {
			if u.ID == "" {
				t.Fatal("a user without an id")
			}
		}
	})
}
