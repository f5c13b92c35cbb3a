package vendorhttp

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Reader reads a vendor's JSON answer in one pass: each value is decoded
// once, straight into what the adapter keeps, with the tolerance of
// String, Int, Bool, Time and Strings, and no value is decoded twice (as
// a json.RawMessage kept and decoded again, or a json.Unmarshal per
// tolerant field). Members are matched as encoding/json matches struct
// fields: ignoring case, the last of repeated members winning; invalid
// UTF-8 becomes U+FFFD, as encoding/json makes it.
//
// A Reader reads one value. Its methods return a syntax error (the input
// is not JSON), after which the Reader is not to be used, or a
// *TypeError (a value of another type than the one read), after which
// SkipRest goes on to the end of the value being read.
type Reader struct {
	dec *jsontext.Decoder
}

// NewReader returns a Reader of body.
func NewReader(body []byte) *Reader {
	return &Reader{dec: jsontext.NewDecoder(bytes.NewBuffer(body),
		jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
}

// A TypeError reports a value of another type than the one read.
type TypeError struct{ Want string }

// Error names the type that was wanted.
func (e *TypeError) Error() string { return "want " + e.Want }

func errType(want string) error { return &TypeError{Want: want} }

// mismatch reads the next value, of another type than want, and reports
// it (a syntax error in it first).
func (r *Reader) mismatch(want string) error {
	if err := r.dec.SkipValue(); err != nil {
		return err
	}
	return errType(want)
}

// Kind reports the kind of the next value without reading it: 'n' (null),
// 'f', 't', '"', '0' (a number), '{' or '['; 0 at the end of the input or
// before a syntax error.
func (r *Reader) Kind() byte { return byte(r.dec.PeekKind()) }

// Members reads an object. For each member whose name is one of names
// (ignoring case), it calls member with the name's index, and member
// must read the value; it skips the other members. null reads as an
// object with no members; anything else is an error.
func (r *Reader) Members(names []string, member func(i int) error) error {
	return r.object(func(name jsontext.Token) error {
		if i := nameIndex(names, name); i >= 0 {
			return member(i)
		}
		return r.dec.SkipValue()
	})
}

// Values reads an object's member values, in order, calling value for
// each, which must read it; null reads as an object with no members.
func (r *Reader) Values(value func() error) error {
	return r.object(func(jsontext.Token) error { return value() })
}

func (r *Reader) object(member func(name jsontext.Token) error) error {
	switch r.Kind() {
	case 'n':
		_, err := r.dec.ReadToken()
		return err
	case '{', 0:
	default:
		return r.mismatch("an object")
	}
	if _, err := r.dec.ReadToken(); err != nil {
		return err
	}
	for r.Kind() != '}' {
		name, err := r.dec.ReadToken()
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
	_, err := r.dec.ReadToken()
	return err
}

// nameIndex is the index of the name tok in names, ignoring case, or -1.
func nameIndex(names []string, tok jsontext.Token) int {
	name := tok.String()
	for i, n := range names {
		if n == name {
			return i
		}
	}
	for i, n := range names {
		if strings.EqualFold(n, name) {
			return i
		}
	}
	return -1
}

// Elements reads an array, calling element for each element, which must
// read it. null reads as an empty array; anything else is an error.
func (r *Reader) Elements(element func() error) error {
	switch r.Kind() {
	case 'n':
		_, err := r.dec.ReadToken()
		return err
	case '[', 0:
	default:
		return r.mismatch("an array")
	}
	if _, err := r.dec.ReadToken(); err != nil {
		return err
	}
	for r.Kind() != ']' {
		if err := element(); err != nil {
			return err
		}
	}
	_, err := r.dec.ReadToken()
	return err
}

// Skip reads the next value, whatever it is.
func (r *Reader) Skip() error { return r.dec.SkipValue() }

// Depth is how many objects and arrays the next value is inside.
func (r *Reader) Depth() int { return r.dec.StackDepth() }

// SkipRest reads on, after a *TypeError, to the end of the value whose
// reading began at depth (Depth before it was read), so that reading can
// go on after it. (A value of the wrong type is read whole before its
// *TypeError is returned; an object or array is read on to its end.)
func (r *Reader) SkipRest(depth int) error {
	for r.dec.StackDepth() > depth {
		if _, err := r.dec.ReadToken(); err != nil {
			return err
		}
	}
	return nil
}

// End checks that nothing but white space follows the value read.
func (r *Reader) End() error {
	if _, err := r.dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the JSON value")
		}
		return err
	}
	return nil
}

// String reads a value as String does: a string, or a number or boolean
// as its text; null is "". Objects and arrays are errors.
func (r *Reader) String() (string, error) {
	switch r.Kind() {
	case '{', '[':
		return "", r.mismatch("a string")
	}
	tok, err := r.dec.ReadToken()
	if err != nil {
		return "", err
	}
	switch tok.Kind() {
	case 'n':
		return "", nil
	case 't':
		return "true", nil
	case 'f':
		return "false", nil
	}
	return tok.String(), nil
}

// Int reads a value as Int does: an integer sent as a number or a string;
// null and "" leave it unset.
func (r *Reader) Int() (Int, error) {
	s, err := r.String()
	if err != nil {
		return Int{}, err
	}
	n, ok := parseInt(s)
	if !ok {
		return Int{}, errType("an integer")
	}
	return n, nil
}

// Bool reads a value as Bool does: a boolean, or a string or number that
// reads as one; null is false.
func (r *Reader) Bool() (bool, error) {
	s, err := r.String()
	if err != nil {
		return false, err
	}
	b, ok := parseBool(s)
	if !ok {
		return false, errType("a boolean")
	}
	return b, nil
}

// Time reads a value as Time does: an RFC 3339 timestamp or a near
// variant, as UTC; anything unreadable, of any type, is the zero time.
func (r *Reader) Time() (time.Time, error) {
	switch r.Kind() {
	case '{', '[':
		return time.Time{}, r.Skip()
	}
	s, err := r.String()
	if err != nil || s == "" {
		return time.Time{}, err
	}
	return parseTime(s), nil
}

// Strings reads a value as Strings does: an array of strings, an object
// (its values, in order), a single string (none when it is empty), or
// null (none). Each string is read as String reads it.
func (r *Reader) Strings() ([]string, error) {
	var out []string
	add := func() error {
		s, err := r.String()
		out = append(out, s)
		return err
	}
	var err error
	switch r.Kind() {
	case '[':
		err = r.Elements(add)
	case '{':
		err = r.Values(add)
	case '0':
		// Strings reads a lone value as a token, and a number that
		// overflows a float64 fails there.
		var s string
		if s, err = r.String(); err == nil {
			if _, ferr := strconv.ParseFloat(s, 64); ferr != nil {
				return nil, errType("strings")
			}
			out = []string{s}
		}
	default:
		var s string
		if s, err = r.String(); s != "" {
			out = []string{s}
		}
	}
	return out, err
}
