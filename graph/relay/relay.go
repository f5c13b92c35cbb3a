// Package relay encodes the opaque strings of the GraphQL API: global ids
// of nodes, and connection cursors.
//
// A global id is base64url("User:<provider key>:<native id>") or
// base64url("Provider:<key>"): stable across restarts and deployments.
//
// A cursor is base64url(version, MAC, payload). The payload (binary) holds a
// providers.Cut: one position per provider (with the vendor's own
// position, and anchors that identify the users before it), so that a
// walk resumes a provider that failed mid-walk where it stopped, and
// finds its place again when the directory changed. The MAC (HMAC-SHA256, cut
// to 128 bits) covers the payload and the query the cursor was made for, so
// an altered cursor, or one used with another filter, is refused.
package relay

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"math"
	"strings"

	"github.com/dirgate/dirgate/providers"
)

// ErrBadID reports a string that is not a global id.
var ErrBadID = errors.New("malformed id")

// ErrBadCursor reports a cursor that is malformed, altered, or made for
// another query.
var ErrBadCursor = errors.New("malformed or altered cursor, or one made with another filter")

const (
	userPrefix     = "User:"
	providerPrefix = "Provider:"
)

// UserID returns the global id of a provider's user.
func UserID(key, nativeID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(userPrefix + key + ":" + nativeID))
}

// ProviderID returns the global id of a provider.
func ProviderID(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(providerPrefix + key))
}

// ID is a decoded global id.
type ID struct {
	Type     string // "User" or "Provider"
	Key      string // the provider key
	NativeID string // for users
}

// ParseID decodes a global id.
func ParseID(id string) (ID, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return ID{}, ErrBadID
	}
	s := string(b)
	switch {
	case strings.HasPrefix(s, userPrefix):
		key, native, ok := strings.Cut(s[len(userPrefix):], ":")
		if !ok || key == "" || native == "" {
			return ID{}, ErrBadID
		}
		return ID{Type: "User", Key: key, NativeID: native}, nil
	case strings.HasPrefix(s, providerPrefix):
		key := s[len(providerPrefix):]
		if key == "" || strings.Contains(key, ":") {
			return ID{}, ErrBadID
		}
		return ID{Type: "Provider", Key: key}, nil
	}
	return ID{}, ErrBadID
}

const (
	cursorVersion = 3
	macSize       = 16
)

// Cursors makes and checks cursors with one secret key. Instances that
// share a key accept each other's cursors.
type Cursors struct {
	key []byte
}

// NewCursors returns a codec keyed by secret.
func NewCursors(secret []byte) *Cursors {
	return &Cursors{key: bytes.Clone(secret)}
}

// Binder makes the cursors of one query: the MAC's key and the query are
// hashed once, when it is made, and each cursor costs the hashing of its
// own payload. It is safe for concurrent use.
type Binder struct {
	mac hash.Hash // keyed, and fed the version and the query; never written after
}

// Bind returns the Binder of the query described by bind.
func (c *Cursors) Bind(bind string) *Binder {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte{cursorVersion})
	m.Write([]byte(bind))
	m.Write([]byte{0})
	return &Binder{mac: m}
}

// sum returns the MAC of body.
func (b *Binder) sum(body []byte) []byte {
	m, err := b.mac.(hash.Cloner).Clone()
	if err != nil {
		panic(err) // unreachable: HMAC-SHA256 clones
	}
	m.Write(body)
	return m.Sum(make([]byte, 0, sha256.Size))[:macSize]
}

// Encode returns the cursor of cut, for the query described by bind.
func (c *Cursors) Encode(bind string, cut providers.Cut) string {
	return c.Bind(bind).Encode(cut)
}

// Encode returns the cursor of cut.
func (b *Binder) Encode(cut providers.Cut) string {
	body := appendCut(make([]byte, 0, 16+len(cut.Pos)*12), cut)
	buf := make([]byte, 0, 1+macSize+len(body))
	buf = append(buf, cursorVersion)
	buf = append(buf, b.sum(body)...)
	return base64.RawURLEncoding.EncodeToString(append(buf, body...))
}

// Decode checks a cursor made for the query described by bind and returns
// its cut.
func (c *Cursors) Decode(bind, cursor string) (providers.Cut, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) < 1+macSize || b[0] != cursorVersion {
		return providers.Cut{}, ErrBadCursor
	}
	mac, body := b[1:1+macSize], b[1+macSize:]
	if !hmac.Equal(mac, c.Bind(bind).sum(body)) {
		return providers.Cut{}, ErrBadCursor
	}
	cut, ok := readCut(body)
	if !ok {
		return providers.Cut{}, ErrBadCursor
	}
	return cut, nil
}

// The payload is binary: the edge and the number of positions as
// uvarints, then for each position its offset (varint), a byte of flags,
// and what they announce: the vendor's offset when it differs from the
// offset (varint), the vendor's cursor (uvarint length, bytes), the
// anchors (uvarint count, 8 bytes each).
const (
	hasVendor = 1 << iota
	hasCursor
	hasAnchor
)

func appendCut(b []byte, cut providers.Cut) []byte {
	b = binary.AppendUvarint(b, uint64(cut.Edge))
	b = binary.AppendUvarint(b, uint64(len(cut.Pos)))
	for _, p := range cut.Pos {
		b = binary.AppendVarint(b, int64(p.Offset))
		var flags byte
		if p.Vendor != p.Offset {
			flags |= hasVendor
		}
		if p.Cursor != "" {
			flags |= hasCursor
		}
		if len(p.Anchor) > 0 {
			flags |= hasAnchor
		}
		b = append(b, flags)
		if flags&hasVendor != 0 {
			b = binary.AppendVarint(b, int64(p.Vendor))
		}
		if flags&hasCursor != 0 {
			b = binary.AppendUvarint(b, uint64(len(p.Cursor)))
			b = append(b, p.Cursor...)
		}
		if flags&hasAnchor != 0 {
			b = binary.AppendUvarint(b, uint64(len(p.Anchor)))
			for _, a := range p.Anchor {
				b = binary.BigEndian.AppendUint64(b, a)
			}
		}
	}
	return b
}

// readCut reads a payload; ok is false unless it is exactly one cut.
func readCut(b []byte) (cut providers.Cut, ok bool) {
	uvarint := func() (int, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > math.MaxInt32 {
			return 0, false
		}
		b = b[n:]
		return int(v), true
	}
	varint := func() (int, bool) {
		v, n := binary.Varint(b)
		if n <= 0 || v > math.MaxInt32 || v < math.MinInt32 {
			return 0, false
		}
		b = b[n:]
		return int(v), true
	}
	edge, ok1 := uvarint()
	n, ok2 := uvarint()
	if !ok1 || !ok2 || n > len(b)/2 { // a position takes 2 bytes at least
		return providers.Cut{}, false
	}
	cut = providers.Cut{Edge: edge, Pos: make([]providers.Position, n)}
	for i := range cut.Pos {
		p := &cut.Pos[i]
		var ok bool
		if p.Offset, ok = varint(); !ok || len(b) == 0 {
			return providers.Cut{}, false
		}
		flags := b[0]
		b = b[1:]
		if flags&^(hasVendor|hasCursor|hasAnchor) != 0 {
			return providers.Cut{}, false
		}
		p.Vendor = p.Offset
		if flags&hasVendor != 0 {
			if p.Vendor, ok = varint(); !ok {
				return providers.Cut{}, false
			}
		}
		if flags&hasCursor != 0 {
			l, ok := uvarint()
			if !ok || l == 0 || l > len(b) {
				return providers.Cut{}, false
			}
			p.Cursor, b = string(b[:l]), b[l:]
		}
		if flags&hasAnchor != 0 {
			l, ok := uvarint()
			if !ok || l == 0 || l > len(b)/8 {
				return providers.Cut{}, false
			}
			p.Anchor = make([]uint64, l)
			for j := range p.Anchor {
				p.Anchor[j], b = binary.BigEndian.Uint64(b), b[8:]
			}
		}
	}
	return cut, len(b) == 0
}
