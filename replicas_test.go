package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/fleet"
	"github.com/dirgate/dirgate/internal/health"
	"github.com/dirgate/dirgate/internal/redistest"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// fleetOf is several dirgate replicas behind an imagined load balancer:
// each its own server (newServer, as run builds it) with its own HTTP
// listener, all sharing one Redis and the same vendors' emulators.
type fleetOf struct {
	t        *testing.T
	redis    *redistest.Server
	concur   *concur.Emulator
	getbill  *getbill.Emulator
	clock    *testClock
	config   func() *config.Config
	replicas []*replica
	// truth is the merged directory, "provider/nativeId" in order.
	truth []string
}

// replica is one dirgate process of a fleet.
type replica struct {
	url  string
	srv  *httptest.Server
	s    *server
	logs *syncBuffer
}

const (
	fleetConcurN  = 230
	fleetGetbillN = 70
)

// newFleet starts Redis, the emulators, and n replicas configured alike
// (mutate changes their configuration; nil keeps it).
func newFleet(t *testing.T, n int, mutate func(*config.Config)) *fleetOf {
	t.Helper()
	f := &fleetOf{t: t, redis: redistest.Start(t), clock: newTestClock()}
	all := providertest.Dataset(fleetConcurN + fleetGetbillN)
	var cu, gu []driver.User
	for _, u := range all[:fleetConcurN] {
		cu = append(cu, asConcur(u))
		f.truth = append(f.truth, "concur/"+u.ID)
	}
	for _, u := range all[fleetConcurN:] {
		gu = append(gu, asGetbill(u))
		f.truth = append(f.truth, "getbill/"+u.ID)
	}
	f.concur = concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: "concur-client-secret", CompanyUUID: "company-uuid", RequestToken: "request-token-secret",
		Users: cu, Company: &driver.Company{Name: "Acme"},
	})
	f.getbill = getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "gid", ClientSecret: "getbill-client-secret", Users: gu})
	cs, gs := httptest.NewServer(f.concur), httptest.NewServer(f.getbill)
	t.Cleanup(cs.Close)
	t.Cleanup(gs.Close)
	dir := t.TempDir()
	f.config = func() *config.Config {
		c := &config.Config{Providers: []config.Provider{
			{Key: "concur", Kind: "concur", Name: "SAP Concur", Settings: &concur.Config{
				TokenURL: cs.URL + "/oauth2/v0/token", ClientID: "cid", ClientSecret: vendorhttp.NewSecret("concur-client-secret"),
				CompanyUUID: "company-uuid", RequestToken: vendorhttp.NewSecret("request-token-secret"),
				TokenStore: filepath.Join(dir, "concur.json"), PageSize: 100,
			}},
			{Key: "getbill", Kind: "getbill", Name: "getbill", CacheTTL: time.Minute, MaxStale: 15 * time.Minute, Settings: &getbill.Config{
				BaseURL: gs.URL, ClientID: "gid", ClientSecret: vendorhttp.NewSecret("getbill-client-secret"),
			}},
		}}
		c.Server.DefaultPageSize, c.Server.MaxPageSize = 50, 1000
		c.Server.CursorSecret = "cursor-secret-shared-by-the-fleet"
		c.Redis = config.Redis{URL: f.redis.URL()}
		c.Now = f.clock.Now
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	for range n {
		f.start()
	}
	t.Cleanup(f.stopAll)
	return f
}

// start adds a replica.
func (f *fleetOf) start() *replica {
	f.t.Helper()
	r := &replica{logs: &syncBuffer{}}
	s, err := newServer(f.config(), slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		f.t.Fatal(err)
	}
	r.s, r.srv = s, httptest.NewServer(s)
	r.url = r.srv.URL
	f.replicas = append(f.replicas, r)
	return r
}

// stopAll stops every replica, as a rolling restart's last step would.
func (f *fleetOf) stopAll() {
	for _, r := range f.replicas {
		r.srv.Close()
		r.s.Close()
		for _, secret := range []string{"concur-client-secret", "request-token-secret", "getbill-client-secret"} {
			if strings.Contains(r.logs.String(), secret) {
				f.t.Errorf("a secret reached a replica's log")
			}
		}
	}
	f.replicas = nil
}

// on returns the replica the load balancer sends request i to.
func (f *fleetOf) on(i int) *gateway {
	return &gateway{url: f.replicas[i%len(f.replicas)].url}
}

// persisted is a GraphQL request by automatic persisted query: the hash,
// and the query when given.
func persisted(query, hash string) string {
	return apqBody(query, map[string]any{"version": 1, "sha256Hash": hash})
}

// TestFleetPersistedQueries: a query registered by APQ on one replica is
// answered by hash on the others (each replica's own cache held it alone
// before). Without Redis, each replica works from its own cache.
func TestFleetPersistedQueries(t *testing.T) {
	f := newFleet(t, 3, nil)
	q := `query Count { users(first: 1) { totalCount } }`
	if _, r := post(t, f.on(0).url, persisted(q, sha256Hex(q))); len(r.Errors) > 0 {
		t.Fatalf("register on replica 0: %+v", r.Errors)
	}
	want := ""
	for i := 1; i <= 2; i++ {
		_, r := post(t, f.on(i).url, persisted("", sha256Hex(q)))
		if len(r.Errors) > 0 || !strings.Contains(string(r.Data), "totalCount") {
			t.Fatalf("by hash on replica %d: %s %+v, want the answer", i, r.Data, r.Errors)
		}
		if want == "" {
			want = string(r.Data)
		} else if string(r.Data) != want {
			t.Errorf("replica %d answered %s, replica 1 %s", i, r.Data, want)
		}
	}

	// Redis away: a replica still knows what it saw itself, and a query
	// it never saw is PERSISTED_QUERY_NOT_FOUND, as on a single replica.
	f.redis.Stop()
	if _, r := post(t, f.on(1).url, persisted("", sha256Hex(q))); len(r.Errors) > 0 {
		t.Errorf("by hash on replica 1, Redis stopped: %+v, want its local copy", r.Errors)
	}
	q2 := `query Count2 { users(first: 2) { totalCount } }`
	if _, r := post(t, f.on(2).url, persisted("", sha256Hex(q2))); !slices.Equal(codes(r.Errors), []string{"PERSISTED_QUERY_NOT_FOUND"}) {
		t.Errorf("an unknown hash, Redis stopped: %+v, want PERSISTED_QUERY_NOT_FOUND", r.Errors)
	}
}

// TestFleetWalkAcrossReplicas: a walk whose pages go to different replicas
// equals the walk on one replica, and the directory, both ways.
func TestFleetWalkAcrossReplicas(t *testing.T) {
	f := newFleet(t, 3, nil)
	for _, backward := range []bool{false, true} {
		one := f.walk(t, 37, backward, func(int) *gateway { return f.on(0) })
		spread := f.walk(t, 37, backward, f.on)
		if !slices.Equal(spread, one) {
			t.Errorf("backward=%v: the walk over three replicas differs from the walk on one at %d", backward, firstDiff(spread, one))
		}
		if !slices.Equal(one, f.truth) {
			t.Errorf("backward=%v: the walk on one replica differs from the directory at %d", backward, firstDiff(one, f.truth))
		}
	}
}

// walk follows the connection in pages of n, sending page i to
// replica(i), and returns the users in merged order.
func (f *fleetOf) walk(t *testing.T, n int, backward bool, replica func(i int) *gateway) []string {
	t.Helper()
	var got []string
	var cursor *string
	for i := 0; i < 100; i++ {
		vars := map[string]any{}
		if backward {
			vars["last"], vars["before"] = n, cursor
		} else {
			vars["first"], vars["after"] = n, cursor
		}
		p, errs := replica(i).page(t, vars)
		if len(errs) > 0 {
			t.Fatalf("page %d on replica %d: %+v", i, i%len(f.replicas), errs)
		}
		if backward {
			got = append(p.names(), got...)
			cursor = p.Users.PageInfo.StartCursor
			if !p.Users.PageInfo.HasPreviousPage {
				return got
			}
		} else {
			got = append(got, p.names()...)
			cursor = p.Users.PageInfo.EndCursor
			if !p.Users.PageInfo.HasNextPage {
				return got
			}
		}
	}
	t.Fatal("no end")
	return nil
}

// readyzOf reads a replica's /readyz.
func readyzOf(t *testing.T, r *replica) (int, health.Report) {
	t.Helper()
	code, body := get(t, r.url+"/readyz")
	var rep health.Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		t.Fatalf("/readyz: %q: %v", body, err)
	}
	return code, rep
}

// TestFleetRedisHealth: /readyz and /metrics say when Redis is away, the
// replica stays in the load balancer, and both recover without a restart
// when Redis is back.
func TestFleetRedisHealth(t *testing.T) {
	f := newFleet(t, 1, nil)
	r := f.replicas[0]
	q := `{ users(first: 1) { totalCount } }`
	post(t, r.url, persisted(q, sha256Hex(q))) // uses Redis
	if code, rep := readyzOf(t, r); code != http.StatusOK || rep.Redis == nil || rep.Redis.State != fleet.StateOK {
		t.Fatalf("/readyz = %d %+v, want 200 and redis OK", code, rep.Redis)
	}

	f.redis.Stop()
	post(t, r.url, persisted(q, sha256Hex(q)))
	code, rep := readyzOf(t, r)
	if code != http.StatusOK || !rep.Ready || rep.Status != health.Degraded || rep.Redis == nil ||
		rep.Redis.State != fleet.StateDegraded || rep.Redis.LastError == "" {
		t.Fatalf("/readyz with Redis stopped = %d %+v, want 200, degraded, redis DEGRADED with its error", code, rep)
	}
	_, metrics := get(t, r.url+"/metrics")
	if v, ok := metric(metrics, "dirgate_redis_up"); !ok || v != 0 {
		t.Errorf("dirgate_redis_up = %v (%v), want 0", v, ok)
	}

	f.redis.Restart()
	f.clock.Add(fleet.DefaultRetryInterval)
	readyzOf(t, r)   // starts the probe of Redis
	r.s.ready.Wait() // for it to end
	if code, rep := readyzOf(t, r); code != http.StatusOK || rep.Status != health.Ready || rep.Redis.State != fleet.StateOK {
		t.Errorf("/readyz after Redis came back = %d %+v, want ready and redis OK", code, rep)
	}
	_, metrics = get(t, r.url+"/metrics")
	if v, _ := metric(metrics, "dirgate_redis_up"); v != 1 {
		t.Errorf("dirgate_redis_up = %v after recovery, want 1", v)
	}
}
