package fleet

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Locker hands out leases on named locks, so that one replica at a time
// does a piece of work (a token renewal, a directory refresh).
type Locker interface {
	// TryLock takes the lock name for ttl and returns its lease, or nil
	// (and no error) when another holder has it. A lease's Fence is larger
	// than that of every earlier lease on the same lock, so that stores
	// can refuse writes from a holder whose lease ran out.
	TryLock(ctx context.Context, name string, ttl time.Duration) (*Lease, error)
}

// Lease is a held lock, until Release or its time-to-live.
type Lease struct {
	Name  string
	Fence int64
	// Expires is when the lease runs out, by the holder's clock.
	Expires time.Time
	release func(ctx context.Context) error
}

// Release gives the lock up, if this lease still holds it.
func (l *Lease) Release(ctx context.Context) error { return l.release(ctx) }

// redisLocks is the Locker in Redis: the lock is a key holding the fence
// of its lease, with the lease's time-to-live; the fences come from a
// counter beside it.
type redisLocks struct{ r *Redis }

// Locks returns the Locker in Redis.
func (r *Redis) Locks() Locker { return redisLocks{r} }

// fenceKeep is how long a lock's fence counter outlives its last lease.
const fenceKeep = 400 * 24 * time.Hour

var lockScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local f = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], f, 'PX', ARGV[1])
return f
`)

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// TryLock implements Locker.
func (l redisLocks) TryLock(ctx context.Context, name string, ttl time.Duration) (*Lease, error) {
	lock, fence := l.r.key("lock", name), l.r.key("fence", name)
	start := time.Now()
	var f int64
	err := l.r.do(ctx, "lock", func(ctx context.Context) (err error) {
		f, err = lockScript.Run(ctx, l.r.rdb, []string{lock, fence}, ttl.Milliseconds(), fenceKeep.Milliseconds()).Int64()
		return err
	})
	if err != nil {
		return nil, err
	}
	if f == 0 {
		return nil, nil
	}
	return &Lease{Name: name, Fence: f, Expires: start.Add(ttl), release: func(ctx context.Context) error {
		return l.r.do(ctx, "lock", func(ctx context.Context) error {
			return unlockScript.Run(ctx, l.r.rdb, []string{lock}, strconv.FormatInt(f, 10)).Err()
		})
	}}, nil
}
