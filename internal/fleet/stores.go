package fleet

import "time"

// Stores are the stores one deployment shares: in memory for a single
// replica (Memory), in Redis for several (Redis.Stores).
type Stores struct {
	Locks     Locker
	Secrets   Secrets
	Snapshots Snapshots
	Rates     Rates
	// Redis is the connection behind the stores; nil in memory.
	Redis *Redis
}

// Memory returns the in-memory stores, on clock now (nil: time.Now).
func Memory(now func() time.Time) *Stores {
	return &Stores{Locks: NewLocks(now), Secrets: NewSecrets(), Snapshots: NewSnapshots(), Rates: NewRates()}
}

// Stores returns the stores in Redis; renewals of secrets run under
// leases of DefaultRenewLease.
func (r *Redis) Stores() *Stores {
	return &Stores{Locks: r.Locks(), Secrets: r.Secrets(0), Snapshots: r.Snapshots(), Rates: r.Rates(), Redis: r}
}

// Shared reports whether the stores are shared with other replicas, and
// the health of the connection if so.
func (s *Stores) Shared() (Status, bool) {
	if s == nil || s.Redis == nil {
		return Status{}, false
	}
	return s.Redis.Status(), true
}
