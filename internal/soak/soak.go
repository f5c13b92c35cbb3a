// Command soak runs dirgate for a bounded time against the vendor
// emulators while they fail the ways vendors fail, with honest and hostile
// queries mixed at a fixed concurrency, and reports what happened:
//
//	go run ./internal/soak -d 3m
//
// It builds dirgate from the module (or runs -bin), serves the Concur and
// getbill emulators in-process with the demo's directory, and cycles the
// vendors through faults: 5xx, 429 storms, truncated JSON, expired
// tokens, and each vendor down for a while. The queries mix pages, walks,
// lookups and linked accounts with the hostile requests of issue 10. At
// the end it reports requests, answers by HTTP status and by code,
// dirgate's 5xx (there must be none), its goroutines and RSS at start and
// end, and the vendor calls, and exits 1 when a 5xx came back, goroutines
// did not return to their start, or RSS went above -max-rss.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/hostile"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/getbill"
)

func main() {
	var o Options
	flag.DurationVar(&o.Duration, "d", 3*time.Minute, "how long to run")
	flag.IntVar(&o.Concurrency, "c", 16, "requests at once")
	flag.StringVar(&o.Binary, "bin", "", "dirgate binary to run (default: build one from the module)")
	flag.Float64Var(&o.Hostile, "hostile", 0.1, "share of hostile requests")
	flag.Int64Var(&o.MaxRSS, "max-rss", 300<<20, "the most RSS dirgate may reach, in bytes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := Run(ctx, o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	rep.Print(os.Stdout)
	if problems := rep.Problems(o); len(problems) > 0 {
		for _, p := range problems {
			fmt.Println("FAIL:", p)
		}
		os.Exit(1)
	}
}

// Options configure a soak run.
type Options struct {
	Duration    time.Duration
	Concurrency int
	Binary      string
	Hostile     float64
	MaxRSS      int64
}

// Report is what a soak run saw.
type Report struct {
	Duration     time.Duration
	Concurrency  int
	Requests     int64
	ByStatus     map[int]int64
	ByCode       map[string]int64
	ByKind       map[string]int64 // requests by query kind
	ClientErrors int64            // requests that got no answer (transport errors)
	Faults       []string         // the fault phases run, in order

	GoroutinesStart, GoroutinesEnd int
	RSSStart, RSSEnd, RSSPeak      int64

	ConcurToken, ConcurUsers, GetbillToken, GetbillUsers int
}

// Server5xx counts dirgate's answers with a 5xx status.
func (r *Report) Server5xx() int64 {
	var n int64
	for s, c := range r.ByStatus {
		if s >= 500 {
			n += c
		}
	}
	return n
}

// Problems lists what makes the run a failure.
func (r *Report) Problems(o Options) []string {
	var out []string
	if n := r.Server5xx(); n > 0 {
		out = append(out, fmt.Sprintf("%d answers with a 5xx status", n))
	}
	if r.GoroutinesEnd > r.GoroutinesStart+goroutineSlack {
		out = append(out, fmt.Sprintf("goroutines went from %d to %d", r.GoroutinesStart, r.GoroutinesEnd))
	}
	if o.MaxRSS > 0 && r.RSSPeak > o.MaxRSS {
		out = append(out, fmt.Sprintf("RSS peaked at %d MiB, above %d MiB", r.RSSPeak>>20, o.MaxRSS>>20))
	}
	if r.Requests == 0 {
		out = append(out, "no requests answered")
	}
	return out
}

// goroutineSlack is how many more goroutines dirgate may have at the end
// than at the start: connections of the soak's own client that the
// server has not yet seen close.
const goroutineSlack = 4

// Print writes the report.
func (r *Report) Print(w io.Writer) {
	fmt.Fprintf(w, "soak: %v at concurrency %d\n", r.Duration.Round(time.Second), r.Concurrency)
	fmt.Fprintf(w, "requests: %d (%.0f/s), %d without an answer\n", r.Requests, float64(r.Requests)/r.Duration.Seconds(), r.ClientErrors)
	fmt.Fprintf(w, "by HTTP status:%s\n", counts(r.ByStatus))
	fmt.Fprintf(w, "by code:%s\n", counts(r.ByCode))
	fmt.Fprintf(w, "by kind:%s\n", counts(r.ByKind))
	fmt.Fprintf(w, "dirgate 5xx: %d\n", r.Server5xx())
	fmt.Fprintf(w, "goroutines: %d at start, %d at end\n", r.GoroutinesStart, r.GoroutinesEnd)
	fmt.Fprintf(w, "RSS: %.1f MiB at start, %.1f MiB at end, %.1f MiB at most\n", mib(r.RSSStart), mib(r.RSSEnd), mib(r.RSSPeak))
	fmt.Fprintf(w, "vendor calls: Concur %d token, %d users; getbill %d token, %d users\n", r.ConcurToken, r.ConcurUsers, r.GetbillToken, r.GetbillUsers)
	fmt.Fprintf(w, "fault phases: %s\n", strings.Join(r.Faults, ", "))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func counts[K comparable](m map[K]int64) string {
	type kv struct {
		k string
		v int64
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{fmt.Sprint(k), v})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v || l[i].v == l[j].v && l[i].k < l[j].k })
	var b strings.Builder
	for _, e := range l {
		fmt.Fprintf(&b, " %s %d", e.k, e.v)
	}
	return b.String()
}

// vendors are the emulators, behind a switch of faults.
type vendors struct {
	concur  *concur.Emulator
	getbill *getbill.Emulator
	fault   atomic.Value // string: the current phase
}

// The fault phases, in the order they are cycled.
var phases = []string{"calm", "concur-5xx", "concur-429-storm", "concur-truncated-json", "tokens-expired",
	"concur-down", "getbill-5xx", "getbill-down"}

func (v *vendors) setPhase(p string) {
	v.fault.Store(p)
	v.concur.SetStorm(concur.Storm{})
	v.getbill.SetFault(getbill.Fault{})
	switch p {
	case "concur-5xx":
		v.concur.SetStorm(concur.Storm{Status: http.StatusBadGateway, Every: 3})
	case "concur-429-storm":
		v.concur.SetStorm(concur.Storm{Status: http.StatusTooManyRequests, RetryAfter: "1", Every: 2})
	case "tokens-expired":
		v.concur.ExpireAccessTokens()
		v.getbill.ExpireTokens()
	case "getbill-5xx":
		v.getbill.SetFault(getbill.Fault{Status: http.StatusInternalServerError})
	case "getbill-down":
		v.getbill.SetFault(getbill.Fault{Status: http.StatusServiceUnavailable})
	}
}

// concurHandler is Concur's emulator, with the faults the emulator has no
// switch for: truncated JSON, and connections dropped (the vendor down).
func (v *vendors) concurHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := v.fault.Load().(string)
		switch {
		case p == "concur-down":
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
		case p == "concur-truncated-json" && strings.HasPrefix(r.URL.Path, "/users"):
			rec := httptest.NewRecorder()
			v.concur.ServeHTTP(rec, r)
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			b := rec.Body.Bytes()
			w.Write(b[:len(b)/2])
			return
		}
		v.concur.ServeHTTP(w, r)
	})
}

// Run runs a soak and returns its report. Progress goes to log.
func Run(ctx context.Context, o Options, log io.Writer) (*Report, error) {
	if o.Concurrency < 1 || o.Duration <= 0 {
		return nil, errors.New("need a duration and a concurrency of at least 1")
	}
	dir, err := os.MkdirTemp("", "dirgate-soak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := o.Binary
	if bin == "" {
		bin = filepath.Join(dir, "dirgate")
		fmt.Fprintln(log, "soak: building dirgate")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dirgate/dirgate")
		build.Stdout, build.Stderr = log, log
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}

	people := demo.Directory()
	cu, gu := people.Concur, people.Getbill
	v := &vendors{
		concur: concur.NewEmulator(concur.EmulatorOptions{ClientID: "soak", ClientSecret: "soak-concur-secret",
			CompanyUUID: "soak-company", RequestToken: "soak-request-token", Users: cu, Latency: 5 * time.Millisecond}),
		getbill: getbill.NewEmulator(getbill.EmulatorOptions{ClientID: "soak", ClientSecret: "soak-getbill-secret",
			Users: gu, RateLimit: 1 << 30}),
	}
	v.setPhase("calm")
	cs, gs := httptest.NewServer(v.concurHandler()), httptest.NewServer(v.getbill)
	defer cs.Close()
	defer gs.Close()

	key, hash := auth.GenerateKey()
	cfg := fmt.Sprintf(`server:
  addr: 127.0.0.1:0
  allowedHosts: [127.0.0.1]
  auth:
    apiKeys: [%q]
  log: {format: json, level: warn}
providers:
  - key: concur
    kind: concur
    tokenURL: %s/oauth2/v0/token
    clientID: soak
    clientSecret: soak-concur-secret
    companyUUID: soak-company
    requestToken: soak-request-token
    tokenStore: %s
    timeout: 2s
  - key: getbill
    kind: getbill
    baseURL: %s
    clientID: soak
    clientSecret: soak-getbill-secret
    cacheTTL: 2s
    maxStale: 10s
`, hash, cs.URL, filepath.Join(dir, "concur-token.json"), gs.URL)
	cfgPath := filepath.Join(dir, "dirgate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stdout = io.Discard
	dump := os.Getenv("SOAK_DUMP")
	var dumpFile io.Writer = io.Discard
	if dump != "" {
		f, err := os.Create(dump)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		dumpFile = f
	}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	// dirgate logs where it listens, as JSON, whatever its level; the rest
	// of its log goes to SOAK_DUMP, or nowhere.
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(logs)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct{ Msg, GraphQL string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "listening" {
				found <- strings.TrimSuffix(line.GraphQL, "/query")
				break
			}
		}
		io.Copy(dumpFile, logs)
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(time.Minute):
		return nil, errors.New("dirgate logged no listening line within a minute")
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	s := &soaker{base: base, key: key, client: client, rep: &Report{
		Concurrency: o.Concurrency, ByStatus: map[int]int64{}, ByCode: map[string]int64{}, ByKind: map[string]int64{},
	}}
	// Warm up: tokens, the getbill copy, ids to look up.
	for range 3 {
		s.do(ctx, rand.New(rand.NewPCG(1, 1)), "warm-up", honest[0])
	}
	s.rep.ByStatus, s.rep.ByCode, s.rep.ByKind, s.rep.Requests = map[int]int64{}, map[string]int64{}, map[string]int64{}, 0
	m := s.metrics()
	s.rep.GoroutinesStart, s.rep.RSSStart = int(m["go_goroutines"]), int64(m["process_resident_memory_bytes"])
	fmt.Fprintf(log, "soak: dirgate at %s; %d goroutines, %.1f MiB at start\n", base, s.rep.GoroutinesStart, mib(s.rep.RSSStart))

	start := time.Now()
	runCtx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { s.cycle(runCtx, v, o.Duration, log) })
	wg.Go(func() { s.watch(runCtx) })
	for i := range o.Concurrency {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for runCtx.Err() == nil {
				if r.Float64() < o.Hostile {
					h := attacks[r.IntN(len(attacks))]
					s.do(runCtx, r, h.kind, h)
				} else {
					q := honest[r.IntN(len(honest))]
					s.do(runCtx, r, q.kind, q)
				}
			}
		})
	}
	wg.Wait()
	s.rep.Duration = time.Since(start)
	v.setPhase("calm")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Let dirgate settle, then measure: the soak's client closes its idle
	// connections, and the vendors theirs (as vendors do with connections
	// idle for a while), so that what remains is dirgate's own.
	client.CloseIdleConnections()
	cs.CloseClientConnections()
	gs.CloseClientConnections()
	s.rep.GoroutinesEnd, s.rep.RSSEnd = s.settle(ctx, s.rep.GoroutinesStart)
	if dump != "" {
		cmd.Process.Signal(syscall.SIGQUIT) // a goroutine dump, for SOAK_DUMP
		cmd.Wait()
	}
	s.rep.ConcurToken, s.rep.ConcurUsers = v.concur.Calls()
	s.rep.GetbillToken, s.rep.GetbillUsers = v.getbill.Calls()
	return s.rep, nil
}

type soaker struct {
	base, key string
	client    *http.Client
	mu        sync.Mutex
	rep       *Report
	ids       []string // user ids seen, for lookups
	emails    []string
	peak      atomic.Int64
}

// cycle runs the fault phases, each for a sixteenth of the run (at least
// two seconds), until ctx ends.
func (s *soaker) cycle(ctx context.Context, v *vendors, d time.Duration, log io.Writer) {
	each := max(d/16, 2*time.Second)
	for i := 0; ; i++ {
		p := phases[i%len(phases)]
		v.setPhase(p)
		s.mu.Lock()
		s.rep.Faults = append(s.rep.Faults, p)
		s.mu.Unlock()
		fmt.Fprintf(log, "soak: %s\n", p)
		select {
		case <-ctx.Done():
			return
		case <-time.After(each):
		}
	}
}

// watch samples dirgate's RSS every second for its peak.
func (s *soaker) watch(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if rss := int64(s.metrics()["process_resident_memory_bytes"]); rss > s.peak.Load() {
			s.peak.Store(rss)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settle waits, up to half a minute, for dirgate's goroutines to come back
// to start, and returns the last count and RSS.
func (s *soaker) settle(ctx context.Context, start int) (int, int64) {
	var g int
	var rss int64
	for range 60 {
		m := s.metrics()
		g, rss = int(m["go_goroutines"]), int64(m["process_resident_memory_bytes"])
		if g <= start || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	s.rep.RSSPeak = max(s.peak.Load(), rss)
	return g, rss
}

// metrics reads dirgate's /metrics, series without labels only.
func (s *soaker) metrics() map[string]float64 {
	out := map[string]float64{}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.ContainsAny(name, "{#") {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// request is one kind of request of the mix.
type request struct {
	kind  string
	query string
	vars  func(s *soaker, r *rand.Rand) map[string]any
	// setup alters the HTTP request (a Host, a key); nil sends the key.
	setup func(s *soaker, req *http.Request)
	body  func() []byte // a raw body instead of query and vars
}

func (s *soaker) do(ctx context.Context, r *rand.Rand, kind string, q request) {
	var body []byte
	if q.body != nil {
		body = q.body()
	} else {
		var vars map[string]any
		if q.vars != nil {
			vars = q.vars(s, r)
		}
		body, _ = json.Marshal(map[string]any{"query": q.query, "variables": vars})
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/query", bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if q.setup != nil {
		q.setup(s, req)
	} else {
		req.Header.Set("Authorization", "Bearer "+s.key)
	}
	resp, err := s.client.Do(req)
	if ctx.Err() != nil {
		return // the run ended: not an answer
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rep.Requests++
	s.rep.ByKind[kind]++
	if err != nil {
		s.rep.ClientErrors++
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	s.rep.ByStatus[resp.StatusCode]++
	var res struct {
		Data   json.RawMessage
		Errors []struct {
			Extensions map[string]any
		}
	}
	if err := json.Unmarshal(b, &res); err != nil {
		s.rep.ByCode["(not JSON)"]++
		return
	}
	seen := map[string]bool{}
	for _, e := range res.Errors {
		c, _ := e.Extensions["code"].(string)
		if c == "" {
			c = "(no code)"
		}
		if !seen[c] {
			seen[c] = true
			s.rep.ByCode[c]++
		}
	}
	if len(res.Errors) == 0 {
		s.rep.ByCode["(none)"]++
	}
	// Remember ids and emails for lookups.
	for _, m := range idPattern.FindAllSubmatch(res.Data, 20) {
		if len(s.ids) < 2000 {
			s.ids = append(s.ids, string(m[1]))
		} else {
			s.ids[r.IntN(len(s.ids))] = string(m[1])
		}
	}
	for _, m := range emailPattern.FindAllSubmatch(res.Data, 5) {
		if len(s.emails) < 500 {
			s.emails = append(s.emails, string(m[1]))
		}
	}
}

var (
	idPattern    = regexp.MustCompile(`"id":"(VXNlcj[A-Za-z0-9_-]+)"`)
	emailPattern = regexp.MustCompile(`"email":"([^"]+)"`)
)

func (s *soaker) someIDs(r *rand.Rand, n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []string{}
	for range n {
		if len(s.ids) == 0 {
			break
		}
		out = append(out, s.ids[r.IntN(len(s.ids))])
	}
	return out
}

func (s *soaker) someEmail(r *rand.Rand) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.emails) == 0 {
		return "nobody@example.com"
	}
	return s.emails[r.IntN(len(s.emails))]
}

// honest is the mix of what dashboards ask.
var honest = []request{
	{kind: "page", query: `query($n: Int) { users(first: $n) { totalCount pageInfo { hasNextPage endCursor } edges { node { id email displayName provider { key } } } } }`,
		vars: func(_ *soaker, r *rand.Rand) map[string]any { return map[string]any{"n": 1 + r.IntN(100)} }},
	{kind: "page-back", query: `{ users(last: 20, filter: { active: true }) { pageInfo { hasPreviousPage startCursor } edges { cursor node { id email } } } }`},
	{kind: "getbill-linked", query: `{ users(first: 20, filter: { providers: ["getbill"] }) { edges { node { id email linkedAccounts { id email provider { key } } } } } }`},
	{kind: "concur-linked", query: `{ users(first: 10, filter: { providers: ["concur"], active: true }) { nodes { id linkedAccounts { id } company { name } } } }`},
	{kind: "nodes", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id ... on User { email active } } }`,
		vars: func(s *soaker, r *rand.Rand) map[string]any { return map[string]any{"ids": s.someIDs(r, 1+r.IntN(30))} }},
	{kind: "by-email", query: `query($e: String) { users(filter: { email: $e }) { totalCount edges { node { id } } } }`,
		vars: func(s *soaker, r *rand.Rand) map[string]any { return map[string]any{"e": s.someEmail(r)} }},
	{kind: "providers", query: `{ providers { key stale status { state lastError { code } rateLimit { remaining } } } }`},
	{kind: "count", query: `{ users(first: 0) { totalCount } }`},
}

// attacks are the attacks of issue 10, items 1 to 5, 7 and 8.
var attacks = func() []request {
	rep := strings.Repeat
	var aliases, nodes strings.Builder
	aliases.WriteString("{")
	for i := range 900 {
		fmt.Fprintf(&aliases, " a%d: users(first: 0) { totalCount }", i)
	}
	aliases.WriteString(" }")
	nodes.WriteString("query($ids: [ID!]!) {")
	for i := range 40 {
		fmt.Fprintf(&nodes, " a%d: nodes(ids: $ids) { id }", i)
	}
	nodes.WriteString(" }")
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = relay.UserID("concur", fmt.Sprint(i))
	}
	return []request{
		{kind: "hostile-fragments", query: hostile.FanOut(40)},
		{kind: "hostile-duplicates", query: "{ users(first:1){edges{node{" + rep("id ", 9000) + "}}} }"},
		{kind: "hostile-aliases", query: aliases.String()},
		{kind: "hostile-nodes", query: nodes.String(), vars: func(*soaker, *rand.Rand) map[string]any { return map[string]any{"ids": ids} }},
		{kind: "hostile-string-first", query: `query($n: Int) { users(first: $n) { totalCount } }`,
			vars: func(*soaker, *rand.Rand) map[string]any { return map[string]any{"n": "1001"} }},
		{kind: "hostile-suggestions", query: `{ usrs { totalCount } }`},
		{kind: "hostile-directives", query: "{ users(first: 1) { totalCount" + rep(" @deprecated", 3000) + " } }"},
		{kind: "hostile-variables", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			vars: func(*soaker, *rand.Rand) map[string]any { return map[string]any{"ids": make([]int, 50000)} }},
		{kind: "hostile-rebinding", query: `{ users(first: 2) { edges { node { email } } } }`, setup: func(s *soaker, req *http.Request) {
			req.Host = "attacker.example:" + s.base[strings.LastIndex(s.base, ":")+1:]
			req.Header.Set("Origin", "http://"+req.Host)
			req.Header.Set("Authorization", "Bearer "+s.key)
		}},
		{kind: "hostile-no-key", query: `{ users(first: 2) { totalCount } }`, setup: func(*soaker, *http.Request) {}},
		{kind: "hostile-big-body", body: func() []byte { return bytes.Repeat([]byte(" "), 2<<20) }},
	}
}()
