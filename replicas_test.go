package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/fleet"
	"github.com/dirgate/dirgate/internal/health"
	"github.com/dirgate/dirgate/internal/obs"
	"github.com/dirgate/dirgate/internal/redistest"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/companyauth"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/providertest"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// fleetOf is several dirgate replicas behind an imagined load balancer:
// each its own server (newServer, as run builds it) with its own HTTP
// listener, all sharing one Redis, one clock and the same vendors'
// emulators (Concur's rotates refresh tokens, as Concur may).
type fleetOf struct {
	t        *testing.T
	redis    *redistest.Server
	concur   *concur.Emulator
	getbill  *getbill.Emulator
	tokens   *tokenLog
	clock    *testClock
	config   func() *config.Config
	replicas []*replica
	// truth is the merged directory, "provider/nativeId" in order.
	truth []string
	// emails are the directory's email addresses: personal data that
	// must reach Redis only sealed.
	emails []string
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
	// The secrets the fleet is configured with.
	fleetConcurSecret  = "concur-client-secret"
	fleetRequestToken  = "request-token-secret"
	fleetGetbillSecret = "getbill-client-secret"
	// fleetRedisTimeout is the Redis bound of the fleet tests that are not
	// about it: long enough that a loaded machine running the race
	// detector does not make Redis look degraded.
	fleetRedisTimeout = 2 * time.Second
)

// newFleet starts Redis, the emulators, and n replicas configured alike
// (mutate changes their configuration; nil keeps it).
func newFleet(t *testing.T, n int, mutate func(*config.Config)) *fleetOf {
	t.Helper()
	f := &fleetOf{t: t, redis: redistest.Start(t), clock: newTestClock(), tokens: &tokenLog{}}
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
	for _, u := range all {
		if u.Email != "" {
			f.emails = append(f.emails, u.Email)
		}
	}
	f.concur = concur.NewEmulator(concur.EmulatorOptions{
		ClientID: "cid", ClientSecret: fleetConcurSecret, CompanyUUID: "company-uuid", RequestToken: fleetRequestToken,
		Users: cu, Company: &driver.Company{Name: "Acme"}, RotateRefreshToken: true, Now: f.clock.Now,
	})
	f.getbill = getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "gid", ClientSecret: fleetGetbillSecret, Users: gu, Now: f.clock.Now})
	cs, gs := httptest.NewServer(f.tokens.wrap(f.concur)), httptest.NewServer(f.getbill)
	t.Cleanup(cs.Close)
	t.Cleanup(gs.Close)
	f.config = func() *config.Config {
		c := &config.Config{Providers: []config.Provider{
			{Key: "concur", Kind: "concur", Name: "SAP Concur", Settings: &concur.Config{Auth: companyauth.Config{TokenURL: cs.URL + "/oauth2/v0/token", ClientID: "cid", ClientSecret: vendorhttp.NewSecret(fleetConcurSecret), CompanyUUID: "company-uuid", RequestToken: vendorhttp.NewSecret(fleetRequestToken)}, PageSize: 100}},
			{Key: "getbill", Kind: "getbill", Name: "getbill", CacheTTL: time.Minute, MaxStale: 15 * time.Minute, Settings: &getbill.Config{
				BaseURL: gs.URL, ClientID: "gid", ClientSecret: vendorhttp.NewSecret(fleetGetbillSecret),
			}},
		}}
		c.Server.DefaultPageSize, c.Server.MaxPageSize = 50, 1000
		c.Server.CursorSecret = "cursor-secret-shared-by-the-fleet"
		c.Redis = config.Redis{URL: f.redis.URL(), Timeout: fleetRedisTimeout}
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
	s, err := newServer(f.config(), slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), obs.NoTracing().Tracer())
	if err != nil {
		f.t.Fatal(err)
	}
	r.s, r.srv = s, httptest.NewServer(s)
	r.url = r.srv.URL
	f.replicas = append(f.replicas, r)
	return r
}

// stopAll stops every replica, as the end of a deployment does, and
// checks that none logged a secret or a token.
func (f *fleetOf) stopAll() {
	secrets := append([]string{fleetConcurSecret, fleetRequestToken, fleetGetbillSecret}, f.tokens.issued()...)
	for i, r := range f.replicas {
		if f.t.Failed() {
			for line := range strings.Lines(r.logs.String()) {
				if strings.Contains(line, "redis is") || strings.Contains(line, "WARN") {
					f.t.Logf("replica %d: %s", i, line)
				}
			}
		}
		r.srv.Close()
		r.s.Close()
		for _, secret := range secrets {
			if strings.Contains(r.logs.String(), secret) {
				f.t.Errorf("a secret or a token reached a replica's log")
				break
			}
		}
	}
	f.replicas = nil
}

// restartAll stops every replica and starts as many new ones.
func (f *fleetOf) restartAll() {
	n := len(f.replicas)
	f.stopAll()
	for range n {
		f.start()
	}
}

// tokenLog watches Concur's token endpoint: the grants it answered, the
// refresh tokens it was sent, and every token it issued.
type tokenLog struct {
	mu      sync.Mutex
	grants  map[string]int // successful grants by grant_type
	used    map[string]int // refresh token → refresh grants sent with it
	tokens  []string       // access and refresh tokens issued
	refused int            // grants refused
}

func (l *tokenLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/oauth2/v0/token") {
			h.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		var ans struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		json.Unmarshal(rec.Body.Bytes(), &ans)
		l.mu.Lock()
		if l.grants == nil {
			l.grants, l.used = map[string]int{}, map[string]int{}
		}
		grant := form.Get("grant_type")
		if grant == "refresh_token" {
			l.used[form.Get("refresh_token")]++
		}
		if rec.Code == http.StatusOK {
			l.grants[grant]++
		} else {
			l.refused++
		}
		for _, tok := range []string{ans.AccessToken, ans.RefreshToken} {
			if tok != "" {
				l.tokens = append(l.tokens, tok)
			}
		}
		l.mu.Unlock()
		maps.Copy(w.Header(), rec.Header())
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// counts returns the successful password and refresh grants, and the
// grants refused.
func (l *tokenLog) counts() (password, refresh, refused int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.grants["password"], l.grants["refresh_token"], l.refused
}

// reused returns how many refresh tokens were sent in more than one
// refresh grant.
func (l *tokenLog) reused() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.used {
		if c > 1 {
			n++
		}
	}
	return n
}

func (l *tokenLog) issued() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.tokens)
}

// scanRedis reads every key in Redis and fails t when a key or a value
// holds a secret, a token Concur issued, or a directory email in the
// clear. It returns the number of keys read.
func (f *fleetOf) scanRedis(t *testing.T) int {
	t.Helper()
	dump, err := f.redis.Dump(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	needles := map[string]string{fleetConcurSecret: "the Concur client secret", fleetRequestToken: "the request token", fleetGetbillSecret: "the getbill client secret"}
	for _, tok := range f.tokens.issued() {
		needles[tok] = "a token Concur issued"
	}
	for _, e := range f.emails {
		needles[e] = "an email of the directory"
	}
	for k, v := range dump {
		for needle, what := range needles {
			if strings.Contains(k, needle) || strings.Contains(v, needle) {
				t.Errorf("Redis key %s holds %s in the clear", k, what)
			}
		}
	}
	return len(dump)
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
			t.Fatalf("by hash on replica %d: %s %+v, want the fleetAnswer", i, r.Data, r.Errors)
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

	// Redis goes away while there is no traffic: the probe /readyz starts
	// finds it once nothing has used Redis for the retry interval.
	f.redis.Stop()
	f.clock.Add(fleet.DefaultRetryInterval)
	readyzOf(t, r)
	r.s.ready.Wait()
	if code, rep := readyzOf(t, r); code != http.StatusOK || !rep.Ready || rep.Redis == nil || rep.Redis.State != fleet.StateDegraded {
		t.Errorf("/readyz with Redis stopped and no traffic = %d %+v, want 200 and redis DEGRADED", code, rep.Redis)
	}
	// A replica that starts while Redis is away says so before any
	// traffic.
	r2 := f.start()
	readyzOf(t, r2)
	r2.s.ready.Wait()
	if code, rep := readyzOf(t, r2); code != http.StatusOK || rep.Redis == nil || rep.Redis.State != fleet.StateDegraded {
		t.Errorf("/readyz of a replica started with Redis stopped = %d %+v, want 200 and redis DEGRADED", code, rep.Redis)
	}
	if _, metrics := get(t, r2.url+"/metrics"); !strings.Contains(metrics, "\ndirgate_redis_up 0\n") {
		t.Errorf("dirgate_redis_up of a replica started with Redis stopped is not 0")
	}

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

// Queries of one provider each.
const (
	concurQuery  = `{ users(first: 3, filter: {providers: ["concur"]}) { edges { node { id } } } }`
	getbillQuery = `{ users(first: 3, filter: {providers: ["getbill"]}) { totalCount edges { node { id } } } }`
)

// fleetAnswer is one response of a load.
type fleetAnswer struct {
	replica int
	status  int
	resp    response
	err     error
}

// load sends n requests with body(i), conc at a time, request i to
// replica i mod the fleet's size (a load balancer's round robin), and
// returns the answers in order. between, when set, runs after each batch.
func (f *fleetOf) load(n, conc int, body func(i int) string, between func()) []fleetAnswer {
	out := make([]fleetAnswer, n)
	for lo := 0; lo < n; lo += conc {
		var wg sync.WaitGroup
		for i := lo; i < min(lo+conc, n); i++ {
			wg.Go(func() {
				r := i % len(f.replicas)
				a := fleetAnswer{replica: r}
				resp, err := http.Post(f.replicas[r].url+"/query", "application/json", strings.NewReader(body(i)))
				if err != nil {
					a.err = err
					out[i] = a
					return
				}
				defer resp.Body.Close()
				a.status = resp.StatusCode
				b, _ := io.ReadAll(resp.Body)
				if err := json.Unmarshal(b, &a.resp); err != nil {
					a.err = fmt.Errorf("status %d, body %q: %w", resp.StatusCode, b, err)
				}
				out[i] = a
			})
		}
		wg.Wait()
		if between != nil {
			between()
		}
	}
	return out
}

// ok fails t for every fleetAnswer that is not a success with data and no
// error, and returns how many were.
func okAll(t *testing.T, what string, answers []fleetAnswer) {
	t.Helper()
	bad := 0
	for i, a := range answers {
		if a.err != nil || a.status != http.StatusOK || len(a.resp.Errors) > 0 || len(a.resp.Data) == 0 {
			if bad++; bad <= 3 {
				t.Errorf("%s: request %d on replica %d: status %d, errors %+v, %v", what, i, a.replica, a.status, a.resp.Errors, a.err)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d requests failed", what, bad, len(answers))
	}
}

func gql(query string) func(int) string {
	return func(int) string { return gqlBody(query, nil) }
}

// TestFleetConcurTokens: Concur's access token expires under 30
// concurrent requests spread over three replicas, three times over: every
// request succeeds, and Concur sees exactly one refresh each time, never
// two with the same refresh token (Concur rotates them). Then every
// replica restarts with the request token spent: they go on with the
// token in Redis. Redis holds no client secret, no request token, and no
// token Concur issued in the clear.
func TestFleetConcurTokens(t *testing.T) {
	f := newFleet(t, 3, nil)
	okAll(t, "first login", f.load(30, 30, gql(concurQuery), nil))
	if pw, rf, no := f.tokens.counts(); pw != 1 || rf != 0 || no != 0 {
		t.Fatalf("first login: %d password grants, %d refresh grants, %d refused; want 1, 0, 0 for the whole fleet", pw, rf, no)
	}

	expire := []struct {
		name string
		do   func()
	}{
		{"by time", func() { f.clock.Add(time.Hour) }},
		{"by time", func() { f.clock.Add(time.Hour) }},
		{"revoked by Concur", f.concur.ExpireAccessTokens},
		{"by time", func() { f.clock.Add(time.Hour) }},
	}
	for round, e := range expire {
		_, before, _ := f.tokens.counts()
		e.do()
		okAll(t, fmt.Sprintf("round %d (%s)", round, e.name), f.load(30, 30, gql(concurQuery), nil))
		if _, after, no := f.tokens.counts(); after-before != 1 || no != 0 {
			t.Errorf("round %d, access token expired %s: %d refresh grants (%d refused), want exactly 1 for the fleet", round, e.name, after-before, no)
		}
	}
	if n := f.tokens.reused(); n != 0 {
		t.Errorf("%d refresh tokens were sent to Concur twice", n)
	}

	// Every replica restarts; the request token is spent meanwhile.
	f.concur.SetRequestToken("a-request-token-nobody-has")
	pw0, rf0, _ := f.tokens.counts()
	f.restartAll()
	okAll(t, "after the restart", f.load(30, 30, gql(concurQuery), nil))
	if pw, rf, no := f.tokens.counts(); pw != pw0 || rf != rf0 || no != 0 {
		t.Errorf("after the restart: %d password and %d refresh grants (%d refused), want none: the access token in Redis is valid", pw-pw0, rf-rf0, no)
	}
	f.clock.Add(time.Hour)
	okAll(t, "after the restart, token expired", f.load(30, 30, gql(concurQuery), nil))
	if pw, rf, no := f.tokens.counts(); pw != pw0 || rf != rf0+1 || no != 0 {
		t.Errorf("after the restart, token expired: %d password and %d refresh grants (%d refused), want 0 and 1", pw-pw0, rf-rf0, no)
	}
	pw, rf, _ := f.tokens.counts()
	t.Logf("Concur token endpoint over the test: %d password grant, %d refresh grants, %d refresh tokens reused; Redis keys: %d",
		pw, rf, f.tokens.reused(), f.scanRedis(t))
}

// statusOf reads providers { status } on a replica.
func statusOf(t *testing.T, g *gateway) map[string]fleetStatus {
	t.Helper()
	r := g.query(t, `{ providers { key stale status { state sharing rateLimit { limit remaining resetAt } retryAt
		lastError { code } } } }`, nil)
	var d struct {
		Providers []struct {
			Key    string
			Stale  bool
			Status fleetStatus
		}
	}
	if err := json.Unmarshal(r.Data, &d); err != nil || len(r.Errors) > 0 {
		t.Fatalf("providers: %s %+v %v", r.Data, r.Errors, err)
	}
	out := map[string]fleetStatus{}
	for _, p := range d.Providers {
		p.Status.Stale = p.Stale
		out[p.Key] = p.Status
	}
	return out
}

type fleetStatus struct {
	State     string
	Sharing   *string
	Stale     bool
	RetryAt   *time.Time
	LastError *struct{ Code string }
	RateLimit *struct {
		Limit, Remaining int
		ResetAt          time.Time
	}
}

// TestFleetColdCache: 200 queries over 10 s (by the fleet's clock), ten
// at a time, spread over three replicas whose caches are all cold: getbill
// sees one directory call in all, and every replica reports the budget
// that call left.
func TestFleetColdCache(t *testing.T) {
	f := newFleet(t, 3, nil)
	answers := f.load(200, 10, gql(getbillQuery), func() { f.clock.Add(500 * time.Millisecond) })
	okAll(t, "cold cache", answers)
	for _, a := range answers {
		if !strings.Contains(string(a.resp.Data), fmt.Sprintf(`"totalCount":%d`, fleetGetbillN)) {
			t.Fatalf("replica %d answered %s, want getbill's %d users", a.replica, a.resp.Data, fleetGetbillN)
		}
	}
	if _, users := f.getbill.Calls(); users != 1 {
		t.Errorf("getbill saw %d directory calls from three replicas in 10 s, want 1", users)
	}
	for i := range f.replicas {
		st := statusOf(t, f.on(i))["getbill"]
		if st.State != "OK" || st.Sharing == nil || *st.Sharing != "SHARED" || st.RateLimit == nil || st.RateLimit.Remaining != 999 {
			t.Errorf("replica %d: getbill status %+v, want OK, SHARED, and the budget the one call left (999 of 1000)", i, st)
		}
	}
	tok, users := f.getbill.Calls()
	t.Logf("getbill: %d token and %d directory calls for 200 queries on 3 replicas", tok, users)
}

// TestFleetRateLimitHoldsEveryReplica: when getbill answers the replica
// that refreshes with a 429, no replica calls getbill again before its
// retry-after: the hold is recorded once and read by all, and each serves
// its copy meanwhile, labelled stale.
func TestFleetRateLimitHoldsEveryReplica(t *testing.T) {
	f := newFleet(t, 3, nil)
	okAll(t, "warm", f.load(30, 10, gql(getbillQuery), nil))
	f.getbill.SetFault(getbill.Fault{Status: http.StatusTooManyRequests,
		Body: `{"error":true,"message":"Rate limit exceeded","code":429,"details":{"retry_after":600}}`})
	f.clock.Add(2 * time.Minute) // every copy is past its refresh time
	_, before := f.getbill.Calls()
	okAll(t, "rate limited", f.load(60, 10, gql(getbillQuery), func() { f.clock.Add(time.Second) }))
	if _, after := f.getbill.Calls(); after-before != 1 {
		t.Errorf("getbill saw %d calls after its 429 with retry_after 600 s, want 1: the hold is the fleet's", after-before)
	}
	for i := range f.replicas {
		st := statusOf(t, f.on(i))["getbill"]
		if st.State != "STALE" || !st.Stale || st.RetryAt == nil || st.LastError == nil || st.LastError.Code != "PROVIDER_RATE_LIMITED" {
			t.Errorf("replica %d: getbill status %+v, want STALE, retryAt set, lastError PROVIDER_RATE_LIMITED", i, st)
		}
	}
	f.getbill.SetFault(getbill.Fault{})
	f.clock.Add(10 * time.Minute)
	okAll(t, "after the retry-after", f.load(30, 10, gql(getbillQuery), nil))
	if _, after := f.getbill.Calls(); after-before != 2 {
		t.Errorf("after the retry-after, getbill saw %d calls in all, want 2: one refresh for the fleet", after-before)
	}
}

// firstThen returns a between function for load: first after the first
// batch, then after every other.
func firstThen(first, then func()) func() {
	done := false
	return func() {
		if !done {
			done = true
			first()
			return
		}
		then()
	}
}

// requestLines returns the request log lines of /query that every replica
// wrote after the marks (their logs' lengths when the marks were taken).
func (f *fleetOf) requestLines(t *testing.T, marks []int) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, r := range f.replicas {
		logs := r.logs.String()[marks[i]:]
		for line := range strings.Lines(logs) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "request" || m["path"] != "/query" {
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

func (f *fleetOf) marks() []int {
	var m []int
	for _, r := range f.replicas {
		m = append(m, len(r.logs.String()))
	}
	return m
}

// codedOnly fails t for an answer that is a 5xx, has no JSON, or has an
// error without a code from allowed; it returns how many had errors.
func codedOnly(t *testing.T, what string, answers []fleetAnswer, allowed ...string) int {
	t.Helper()
	withErrors := 0
	for i, a := range answers {
		if a.err != nil || a.status >= 500 {
			t.Errorf("%s: request %d on replica %d: status %d, %v", what, i, a.replica, a.status, a.err)
			continue
		}
		if len(a.resp.Errors) > 0 {
			withErrors++
		}
		for _, e := range a.resp.Errors {
			if c, _ := e.Extensions["code"].(string); !slices.Contains(allowed, c) {
				t.Errorf("%s: request %d on replica %d: error %q with code %q, want one of %v", what, i, a.replica, e.Message, c, allowed)
			}
		}
	}
	return withErrors
}

// waitedWithinBound checks, from the request log lines, that the Redis
// budget bounded every request's wait on Redis, and returns how many
// requests hit the deadline and the longest wait.
func waitedWithinBound(t *testing.T, what string, bound time.Duration, lines []map[string]any) (timedOut int, longest time.Duration) {
	t.Helper()
	for _, l := range lines {
		ops, _ := l["redis_ops"].(float64)
		if ops == 0 {
			continue
		}
		wait := time.Duration(l["redis_wait_ms"].(float64) * float64(time.Millisecond))
		longest = max(longest, wait)
		if wait > bound {
			t.Errorf("%s: a request waited %v on Redis, more than the bound of %v", what, wait, bound)
		}
		if n, _ := l["redis_timeouts"].(float64); n > 0 {
			timedOut++
		}
	}
	return timedOut, longest
}

// TestFleetRedisFails: three replicas under a mixed load (Concur, getbill,
// a persisted query) while Redis hangs, then is stopped, then comes back.
// While it is away: no 5xx, no request waits on Redis beyond the bound,
// answers are data (getbill's stale copy labelled so) or coded errors; a
// replica refreshes on its own, and never renews Concur's token on its
// own. When it is back: shared again without a restart.
func TestFleetRedisFails(t *testing.T) {
	const bound = 500 * time.Millisecond // redis.timeout
	f := newFleet(t, 3, func(c *config.Config) { c.Redis.Timeout = bound })
	apq := `query Persisted { users(first: 2) { totalCount } }`
	mixed := func(i int) string {
		switch i % 4 {
		case 0:
			return gqlBody(concurQuery, nil)
		case 1:
			return gqlBody(getbillQuery, nil)
		case 2:
			return persisted("", sha256Hex(apq))
		}
		q := fmt.Sprintf(`query Q%d { users(first: 1) { totalCount } }`, i) // never registered
		return persisted("", sha256Hex(q))
	}
	if _, r := post(t, f.on(0).url, persisted(apq, sha256Hex(apq))); len(r.Errors) > 0 {
		t.Fatalf("register: %+v", r.Errors)
	}
	warm := f.load(40, 10, mixed, nil)
	codedOnly(t, "warm", warm, "PERSISTED_QUERY_NOT_FOUND")
	_, refreshes, _ := f.tokens.counts()
	_, calls0 := f.getbill.Calls()

	// Redis hangs mid-load, after the first batch: commands are sent and
	// never answered.
	marks := f.marks()
	hung := f.load(70, 10, mixed, firstThen(func() {
		f.redis.Pause()
		f.clock.Add(2 * time.Minute) // every getbill copy is due for a refresh
	}, func() { f.clock.Add(time.Second) }))
	codedOnly(t, "Redis hung", hung, "PERSISTED_QUERY_NOT_FOUND")
	for i, a := range hung {
		if i%4 <= 2 && len(a.resp.Errors) > 0 {
			t.Errorf("Redis hung: request %d (kind %d) failed: %+v; want data from local state", i, i%4, a.resp.Errors)
		}
	}
	lines := f.requestLines(t, marks)
	timedOut, longest := waitedWithinBound(t, "Redis hung", bound, lines)
	if timedOut == 0 {
		t.Error("Redis hung: no request reached the Redis deadline: the pause did not bite")
	}
	var slowest time.Duration // a figure for the report, not asserted
	for _, l := range lines {
		d, _ := l["duration_ms"].(float64)
		slowest = max(slowest, time.Duration(d*float64(time.Millisecond)))
	}
	_, calls1 := f.getbill.Calls()
	t.Logf("Redis hung: %d of %d requests hit the Redis deadline; the longest Redis wait %v (bound %v); the slowest request %v; getbill refreshed %d times by 3 replicas alone",
		timedOut, len(lines), longest, bound, slowest.Round(time.Millisecond), calls1-calls0)
	for i := range f.replicas {
		st := statusOf(t, f.on(i))["getbill"]
		if st.Sharing == nil || *st.Sharing != "LOCAL" || st.State != "OK" {
			t.Errorf("Redis hung: replica %d getbill status %+v, want OK and LOCAL", i, st)
		}
	}

	// Redis stops mid-load; getbill fails too: the copies are served stale.
	marks = f.marks()
	stopped := f.load(70, 10, mixed, firstThen(func() {
		f.redis.Stop()
		f.getbill.SetFault(getbill.Fault{Status: http.StatusServiceUnavailable})
		f.clock.Add(2 * time.Minute)
	}, func() { f.clock.Add(time.Second) }))
	codedOnly(t, "Redis stopped", stopped, "PERSISTED_QUERY_NOT_FOUND")
	waitedWithinBound(t, "Redis stopped", bound, f.requestLines(t, marks))
	for i := range f.replicas {
		st := statusOf(t, f.on(i))["getbill"]
		if !st.Stale || st.State != "STALE" || st.Sharing == nil || *st.Sharing != "LOCAL" {
			t.Errorf("Redis stopped, getbill failing: replica %d getbill status %+v, want a stale copy, labelled STALE and LOCAL", i, st)
		}
		code, rep := readyzOf(t, f.replicas[i])
		if code != http.StatusOK || rep.Redis == nil || rep.Redis.State != fleet.StateDegraded {
			t.Errorf("Redis stopped: replica %d /readyz %d %+v, want 200 with redis DEGRADED", i, code, rep.Redis)
		}
	}
	// Concur's access token expires while Redis is away: no replica
	// renews on its own (it would rotate the token under the others).
	f.clock.Add(time.Hour)
	expired := f.load(12, 12, gql(concurQuery), nil)
	codedOnly(t, "Redis stopped, Concur token expired", expired, "PROVIDER_UNAVAILABLE")
	if _, n, _ := f.tokens.counts(); n != refreshes {
		t.Errorf("Redis stopped: Concur saw %d refreshes, want none", n-refreshes)
	}

	// Redis is back, with its data: everything is shared again, with no
	// restart.
	f.redis.Restart()
	f.getbill.SetFault(getbill.Fault{})
	f.clock.Add(fleet.DefaultRetryInterval)
	_, calls2 := f.getbill.Calls()
	// A replica tries Redis again a second after its last failure: with
	// the load balancer's readiness probe (replica 0), or with the first
	// request it gets (replicas 1 and 2).
	readyzOf(t, f.replicas[0])
	f.replicas[0].s.ready.Wait()
	for i := 1; i <= 2; i++ {
		if r := f.on(i).query(t, concurQuery, nil); len(r.Errors) > 0 {
			t.Errorf("Redis back: the first request on replica %d: %+v", i, r.Errors)
		}
	}
	back := f.load(60, 10, mixed, func() { f.clock.Add(time.Second) })
	codedOnly(t, "Redis back", back, "PERSISTED_QUERY_NOT_FOUND")
	for i, a := range back {
		if i%4 <= 2 && len(a.resp.Errors) > 0 {
			t.Errorf("Redis back: request %d (kind %d) failed: %+v", i, i%4, a.resp.Errors)
		}
	}
	if _, n, _ := f.tokens.counts(); n != refreshes+1 {
		t.Errorf("Redis back: Concur saw %d refreshes for the fleet, want 1", n-refreshes)
	}
	if _, calls3 := f.getbill.Calls(); calls3-calls2 != 1 {
		t.Errorf("Redis back: getbill saw %d refreshes for the fleet, want 1", calls3-calls2)
	}
	for i := range f.replicas {
		if st := statusOf(t, f.on(i))["getbill"]; st.Sharing == nil || *st.Sharing != "SHARED" || st.State != "OK" {
			t.Errorf("Redis back: replica %d getbill status %+v, want OK and SHARED", i, st)
		}
		if code, rep := readyzOf(t, f.replicas[i]); code != http.StatusOK || rep.Redis == nil || rep.Redis.State != fleet.StateOK {
			t.Errorf("Redis back: replica %d /readyz %d %+v, want redis OK", i, code, rep.Redis)
		}
	}
	q := `query AfterTheOutage { users(first: 4) { totalCount } }`
	post(t, f.on(1).url, persisted(q, sha256Hex(q)))
	if _, r := post(t, f.on(2).url, persisted("", sha256Hex(q))); len(r.Errors) > 0 {
		t.Errorf("Redis back: a query registered on replica 1 is unknown on replica 2: %+v", r.Errors)
	}
	t.Logf("Redis keys after the test: %d", f.scanRedis(t))
}
