package relay

import (
	"testing"

	"github.com/dirgate/dirgate/providers"
)

// The codecs run once per edge (cursors) and once per user (ids) of every
// page.
//
//	go test -run '^$' -bench . -benchmem ./graph/relay

var benchCut = providers.Cut{Edge: 0, Pos: []providers.Position{{Offset: 1234}, {Offset: 0}}}

const benchBind = `providers:"concur","getbill",|active:true`

func BenchmarkCursorEncode(b *testing.B) {
	c := NewCursors([]byte("0123456789abcdef0123456789abcdef"))
	for b.Loop() {
		c.Encode(benchBind, benchCut)
	}
}

// BenchmarkCursorEncodeBound is a cursor of a page whose query's Binder
// is made once, as a request makes it.
func BenchmarkCursorEncodeBound(b *testing.B) {
	bound := NewCursors([]byte("0123456789abcdef0123456789abcdef")).Bind(benchBind)
	for b.Loop() {
		bound.Encode(benchCut)
	}
}

func BenchmarkCursorDecode(b *testing.B) {
	c := NewCursors([]byte("0123456789abcdef0123456789abcdef"))
	s := c.Encode(benchBind, benchCut)
	for b.Loop() {
		if _, err := c.Decode(benchBind, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUserID(b *testing.B) {
	for b.Loop() {
		UserID("concur", "5F0C2A1E-7B3D-4C9A-8E6F-1A2B3C4D5E6F")
	}
}

func BenchmarkParseID(b *testing.B) {
	id := UserID("concur", "5F0C2A1E-7B3D-4C9A-8E6F-1A2B3C4D5E6F")
	for b.Loop() {
		if _, err := ParseID(id); err != nil {
			b.Fatal(err)
		}
	}
}
