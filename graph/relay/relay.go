// Package relay encodes the opaque strings of the GraphQL API: global ids
// of nodes, and connection cursors.
//
// A global id is base64url("User:<provider key>:<native id>") or
// base64url("Provider:<key>"): stable across restarts and deployments.
//
// A cursor is base64url(version, MAC, payload). The payload holds a
// providers.Cut: one position per provider, so that a walk resumes a
// provider that failed mid-walk where it stopped. The MAC (HMAC-SHA256, cut
// to 128 bits) covers the payload and the query the cursor was made for, so
// an altered cursor, or one used with another filter, is refused.
package relay

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
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
	cursorVersion = 1
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
	Edge    int      `json:"e"`
	Offsets []int    `json:"o"`
	Tokens  []string `json:"t,omitempty"`
}

// Encode returns the cursor of cut, for the query described by bind.
func (c *Cursors) Encode(bind string, cut providers.Cut) string {
	p := payload{Edge: cut.Edge, Offsets: make([]int, len(cut.Pos))}
	for i, pos := range cut.Pos {
		p.Offsets[i] = pos.Offset
		if pos.Token != "" {
			if p.Tokens == nil {
				p.Tokens = make([]string, len(cut.Pos))
			}
			p.Tokens[i] = pos.Token
		}
	}
	body, _ := json.Marshal(p) // cannot fail: ints and strings
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
	if err := json.Unmarshal(body, &p); err != nil || (p.Tokens != nil && len(p.Tokens) != len(p.Offsets)) {
		return providers.Cut{}, ErrBadCursor
	}
	cut := providers.Cut{Edge: p.Edge, Pos: make([]providers.Position, len(p.Offsets))}
	for i, o := range p.Offsets {
		cut.Pos[i].Offset = o
		if p.Tokens != nil {
			cut.Pos[i].Token = p.Tokens[i]
		}
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
