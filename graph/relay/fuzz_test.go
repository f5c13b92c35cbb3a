package relay

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	"github.com/dirgate/dirgate/providers"
)

// FuzzParseID: any string is a global id or ErrBadID, never a panic, and
// an id that parses names the same thing once encoded again.
func FuzzParseID(f *testing.F) {
	f.Add(UserID("concur", "99BFFFC3-C0BE-44FF-A441-AE1FFFFFF75B8"))
	f.Add(ProviderID("getbill"))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte("User:concur:" + strings.Repeat("x", 4096))))
	f.Add("VXNlcjpjb25jdXI6eA==")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		got, err := ParseID(id)
		if err != nil {
			if got != (ID{}) {
				t.Errorf("ParseID(%q) = %+v with error %v", id, got, err)
			}
			return
		}
		again := ProviderID(got.Key)
		if got.Type == "User" {
			again = UserID(got.Key, got.NativeID)
		}
		if back, err := ParseID(again); err != nil || back != got {
			t.Errorf("ParseID(%q) = %+v; encoded again and parsed: %+v, %v", id, got, back, err)
		}
	})
}

// FuzzCursorDecode: a cursor is checked before its body is read, so only
// bodies dirgate signed are decoded; this signs arbitrary bodies to reach
// the decoder (FuzzReadCut reads them without the MAC). Decoding never panics, and a cut it returns encodes to a cursor
// that decodes to the same cut; any unsigned or altered cursor is refused.
func FuzzCursorDecode(f *testing.F) {
	c := NewCursors([]byte("fuzz-key"))
	good := c.Encode("providers:\"concur\",", providers.Cut{Edge: 0, Pos: []providers.Position{{Offset: 3, Vendor: 3}, {Offset: providers.End, Cursor: "t", Anchor: []uint64{7}}}})
	raw, _ := base64.RawURLEncoding.DecodeString(good)
	f.Add("providers:\"concur\",", raw[1+macSize:], good)
	f.Add("", appendCut(nil, providers.Cut{Edge: 1, Pos: []providers.Position{{Offset: 1, Vendor: 1}, {Offset: 2, Vendor: 3, Cursor: "x", Anchor: []uint64{1}}}}), "Aw")
	f.Add("b", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 0}, strings.Repeat("A", 1000))
	f.Add("b", append([]byte{0, 0xd0, 0x0f}, make([]byte, 4000)...), "")
	f.Fuzz(func(t *testing.T, bind string, body []byte, cursor string) {
		if _, err := c.Decode(bind, cursor); err == nil && cursor != good {
			t.Errorf("Decode accepted %q, which dirgate did not sign", cursor)
		}
		signed := base64.RawURLEncoding.EncodeToString(append(append([]byte{cursorVersion}, c.Bind(bind).sum(body)...), body...))
		cut, err := c.Decode(bind, signed)
		if err != nil {
			return
		}
		if _, err := c.Decode(bind+"x", signed); err == nil {
			t.Errorf("a cursor decoded with another binding")
		}
		back, err := c.Decode(bind, c.Encode(bind, cut))
		if err != nil || back.Edge != cut.Edge || !reflect.DeepEqual(back.Pos, cut.Pos) {
			t.Errorf("cut %+v encoded and decoded again: %+v, %v", cut, back, err)
		}
	})
}
