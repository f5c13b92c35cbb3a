package fleet

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/redis/go-redis/v9"
)

// APQOptions configure the automatic persisted queries kept in Redis.
type APQOptions struct {
	// TTL is how long a query is kept after it was last used.
	TTL time.Duration
	// Size is the most queries kept; the least recently used go first.
	Size int
	// MaxBytes is the largest query kept; a larger one is not stored.
	MaxBytes int
}

// apq is the cache of automatic persisted queries of the fleet: the
// replica's own cache first, then Redis. A query registered on one replica
// is found by hash on every other; while Redis is away, each replica has
// its own.
type apq struct {
	r     *Redis
	local graphql.Cache[string]
	opts  APQOptions
}

// APQ returns the fleet's cache of automatic persisted queries, in front
// of local, the replica's own (which also bounds what it keeps).
func (r *Redis) APQ(local graphql.Cache[string], opts APQOptions) graphql.Cache[string] {
	return &apq{r: r, local: local, opts: opts}
}

// Entries are sealed (a query may hold an email in a literal filter); the
// index is a sorted set of hashes by last use, for the size cap.
var apqAddScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ttl)
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do redis.call('DEL', ARGV[5] .. old[i]) end
end
redis.call('PEXPIRE', KEYS[2], ttl)
return 1
`)

var apqGetScript = redis.NewScript(`
local q = redis.call('GET', KEYS[1])
if not q then return false end
local t = redis.call('TIME')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
return q
`)

// Get implements graphql.Cache: the replica's own cache, else Redis.
func (a *apq) Get(ctx context.Context, hash string) (string, bool) {
	if q, ok := a.local.Get(ctx, hash); ok {
		return q, true
	}
	if !isSHA256Hex(hash) {
		return "", false
	}
	key := a.r.key("apq", hash)
	var sealed string
	err := a.r.do(ctx, "apq", func(ctx context.Context) (err error) {
		sealed, err = apqGetScript.Run(ctx, a.r.rdb, []string{key, a.r.key("apq-index", "")}, hash, a.opts.TTL.Milliseconds()).Text()
		return err
	})
	if err != nil {
		return "", false
	}
	q, err := a.r.seal.Open(key, []byte(sealed))
	if err != nil {
		return "", false
	}
	a.local.Add(ctx, hash, string(q))
	return string(q), true
}

// Add implements graphql.Cache: the query goes to the replica's own cache
// and to Redis. (gqlgen adds a query only once its hash is checked.)
func (a *apq) Add(ctx context.Context, hash, query string) {
	a.local.Add(ctx, hash, query)
	if len(query) > a.opts.MaxBytes || !isSHA256Hex(hash) {
		return
	}
	key := a.r.key("apq", hash)
	sealed := a.r.seal.Seal(key, []byte(query))
	a.r.do(ctx, "apq", func(ctx context.Context) error {
		return apqAddScript.Run(ctx, a.r.rdb, []string{key, a.r.key("apq-index", "")},
			hash, sealed, a.opts.TTL.Milliseconds(), a.opts.Size, a.r.key("apq", "")+":").Err()
	})
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
