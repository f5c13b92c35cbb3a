// Package auth authenticates dirgate's callers.
//
// In API-key mode a caller sends "Authorization: Bearer <key>". The
// configuration holds only each key's SHA-256 ("sha256:<hex>"), so a
// leaked configuration does not leak keys; the hash of the presented key
// is compared with every configured hash in constant time. Anything else
// gets a 401 with a JSON body shaped like a GraphQL response, before any
// GraphQL runs. Keys should be long and random (GenerateKey makes one):
// an unsalted hash protects only keys that cannot be guessed.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/httperr"
)

// APIKeys accepts callers that present one of a set of keys.
type APIKeys struct {
	hashes [][sha256.Size]byte
	log    *slog.Logger
}

// NewAPIKeys returns an authenticator for the keys whose hashes are given,
// each "sha256:" and 64 hex digits. Its errors never quote a hash.
func NewAPIKeys(hashes []string, log *slog.Logger) (*APIKeys, error) {
	if len(hashes) == 0 {
		return nil, errors.New("auth: no API keys")
	}
	k := &APIKeys{log: log}
	for i, h := range hashes {
		hexPart, ok := strings.CutPrefix(strings.ToLower(h), "sha256:")
		b, err := hex.DecodeString(hexPart)
		if !ok || err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("auth: API key hash %d is not sha256:<64 hex digits>", i)
		}
		k.hashes = append(k.hashes, [sha256.Size]byte(b))
	}
	return k, nil
}

// HashKey returns the form a key takes in the configuration.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(h[:])
}

// GenerateKey makes a new random API key (256 bits, URL-safe base64) and
// returns it with its hash for the configuration.
func GenerateKey() (key, hash string) {
	b := make([]byte, 32)
	rand.Read(b)
	key = "dg_" + base64.RawURLEncoding.EncodeToString(b)
	return key, HashKey(key)
}

type keyIDKey struct{}

// KeyID returns an identifier of the key the request was authenticated
// with: the first 12 hex digits of its configured hash, which says which
// key was used without revealing it. It is empty without authentication.
func KeyID(ctx context.Context) string {
	id, _ := ctx.Value(keyIDKey{}).(string)
	return id
}

// match returns the index of the configured key whose hash equals the
// hash of key, or -1. Every configured hash is compared, in constant time.
func (k *APIKeys) match(key string) int {
	h := sha256.Sum256([]byte(key))
	found := -1
	for i := range k.hashes {
		if subtle.ConstantTimeCompare(h[:], k.hashes[i][:]) == 1 {
			found = i
		}
	}
	return found
}

// Middleware lets requests with a valid key through to next, with the
// key's id in the context (see KeyID), and answers any other with a 401.
func (k *APIKeys) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, reason := bearer(r.Header.Values("Authorization"))
		i := -1
		if reason == "" {
			if i = k.match(key); i < 0 {
				reason = "the API key is not valid"
			}
		}
		if i < 0 {
			// The presented value is never logged, at any level.
			k.log.LogAttrs(r.Context(), slog.LevelDebug, "caller not authenticated", slog.String("reason", reason))
			w.Header().Set("WWW-Authenticate", `Bearer realm="dirgate"`)
			httperr.Write(w, http.StatusUnauthorized, errcode.Unauthenticated, reason)
			return
		}
		id := hex.EncodeToString(k.hashes[i][:6])
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyIDKey{}, id)))
	})
}

// bearer reads the key from the Authorization header values, or says
// what is wrong with them, in words safe for the caller.
func bearer(values []string) (key, reason string) {
	switch {
	case len(values) == 0:
		return "", "an API key is required: send Authorization: Bearer <key>"
	case len(values) > 1:
		return "", "send one Authorization header"
	}
	scheme, key, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	key = strings.TrimSpace(key)
	if !ok || !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", "the Authorization header must be Bearer <key>"
	}
	return key, ""
}
