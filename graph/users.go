package graph

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/graph/model"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// users resolves the merged connection: it checks the arguments, asks the
// directory for the page, and reports each failed provider as an error
// beside the other providers' users.
func (r *Resolver) users(ctx context.Context, first *int, after *string, last *int, before *string, filter *model.UserFilter) (*model.UserConnection, error) {
	req := providers.PageRequest{Count: r.DefaultPageSize}
	switch {
	case first != nil && last != nil:
		return nil, badInput("first and last cannot be used together")
	case first != nil:
		req.Count = *first
	case last != nil:
		req.Count, req.Backward = *last, true
	case before != nil && after == nil:
		req.Backward = true
	}
	if req.Count < 0 {
		return nil, badInput("first and last must not be negative")
	}
	if req.Count > r.MaxPageSize {
		// Normally rejected before resolvers run (limits.PageSize).
		return nil, &inputError{code: errcode.PageSizeLimit, msg: fmt.Sprintf("first and last must be at most %d", r.MaxPageSize)}
	}
	if filter != nil {
		f, err := filterOf(filter)
		if err != nil {
			return nil, err
		}
		req.Keys, req.Filter = filter.Providers, f
	}
	sources, err := r.Dir.Resolve(req.Keys)
	if err != nil {
		var unknown *providers.UnknownProviderError
		if errors.As(err, &unknown) {
			return nil, badInput("filter.providers: no provider has the key %q", unknown.Key)
		}
		return nil, err
	}
	bind := bindQuery(sources, req.Filter)
	for _, c := range []struct {
		arg string
		s   *string
		cut **providers.Cut
	}{{"after", after, &req.After}, {"before", before, &req.Before}} {
		if c.s == nil {
			continue
		}
		cut, err := r.Cursors.Decode(bind, *c.s)
		if err != nil {
			return nil, badCursor(c.arg)
		}
		*c.cut = &cut
	}
	page, err := r.Dir.Page(ctx, req)
	if errors.Is(err, providers.ErrBadCut) {
		return nil, badCursor("after/before")
	}
	if err != nil {
		return nil, err
	}
	for _, e := range page.Failed {
		graphql.AddError(ctx, e)
	}
	r.loaders(ctx).Listed(page.Edges)
	var binder *relay.Binder // one for the request, when a cursor is asked for
	var once sync.Once
	cursors := func(i int) string {
		once.Do(func() { binder = r.Cursors.Bind(bind) })
		return binder.Encode(page.Edges[i].Cut)
	}
	conn := &model.UserConnection{
		Edges: make([]*model.UserEdge, len(page.Edges)),
		PageInfo: &model.PageInfo{
			HasNextPage: page.HasNextPage, HasPreviousPage: page.HasPreviousPage,
			Edges: len(page.Edges), Cursors: cursors,
		},
		Page: page,
	}
	for i, e := range page.Edges {
		conn.Edges[i] = &model.UserEdge{Node: &model.User{Source: e.Source, U: e.User}, Index: i, Cursors: cursors}
	}
	return conn, nil
}

// filterOf maps the schema's UserFilter onto the filter-field table. A
// test holds the schema's fields against the table. A value longer than
// driver.MaxFilterValue is BAD_USER_INPUT, before any vendor call; the
// error names the field, never the value.
func filterOf(f *model.UserFilter) (driver.Filter, error) {
	var out driver.Filter
	if f.Active != nil {
		out = out.With(driver.FieldActive, strconv.FormatBool(*f.Active))
	}
	for _, c := range []struct {
		arg   string
		field driver.Field
		v     *string
	}{
		{"email", driver.FieldEmail, f.Email}, {"loginId", driver.FieldLoginID, f.LoginID}, {"lastName", driver.FieldLastName, f.LastName},
		{"employeeId", driver.FieldEmployeeID, f.EmployeeID}, {"countryCode", driver.FieldCountryCode, f.CountryCode},
	} {
		if c.v == nil {
			continue
		}
		out = out.With(c.field, *c.v)
		if v, _ := out.Get(c.field); len(v) > driver.MaxFilterValue {
			return driver.Filter{}, badInput("filter.%s: longer than %d bytes", c.arg, driver.MaxFilterValue)
		}
	}
	return out, nil
}

// bindQuery describes what a cursor is bound to: the providers walked and
// the filter, in the canonical form in which filters that match the same
// users bind alike.
func bindQuery(sources []*providers.Source, f driver.Filter) string {
	var b strings.Builder
	b.WriteString("providers:")
	for _, s := range sources {
		fmt.Fprintf(&b, "%q,", s.Key)
	}
	b.WriteString("|")
	b.WriteString(f.Key())
	return b.String()
}

// node resolves a global id: a malformed one is BAD_USER_INPUT, a
// well-formed one that names nothing is nil. A user id whose native id is
// longer than driver.MaxFilterValue is BAD_USER_INPUT before any vendor
// call, as a filter value is: the lookup is a filter on the id.
func (r *Resolver) node(ctx context.Context, id string) (model.Node, error) {
	gid, err := relay.ParseID(id)
	if err != nil {
		return nil, badInput("%q is not a dirgate id", id)
	}
	if len(gid.NativeID) > driver.MaxFilterValue {
		return nil, badInput("id: its native id is longer than %d bytes", driver.MaxFilterValue)
	}
	s := r.Dir.Source(gid.Key)
	if s == nil {
		return nil, nil
	}
	if gid.Type == "Provider" {
		return &model.Provider{Source: s}, nil
	}
	u, err := r.loaders(ctx).User(ctx, gid.Key, gid.NativeID)
	if err != nil || u == nil {
		return nil, err
	}
	return &model.User{Source: s, U: *u}, nil
}

// nodes resolves ids at the same time; each failure is an error beside the
// others' nodes.
func (r *Resolver) nodes(ctx context.Context, ids []string) ([]model.Node, error) {
	if len(ids) > r.MaxPageSize {
		// Each id may cost a vendor call: bound them like a page.
		return nil, badInput("nodes: at most %d ids", r.MaxPageSize)
	}
	out := make([]model.Node, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i], errs[i] = r.node(ctx, id) })
	}
	wg.Wait()
	l := r.loaders(ctx)
	for _, err := range errs {
		if err != nil && l.FirstReport(err) {
			graphql.AddError(ctx, err)
		}
	}
	return out, nil
}

// loaders returns the request's dataloaders; outside a request made
// through loader.Middleware, fresh ones that batch nothing across fields.
func (r *Resolver) loaders(ctx context.Context) *loader.Loaders {
	if l := loader.For(ctx); l != nil {
		return l
	}
	return loader.New(r.Dir)
}

// linkedAccounts finds the same person's accounts in the other providers
// (the portable layer links them; the request's loaders batch the
// lookups). A provider that fails is an error beside the others' accounts.
func (r *Resolver) linkedAccounts(ctx context.Context, u *model.User) []*model.User {
	l := r.loaders(ctx)
	found, errs := r.Dir.LinkedAccounts(ctx, u.Source, &u.U, func(ctx context.Context, s *providers.Source, emails []string) ([]driver.User, error) {
		return l.ByEmail(ctx, s.Key, emails)
	})
	for _, err := range errs {
		if l.FirstReport(err) {
			graphql.AddError(ctx, err)
		}
	}
	out := []*model.User{}
	for _, f := range found {
		out = append(out, &model.User{Source: f.Source, U: f.User})
	}
	return out
}
