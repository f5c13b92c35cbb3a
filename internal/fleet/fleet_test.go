package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/internal/fleet"
	"github.com/dirgate/dirgate/internal/redistest"
	"github.com/dirgate/dirgate/providers"
)

var testKey = bytes.Repeat([]byte{7}, fleet.KeySize)

// clock is a settable clock for the degraded state.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testTimeout is the Redis bound of tests that are not about it: long
// enough that a loaded machine running the race detector does not make
// Redis look degraded.
const testTimeout = 2 * time.Second

// open returns a fleet.Redis on srv: one replica's connection.
func open(t *testing.T, srv *redistest.Server, c *clock) *fleet.Redis {
	return openWith(t, srv, c, testTimeout)
}

// openWith is open with the Redis bound.
func openWith(t *testing.T, srv *redistest.Server, c *clock, bound time.Duration) *fleet.Redis {
	t.Helper()
	opts := &fleet.Options{}
	if c != nil {
		opts.Now = c.Now
	}
	r, err := fleet.Open(fleet.Config{URL: srv.URL(), Key: testKey, Timeout: bound}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestOpenRefusesBadURLsWithoutQuotingThem(t *testing.T) {
	for _, give := range []string{
		"http://user:hunter2@127.0.0.1:6379",
		"redis://:hunter2@/0",
		"redis://:hunter2@127.0.0.1:6379/0?dial_timeout=1s",
		"redis://:hunter2@127.0.0.1:6379/notadb",
		"::hunter2",
	} {
		_, err := fleet.Open(fleet.Config{URL: give, Key: testKey}, nil)
		if err == nil {
			t.Errorf("Open(%q) = nil error, want one", give)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open(%q) = %q, which quotes the password", give, err)
		}
	}
	if _, err := fleet.Open(fleet.Config{URL: "rediss://:pw@redis.example:6380/1", Key: testKey}, nil); err != nil {
		t.Errorf("Open(rediss://…) = %v, want nil", err)
	}
	if _, err := fleet.Open(fleet.Config{URL: "redis://127.0.0.1:6379/0", Key: testKey[:16]}, nil); err == nil {
		t.Error("Open with a 16-byte key = nil error, want one")
	}
}

func TestSealer(t *testing.T) {
	s, err := fleet.NewSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("dirgate:secret:concur#3", []byte("refresh-token-1"))
	if bytes.Contains(sealed, []byte("refresh-token-1")) {
		t.Fatal("the sealed value holds the plain text")
	}
	if got, err := s.Open("dirgate:secret:concur#3", sealed); err != nil || string(got) != "refresh-token-1" {
		t.Errorf("Open = %q, %v; want the plain text", got, err)
	}
	if _, err := s.Open("dirgate:secret:concur#4", sealed); err == nil {
		t.Error("Open under another name = nil error: a sealed value must be bound to its key")
	}
	other, _ := fleet.NewSealer(bytes.Repeat([]byte{8}, fleet.KeySize))
	if _, err := other.Open("dirgate:secret:concur#3", sealed); err == nil {
		t.Error("Open with another key = nil error")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open("dirgate:secret:concur#3", sealed); err == nil {
		t.Error("Open of an altered value = nil error")
	}

	k1, _ := fleet.DeriveKey("cursor-secret-a")
	k1again, _ := fleet.DeriveKey("cursor-secret-a")
	k2, _ := fleet.DeriveKey("cursor-secret-b")
	if !bytes.Equal(k1, k1again) || bytes.Equal(k1, k2) || len(k1) != fleet.KeySize {
		t.Error("DeriveKey: want the same key for the same secret, another for another, of KeySize bytes")
	}
	if bytes.Contains(k1, []byte("cursor-secret-a")) {
		t.Error("DeriveKey returned the secret")
	}
	if _, err := fleet.DeriveKey(""); err == nil {
		t.Error("DeriveKey(\"\") = nil error")
	}

	for _, give := range []string{"not base64 hunter2!", "aHVudGVyMg=="} {
		if _, err := fleet.ParseKey(give); err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), give) {
			t.Errorf("ParseKey(%q) = %v, want an error that does not quote it", give, err)
		}
	}
	if k, err := fleet.ParseKey("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="); err != nil || !bytes.Equal(k, testKey) {
		t.Errorf("ParseKey(32 bytes) = %x, %v", k, err)
	}
}

func TestLocks(t *testing.T) {
	srv := redistest.Start(t)
	cl := srv.Client()
	locks := open(t, srv, nil).Locks()
	// expire makes a held lease run out (a test does not wait for its TTL).
	expire := func(name string) { cl.Del(t.Context(), "dirgate:lock:"+name) }
	ctx := t.Context()
	a, err := locks.TryLock(ctx, "job", time.Minute)
	if err != nil || a == nil {
		t.Fatalf("TryLock = %v, %v; want a lease", a, err)
	}
	if b, err := locks.TryLock(ctx, "job", time.Minute); err != nil || b != nil {
		t.Fatalf("second TryLock = %v, %v; want nil, the lock is held", b, err)
	}
	if c, err := locks.TryLock(ctx, "other", time.Minute); err != nil || c == nil {
		t.Fatalf("TryLock of another lock = %v, %v; want a lease", c, err)
	}
	expire("job") // a's lease runs out
	b, err := locks.TryLock(ctx, "job", time.Minute)
	if err != nil || b == nil {
		t.Fatalf("TryLock after the lease ran out = %v, %v; want a lease", b, err)
	}
	if b.Fence <= a.Fence {
		t.Errorf("fences %d then %d: want them increasing", a.Fence, b.Fence)
	}
	a.Release(ctx) // too late: must not release b's lock
	if c, _ := locks.TryLock(ctx, "job", time.Minute); c != nil {
		t.Error("a lease that ran out released its successor's lock")
	}
	b.Release(ctx)
	if c, _ := locks.TryLock(ctx, "job", time.Minute); c == nil || c.Fence <= b.Fence {
		t.Errorf("TryLock after Release = %v, want a lease with a larger fence", c)
	}
	if ttl := cl.PTTL(ctx, "dirgate:lock:job").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the lock's TTL is %v, want its lease's (0, 1m]", ttl)
	}
}

// replicas returns n Secrets in Redis, each with its own connection, as
// n replicas would have.
func replicaSecrets(t *testing.T, srv *redistest.Server, n int) []fleet.Secrets {
	var s []fleet.Secrets
	for range n {
		s = append(s, open(t, srv, nil).Secrets(0))
	}
	return s
}

func TestSecretsRenewOnceAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	stores := replicaSecrets(t, srv, 3)
	ctx := t.Context()

	var renewals atomic.Int32
	renew := func(_ context.Context, cur fleet.Secret) ([]byte, time.Duration, error) {
		n := renewals.Add(1)
		return fmt.Appendf(nil, "token-%d(from %s)", n, cur.Value), time.Hour, nil
	}
	// The first login: nothing stored, 30 callers on 3 replicas.
	for round := 1; round <= 3; round++ {
		seen, _ := stores[0].Load(ctx, "concur")
		var wg sync.WaitGroup
		got := make([]fleet.Secret, 30)
		errs := make([]error, 30)
		for i := range 30 {
			wg.Go(func() { got[i], errs[i] = stores[i%3].Renew(ctx, "concur", seen, renew) })
		}
		wg.Wait()
		if n := renewals.Load(); n != int32(round) {
			t.Fatalf("round %d: %d renewals in all, want %d: one per round across the replicas", round, n, round)
		}
		for i := range got {
			if errs[i] != nil || got[i].Version != int64(round) || string(got[i].Value) != string(got[0].Value) {
				t.Fatalf("round %d, caller %d: Renew = %q v%d, %v; want %q v%d like every other",
					round, i, got[i].Value, got[i].Version, errs[i], got[0].Value, round)
			}
		}
	}
	// A restarted replica prefers the stored secret to renewing.
	fresh := open(t, srv, nil).Secrets(0)
	got, err := fresh.Renew(ctx, "concur", fleet.Secret{}, renew)
	if err != nil || got.Version != 3 || renewals.Load() != 3 {
		t.Errorf("a restarted replica's Renew = v%d, %v after %d renewals; want the stored v3 and no renewal", got.Version, err, renewals.Load())
	}

	// What Redis holds is sealed.
	dump, err := srv.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range dump {
		if strings.Contains(v, "token-") {
			t.Errorf("Redis key %s holds a token in the clear", k)
		}
	}
}

func TestSecretsLeaseRunsOutMidRenewal(t *testing.T) {
	srv := redistest.Start(t)
	cl := srv.Client()
	stores := replicaSecrets(t, srv, 2)
	ctx := t.Context()
	first := func(context.Context, fleet.Secret) ([]byte, time.Duration, error) { return []byte("T1"), 0, nil }
	if _, err := stores[0].Renew(ctx, "concur", fleet.Secret{}, first); err != nil {
		t.Fatal(err)
	}
	seen, _ := stores[0].Load(ctx, "concur")

	// Replica 0 renews with T1, and stalls (a long pause) past its lease.
	entered, resume := make(chan struct{}), make(chan struct{})
	var aGot fleet.Secret
	var aErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		aGot, aErr = stores[0].Renew(ctx, "concur", seen, func(_ context.Context, cur fleet.Secret) ([]byte, time.Duration, error) {
			close(entered)
			<-resume
			return []byte("T2 from " + string(cur.Value)), 0, nil
		})
	}()
	<-entered
	cl.Del(ctx, "dirgate:lock:secret:concur") // its lease runs out

	// Replica 1 takes the lock: it must not renew with T1 again.
	var bSaw fleet.Secret
	got, err := stores[1].Renew(ctx, "concur", seen, func(_ context.Context, cur fleet.Secret) ([]byte, time.Duration, error) {
		bSaw = cur
		return []byte("T2' from the request token"), 0, nil
	})
	if err != nil || !bSaw.Claimed || string(got.Value) != "T2' from the request token" {
		t.Fatalf("replica 1 renewed with %+v, got %q, %v; want the secret marked claimed, so that T1 is not used twice", bSaw, got.Value, err)
	}
	close(resume)
	<-done
	if !errors.Is(aErr, fleet.ErrConflict) || string(aGot.Value) != "T2 from T1" {
		t.Errorf("replica 0's late store = %q, %v; want its own result and ErrConflict", aGot.Value, aErr)
	}
	if cur, _ := stores[0].Load(ctx, "concur"); string(cur.Value) != "T2' from the request token" || cur.Claimed {
		t.Errorf("stored %q (claimed %v), want replica 1's renewal, unclaimed", cur.Value, cur.Claimed)
	}

	// A renewal that fails drops its claim: the next one may use the secret.
	seen, _ = stores[0].Load(ctx, "concur")
	stores[0].Renew(ctx, "concur", seen, func(context.Context, fleet.Secret) ([]byte, time.Duration, error) {
		return nil, 0, errors.New("vendor unavailable")
	})
	stores[1].Renew(ctx, "concur", seen, func(_ context.Context, cur fleet.Secret) ([]byte, time.Duration, error) {
		bSaw = cur
		return []byte("T3"), 0, nil
	})
	if bSaw.Claimed || string(bSaw.Value) != "T2' from the request token" {
		t.Errorf("after a failed renewal, the next got %q claimed=%v; want the secret, unclaimed", bSaw.Value, bSaw.Claimed)
	}
}

func TestSnapshots(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	data := bytes.Repeat([]byte(`{"id":"u1","email":"ada@acme.example"},`), 1000)
	a, b := open(t, srv, nil).Snapshots(), open(t, srv, nil).Snapshots() // two replicas
	if got, err := b.Load(ctx, "getbill", time.Time{}); got != nil || err != nil {
		t.Fatalf("Load of nothing = %v, %v", got, err)
	}
	if err := a.Store(ctx, "getbill", &fleet.Snapshot{Data: data, Fetched: t0, RefreshAt: t0.Add(time.Minute)}, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx, "getbill", time.Time{})
	if err != nil || got == nil || !bytes.Equal(got.Data, data) || !got.Fetched.Equal(t0) || !got.RefreshAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Load = %v, %v; want what was stored", got, err)
	}
	if got, err := b.Load(ctx, "getbill", t0); got != nil || err != nil {
		t.Errorf("Load(after its fetch) = %v, %v; want nil: the caller has it", got, err)
	}
	// An older fetch stored late does not replace a newer one.
	a.Store(ctx, "getbill", &fleet.Snapshot{Data: []byte("old"), Fetched: t0.Add(-time.Second)}, time.Hour)
	if got, _ := b.Load(ctx, "getbill", time.Time{}); got == nil || !got.Fetched.Equal(t0) {
		t.Errorf("an older snapshot replaced a newer one: %v", got)
	}
	dump, _ := srv.Dump(ctx)
	for k, v := range dump {
		if strings.Contains(v, "ada@acme.example") {
			t.Errorf("Redis key %s holds the directory in the clear", k)
		}
		if strings.HasPrefix(k, "dirgate:dir:") && len(v) > len(data)/10 {
			t.Errorf("Redis key %s holds %d bytes for %d of data: not compressed", k, len(v), len(data))
		}
	}
}

func TestRates(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a, b := open(t, srv, nil).Rates(), open(t, srv, nil).Rates() // two replicas
	if _, ok, err := b.Load(ctx, "getbill"); ok || err != nil {
		t.Fatalf("Load of nothing = %v, %v", ok, err)
	}
	want := providers.SharedBudget{
		Rate:  providers.RateLimit{Limit: 1000, Remaining: 961, Reset: t0.Add(time.Hour)},
		Known: true, HoldUntil: t0.Add(30 * time.Second), Code: errcode.ProviderRateLimited, At: t0,
	}
	a.Record(ctx, "getbill", want)
	a.Record(ctx, "getbill", providers.SharedBudget{Rate: providers.RateLimit{Limit: 1000, Remaining: 999}, Known: true, At: t0.Add(-time.Minute)}) // older: ignored
	got, ok, err := b.Load(ctx, "getbill")
	if !ok || err != nil || got.Rate.Limit != 1000 || got.Rate.Remaining != 961 || !got.Known ||
		!got.Rate.Reset.Equal(want.Rate.Reset) || !got.HoldUntil.Equal(want.HoldUntil) || !got.At.Equal(t0) || got.Code != want.Code {
		t.Errorf("Load = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}

func TestAPQAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	ctx := t.Context()
	cl := srv.Client()
	opts := fleet.APQOptions{TTL: time.Hour, Size: 3, MaxBytes: 100}
	a := open(t, srv, nil).APQ(lru.New[string](10), opts)
	b := open(t, srv, nil).APQ(lru.New[string](10), opts)
	hash := func(i int) string { return fmt.Sprintf("%064x", i) }

	a.Add(ctx, hash(1), "{ users { totalCount } }")
	if q, ok := b.Get(ctx, hash(1)); !ok || q != "{ users { totalCount } }" {
		t.Fatalf("replica b Get = %q, %v; want the query replica a added", q, ok)
	}
	if ttl := cl.PTTL(ctx, "dirgate:apq:"+hash(1)).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL of a persisted query = %v, want (0, 1h]", ttl)
	}
	for i := 2; i <= 5; i++ {
		a.Add(ctx, hash(i), fmt.Sprintf("{ q%d: users { totalCount } }", i))
	}
	c := open(t, srv, nil).APQ(lru.New[string](10), opts) // no local copies
	for i, want := range map[int]bool{1: false, 2: false, 3: true, 4: true, 5: true} {
		if _, ok := c.Get(ctx, hash(i)); ok != want {
			t.Errorf("with a cap of 3, query %d kept = %v, want %v", i, ok, want)
		}
	}
	if n := cl.ZCard(ctx, "dirgate:apq-index").Val(); n != 3 {
		t.Errorf("the index holds %d hashes, want 3", n)
	}
	a.Add(ctx, hash(9), "{ "+strings.Repeat("a ", 60)+"}")
	if _, ok := c.Get(ctx, hash(9)); ok {
		t.Error("a query over MaxBytes was shared")
	}
	if _, ok := c.Get(ctx, "x\r\nFLUSHALL"); ok {
		t.Error("Get of a key that is not a SHA-256 found something")
	}
	dump, _ := srv.Dump(ctx)
	for k, v := range dump {
		if strings.Contains(v, "totalCount") {
			t.Errorf("Redis key %s holds a query in the clear", k)
		}
	}
}

// counter reads one series of dirgate_redis_operations_total.
func counter(t *testing.T, r *fleet.Redis, store, outcome string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "dirgate_redis_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels(m)["store"] == store && labels(m)["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

func TestDegradedAndBack(t *testing.T) {
	srv := redistest.Start(t)
	c := newClock()
	r := open(t, srv, c)
	rates := r.Rates()
	ctx := t.Context()
	rec := providers.SharedBudget{Rate: providers.RateLimit{Limit: 10, Remaining: 5}, Known: true, At: c.Now()}
	if err := rates.Record(ctx, "getbill", rec); err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.State != fleet.StateOK {
		t.Fatalf("Status = %+v, want OK", st)
	}

	srv.Stop()
	if _, _, err := rates.Load(ctx, "getbill"); !errors.Is(err, fleet.ErrUnavailable) {
		t.Fatalf("Load with Redis stopped = %v, want ErrUnavailable", err)
	}
	st := r.Status()
	if st.State != fleet.StateDegraded || st.LastError == "" || !st.LastErrorAt.Equal(c.Now()) {
		t.Fatalf("Status = %+v, want DEGRADED with the failure", st)
	}
	errs := counter(t, r, "rate", "error")
	for range 10 {
		rates.Load(ctx, "getbill")
	}
	if n := counter(t, r, "rate", "skipped"); n != 10 || counter(t, r, "rate", "error") != errs {
		t.Errorf("while degraded: %v skipped and %v more errors, want 10 skipped and no new attempt", n, counter(t, r, "rate", "error")-errs)
	}

	c.Add(fleet.DefaultRetryInterval) // one operation tries again, and fails
	rates.Load(ctx, "getbill")
	if n := counter(t, r, "rate", "error"); n != errs+1 {
		t.Errorf("after the retry interval, %v attempts, want 1", n-errs)
	}

	srv.Restart()
	r.Probe(ctx) // not due yet: skipped
	if r.Status().State != fleet.StateDegraded {
		t.Fatal("recovered before the retry interval")
	}
	c.Add(fleet.DefaultRetryInterval)
	r.Probe(ctx)
	if st := r.Status(); st.State != fleet.StateOK || !st.Since.Equal(c.Now()) {
		t.Fatalf("after Redis came back: %+v, want OK since now", st)
	}
	if got, ok, err := rates.Load(ctx, "getbill"); !ok || err != nil || got.Rate.Remaining != 5 {
		t.Errorf("Load after recovery = %+v, %v, %v; want the record Redis saved", got, ok, err)
	}
}

func TestBudgetBoundsARequestsWait(t *testing.T) {
	srv := redistest.Start(t)
	c := newClock()
	const bound = 500 * time.Millisecond
	r := openWith(t, srv, c, bound)
	rates := r.Rates()
	other := openWith(t, srv, c, bound).Rates() // a second connection, not degraded by the first's failures
	for _, s := range []fleet.Rates{rates, other} {
		if err := s.Record(t.Context(), "getbill", providers.SharedBudget{At: c.Now()}); err != nil {
			t.Fatal(err) // connected
		}
	}
	srv.Pause()
	defer srv.Resume()

	// One request: operations at once, then one more in a row (on a
	// connection that has seen no failure, so only the budget stops it).
	ctx, b := r.WithBudget(t.Context())
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { rates.Load(ctx, "getbill") })
	}
	wg.Wait()
	if _, _, err := other.Load(ctx, "getbill"); !errors.Is(err, fleet.ErrUnavailable) {
		t.Errorf("an operation after the budget was spent = %v, want ErrUnavailable", err)
	}
	u := b.Usage()
	if u.Timeouts != 3 || u.Ops != 3 {
		t.Errorf("usage %+v: want the 3 overlapping operations cut at one deadline, and the 4th not tried", u)
	}
	if u.Waited > u.Limit || u.Limit != bound {
		t.Errorf("usage %+v: waited more than the limit", u)
	}
	if n := counter(t, r, "rate", "timeout"); n != 3 {
		t.Errorf("%v timeouts counted, want 3", n)
	}

	// Another request, while degraded: skipped at once, no wait.
	ctx2, b2 := r.WithBudget(t.Context())
	rates.Load(ctx2, "getbill")
	if u := b2.Usage(); u.Ops != 0 || u.Waited != 0 {
		t.Errorf("a request while Redis is degraded waited: %+v", u)
	}
}
