// Package graph is dirgate's GraphQL layer: the schema, the generated
// executor, thin resolvers over the provider directory, and the mapping of
// errors onto the closed set of codes clients see.
package graph

//go:generate go run github.com/dirgate/dirgate/internal/graphgen

import (
	"log/slog"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/providers"
)

// Resolver holds the long-lived, concurrency-safe dependencies of the
// resolvers. It has no mutable state.
type Resolver struct {
	Dir     *providers.Directory
	Cursors *relay.Cursors
	Logger  *slog.Logger
	// DefaultPageSize and MaxPageSize bound `users` pages.
	DefaultPageSize, MaxPageSize int
	// GqlgenOnly turns the precompiled path for plain selections off (see
	// plain.go), so that tests can compare it with gqlgen's executor.
	GqlgenOnly bool
}
