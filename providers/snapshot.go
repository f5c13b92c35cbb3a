package providers

import (
	"context"
	"sync"
	"time"

	"github.com/dirgate/dirgate/providers/driver"
)

// Snapshot is one copy of a whole directory, as a whole-directory vendor
// answered it. Its index (by native id, by email, by anchor) is built once,
// the first time it is needed, and shared by every request that reads the
// copy.
type Snapshot struct {
	Users   []driver.User
	Company *driver.Company
	// Fetched is when the reads that made the copy began; RefreshAt when
	// it stops being fresh.
	Fetched, RefreshAt time.Time

	once     sync.Once
	byID     map[string]int
	byEmail  map[string][]int
	byAnchor map[uint64]int
}

func (sn *Snapshot) index() {
	sn.once.Do(func() {
		sn.byID = make(map[string]int, len(sn.Users))
		sn.byEmail = make(map[string][]int, len(sn.Users))
		sn.byAnchor = make(map[uint64]int, len(sn.Users))
		for i := range sn.Users {
			u := &sn.Users[i]
			sn.byID[u.ID] = i
			sn.byAnchor[anchorOf(u)] = i
			for _, e := range Emails(u) {
				sn.byEmail[e] = append(sn.byEmail[e], i)
			}
		}
	})
}

// User returns the user with the native id, or nil.
func (sn *Snapshot) User(id string) *driver.User {
	sn.index()
	if i, ok := sn.byID[id]; ok {
		return &sn.Users[i]
	}
	return nil
}

// ByEmail returns the users with the normalised email, primary or not, in
// directory order.
func (sn *Snapshot) ByEmail(email string) []driver.User {
	sn.index()
	var out []driver.User
	for _, i := range sn.byEmail[email] {
		out = append(out, sn.Users[i])
	}
	return out
}

// SnapshotStore keeps whole-directory copies, shared by every request
// dirgate serves (and, for a store shared by replicas, by every replica).
// The default keeps them in memory; Get and Put must be safe for
// concurrent use.
type SnapshotStore interface {
	// Get returns the copy kept, or nil.
	Get(ctx context.Context) (*Snapshot, error)
	// Put replaces the copy kept.
	Put(ctx context.Context, s *Snapshot) error
}

// memorySnapshots is the default SnapshotStore.
type memorySnapshots struct {
	mu sync.Mutex
	s  *Snapshot
}

func (m *memorySnapshots) Get(context.Context) (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s, nil
}

func (m *memorySnapshots) Put(_ context.Context, s *Snapshot) error {
	m.mu.Lock()
	m.s = s
	m.mu.Unlock()
	return nil
}
