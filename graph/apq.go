package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dirgate/dirgate/internal/errcode"
)

// PersistedQueries implements automatic persisted queries as Apollo's
// clients and urql send them (version 1): a request with
// extensions.persistedQuery = {version: 1, sha256Hash} and no query runs
// the query of that hash if dirgate holds it, and is answered
// PERSISTED_QUERY_NOT_FOUND if not; the client then sends the query with
// its hash, and dirgate keeps it in Cache.
//
// Every failure is coded: PERSISTED_QUERY_NOT_FOUND (with the message
// "PersistedQueryNotFound", which clients match on),
// PERSISTED_QUERY_NOT_SUPPORTED for another version, and BAD_REQUEST for a
// malformed extension or a hash that is not the query's.
type PersistedQueries struct {
	Cache graphql.Cache[string]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = PersistedQueries{}

// ExtensionName implements graphql.HandlerExtension.
func (PersistedQueries) ExtensionName() string { return "AutomaticPersistedQuery" }

// Validate implements graphql.HandlerExtension.
func (p PersistedQueries) Validate(graphql.ExecutableSchema) error {
	if p.Cache == nil {
		return errors.New("graph: persisted queries: no cache")
	}
	return nil
}

// MutateOperationParameters implements graphql.OperationParameterMutator.
func (p PersistedQueries) MutateOperationParameters(ctx context.Context, raw *graphql.RawParams) *gqlerror.Error {
	ext, ok := raw.Extensions["persistedQuery"]
	if !ok || ext == nil {
		return nil
	}
	const shape = "extensions.persistedQuery must be an object with version 1 and sha256Hash, the SHA-256 of the query in hexadecimal"
	m, ok := ext.(map[string]any)
	if !ok {
		return requestError(errcode.BadRequest, shape)
	}
	switch v := m["version"].(type) {
	case json.Number:
		if v.String() != "1" {
			return unsupportedVersion()
		}
	case float64:
		if v != 1 {
			return unsupportedVersion()
		}
	default:
		return requestError(errcode.BadRequest, shape)
	}
	hash, ok := m["sha256Hash"].(string)
	if b, err := hex.DecodeString(hash); !ok || err != nil || len(b) != sha256.Size {
		return requestError(errcode.BadRequest, shape)
	}
	hash = strings.ToLower(hash)
	if raw.Query == "" {
		q, ok := p.Cache.Get(ctx, hash)
		if !ok {
			// Apollo's clients match the code, urql's the message.
			return requestError(errcode.PersistedQueryNotFound, "PersistedQueryNotFound")
		}
		raw.Query = q
		return nil
	}
	if sum := sha256.Sum256([]byte(raw.Query)); hex.EncodeToString(sum[:]) != hash {
		return requestError(errcode.BadRequest, "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query: hash the query exactly as sent, in UTF-8")
	}
	p.Cache.Add(ctx, hash, raw.Query)
	return nil
}

func unsupportedVersion() *gqlerror.Error {
	return requestError(errcode.PersistedQueryNotSupported, "automatic persisted queries of this version are not supported: dirgate supports version 1")
}
