package vendorhttp

import (
	"fmt"
	"log/slog"
	"strings"
)

// MinSecretLength is the shortest secret dirgate accepts in its
// configuration: anything shorter is a placeholder or a typo, never a real
// credential.
const MinSecretLength = 8

// Secret is a credential: a client secret, a token. It prints as
// [redacted] with every fmt verb, in JSON and in slog, so it cannot reach
// a log line or an error by accident; Reveal is the one way to its text,
// for the request that sends it. It decodes from configuration text.
type Secret struct{ s string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{s: s} }

// Reveal returns the secret's text, to send it to the vendor.
func (s Secret) Reveal() string { return s.s }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.s == "" }

// Equal reports whether s and t hold the same text.
func (s Secret) Equal(t Secret) bool { return s.s == t.s }

const redacted = "[redacted]"

// String returns [redacted].
func (s Secret) String() string { return redacted }

// GoString returns [redacted].
func (s Secret) GoString() string { return redacted }

// Format prints [redacted] for every verb.
func (s Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// LogValue makes slog print [redacted].
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns [redacted]: a secret is never written out.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText reads a secret from configuration, trimmed of surrounding
// white space.
func (s *Secret) UnmarshalText(b []byte) error {
	s.s = strings.TrimSpace(string(b))
	return nil
}

// Check returns an error naming key when the secret is set but shorter
// than MinSecretLength. An empty secret passes: whether it is required is
// the caller's rule.
func (s Secret) Check(key string) error {
	if s.s != "" && len(s.s) < MinSecretLength {
		return fmt.Errorf("%s is too short to be a real credential (at least %d characters)", key, MinSecretLength)
	}
	return nil
}
