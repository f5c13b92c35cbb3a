package fleet

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Rate is what a vendor last said about its rate budget, and how long it
// asked to be left alone, as one replica heard it.
type Rate struct {
	// Limit and Remaining are the calls per window and the calls left
	// (X-RateLimit-Limit and -Remaining); Known is false when the vendor
	// has not said.
	Limit, Remaining int
	Known            bool
	// Reset is when the window resets (X-RateLimit-Reset).
	Reset time.Time
	// HoldUntil is when a replica may call the vendor again: after a 429,
	// its retry-after; after other failures, the back-off. Code is the
	// error code of the failure that set it.
	HoldUntil time.Time
	Code      string
	// At is when the vendor said it: the newest record wins.
	At time.Time
}

// Rates records the vendors' rate budgets for the fleet, so that the
// budget rule counts the calls of every replica, and a retry-after that
// one replica heard holds them all back.
type Rates interface {
	// Load returns the latest record of name; ok is false when there is
	// none.
	Load(ctx context.Context, name string) (r Rate, ok bool, err error)
	// Record stores r unless a record made later (by At) is stored.
	Record(ctx context.Context, name string, r Rate) error
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

func (s redisRates) Load(ctx context.Context, name string) (Rate, bool, error) {
	var vals []any
	err := s.r.do(ctx, "rate", func(ctx context.Context) (err error) {
		vals, err = s.r.rdb.HMGet(ctx, s.r.key("rate", name), "at", "limit", "remaining", "known", "reset", "hold", "code").Result()
		return err
	})
	if err != nil || vals[0] == nil {
		return Rate{}, false, err
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
	return Rate{
		At: t(0), Limit: int(n(1)), Remaining: int(n(2)), Known: n(3) == 1, Reset: t(4), HoldUntil: t(5), Code: code,
	}, true, nil
}

func (s redisRates) Record(ctx context.Context, name string, r Rate) error {
	keep := rateKeep
	end := r.Reset
	if r.HoldUntil.After(end) {
		end = r.HoldUntil
	}
	if end.After(r.At) {
		keep += end.Sub(r.At)
	}
	known := 0
	if r.Known {
		known = 1
	}
	return s.r.do(ctx, "rate", func(ctx context.Context) error {
		return recordRateScript.Run(ctx, s.r.rdb, []string{s.r.key("rate", name)},
			nanos(r.At), r.Limit, r.Remaining, known, nanos(r.Reset), nanos(r.HoldUntil), keep.Milliseconds(), r.Code).Err()
	})
}
