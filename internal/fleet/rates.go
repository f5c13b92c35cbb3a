package fleet

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
)

// Rates records the vendors' rate budgets and holds for the fleet (see
// providers.SharedBudget), so that the budget rule counts the calls of
// every replica, and a retry-after that one replica heard holds them all
// back.
type Rates interface {
	// Load returns the latest record of name; ok is false when there is
	// none.
	Load(ctx context.Context, name string) (b providers.SharedBudget, ok bool, err error)
	// Record stores b unless a record made later (by At) is stored.
	Record(ctx context.Context, name string, b providers.SharedBudget) error
}

// redisRates is Rates in Redis: a hash per name, in plain text (budgets
// are no secret), kept until a day after its reset or hold.
type redisRates struct{ r *Redis }

// Rates returns the Rates in Redis.
func (r *Redis) Rates() Rates { return redisRates{r} }

// rateKeep is how long a rate record outlives its reset or hold.
const rateKeep = 24 * time.Hour

var recordRateScript = redis.NewScript(`
local at = redis.call('HGET', KEYS[1], 'at')
if at and tonumber(at) > tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'limit', ARGV[2], 'remaining', ARGV[3], 'known', ARGV[4], 'reset', ARGV[5], 'hold', ARGV[6], 'code', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return 1
`)

func (s redisRates) Load(ctx context.Context, name string) (providers.SharedBudget, bool, error) {
	var vals []any
	err := s.r.do(ctx, "rate", func(ctx context.Context) (err error) {
		vals, err = s.r.rdb.HMGet(ctx, s.r.key("rate", name), "at", "limit", "remaining", "known", "reset", "hold", "code").Result()
		return err
	})
	if err != nil || vals[0] == nil {
		return providers.SharedBudget{}, false, err
	}
	n := func(i int) int64 {
		v, _ := vals[i].(string)
		x, _ := strconv.ParseInt(v, 10, 64)
		return x
	}
	t := func(i int) time.Time {
		if x := n(i); x != 0 {
			return time.Unix(0, x)
		}
		return time.Time{}
	}
	code, _ := vals[6].(string)
	return providers.SharedBudget{
		Rate:  providers.RateLimit{Limit: int(n(1)), Remaining: int(n(2)), Reset: t(4)},
		Known: n(3) == 1, HoldUntil: t(5), Code: errcode.Code(code), At: t(0),
	}, true, nil
}

func (s redisRates) Record(ctx context.Context, name string, b providers.SharedBudget) error {
	keep := rateKeep
	end := b.Rate.Reset
	if b.HoldUntil.After(end) {
		end = b.HoldUntil
	}
	if end.After(b.At) {
		keep += end.Sub(b.At)
	}
	known := 0
	if b.Known {
		known = 1
	}
	return s.r.do(ctx, "rate", func(ctx context.Context) error {
		return recordRateScript.Run(ctx, s.r.rdb, []string{s.r.key("rate", name)},
			nanos(b.At), b.Rate.Limit, b.Rate.Remaining, known, nanos(b.Rate.Reset), nanos(b.HoldUntil), keep.Milliseconds(), string(b.Code)).Err()
	})
}
