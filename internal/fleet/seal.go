package fleet

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// KeySize is the size of the sealing key: AES-256.
const KeySize = 32

// sealVersion is the first byte of every sealed value, so that another
// scheme can come later.
const sealVersion = 1

// errUnsealed: a value could not be opened (another key, or tampered with).
var errUnsealed = errors.New("fleet: a stored value could not be opened with this key (another redis.tokenKey or server.cursorSecret, or altered)")

// Sealer seals values with AES-256-GCM, each bound to the name it is
// stored under (as additional data), so that a sealed value moved to
// another key does not open. It is safe for concurrent use.
type Sealer struct{ aead cipher.AEAD }

// NewSealer returns a Sealer with key, KeySize bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("fleet: the sealing key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return &Sealer{aead}, nil
}

// Seal returns plain sealed for name: a version byte, a random nonce, and
// the ciphertext with its tag.
func (s *Sealer) Seal(name string, plain []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, []byte(name))
}

// Open opens what Seal sealed for name.
func (s *Sealer) Open(name string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n+s.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errUnsealed
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], []byte(name))
	if err != nil {
		return nil, errUnsealed
	}
	return plain, nil
}

// ParseKey reads redis.tokenKey: KeySize bytes, in standard base64 (as
// `openssl rand -base64 32` prints them). Its errors never quote it.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("must be base64 (openssl rand -base64 32 makes one)")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("must be %d bytes in base64, not %d (openssl rand -base64 32 makes one)", KeySize, len(key))
	}
	return key, nil
}

// DeriveKey derives the sealing key from the cursor secret, which every
// replica shares, with HKDF-SHA256 and a label of its own, so that the
// key says nothing about the secret and serves no other purpose.
func DeriveKey(cursorSecret string) ([]byte, error) {
	if cursorSecret == "" {
		return nil, errors.New("fleet: no cursor secret to derive the sealing key from")
	}
	key, err := hkdf.Key(sha256.New, []byte(cursorSecret), nil, "dirgate redis sealing key v1", KeySize)
	if err != nil {
		return nil, fmt.Errorf("fleet: derive the sealing key: %w", err)
	}
	return key, nil
}
