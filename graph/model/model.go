// Package model holds the GraphQL types of the schema: the ones written by
// hand here (views over provider data) and the ones gqlgen generates
// (models_gen.go).
package model

import (
	"strings"
	"time"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/kinds"
)

// User is a provider's user as the schema shows it.
type User struct {
	Source *providers.Source
	U      driver.User
}

func (u *User) IsNode()                    {}
func (u *User) GetID() string              { return u.ID() }
func (u *User) ID() string                 { return relay.UserID(u.Source.Key, u.U.ID) }
func (u *User) NativeID() string           { return u.U.ID }
func (u *User) Provider() *Provider        { return &Provider{Source: u.Source} }
func (u *User) Email() *string             { return opt(u.U.Email) }
func (u *User) FirstName() *string         { return opt(u.U.FirstName) }
func (u *User) MiddleName() *string        { return opt(u.U.MiddleName) }
func (u *User) LastName() *string          { return opt(u.U.LastName) }
func (u *User) Active() bool               { return u.U.Active }
func (u *User) LoginID() *string           { return opt(u.U.LoginID) }
func (u *User) EmployeeID() *string        { return opt(u.U.EmployeeID) }
func (u *User) CellPhone() *string         { return opt(u.U.CellPhone) }
func (u *User) OrganizationUnit() *string  { return opt(u.U.OrganizationUnit) }
func (u *User) CountryCode() *string       { return opt(u.U.CountryCode) }
func (u *User) CreatedAt() *time.Time      { return optTime(u.U.CreatedAt) }
func (u *User) LastActivityAt() *time.Time { return optTime(u.U.LastActivityAt) }

// Emails lists the user's emails, the primary one first, never null.
func (u *User) Emails() []string {
	if u.U.Emails == nil {
		if u.U.Email != "" {
			return []string{u.U.Email}
		}
		return []string{}
	}
	return u.U.Emails
}

// DisplayName is the full name when known, else the email, else the native
// id.
func (u *User) DisplayName() string {
	name := strings.Join(strings.Fields(u.U.FirstName+" "+u.U.MiddleName+" "+u.U.LastName), " ")
	switch {
	case name != "":
		return name
	case u.U.Email != "":
		return u.U.Email
	}
	return u.U.ID
}

// Provider is a configured provider as the schema shows it.
type Provider struct {
	Source *providers.Source
}

func (p *Provider) IsNode()       {}
func (p *Provider) GetID() string { return p.ID() }
func (p *Provider) ID() string    { return relay.ProviderID(p.Source.Key) }
func (p *Provider) Key() string   { return p.Source.Key }
func (p *Provider) Name() string  { return p.Source.Name }

// Kind is the provider's kind, as the kinds table names it in the
// schema.
func (p *Provider) Kind() ProviderKind {
	k, _ := kinds.Lookup(p.Source.Kind)
	return ProviderKind(k.GraphQL)
}

// UserConnection is one page of users.
type UserConnection struct {
	Edges    []*UserEdge
	PageInfo *PageInfo
	// Page is what the directory answered; totalCount asks it for more.
	Page *providers.Page
}

// Nodes are the edges' users, in order.
func (c *UserConnection) Nodes() []*User {
	nodes := make([]*User, len(c.Edges))
	for i, e := range c.Edges {
		nodes[i] = e.Node
	}
	return nodes
}

// CursorFunc makes the cursor of the i-th edge of a page. Cursors cost a
// MAC each, so they are made only when a query selects them.
type CursorFunc func(i int) string

// UserEdge is one user of a page, the Index-th.
type UserEdge struct {
	Node    *User
	Index   int
	Cursors CursorFunc
}

// Cursor is opaque; bound to the filter the page was asked with.
func (e *UserEdge) Cursor() string { return e.Cursors(e.Index) }

// PageInfo describes a page of Edges edges.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	Edges           int
	Cursors         CursorFunc
}

// StartCursor is the first edge's cursor; nil for an empty page.
func (p *PageInfo) StartCursor() *string { return p.cursor(0) }

// EndCursor is the last edge's cursor; nil for an empty page.
func (p *PageInfo) EndCursor() *string { return p.cursor(p.Edges - 1) }

func (p *PageInfo) cursor(i int) *string {
	if p.Edges == 0 {
		return nil
	}
	c := p.Cursors(i)
	return &c
}

// NewCompany converts a provider's company, nil staying nil.
func NewCompany(c *driver.Company) *Company {
	if c == nil {
		return nil
	}
	return &Company{Name: opt(c.Name), Address: opt(c.Address), City: opt(c.City), State: opt(c.State), Zip: opt(c.Zip), Country: opt(c.Country)}
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
