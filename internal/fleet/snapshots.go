package fleet

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Snapshot is one fetch of a whole directory.
type Snapshot struct {
	// Data is the directory, encoded by its owner.
	Data []byte
	// Fetched is when the fetch began; RefreshAt when the copy should be
	// refreshed (the budget rule's time, shared by the fleet).
	Fetched, RefreshAt time.Time
}

// Snapshots keeps the latest fetch of each whole directory for the fleet,
// so that one replica's refresh serves them all.
type Snapshots interface {
	// Load returns the stored snapshot of name if it was fetched after
	// after, else nil: a replica that holds a copy does not download it
	// again.
	Load(ctx context.Context, name string, after time.Time) (*Snapshot, error)
	// Store keeps s for ttl, unless a snapshot fetched later is stored.
	Store(ctx context.Context, name string, s *Snapshot, ttl time.Duration) error
}

// redisSnapshots is Snapshots in Redis: a hash per name with f (the fetch
// time, in Unix nanoseconds, readable by the scripts) and s (the times
// and the data, gzip-compressed, then sealed: directories hold personal
// data).
type redisSnapshots struct{ r *Redis }

// Snapshots returns the Snapshots in Redis.
func (r *Redis) Snapshots() Snapshots { return redisSnapshots{r} }

var loadSnapScript = redis.NewScript(`
local f = redis.call('HGET', KEYS[1], 'f')
if not f or tonumber(f) <= tonumber(ARGV[1]) then return false end
return {f, redis.call('HGET', KEYS[1], 's')}
`)

var storeSnapScript = redis.NewScript(`
local f = redis.call('HGET', KEYS[1], 'f')
if f and tonumber(f) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 's', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`)

func (s redisSnapshots) Load(ctx context.Context, name string, after time.Time) (*Snapshot, error) {
	key := s.r.key("dir", name)
	var res []any
	err := s.r.do(ctx, "snapshot", func(ctx context.Context) error {
		v, err := loadSnapScript.Run(ctx, s.r.rdb, []string{key}, nanos(after)).Result()
		res, _ = v.([]any)
		return err
	})
	if err != nil || len(res) != 2 {
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return nil, err
	}
	f, _ := res[0].(string)
	sealed, _ := res[1].(string)
	plain, err := s.r.seal.Open(key+"#"+f, []byte(sealed))
	if err != nil {
		return nil, err
	}
	return decodeSnapshot(plain)
}

func (s redisSnapshots) Store(ctx context.Context, name string, snap *Snapshot, ttl time.Duration) error {
	key := s.r.key("dir", name)
	f := strconv.FormatInt(snap.Fetched.UnixNano(), 10)
	plain, err := encodeSnapshot(snap)
	if err != nil {
		return err
	}
	sealed := s.r.seal.Seal(key+"#"+f, plain)
	return s.r.do(ctx, "snapshot", func(ctx context.Context) error {
		return storeSnapScript.Run(ctx, s.r.rdb, []string{key}, f, sealed, max(ttl.Milliseconds(), 1)).Err()
	})
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// encodeSnapshot: fetched and refreshAt (Unix nanoseconds, 8 bytes each,
// big-endian), then the data, all gzip-compressed.
func encodeSnapshot(s *Snapshot) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	var head [16]byte
	binary.BigEndian.PutUint64(head[:8], uint64(s.Fetched.UnixNano()))
	binary.BigEndian.PutUint64(head[8:], uint64(s.RefreshAt.UnixNano()))
	zw.Write(head[:])
	zw.Write(s.Data)
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("fleet: compress snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// maxSnapshotBytes bounds a decompressed snapshot: a compressed one that
// says more is refused, never read without end.
const maxSnapshotBytes = 1 << 30

func decodeSnapshot(b []byte) (*Snapshot, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("fleet: snapshot: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fleet: snapshot: %w", err)
	}
	if len(plain) < 16 || len(plain) > maxSnapshotBytes {
		return nil, errors.New("fleet: snapshot: bad size")
	}
	return &Snapshot{
		Fetched:   time.Unix(0, int64(binary.BigEndian.Uint64(plain[:8]))),
		RefreshAt: time.Unix(0, int64(binary.BigEndian.Uint64(plain[8:16]))),
		Data:      plain[16:],
	}, nil
}
