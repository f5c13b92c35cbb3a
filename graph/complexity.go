package graph

import (
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/limits"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/driver"
)

// linkedAccountsCost is how many accounts in other providers one person
// is assumed to have when pricing linkedAccounts.
const linkedAccountsCost = 5

// CallPoints is the complexity of one vendor call: as much as ten fields.
const CallPoints = 10

// Costs is the cost model of the pre-execution limits (limits.Complexity):
// complexity points, and the vendor calls an operation may make, estimated
// from the providers' paging.
//
// Points: every field costs 1 plus its children, except lists whose length
// the arguments tell, and each estimated vendor call costs CallPoints:
//
//   - users: 1, plus its edges and nodes times the page size (first or
//     last, else the default page size), plus the rest of its selection
//     (pageInfo, totalCount) once;
//   - nodes(ids): the number of ids times its children;
//   - linkedAccounts: linkedAccountsCost times its children.
//
// Calls, per provider (see providers.Source.PageCalls and LookupCalls):
//
//   - users: the provider's share of the page, in vendor pages, and one
//     call for its total, for each provider the filter walks (a page may
//     come wholly from any one of them); totalCount of a provider the page
//     did not reach is that call;
//   - nodes, node and user: one call per id of a provider looked up one id
//     at a time (Concur); ids of a whole-directory provider (getbill) cost
//     a read of its shared copy, which is not counted;
//   - linkedAccounts: one call per provider searched one email at a time,
//     for each account whose links are asked for (one email per account
//     is assumed: accounts with more emails, and cursor-paged providers
//     walked to a cursor's offset, are left to the request's budget,
//     which stops them while running).
type Costs struct {
	defaultPageSize int
	sources         []*providers.Source
}

// NewCosts returns the cost model of dir's providers.
func NewCosts(dir *providers.Directory, defaultPageSize int) *Costs {
	return &Costs{defaultPageSize: defaultPageSize, sources: dir.Sources()}
}

var _ limits.Model = (*Costs)(nil)

// Field implements limits.Model.
func (c *Costs) Field(f *ast.Field, args limits.Args, child limits.Cost) limits.Cost {
	self := limits.Cost{Points: 1}
	switch f.ObjectDefinition.Name + "." + f.Name {
	case "Query.users":
		n := c.pageSize(&args)
		calls := 0
		for _, s := range c.walked(&args) {
			calls += s.PageCalls(n)
		}
		return self.Plus(child.Page(max(n, 1))).Plus(c.calls(calls))
	case "UserConnection.edges", "UserConnection.nodes":
		return self.Plus(child).PerItem()
	case "Query.nodes":
		n, calls := c.idCalls(&args, "ids")
		return self.Plus(child.Times(max(n, 1))).Plus(c.calls(calls))
	case "Query.node", "Query.user":
		_, calls := c.idCalls(&args, "id")
		return self.Plus(child).Plus(c.calls(calls))
	case "User.linkedAccounts":
		calls := 0
		for _, s := range c.sources {
			calls += s.LookupCalls(driver.FieldEmail, 1)
		}
		return self.Plus(child.Times(linkedAccountsCost)).Plus(c.calls(calls))
	}
	return self.Plus(child)
}

// calls is the cost of n vendor calls.
func (c *Costs) calls(n int) limits.Cost {
	return limits.Cost{Calls: n}.Plus(limits.Cost{Points: n}.Times(CallPoints))
}

// pageSize is the size of a users page asked with args.
func (c *Costs) pageSize(args *limits.Args) int {
	first, okF := args.Int("first")
	last, okL := args.Int("last")
	if !okF && !okL {
		return c.defaultPageSize
	}
	return max(first, last, 0)
}

// walked returns the providers a users filter walks: those it names, or
// all; worked out once per filter value in the operation.
func (c *Costs) walked(args *limits.Args) []*providers.Source {
	return args.Memo("filter", "walked", func() any {
		f, _ := args.Value("filter").(map[string]any)
		keys, ok := f["providers"]
		if !ok || keys == nil {
			return c.sources
		}
		named := map[string]bool{}
		for _, k := range limits.Strings(keys) {
			named[k] = true
		}
		var out []*providers.Source
		for _, s := range c.sources {
			if named[s.Key] {
				out = append(out, s)
			}
		}
		return out
	}).([]*providers.Source)
}

// idCalls returns the number of ids in the argument name and estimates
// the vendor calls of looking them up: one per distinct user id of a
// provider looked up one id at a time. It is worked out once per value:
// a variable of 30,000 ids spread over many fields is read once.
func (c *Costs) idCalls(args *limits.Args, name string) (n, calls int) {
	r := args.Memo(name, "idCalls", func() any {
		ids := args.Strings(name)
		per := map[string]int{}
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			if gid, err := relay.ParseID(id); err == nil && gid.Type == "User" {
				per[gid.Key]++
			}
		}
		calls := 0
		for _, s := range c.sources {
			calls += s.LookupCalls(driver.FieldID, per[s.Key])
		}
		return [2]int{len(ids), calls}
	}).([2]int)
	return r[0], r[1]
}
