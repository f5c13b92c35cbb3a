package graph

import (
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dirgate/dirgate/graph/model"
)

// The precompiled path: a list of users, or of user edges, whose
// selection holds nothing but plain fields (scalars of User, an edge's
// cursor and node, __typename) is written straight to the response from a
// plan made once per list, instead of through gqlgen's executor, which
// makes a field context, a field set and a marshaler for every field of
// every element. Plain fields do no I/O and cannot fail, so nothing else
// differs: the bytes written are gqlgen's own (TestPlainPathEquivalence
// compares both paths on generated and fuzzed selections).
//
// gqlgen runs field interceptors (handler extensions that implement
// graphql.FieldInterceptor) around every field it resolves; the plain
// fields of a precompiled list skip them. dirgate registers none.

// plainUser is the plan of a User's selection: the fields to write, in
// order, each with its key.
type plainUser []plainField

type plainField struct {
	alias string
	key   string // the JSON key and colon, with a comma before all but the first
	write func(w io.Writer, u *model.User)
}

// plainEdge is the plan of a UserEdge's selection.
type plainEdge []plainEdgeField

type plainEdgeField struct {
	alias string
	key   string
	kind  byte // 't': __typename, 'c': cursor, 'n': node
	node  plainUser
}

// userField returns the writer of a plain field of User, or nil.
func userField(name string) func(w io.Writer, u *model.User) {
	switch name {
	case "__typename":
		return func(w io.Writer, _ *model.User) { io.WriteString(w, `"User"`) }
	case "id":
		return func(w io.Writer, u *model.User) { writeString(w, u.ID()) }
	case "nativeId":
		return func(w io.Writer, u *model.User) { writeString(w, u.NativeID()) }
	case "email":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.Email()) }
	case "emails":
		return func(w io.Writer, u *model.User) { writeStrings(w, u.Emails()) }
	case "firstName":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.FirstName()) }
	case "middleName":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.MiddleName()) }
	case "lastName":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.LastName()) }
	case "displayName":
		return func(w io.Writer, u *model.User) { writeString(w, u.DisplayName()) }
	case "active":
		return func(w io.Writer, u *model.User) { io.WriteString(w, strconv.FormatBool(u.Active())) }
	case "loginId":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.LoginID()) }
	case "employeeId":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.EmployeeID()) }
	case "cellPhone":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.CellPhone()) }
	case "organizationUnit":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.OrganizationUnit()) }
	case "countryCode":
		return func(w io.Writer, u *model.User) { writeOptString(w, u.CountryCode()) }
	case "createdAt":
		return func(w io.Writer, u *model.User) { writeOptTime(w, u.CreatedAt()) }
	case "lastActivityAt":
		return func(w io.Writer, u *model.User) { writeOptTime(w, u.LastActivityAt()) }
	}
	return nil
}

// planUser plans the selection of a User, or says it is not plain.
func planUser(opCtx *graphql.OperationContext, sel ast.SelectionSet) (plainUser, bool) {
	fields := graphql.CollectFields(opCtx, sel, userImplementors)
	plan := make(plainUser, 0, len(fields))
	for _, f := range fields {
		write := userField(f.Name)
		if write == nil || !plainDirectives(f) {
			return nil, false
		}
		if !slices.ContainsFunc(plan, func(p plainField) bool { return p.alias == f.Alias }) {
			plan = append(plan, plainField{alias: f.Alias, key: fieldKey(len(plan), f.Alias), write: write})
		}
	}
	return plan, true
}

// planEdge plans the selection of a UserEdge, or says it is not plain.
func planEdge(opCtx *graphql.OperationContext, sel ast.SelectionSet) (plainEdge, bool) {
	fields := graphql.CollectFields(opCtx, sel, userEdgeImplementors)
	plan := make(plainEdge, 0, len(fields))
	for _, f := range fields {
		if !plainDirectives(f) {
			return nil, false
		}
		if slices.ContainsFunc(plan, func(p plainEdgeField) bool { return p.alias == f.Alias }) {
			continue // as gqlgen writes an alias once
		}
		pf := plainEdgeField{alias: f.Alias, key: fieldKey(len(plan), f.Alias)}
		switch f.Name {
		case "__typename":
			pf.kind = 't'
		case "cursor":
			pf.kind = 'c'
		case "node":
			node, ok := planUser(opCtx, f.Selections)
			if !ok {
				return nil, false
			}
			pf.kind, pf.node = 'n', node
		default:
			return nil, false
		}
		plan = append(plan, pf)
	}
	return plan, true
}

// plainDirectives reports whether the field has only directives that
// CollectFields has applied (@skip, @include), and is not deferred.
func plainDirectives(f graphql.CollectedField) bool {
	if len(f.Deferrables) > 0 {
		return false
	}
	for _, d := range f.Directives {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// fieldKey is what gqlgen writes before the i-th value of an object
// (CollectFields has merged fields of the same alias).
func fieldKey(i int, alias string) string {
	var b stringWriter
	if i > 0 {
		b = append(b, ',')
	}
	writeString(&b, alias)
	return string(append(b, ':'))
}

// plainUsers writes one user of a precompiled list.
type plainUsers struct {
	plan plainUser
	user *model.User
}

func (p *plainUsers) MarshalGQL(w io.Writer) { p.plan.write(w, p.user) }

func (plan plainUser) write(w io.Writer, u *model.User) {
	io.WriteString(w, "{")
	for _, f := range plan {
		io.WriteString(w, f.key)
		f.write(w, u)
	}
	io.WriteString(w, "}")
}

// plainEdges writes one edge of a precompiled list.
type plainEdges struct {
	plan plainEdge
	edge *model.UserEdge
}

func (p *plainEdges) MarshalGQL(w io.Writer) {
	io.WriteString(w, "{")
	for _, f := range p.plan {
		io.WriteString(w, f.key)
		switch f.kind {
		case 't':
			io.WriteString(w, `"UserEdge"`)
		case 'c':
			writeString(w, p.edge.Cursor())
		case 'n':
			f.node.write(w, p.edge.Node)
		}
	}
	io.WriteString(w, "}")
}

// precompiled returns the list v written by plan, or nil when v is not a
// list of users or edges, or its selection is not plain.
func precompiled(opCtx *graphql.OperationContext, sel ast.SelectionSet, v any) graphql.Array {
	switch v := v.(type) {
	case []*model.User:
		plan, ok := planUser(opCtx, sel)
		if !ok || !allSet(v) {
			return nil
		}
		els := make([]plainUsers, len(v))
		ret := make(graphql.Array, len(v))
		for i, u := range v {
			els[i] = plainUsers{plan, u}
			ret[i] = &els[i]
		}
		return ret
	case []*model.UserEdge:
		plan, ok := planEdge(opCtx, sel)
		if !ok || !allSet(v) {
			return nil
		}
		els := make([]plainEdges, len(v))
		ret := make(graphql.Array, len(v))
		for i, e := range v {
			if e.Node == nil {
				return nil // gqlgen's path reports the null node
			}
			els[i] = plainEdges{plan, e}
			ret[i] = &els[i]
		}
		return ret
	}
	return nil
}

// allSet reports whether no element is nil (gqlgen's path reports a nil
// element of a list of non-null elements as an error).
func allSet[T any](v []*T) bool {
	for _, e := range v {
		if e == nil {
			return false
		}
	}
	return true
}

func writeOptString(w io.Writer, s *string) {
	if s == nil {
		io.WriteString(w, "null")
		return
	}
	writeString(w, *s)
}

func writeStrings(w io.Writer, ss []string) {
	io.WriteString(w, "[")
	for i, s := range ss {
		if i > 0 {
			io.WriteString(w, ",")
		}
		writeString(w, s)
	}
	io.WriteString(w, "]")
}

func writeOptTime(w io.Writer, t *time.Time) {
	if t == nil {
		io.WriteString(w, "null")
		return
	}
	graphql.MarshalTime(*t).MarshalGQL(w)
}

const upperHex = "0123456789ABCDEF"

// writeString writes s as a JSON string exactly as gqlgen does
// (graphql.MarshalString): control characters, quote and backslash
// escaped, everything else, invalid UTF-8 included, as it is.
func writeString(w io.Writer, s string) {
	start := 0
	io.WriteString(w, `"`)
	for i, c := range s {
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		io.WriteString(w, s[start:i])
		switch c {
		case '\t':
			io.WriteString(w, `\t`)
		case '\r':
			io.WriteString(w, `\r`)
		case '\n':
			io.WriteString(w, `\n`)
		case '\\':
			io.WriteString(w, `\\`)
		case '"':
			io.WriteString(w, `\"`)
		default:
			io.WriteString(w, `\u00`)
			w.Write([]byte{upperHex[c>>4], upperHex[c&0xf]})
		}
		start = i + 1
	}
	io.WriteString(w, s[start:])
	io.WriteString(w, `"`)
}

// stringWriter collects what is written to it.
type stringWriter []byte

func (b *stringWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}

func (b *stringWriter) WriteString(s string) (int, error) {
	*b = append(*b, s...)
	return len(s), nil
}
