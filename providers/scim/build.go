package scim

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Term is one equality test of a filter: Path eq Value.
type Term struct {
	// Path is an attribute path: "userName", "emails.value",
	// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".
	Path string
	// Value is compared as a JSON string, quoted and escaped, unless Bool
	// is set.
	Value string
	// Bool makes Value a JSON boolean: it must be "true" or "false".
	Bool bool
	// Sub, when set, makes the term a value filter on the multi-valued
	// attribute Path, holding when one of its values meets every Sub
	// term: emails[type eq "work" and value eq "x"]. Value and Bool are
	// then unused, and Sub's paths are sub-attribute names.
	Sub []Term
}

// Build writes the filter that holds when every term holds: the terms
// joined with "and", each value a JSON string literal, quoted and escaped
// so that no value can end its string or add to the filter. It refuses a
// path that is not an attribute path, a value that is not UTF-8, and no
// terms at all.
func Build(terms ...Term) (string, error) {
	if len(terms) == 0 {
		return "", errors.New("scim: filter: no terms")
	}
	var b strings.Builder
	if err := build(&b, terms, false); err != nil {
		return "", fmt.Errorf("scim: filter: %w", err)
	}
	return b.String(), nil
}

func build(b *strings.Builder, terms []Term, inner bool) error {
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" and ")
		}
		if inner && (strings.ContainsAny(t.Path, ":.") || t.Sub != nil) {
			return fmt.Errorf("%s: a value filter holds sub-attribute names", t.Path)
		}
		if err := ParsePath(t.Path); err != nil {
			return err
		}
		b.WriteString(t.Path)
		if t.Sub != nil {
			if len(t.Sub) == 0 || strings.Contains(t.Path, ".") {
				return fmt.Errorf("%s: a value filter needs terms, on an attribute", t.Path)
			}
			b.WriteByte('[')
			if err := build(b, t.Sub, true); err != nil {
				return err
			}
			b.WriteByte(']')
			continue
		}
		b.WriteString(" eq ")
		switch {
		case t.Bool && (t.Value == "true" || t.Value == "false"):
			b.WriteString(t.Value)
		case t.Bool:
			return fmt.Errorf("%s: a boolean must be true or false", t.Path)
		case !utf8.ValidString(t.Value):
			return fmt.Errorf("%s: the value is not UTF-8", t.Path)
		default:
			b.WriteString(quote(t.Value))
		}
	}
	return nil
}

// quote returns s as a JSON string literal. Quotes, backslashes and
// control characters are escaped; so are U+2028 and U+2029, which some
// JavaScript-based servers choke on. s must be valid UTF-8.
func quote(s string) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029':
			b.WriteString(`\u`)
			for shift := 12; shift >= 0; shift -= 4 {
				b.WriteByte(hex[r>>shift&0xf])
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
