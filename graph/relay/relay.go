// Package relay encodes the opaque strings of the GraphQL API: global ids
// of nodes, and connection cursors.
//
// A global id is base64url("User:<provider key>:<native id>") or
// base64url("Provider:<key>"): stable across restarts and deployments.
//
// A cursor is base64url(version, MAC, payload). The payload holds a
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
	"encoding/json"
	"errors"
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
	cursorVersion = 2
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

type payload struct {
	Edge int        `json:"e"`
	Pos  []position `json:"p"`
}

// position is a providers.Position: the vendor's offset only when it
// differs from the offset, the anchors as 8 bytes each.
type position struct {
	Offset int    `json:"o"`
	Vendor *int   `json:"v,omitempty"`
	Cursor string `json:"c,omitempty"`
	Anchor []byte `json:"a,omitempty"`
}

// Encode returns the cursor of cut, for the query described by bind.
func (c *Cursors) Encode(bind string, cut providers.Cut) string {
	p := payload{Edge: cut.Edge, Pos: make([]position, len(cut.Pos))}
	for i, pos := range cut.Pos {
		q := position{Offset: pos.Offset, Cursor: pos.Cursor}
		if pos.Vendor != pos.Offset {
			v := pos.Vendor
			q.Vendor = &v
		}
		for _, a := range pos.Anchor {
			q.Anchor = binary.BigEndian.AppendUint64(q.Anchor, a)
		}
		p.Pos[i] = q
	}
	body, _ := json.Marshal(p) // cannot fail: ints, strings and bytes
	buf := append([]byte{cursorVersion}, c.mac(bind, body)...)
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
	if !hmac.Equal(mac, c.mac(bind, body)) {
		return providers.Cut{}, ErrBadCursor
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return providers.Cut{}, ErrBadCursor
	}
	cut := providers.Cut{Edge: p.Edge, Pos: make([]providers.Position, len(p.Pos))}
	for i, q := range p.Pos {
		if len(q.Anchor)%8 != 0 {
			return providers.Cut{}, ErrBadCursor
		}
		pos := providers.Position{Offset: q.Offset, Vendor: q.Offset, Cursor: q.Cursor}
		if q.Vendor != nil {
			pos.Vendor = *q.Vendor
		}
		for a := q.Anchor; len(a) > 0; a = a[8:] {
			pos.Anchor = append(pos.Anchor, binary.BigEndian.Uint64(a))
		}
		cut.Pos[i] = pos
	}
	return cut, nil
}

func (c *Cursors) mac(bind string, body []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte{cursorVersion})
	m.Write([]byte(bind))
	m.Write([]byte{0})
	m.Write(body)
	return m.Sum(nil)[:macSize]
}
