package scim

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// MappedFields are the User fields whose SCIM attribute a Mapping chooses,
// by their GraphQL names. A user's id is always the resource's "id", its
// emails all of "emails", its active flag "active" and its creation time
// "meta.created".
var MappedFields = []string{
	"loginId", "email", "firstName", "middleName", "lastName",
	"employeeId", "cellPhone", "organizationUnit", "countryCode",
}

// Mapping says which SCIM attribute fills which User field, and which
// attribute to filter on for a field. Each field has a list of
// selectors, tried in order until one gives a value. A selector is an
// attribute path, optionally with a value filter on a multi-valued
// attribute and a sub-attribute after it:
//
//	userName
//	name.givenName
//	urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber
//	phoneNumbers[type eq "mobile"].value
//	addresses[type eq "work"].country
//
// Of a multi-valued attribute, the value marked primary is taken, else the
// first. Attribute and key names match in any letter case.
type Mapping struct {
	fields map[string][]selector
	filter map[string]selector // field → the attribute to filter on
}

// DefaultMapping returns the mapping of RFC 7643 attributes onto User:
//
//	loginId          userName
//	email            the primary email, else the work email, else the first
//	firstName        name.givenName
//	middleName       name.middleName
//	lastName         name.familyName
//	employeeId       enterprise employeeNumber
//	cellPhone        the mobile phone number
//	organizationUnit enterprise department
//	countryCode      the work address's country, else the primary or first address's
//
// Filters on email go to emails.value, which SCIM matches against any of
// a user's emails.
func DefaultMapping() *Mapping {
	m := &Mapping{fields: map[string][]selector{}}
	for field, sels := range map[string][]string{
		"loginId":          {"userName"},
		"email":            {`emails[primary eq true].value`, `emails[type eq "work"].value`, "emails.value"},
		"firstName":        {"name.givenName"},
		"middleName":       {"name.middleName"},
		"lastName":         {"name.familyName"},
		"employeeId":       {EnterpriseUserSchema + ":employeeNumber"},
		"cellPhone":        {`phoneNumbers[type eq "mobile"].value`},
		"organizationUnit": {EnterpriseUserSchema + ":department"},
		"countryCode":      {`addresses[type eq "work"].country`, "addresses.country"},
	} {
		for _, s := range sels {
			sel, err := parseSelector(s)
			if err != nil {
				panic(err) // unreachable: the selectors above parse
			}
			m.fields[field] = append(m.fields[field], sel)
		}
	}
	m.filter = map[string]selector{}
	for field, path := range map[string]string{
		"active":     "active",
		"id":         "id",
		"loginId":    "userName",
		"email":      "emails.value",
		"lastName":   "name.familyName",
		"employeeId": EnterpriseUserSchema + ":employeeNumber",
	} {
		m.filter[field], _ = parseSelector(path)
	}
	return m
}

// Set makes field come from the one attribute sel, in place of its
// defaults; filters on field then go to that attribute: sel itself, or
// for phoneNumbers[type eq "mobile"].value the value filter
// phoneNumbers[type eq "mobile" and value eq …].
func (m *Mapping) Set(field, sel string) error {
	if !slices.Contains(MappedFields, field) {
		return fmt.Errorf("unknown field %q (want one of %s)", field, strings.Join(MappedFields, ", "))
	}
	s, err := parseSelector(sel)
	if err != nil {
		return err
	}
	if s.where != nil && s.after == "" {
		return fmt.Errorf("attribute %q: name the sub-attribute after the value filter: %s.value", sel, sel)
	}
	m.fields[field] = []selector{s}
	m.filter[field] = s
	return nil
}

// Add makes field fall back to sel when its earlier selectors give no
// value.
func (m *Mapping) Add(field, sel string) error {
	if !slices.Contains(MappedFields, field) {
		return fmt.Errorf("unknown field %q", field)
	}
	s, err := parseSelector(sel)
	if err != nil {
		return err
	}
	m.fields[field] = append(m.fields[field], s)
	return nil
}

// FilterPath returns the attribute path a filter on field goes to, or ""
// when it goes to a value filter or nowhere.
func (m *Mapping) FilterPath(field string) string {
	s, ok := m.filter[field]
	if !ok || s.where != nil {
		return ""
	}
	return s.path.String()
}

// FilterTerm returns the filter term that holds for the users whose field
// has value: "userName eq …", or a value filter such as emails[type eq
// "work" and value eq …]. A value filter matches the users of whom any
// value qualifies: it is exact only where a user has one such value. ok
// is false when the field has no attribute to filter on.
func (m *Mapping) FilterTerm(field, value string) (t Term, ok bool) {
	s, ok := m.filter[field]
	if !ok {
		return Term{}, false
	}
	if field == "active" {
		return Term{Path: s.path.String(), Value: strings.ToLower(value), Bool: true}, true
	}
	if s.where == nil {
		return Term{Path: s.path.String(), Value: value}, true
	}
	where := Term{Path: s.where.path.name, Value: s.where.val.str}
	switch s.where.val.kind {
	case litBool:
		where.Value, where.Bool = strconv.FormatBool(s.where.val.b), true
	case litString:
	default:
		return Term{}, false
	}
	return Term{Path: s.path.String(), Sub: []Term{where, {Path: s.after, Value: value}}}, true
}

// Filter builds the SCIM filter for f, whose fields must all be among
// pushed (the fields the provider has the server filter on): the terms of
// FilterTerm joined with "and" by Build. It is "" for no filter.
func (m *Mapping) Filter(f driver.Filter, pushed driver.FieldSet) (string, error) {
	if f.IsZero() {
		return "", nil
	}
	var terms []Term
	for field, v := range f.All() {
		if !pushed.Has(field) {
			return "", fmt.Errorf("%w: asked to filter on %s, which this provider does not push down", driver.ErrBadResponse, field)
		}
		t, ok := m.FilterTerm(field.String(), v)
		if !ok {
			return "", fmt.Errorf("%w: no attribute to filter %s on", driver.ErrBadResponse, field)
		}
		terms = append(terms, t)
	}
	s, err := Build(terms...)
	if err != nil {
		return "", fmt.Errorf("%w: %w", driver.ErrBadResponse, err)
	}
	return s, nil
}

// selector picks one value out of a resource.
type selector struct {
	path  attrPath
	where *compare // a value filter on a multi-valued attribute; nil: none
	after string   // the sub-attribute after the value filter
}

func (s selector) String() string {
	if s.where == nil {
		return s.path.String()
	}
	out := s.path.String() + "[" + s.where.String() + "]"
	if s.after != "" {
		out += "." + s.after
	}
	return out
}

// parseSelector parses "path", or "path[attr eq value]" with an optional
// ".sub" after it.
func parseSelector(s string) (selector, error) {
	head, rest, bracket := strings.Cut(s, "[")
	path, reason := splitPath(head)
	if reason != "" {
		return selector{}, fmt.Errorf("attribute %q: %s", s, reason)
	}
	sel := selector{path: path}
	if !bracket {
		return sel, nil
	}
	if path.sub != "" {
		return selector{}, fmt.Errorf("attribute %q: a value filter applies to an attribute, not to sub-attribute %q", s, path.sub)
	}
	inner, after, ok := strings.Cut(rest, "]")
	if !ok {
		return selector{}, fmt.Errorf("attribute %q: want ] after the value filter", s)
	}
	x, err := parseFilter(inner)
	if err != nil {
		return selector{}, fmt.Errorf("attribute %q: %w", s, err)
	}
	cmp, ok := x.(*compare)
	if !ok || cmp.op != "eq" || cmp.path.uri != "" || cmp.path.sub != "" {
		return selector{}, fmt.Errorf("attribute %q: the value filter must be one sub-attribute eq a value", s)
	}
	sel.where = cmp
	if after != "" {
		sub, found := strings.CutPrefix(after, ".")
		if !found || !validName(sub) {
			return selector{}, fmt.Errorf("attribute %q: want .subAttribute after ]", s)
		}
		sel.after = sub
	}
	return sel, nil
}

// object is a JSON object as decoded with UseNumber.
type object = map[string]any

// lookup returns the member of o named key, matching letter case exactly
// first and then in any case (RFC 7643 §2.1).
func lookup(o object, key string) (any, bool) {
	if v, ok := o[key]; ok {
		return v, true
	}
	for k, v := range o {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// attribute returns the value of path in resource res: the top-level
// attribute, or one in the extension path.uri.
func attribute(res object, path attrPath) any {
	o := res
	if path.uri != "" && !strings.EqualFold(path.uri, UserSchema) {
		ext, _ := lookup(res, path.uri)
		if o, _ = ext.(object); o == nil {
			return nil
		}
	}
	v, _ := lookup(o, path.name)
	return v
}

// pick returns the value sel selects in res, as text; "" when none.
func (s selector) pick(res object) string {
	v := attribute(res, s.path)
	sub := s.path.sub
	if s.where != nil {
		sub = s.after
	}
	if list, ok := v.([]any); ok {
		if s.where != nil {
			var kept []any
			for _, e := range list {
				if o, ok := e.(object); ok && s.where.holds(o) {
					kept = append(kept, e)
				}
			}
			list = kept
		}
		v = choose(list)
	}
	if o, ok := v.(object); ok {
		if sub == "" {
			sub = "value"
		}
		v, _ = lookup(o, sub)
	} else if sub != "" {
		return ""
	}
	return text(v)
}

// choose returns the element of a multi-valued attribute marked primary,
// else the first; nil for none.
func choose(list []any) any {
	for _, e := range list {
		if o, ok := e.(object); ok {
			if p, _ := lookup(o, "primary"); truth(p) {
				return e
			}
		}
	}
	if len(list) == 0 {
		return nil
	}
	return list[0]
}

// holds reports whether the sub-attribute c names, in o, equals c's value
// (strings ignoring letter case).
func (c *compare) holds(o object) bool {
	v, _ := lookup(o, c.path.name)
	switch c.val.kind {
	case litBool:
		return v != nil && truth(v) == c.val.b
	case litNull:
		return v == nil
	}
	return v != nil && strings.EqualFold(text(v), c.val.str)
}

// text returns a scalar JSON value as text: strings as they are, numbers
// as written, booleans as true or false, anything else as "".
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}

// truth reads a JSON boolean, or a string or number that says one.
func truth(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(strings.TrimSpace(v))
		return b
	case json.Number:
		return v.String() != "0"
	}
	return false
}

// decodeUser maps one resource onto a User.
func (m *Mapping) decodeUser(res object) (User, error) {
	var u User
	u.ID = strings.TrimSpace(member(res, "id"))
	if u.ID == "" {
		return User{}, fmt.Errorf("a resource without an id")
	}
	u.Active = true // RFC 7643 makes "active" optional; absent, a listed user is taken as active
	if v, ok := lookup(res, "active"); ok && v != nil {
		u.Active = truth(v)
	}
	get := func(field string) string {
		for _, s := range m.fields[field] {
			if v := strings.TrimSpace(s.pick(res)); v != "" {
				return v
			}
		}
		return ""
	}
	u.LoginID = get("loginId")
	u.Email = get("email")
	u.FirstName = get("firstName")
	u.MiddleName = get("middleName")
	u.LastName = get("lastName")
	u.EmployeeID = get("employeeId")
	u.CellPhone = get("cellPhone")
	u.OrganizationUnit = get("organizationUnit")
	u.CountryCode = get("countryCode")
	u.Emails = emails(u.Email, res)
	if meta, _ := lookup(res, "meta"); meta != nil {
		if o, ok := meta.(object); ok {
			u.CreatedAt = parseTime(member(o, "created"))
		}
	}
	return u, nil
}

// value returns the member of o named key, nil when there is none.
func value(o object, key string) any {
	v, _ := lookup(o, key)
	return v
}

// member returns the scalar member of o named key, as text.
func member(o object, key string) string { return text(value(o, key)) }

// emails returns primary, then every other email of res, without repeats
// that differ only in letter case; nil when there are none.
func emails(primary string, res object) []string {
	var out []string
	add := func(e string) {
		e = strings.TrimSpace(e)
		if e == "" || slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, e) }) {
			return
		}
		out = append(out, e)
	}
	add(primary)
	list, _ := attribute(res, attrPath{name: "emails"}).([]any)
	for _, e := range list {
		switch e := e.(type) {
		case object:
			add(member(e, "value"))
		case string:
			add(e)
		}
	}
	return out
}

// parseTime reads a SCIM dateTime (xsd:dateTime): RFC 3339, or without a
// zone (taken as UTC, as Concur sends some dates). Anything else is the
// zero time.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999", s); err == nil {
		return t
	}
	return time.Time{}
}
