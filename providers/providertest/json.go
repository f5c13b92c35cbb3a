package providertest

import (
	"bytes"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// RepeatsMember reports whether an object of body names a member twice,
// ignoring letter case. A fuzz test that holds a one-pass decoder to
// encoding/json leaves such bodies out: encoding/json merges repeated
// objects in ways no vendor relies on.
func RepeatsMember(body []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var objects [][]string // the names of each object open
	for {
		kind, n := dec.StackIndex(dec.StackDepth())
		name := kind == '{' && n%2 == 0
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		switch {
		case name:
			top := &objects[len(objects)-1]
			s := tok.String()
			for _, o := range *top {
				if strings.EqualFold(o, s) {
					return true
				}
			}
			*top = append(*top, s)
		case tok.Kind() == '{':
			objects = append(objects, nil)
		case tok.Kind() == '}':
			objects = objects[:len(objects)-1]
		}
	}
}
