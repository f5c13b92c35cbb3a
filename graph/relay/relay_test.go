package relay

import (
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/dirgate/dirgate/providers"
)

func TestIDRoundTrip(t *testing.T) {
	for _, tt := range []struct{ key, native string }{
		{"concur", "99BFFFC3-C0BE-44FF-A441-AE1FFFFFF75B8"},
		{"getbill", "abc123def456ghi789"},
		{"x", "id:with:colons and spaces/ü"},
	} {
		got, err := ParseID(UserID(tt.key, tt.native))
		if err != nil || got != (ID{Type: "User", Key: tt.key, NativeID: tt.native}) {
			t.Errorf("ParseID(UserID(%q, %q)) = %+v, %v", tt.key, tt.native, got, err)
		}
	}
	if got, err := ParseID(ProviderID("concur")); err != nil || got != (ID{Type: "Provider", Key: "concur"}) {
		t.Errorf("ParseID(ProviderID(concur)) = %+v, %v", got, err)
	}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "!!!", b64("User:concur"), b64("User::x"), b64("User:k:"), b64("Provider:"), b64("Provider:a:b"), b64("Order:1"), "VXNlcjpjb25jdXI6eA=="} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) = %v, want ErrBadID", bad, err)
		}
	}
}

func TestCursors(t *testing.T) {
	c := NewCursors([]byte("k1"))
	cut := providers.Cut{Edge: 1, Pos: []providers.Position{
		{Offset: 120, Vendor: 120, Anchor: []uint64{1, 1 << 63, 0xdeadbeefcafef00d}},
		{Offset: 7, Vendor: 3, Cursor: "vendor-cursor==", Anchor: []uint64{42}},
		{Offset: providers.End, Vendor: providers.End},
	}}
	s := c.Encode("bind", cut)
	got, err := c.Decode("bind", s)
	if err != nil || got.Edge != cut.Edge || !reflect.DeepEqual(got.Pos, cut.Pos) {
		t.Fatalf("Decode(Encode(%+v)) = %+v, %v", cut, got, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(s)
	flipped := slices.Clone(raw)
	flipped[len(flipped)-3] ^= 1
	for name, bad := range map[string]string{
		"another filter": "",
		"empty":          "",
		"not base64":     "@@@",
		"truncated":      s[:10],
		"altered":        base64.RawURLEncoding.EncodeToString(flipped),
		"other key":      NewCursors([]byte("k2")).Encode("bind", cut),
		"other version":  base64.RawURLEncoding.EncodeToString(append([]byte{1}, raw[1:]...)),
	} {
		bind, cursor := "bind", bad
		if name == "another filter" {
			bind, cursor = "bind2", s
		}
		if _, err := c.Decode(bind, cursor); !errors.Is(err, ErrBadCursor) {
			t.Errorf("%s: Decode = %v, want ErrBadCursor", name, err)
		}
	}
}

func FuzzCursorDecode(f *testing.F) {
	c := NewCursors([]byte("k"))
	f.Add(c.Encode("b", providers.Cut{Pos: []providers.Position{{Offset: 1}}}))
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		cut, err := c.Decode("b", s)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a cursor that decodes the same.
		again, err := c.Decode("b", c.Encode("b", cut))
		if err != nil || again.Edge != cut.Edge || !reflect.DeepEqual(again.Pos, cut.Pos) {
			t.Errorf("round trip of %+v = %+v, %v", cut, again, err)
		}
	})
}

// FuzzReadCut: whatever the bytes behind a valid MAC hold (a secret key
// could leak), reading them as a cut never panics or allocates beyond
// them, and a cut read writes back to one that reads the same.
func FuzzReadCut(f *testing.F) {
	f.Add(appendCut(nil, providers.Cut{Edge: 1, Pos: []providers.Position{
		{Offset: 7, Vendor: 9, Cursor: "c", Anchor: []uint64{1, 2}}, {Offset: providers.End, Vendor: providers.End},
	}}))
	f.Add([]byte{0, 200, 200, 200, 200, 7})
	f.Fuzz(func(t *testing.T, b []byte) {
		cut, ok := readCut(b)
		if !ok {
			return
		}
		again, ok := readCut(appendCut(nil, cut))
		if !ok || again.Edge != cut.Edge || !reflect.DeepEqual(again.Pos, cut.Pos) {
			t.Errorf("readCut(appendCut(%+v)) = %+v, %t", cut, again, ok)
		}
	})
}
