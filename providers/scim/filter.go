package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file parses the SCIM filter language (RFC 7644 §3.4.2.2):
//
//	FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//	valuePath = attrPath "[" valFilter "]"
//	attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//	logExp    = FILTER SP ("and" / "or") SP FILTER
//	compValue = false / null / true / number / string   ; JSON (RFC 7159)
//	attrPath  = [URI ":"] ATTRNAME *1subAttr
//
// with "not" binding tighter than "and", and "and" tighter than "or".
// Keywords and attribute names are case-insensitive. The emulator
// evaluates what it parses; the fuzz test of Build parses what Build
// writes, to prove that no value escapes its quotes.

// expr is a parsed filter.
type expr interface {
	// String writes the filter back, fully parenthesised, with the
	// keywords in lower case: a canonical form for tests.
	String() string
}

// attrPath names an attribute: an optional schema URN, a name and an
// optional sub-attribute.
type attrPath struct {
	uri  string
	name string
	sub  string
}

func (p attrPath) String() string {
	s := p.name
	if p.sub != "" {
		s += "." + p.sub
	}
	if p.uri != "" {
		s = p.uri + ":" + s
	}
	return s
}

// litKind is the JSON type of a comparison value.
type litKind int

const (
	litString litKind = iota + 1
	litBool
	litNumber
	litNull
)

// literal is a comparison value.
type literal struct {
	kind litKind
	str  string // the decoded string, or the number as written
	b    bool
}

func (l literal) String() string {
	switch l.kind {
	case litString:
		return quote(l.str)
	case litBool:
		return strconv.FormatBool(l.b)
	case litNumber:
		return l.str
	}
	return "null"
}

// compare is attrPath op value, or attrPath "pr".
type compare struct {
	path attrPath
	op   string // eq ne co sw ew gt ge lt le pr
	val  literal
}

func (c *compare) String() string {
	if c.op == "pr" {
		return c.path.String() + " pr"
	}
	return c.path.String() + " " + c.op + " " + c.val.String()
}

// logical is left "and" right, or left "or" right.
type logical struct {
	op          string // and, or
	left, right expr
}

func (l *logical) String() string {
	return "(" + l.left.String() + " " + l.op + " " + l.right.String() + ")"
}

// negation is not(x).
type negation struct{ x expr }

func (n *negation) String() string { return "not (" + n.x.String() + ")" }

// valuePath filters the values of a multi-valued attribute:
// emails[type eq "work"].
type valuePath struct {
	path   attrPath
	filter expr
}

func (v *valuePath) String() string { return v.path.String() + "[" + v.filter.String() + "]" }

// maxFilterDepth bounds the nesting of parentheses, brackets and "not",
// so that a hostile filter cannot exhaust the stack.
const maxFilterDepth = 32

// maxFilterLen bounds the length of a filter the parser reads.
const maxFilterLen = 8 << 10

// FilterError is a filter that does not parse.
type FilterError struct {
	Pos    int // byte offset of the problem
	Reason string
}

// Error says where the filter went wrong and why.
func (e *FilterError) Error() string {
	return fmt.Sprintf("invalid filter at byte %d: %s", e.Pos, e.Reason)
}

type parser struct {
	s     string
	i     int
	depth int
}

// parseFilter parses a whole filter.
func parseFilter(s string) (expr, error) {
	if len(s) > maxFilterLen {
		return nil, &FilterError{maxFilterLen, fmt.Sprintf("longer than %d bytes", maxFilterLen)}
	}
	if !utf8.ValidString(s) {
		return nil, &FilterError{0, "not UTF-8"}
	}
	p := &parser{s: s}
	p.spaces()
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	p.spaces()
	if p.i < len(p.s) {
		return nil, p.fail("unexpected %q", p.rest())
	}
	return x, nil
}

func (p *parser) fail(format string, args ...any) error {
	return &FilterError{p.i, fmt.Sprintf(format, args...)}
}

// rest is a short excerpt of what is left, for error messages.
func (p *parser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		n := 20
		for n > 0 && !utf8.RuneStart(r[n]) {
			n--
		}
		r = r[:n] + "…"
	}
	return r
}

// spaces skips white space and reports whether there was any.
func (p *parser) spaces() bool {
	start := p.i
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	return p.i > start
}

// keyword consumes kw (case-insensitively) when it stands at p.i as a
// whole word, and reports whether it did.
func (p *parser) keyword(kw string) bool {
	end := p.i + len(kw)
	if end > len(p.s) || !strings.EqualFold(p.s[p.i:end], kw) {
		return false
	}
	if end < len(p.s) && isNameChar(p.s[end]) {
		return false
	}
	p.i = end
	return true
}

// or parses: and *( SP "or" SP and ).
func (p *parser) or() (expr, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		if !p.spaces() || !p.keyword("or") || !p.spaces() {
			p.i = save
			return left, nil
		}
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		left = &logical{op: "or", left: left, right: right}
	}
}

// and parses: unary *( SP "and" SP unary ).
func (p *parser) and() (expr, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		if !p.spaces() || !p.keyword("and") || !p.spaces() {
			p.i = save
			return left, nil
		}
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &logical{op: "and", left: left, right: right}
	}
}

// unary parses: "not" "(" FILTER ")" / "(" FILTER ")" / valuePath /
// attrExp.
func (p *parser) unary() (expr, error) {
	if p.depth >= maxFilterDepth {
		return nil, p.fail("nested deeper than %d", maxFilterDepth)
	}
	p.depth++
	defer func() { p.depth-- }()

	save := p.i
	if p.keyword("not") {
		p.spaces()
		if p.i < len(p.s) && p.s[p.i] == '(' {
			x, err := p.group()
			if err != nil {
				return nil, err
			}
			return &negation{x}, nil
		}
		p.i = save // an attribute called "not"
	}
	if p.i < len(p.s) && p.s[p.i] == '(' {
		return p.group()
	}
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	if p.i < len(p.s) && p.s[p.i] == '[' {
		if path.sub != "" {
			return nil, p.fail("a value filter applies to an attribute, not to sub-attribute %q", path.sub)
		}
		p.i++
		p.spaces()
		inner, err := p.or()
		if err != nil {
			return nil, err
		}
		p.spaces()
		if p.i >= len(p.s) || p.s[p.i] != ']' {
			return nil, p.fail("want ] to close the value filter of %s", path)
		}
		p.i++
		return &valuePath{path: path, filter: inner}, nil
	}
	if !p.spaces() {
		if p.i >= len(p.s) {
			return nil, p.fail("want an operator after %s", path)
		}
		return nil, p.fail("want a space after %s", path)
	}
	opStart := p.i
	for p.i < len(p.s) && isAlpha(p.s[p.i]) {
		p.i++
	}
	op := strings.ToLower(p.s[opStart:p.i])
	switch op {
	case "pr":
		return &compare{path: path, op: op}, nil
	case "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le":
	default:
		p.i = opStart
		return nil, p.fail("want an operator (eq ne co sw ew gt ge lt le pr), got %q", p.rest())
	}
	if !p.spaces() {
		return nil, p.fail("want a space after %s", op)
	}
	val, err := p.literal()
	if err != nil {
		return nil, err
	}
	return &compare{path: path, op: op, val: val}, nil
}

// group parses "(" FILTER ")".
func (p *parser) group() (expr, error) {
	p.i++ // (
	p.spaces()
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	p.spaces()
	if p.i >= len(p.s) || p.s[p.i] != ')' {
		return nil, p.fail("want )")
	}
	p.i++
	return x, nil
}

// path parses an attribute path: the characters up to a space, bracket or
// parenthesis, split at the last colon into a schema URN and the name.
func (p *parser) path() (attrPath, error) {
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(" \t[]()", rune(p.s[p.i])) {
		p.i++
	}
	tok := p.s[start:p.i]
	if tok == "" {
		if p.i >= len(p.s) {
			return attrPath{}, p.fail("want an attribute, got the end")
		}
		return attrPath{}, p.fail("want an attribute, got %q", p.rest())
	}
	path, reason := splitPath(tok)
	if reason != "" {
		p.i = start
		return attrPath{}, p.fail("%s", reason)
	}
	return path, nil
}

// ParsePath checks an attribute path such as "userName", "name.givenName"
// or "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber".
func ParsePath(s string) error {
	_, reason := splitPath(s)
	if reason != "" {
		return fmt.Errorf("attribute path %q: %s", s, reason)
	}
	return nil
}

// splitPath splits an attribute path, or says why it is not one.
func splitPath(tok string) (attrPath, string) {
	var path attrPath
	rest := tok
	if i := strings.LastIndexByte(tok, ':'); i >= 0 {
		path.uri, rest = tok[:i], tok[i+1:]
		if !validURI(path.uri) {
			return attrPath{}, fmt.Sprintf("%q is not a schema URI", path.uri)
		}
	}
	path.name, path.sub, _ = strings.Cut(rest, ".")
	if !validName(path.name) {
		return attrPath{}, fmt.Sprintf("%q is not an attribute name", path.name)
	}
	if strings.Contains(rest, ".") && !validName(path.sub) {
		return attrPath{}, fmt.Sprintf("%q is not a sub-attribute name", path.sub)
	}
	return path, ""
}

// validName reports whether s is an ATTRNAME: ALPHA *(ALPHA / DIGIT / "-"
// / "_"), or "$ref" (RFC 7643 §2.1).
func validName(s string) bool {
	if strings.EqualFold(s, "$ref") {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameChar(s[i]) {
			return false
		}
	}
	return true
}

// validURI accepts a URN or URI without spaces, brackets or quotes,
// starting with a scheme.
func validURI(s string) bool {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" || !validName(scheme) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"\[]()<>{}|^`+"`", c) >= 0 {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isNameChar(c byte) bool {
	return isAlpha(c) || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// literal parses a JSON value: a string, a number, true, false or null.
func (p *parser) literal() (literal, error) {
	if p.i >= len(p.s) {
		return literal{}, p.fail("want a value, got the end")
	}
	start := p.i
	var l literal
	switch c := p.s[p.i]; {
	case c == '"':
		end, err := p.stringEnd()
		if err != nil {
			return literal{}, err
		}
		if err := json.Unmarshal([]byte(p.s[start:end]), &l.str); err != nil {
			p.i = start
			return literal{}, p.fail("bad string: %v", err)
		}
		l.kind = litString
		p.i = end
	case c == '-' || c >= '0' && c <= '9':
		for p.i < len(p.s) && strings.IndexByte("+-.eE0123456789", p.s[p.i]) >= 0 {
			p.i++
		}
		num := p.s[start:p.i]
		if !validNumber(num) {
			p.i = start
			return literal{}, p.fail("bad number %q", num)
		}
		l = literal{kind: litNumber, str: num}
	case p.keyword("true"):
		l = literal{kind: litBool, b: true}
	case p.keyword("false"):
		l = literal{kind: litBool}
	case p.keyword("null"):
		l = literal{kind: litNull}
	default:
		return literal{}, p.fail("want a value (a quoted string, number, true, false or null), got %q", p.rest())
	}
	if p.i < len(p.s) && !strings.ContainsRune(" \t)]", rune(p.s[p.i])) {
		return literal{}, p.fail("unexpected %q after a value", p.rest())
	}
	return l, nil
}

// stringEnd returns the offset just after the JSON string starting at
// p.i.
func (p *parser) stringEnd() (int, error) {
	for i := p.i + 1; i < len(p.s); i++ {
		switch c := p.s[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
		case c < 0x20:
			p.i = i
			return 0, p.fail("a control character in a string must be escaped")
		}
	}
	return 0, p.fail("unterminated string")
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	first := i
	if n := digits(); n == 0 || (n > 1 && s[first] == '0') {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}
