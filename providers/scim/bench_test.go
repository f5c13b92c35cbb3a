package scim

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkDecodeList decodes a page of 1000 users, Identity v4.1's
// largest, as the emulator writes it.
func BenchmarkDecodeList(b *testing.B) {
	e := NewEmulator(EmulatorOptions{Users: dataset(1000), Index: true, Token: testToken})
	req := httptest.NewRequest("GET", "/Users?count=1000", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	body := w.Body.Bytes()
	m := DefaultMapping()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := m.DecodeList(body)
		if err != nil || len(p.Users) != 1000 {
			b.Fatal(err)
		}
	}
}
