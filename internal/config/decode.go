package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file: the key it is about, as a
// path such as providers[1].cacheTTL, the line of the file it is on (0
// when not known), and what is wrong. It never quotes a value: values may
// be secrets from the environment.
//
// A check that knows only a path relative to some mapping (a provider
// kind's validation, say) may return *Error values with that relative
// path; the configuration's reader completes the path and finds the line.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration file, in the order of
// the file.
type Errors struct {
	// File is the file's name, or "" when it has none.
	File string
	List []*Error
}

// Error is one line per problem: "FILE:LINE: PATH: MESSAGE", after a line
// that counts them when there are several.
func (e *Errors) Error() string {
	entry := func(x *Error) string {
		pos := e.File
		if x.Line > 0 {
			if pos == "" {
				pos = "line "
			} else {
				pos += ":"
			}
			pos += strconv.Itoa(x.Line)
		}
		path := ""
		if x.Path != "" {
			path = x.Path + ": "
		}
		if pos == "" {
			return "config: " + path + x.Msg
		}
		return pos + ": " + path + x.Msg
	}
	if len(e.List) == 1 {
		s := entry(e.List[0])
		if !strings.HasPrefix(s, "config: ") {
			s = "config: " + s
		}
		return s
	}
	var b strings.Builder
	name := e.File
	if name == "" {
		name = "the configuration"
	}
	fmt.Fprintf(&b, "config: %s has %d errors:", name, len(e.List))
	for _, x := range e.List {
		b.WriteString("\n  " + entry(x))
	}
	return b.String()
}

// Unwrap returns the problems, so that errors.As finds each *Error.
func (e *Errors) Unwrap() []error {
	out := make([]error, len(e.List))
	for i, x := range e.List {
		out[i] = x
	}
	return out
}

// DecodeStrict decodes node, the YAML at path (for example "providers[0]";
// "" for the top of the file), into v, a pointer to a struct (or to any
// type made of structs, slices, maps, strings, numbers, booleans and
// time.Duration), by the fields' yaml tags. It goes on past each problem
// and returns all of them, joined (errors.Join), each an *Error with the
// key's path and line:
//
//   - a key v does not have, with the nearest known key when one is close
//     ("unknown key; did you mean cacheTTL?"), or the known keys;
//   - a key given twice;
//   - a value of the wrong shape or type ("want a duration with a unit,
//     such as 10s, 2m or 1h30m"), which names no Go type and never quotes
//     the value.
//
// A field whose type reads itself from text (encoding.TextUnmarshaler,
// such as a secret that never prints) does so; its errors are reported
// without their text, which may quote the value. A null value (`key:` or
// `key: ~`) leaves the field as it is. Fields
// already set in v keep their values unless the YAML sets them, so
// defaults can be set before decoding. A field of type yaml.Node gets the
// node as it is, for decoding later.
//
// To decode part of a mapping (say, the keys of one provider kind, after
// the keys every provider has), pass a MappingNode holding only those
// pairs: they are the file's own nodes, so the lines stay right.
// Environment references (${VAR}) have been replaced by the time the
// configuration's reader calls it, in the whole file.
func DecodeStrict(node *yaml.Node, path string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Path: path, Msg: "internal error: DecodeStrict needs a non-nil pointer"}
	}
	d := &decoder{}
	d.decode(node, path, rv.Elem())
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

type decoder struct{ errs []*Error }

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{Path: path, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	nodeType        = reflect.TypeFor[yaml.Node]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// shape names what a node is, for "want X, not Y" messages.
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping of keys"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decode(n *yaml.Node, path string, rv reflect.Value) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	t := rv.Type()
	if t == nodeType {
		rv.Set(reflect.ValueOf(*n))
		return
	}
	if isNull(n) {
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a single value, not %s", shape(n))
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, path, "not a valid value here")
		}
		return
	}
	if t == durationType {
		d.duration(n, path, rv)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if rv.IsNil() {
			rv.Set(reflect.New(t.Elem()))
		}
		d.decode(n, path, rv.Elem())
	case reflect.Struct:
		d.structure(n, path, rv)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, not %s", shape(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i))
		}
		rv.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String {
			d.fail(n, path, "want a mapping of keys, not %s", shape(n))
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMap(t))
		}
		d.pairs(n, path, func(k *yaml.Node, v *yaml.Node) {
			e := reflect.New(t.Elem()).Elem()
			d.decode(v, join(path, k.Value), e)
			rv.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
		}, nil)
	default:
		d.scalar(n, path, rv)
	}
}

// pairs calls f for each key and value of the mapping n, following merge
// keys (<<), and reports keys that are not single values or come twice.
// seen, when not nil, collects the keys.
func (d *decoder) pairs(n *yaml.Node, path string, f func(k, v *yaml.Node), seen map[string]int) {
	if seen == nil {
		seen = map[string]int{}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			for v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			merged := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				merged = v.Content
			}
			for _, m := range merged {
				for m.Kind == yaml.AliasNode && m.Alias != nil {
					m = m.Alias
				}
				if m.Kind != yaml.MappingNode {
					d.fail(k, path, "a merge (<<) must name a mapping")
					continue
				}
				d.pairs(m, path, f, seen)
			}
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a name, not %s", shape(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), "set twice (also on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		f(k, v)
	}
}

// field is one yaml key of a struct, and where its value goes.
type field struct {
	index []int
}

// fields maps the yaml keys of struct type t to its fields, following
// ",inline" fields, in the order the struct declares them.
func fields(t reflect.Type) (map[string]field, []string) {
	m := map[string]field{}
	var order []string
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if tag == "-" || !f.IsExported() {
				continue
			}
			idx := append(slices.Clone(index), i)
			if slices.Contains(strings.Split(opts, ","), "inline") && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			m[name] = field{index: idx}
			order = append(order, name)
		}
	}
	walk(t, nil)
	return m, order
}

func (d *decoder) structure(n *yaml.Node, path string, rv reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping of keys, not %s", shape(n))
		return
	}
	known, order := fields(rv.Type())
	d.pairs(n, path, func(k, v *yaml.Node) {
		f, ok := known[k.Value]
		if !ok {
			d.fail(k, join(path, k.Value), "%s", unknownKey(k.Value, order))
			return
		}
		d.decode(v, join(path, k.Value), rv.FieldByIndex(f.index))
	}, nil)
}

// unknownKey says that key is not one of known, and what was probably
// meant.
func unknownKey(key string, known []string) string {
	if s := Nearest(key, known); s != "" {
		return fmt.Sprintf("unknown key; did you mean %s?", s)
	}
	if len(known) == 0 {
		return "unknown key: nothing goes here"
	}
	return "unknown key; the keys here are " + strings.Join(known, ", ")
}

func (d *decoder) duration(n *yaml.Node, path string, rv reflect.Value) {
	const want = "want a duration with a unit, such as 10s, 2m or 1h30m"
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "%s, not %s", want, shape(n))
		return
	}
	v := strings.TrimSpace(n.Value)
	if v == "" {
		return
	}
	dur, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			d.fail(n, path, "%s: a bare number has none", want)
		} else {
			d.fail(n, path, "%s", want)
		}
		return
	}
	rv.SetInt(int64(dur))
}

func (d *decoder) scalar(n *yaml.Node, path string, rv reflect.Value) {
	t := rv.Type()
	var want string
	switch t.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		want = "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	default:
		d.fail(n, path, "internal error: this key cannot be read from YAML")
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want %s, not %s", want, shape(n))
		return
	}
	v := n.Value
	if t.Kind() == reflect.String {
		rv.SetString(v)
		return
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return // an empty value from the environment: unset
	}
	switch t.Kind() {
	case reflect.Bool:
		switch strings.ToLower(v) {
		case "true", "yes", "on":
			rv.SetBool(true)
		case "false", "no", "off":
			rv.SetBool(false)
		default:
			d.fail(n, path, "want %s", want)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(strings.ReplaceAll(v, "_", ""), 0, t.Bits())
		if err != nil {
			d.numberError(n, path, want, err)
			return
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(v, "_", ""), 0, t.Bits())
		if err != nil {
			d.numberError(n, path, want, err)
			return
		}
		rv.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(v, t.Bits())
		if err != nil {
			d.numberError(n, path, want, err)
			return
		}
		rv.SetFloat(f)
	}
}

func (d *decoder) numberError(n *yaml.Node, path, want string, err error) {
	if errors.Is(err, strconv.ErrRange) {
		d.fail(n, path, "want %s; this one is too large", want)
		return
	}
	d.fail(n, path, "want %s", want)
}

// Nearest returns the one of known that key was most likely meant to be,
// or "" when none is close: a key that differs only in case or in '_' and
// '-', else the nearest by edit distance, within about a third of the
// key's length, else one with the same beginning.
func Nearest(key string, known []string) string {
	norm := func(s string) string {
		return strings.ToLower(strings.NewReplacer("_", "", "-", "", " ", "").Replace(s))
	}
	k := norm(key)
	best, bestDist := "", -1
	for _, c := range known {
		nc := norm(c)
		if nc == k {
			return c
		}
		if dist := levenshtein(k, nc); bestDist < 0 || dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if bestDist >= 0 && bestDist <= max(1, (len(k)+1)/3) {
		return best
	}
	// An abbreviated key mistyped in full (addr as adress), or a key cut
	// short: the longest shared beginning of at least half the shorter.
	best, bestPrefix := "", 0
	for _, c := range known {
		nc := norm(c)
		p := commonPrefix(k, nc)
		if p >= 2 && 2*p >= min(len(k), len(nc)) && p > bestPrefix {
			best, bestPrefix = c, p
		}
	}
	return best
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// envRef is ${NAME} or ${NAME:-default}.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expand replaces ${VAR} and ${VAR:-default} in every value of the tree at
// n (never in keys, so the environment cannot add structure), and reports
// each variable that is unset or empty and has no default, with the key
// it is in. A value that had a reference is a string, whatever it reads
// like: "~" or "true" from the environment stays that text for a string
// key, and is parsed for a number, duration or boolean key.
func expand(n *yaml.Node, path string, getenv func(string) string) []*Error {
	var errs []*Error
	switch n.Kind {
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return nil
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if v := getenv(m[1]); v != "" {
				return v
			}
			if m[2] != "" {
				return m[3]
			}
			errs = append(errs, &Error{Path: path, Line: n.Line, Msg: fmt.Sprintf(
				"${%s} is not set (or is empty): set it, or write ${%s:-default} to fall back to a default", m[1], m[1])})
			return ""
		})
		n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, expand(n.Content[i+1], join(path, n.Content[i].Value), getenv)...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, expand(c, fmt.Sprintf("%s[%d]", path, i), getenv)...)
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			errs = append(errs, expand(c, path, getenv)...)
		}
	}
	return errs
}

// locate returns the line of the key at path in the tree at root, or of
// the nearest enclosing key or list item the file has (a missing key is
// reported where it belongs).
func locate(root *yaml.Node, path string) int {
	n, line := root, root.Line
	for _, step := range splitPath(path) {
		for n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch {
		case step.index >= 0 && n.Kind == yaml.SequenceNode && step.index < len(n.Content):
			next = n.Content[step.index]
			line = next.Line
		case step.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == step.key {
					next = n.Content[i+1]
					line = n.Content[i].Line
				}
			}
		}
		if next == nil {
			break
		}
		n = next
	}
	return line
}

type pathStep struct {
	key   string
	index int // -1 for a key
}

var pathPart = regexp.MustCompile(`([^.\[\]]+)|\[(\d+)\]`)

func splitPath(path string) []pathStep {
	var out []pathStep
	for _, m := range pathPart.FindAllStringSubmatch(path, -1) {
		if m[2] != "" {
			i, _ := strconv.Atoi(m[2])
			out = append(out, pathStep{index: i})
		} else {
			out = append(out, pathStep{key: m[1], index: -1})
		}
	}
	return out
}
