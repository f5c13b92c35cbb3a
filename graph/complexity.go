package graph

import "github.com/dirgate/dirgate/graph/model"

// linkedAccountsCost is how many accounts in other providers one person
// is assumed to have when pricing linkedAccounts.
const linkedAccountsCost = 5

// Complexity returns the cost functions behind the operation complexity
// limit (gqlgen's extension.ComplexityLimit). Every field costs 1 plus its
// children, except lists whose length the arguments tell:
//
//   - users: its page size (first or last, else defaultPageSize) times its
//     children, so edges and nodes are paid once per user;
//   - nodes(ids): the number of ids times its children;
//   - linkedAccounts: linkedAccountsCost times its children.
func Complexity(defaultPageSize int) ComplexityRoot {
	var c ComplexityRoot
	c.Query.Users = func(child int, first *int, _ *string, last *int, _ *string, _ *model.UserFilter) int {
		n := defaultPageSize
		if first != nil || last != nil {
			n = max(deref(first), deref(last))
		}
		return times(max(n, 1), child)
	}
	c.Query.Nodes = func(child int, ids []string) int { return times(max(len(ids), 1), child) }
	c.User.LinkedAccounts = func(child int) int { return times(linkedAccountsCost, child) }
	return c
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// times multiplies two costs, saturating instead of overflowing.
func times(n, child int) int {
	child = max(child, 1)
	const maxInt = int(^uint(0) >> 1)
	if n > maxInt/child {
		return maxInt
	}
	return n * child
}
