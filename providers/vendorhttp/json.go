package vendorhttp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Tolerant JSON scalars: vendors' samples disagree on types (Concur sends
// numbers as strings and the other way round), so adapters decode what
// they can and keep the type they want.

// String is a JSON string, number or boolean, read as text; null is "".
type String string

// UnmarshalJSON implements json.Unmarshaler. Objects and arrays are
// errors.
func (s *String) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = ""
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = String(v)
	case string(b) == "true" || string(b) == "false":
		*s = String(b)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string")
		}
		*s = String(n.String())
	}
	return nil
}

// Int is an integer sent as a JSON number or a string; null and "" leave
// it unset.
type Int struct {
	N   int64
	Set bool
}

// UnmarshalJSON implements json.Unmarshaler.
func (i *Int) UnmarshalJSON(b []byte) error {
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	n, ok := parseInt(string(s))
	if !ok {
		return fmt.Errorf("want an integer")
	}
	*i = n
	return nil
}

// parseInt reads text as Int does; ok is false when it is no integer.
func parseInt(s string) (_ Int, ok bool) {
	v := strings.TrimSpace(s)
	if v == "" {
		return Int{}, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil || math.IsNaN(f) || math.Abs(f) > 1<<53 || f != math.Trunc(f) {
			return Int{}, false
		}
		n = int64(f)
	}
	return Int{N: n, Set: true}, true
}

// Bool is a JSON boolean, or a string or number that reads as one (true,
// "true", 1, "1", …); null is false.
type Bool bool

// UnmarshalJSON implements json.Unmarshaler.
func (v *Bool) UnmarshalJSON(b []byte) error {
	var s String
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	p, ok := parseBool(string(s))
	if !ok {
		return fmt.Errorf("want a boolean")
	}
	*v = Bool(p)
	return nil
}

// parseBool reads text as Bool does; ok is false when it is no boolean.
func parseBool(s string) (_, ok bool) {
	t := strings.TrimSpace(s)
	if t == "" {
		return false, true
	}
	b, err := strconv.ParseBool(t)
	return b, err == nil
}

// Time is an RFC 3339 timestamp or a near variant, as UTC; anything
// unreadable is the zero time, not an error (a bad timestamp should not
// lose a user).
type Time time.Time

var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02 15:04:05"}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s String
	*t = Time{}
	if s.UnmarshalJSON(b) != nil || s == "" {
		return nil
	}
	*t = Time(parseTime(string(s)))
	return nil
}

// parseTime reads text as Time does.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	return time.Time{}
}

// Strings is a list of strings sent as a JSON array, as an object (its
// values, in their order: Concur's named email slots), as a single
// string, or as null.
type Strings []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Strings) UnmarshalJSON(b []byte) error {
	*s = nil
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		var v String
		if err := v.UnmarshalJSON(b); err != nil {
			return err
		}
		if v != "" {
			*s = Strings{string(v)}
		}
		return nil
	}
	if d != '[' && d != '{' {
		return fmt.Errorf("want strings")
	}
	for dec.More() {
		if d == '{' {
			if _, err := dec.Token(); err != nil { // the key
				return err
			}
		}
		var v String
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*s = append(*s, string(v))
	}
	return nil
}
