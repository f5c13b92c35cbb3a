// Package hostile builds the hostile GraphQL documents of issue 10 that
// several packages send (the root package's tests and fuzz seeds, the
// checks' own tests in internal/limits, and the soak), so that each is
// written once.
package hostile

import (
	"fmt"
	"strings"
)

// FanOut is item 1: n fragments, each spreading the one before twice, so
// that the last selects 2^(n-1) fields, used as
// users(first:1){edges{node{...}}}. At 40 it is the 1.5 KB query.
func FanOut(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ users(first: 1) { edges { node { ...F%d } } } }\nfragment F0 on User { id }\n", n-1)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on User { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	return b.String()
}
