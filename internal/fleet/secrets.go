package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Secret is a credential that renewals rotate (for Concur: the refresh
// token, with the access token and the geolocation), as stored.
type Secret struct {
	// Value is the credential, encoded by its owner; nil when none is
	// stored.
	Value []byte
	// Version counts the renewals stored under the name: 0 when nothing
	// is stored; each renewal stores Version+1.
	Version int64
	// Claimed is set when a renewal with this secret began on a replica
	// whose lease ran out before it stored the result: the vendor may have
	// rotated it already, so it must not be used for another renewal.
	Claimed bool
}

// RenewFunc renews a secret: it gets the stored one (Value nil when there
// is none, or Claimed: then it must not use what Value says is the
// refresh credential) and returns the new value and how long to keep it
// (0: for ever). ctx ends before the renewal's lease does.
type RenewFunc func(ctx context.Context, cur Secret) (value []byte, ttl time.Duration, err error)

// Secrets keeps, for the whole fleet, the credentials that renewals
// rotate, so that the replicas never renew twice with the same one.
type Secrets interface {
	// Load returns the stored secret (Version 0 when none).
	Load(ctx context.Context, name string) (Secret, error)
	// Renew returns a secret other than seen: the stored one, when it is
	// not seen (another replica renewed since seen was read, or seen is
	// empty and one is stored, as after a restart); else it calls renew,
	// on one replica of the fleet at a time, with the stored secret (seen,
	// when nothing is stored), stores what it returns before anyone else
	// may renew, and returns it. While another replica renews, it waits
	// for that renewal (within ctx).
	Renew(ctx context.Context, name string, seen Secret, renew RenewFunc) (Secret, error)
}

// redisSecrets is Secrets in Redis: a hash per name with v (the version),
// s (the value, sealed for the key and version) and, while a renewal
// runs, c (the fence of the lease it runs under).
type redisSecrets struct {
	r     *Redis
	locks Locker
	lease time.Duration
}

// Defaults of the Redis Secrets.
const (
	// DefaultRenewLease bounds one renewal: its lease, within which it
	// must store its result.
	DefaultRenewLease = 30 * time.Second
	// renewMargin is kept between the end of a renewal's context and the
	// end of its lease, for storing the result.
	renewMargin = 5 * time.Second
)

// Secrets returns the Secrets in Redis. Each renewal runs under a lease
// of lease (0: DefaultRenewLease); renew's context ends 5 s before it.
func (r *Redis) Secrets(lease time.Duration) Secrets {
	if lease <= 0 {
		lease = DefaultRenewLease
	}
	return &redisSecrets{r: r, locks: r.Locks(), lease: max(lease, 2*renewMargin)}
}

// ErrConflict is returned by Renew when the renewed secret could not be
// stored: a newer lease claimed the secret (this replica's lease had run
// out), or another renewal was stored first.
var ErrConflict = errors.New("fleet: the secret changed while it was renewed")

func (s *redisSecrets) Load(ctx context.Context, name string) (Secret, error) {
	key := s.r.key("secret", name)
	var vals []any
	err := s.r.do(ctx, "secret", func(ctx context.Context) (err error) {
		vals, err = s.r.rdb.HMGet(ctx, key, "v", "s", "c").Result()
		return err
	})
	if err != nil {
		return Secret{}, err
	}
	v, _ := vals[0].(string)
	sealed, _ := vals[1].(string)
	if v == "" || sealed == "" {
		return Secret{}, nil
	}
	ver, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return Secret{}, fmt.Errorf("fleet: secret %s: bad version", name)
	}
	value, err := s.r.seal.Open(key+"#"+v, []byte(sealed))
	if err != nil {
		return Secret{}, err
	}
	return Secret{Value: value, Version: ver, Claimed: vals[2] != nil}, nil
}

// pollFirst and pollMax pace the wait for another replica's renewal.
const (
	pollFirst = 10 * time.Millisecond
	pollMax   = 200 * time.Millisecond
)

func (s *redisSecrets) Renew(ctx context.Context, name string, seen Secret, renew RenewFunc) (Secret, error) {
	wait := pollFirst
	for {
		cur, err := s.Load(ctx, name)
		if err != nil {
			return Secret{}, err
		}
		if cur.Version != 0 && cur.Version != seen.Version {
			return cur, nil
		}
		lease, err := s.locks.TryLock(ctx, "secret:"+name, s.lease)
		if err != nil {
			return Secret{}, err
		}
		if lease != nil {
			return s.renewHeld(ctx, name, seen, lease, renew)
		}
		// Another replica renews: wait for its result.
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Secret{}, fmt.Errorf("fleet: waiting for another replica's renewal: %w", ctx.Err())
		}
		wait = min(2*wait, pollMax)
	}
}

var claimScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
if v == 0 then return 1 end
local c = redis.call('HGET', KEYS[1], 'c')
if c then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[2])
return 1
`)

var unclaimScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'c') == ARGV[1] then redis.call('HDEL', KEYS[1], 'c') end
return 0
`)

var putScript = redis.NewScript(`
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return -1 end
local c = redis.call('HGET', KEYS[1], 'c')
if c and tonumber(c) > tonumber(ARGV[2]) then return -2 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', v + 1, 's', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return v + 1
`)

// renewHeld renews under lease: it reads the secret again (another
// replica may have stored one just before), claims it with the lease's
// fence, renews, and stores the result, then releases the lease.
//
// The claim is what keeps a secret from being used twice when a lease
// runs out mid-renewal (a replica paused, say): the next holder sees it,
// and renews without the claimed secret. A renewal that fails drops its
// claim: the vendor answered and did not rotate, or did not answer, and
// a later renewal may try the same secret, as a single replica would.
func (s *redisSecrets) renewHeld(ctx context.Context, name string, seen Secret, lease *Lease, renew RenewFunc) (Secret, error) {
	// The lease's writes each get their own bound: the request's budget
	// may be spent, and a rotated secret must be stored.
	own := context.WithoutCancel(context.WithValue(ctx, budgetKey{}, (*Budget)(nil)))
	defer lease.Release(own)
	key := s.r.key("secret", name)
	fence := strconv.FormatInt(lease.Fence, 10)

	cur, err := s.Load(ctx, name)
	if err != nil {
		return Secret{}, err
	}
	if cur.Version != 0 && cur.Version != seen.Version {
		return cur, nil
	}
	if cur.Version == 0 {
		// Nothing stored (a first start, or Redis lost its data): renew
		// from what this replica holds, and store it as the first version.
		cur = Secret{Value: seen.Value}
	}
	var claimed int64
	err = s.r.do(ctx, "secret", func(ctx context.Context) (err error) {
		claimed, err = claimScript.Run(ctx, s.r.rdb, []string{key}, cur.Version, fence).Int64()
		return err
	})
	switch {
	case err != nil:
		return Secret{}, err
	case claimed == -1:
		return Secret{}, ErrConflict
	case claimed == 0:
		cur.Claimed = true
	}

	rctx, cancel := context.WithDeadline(ctx, lease.Expires.Add(-renewMargin))
	value, ttl, err := renew(rctx, cur)
	cancel()
	if err != nil {
		s.r.do(own, "secret", func(ctx context.Context) error {
			return unclaimScript.Run(ctx, s.r.rdb, []string{key}, fence).Err()
		})
		return Secret{}, err
	}
	next := strconv.FormatInt(cur.Version+1, 10)
	sealed := s.r.seal.Seal(key+"#"+next, value)
	var v int64
	err = s.r.do(own, "secret", func(ctx context.Context) (err error) {
		v, err = putScript.Run(ctx, s.r.rdb, []string{key}, cur.Version, fence, sealed, ttl.Milliseconds()).Int64()
		return err
	})
	switch {
	case err != nil:
		// Renewed, but not stored: this replica uses it, and the others
		// will renew again (with the secret they hold, which the vendor
		// may have rotated away).
		return Secret{Value: value, Version: cur.Version + 1}, fmt.Errorf("fleet: store renewed secret %s: %w", name, err)
	case v < 0:
		return Secret{Value: value, Version: cur.Version + 1}, ErrConflict
	}
	return Secret{Value: value, Version: v}, nil
}
