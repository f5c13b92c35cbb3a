//go:build linux

// Command bench is dirgate's load command. It starts the vendor emulators
// and dirgate on loopback, each in a process of its own, drives concurrent
// GraphQL traffic at dirgate, and reports what each request costs dirgate:
//
//	go run ./internal/bench                # every scenario, about a minute
//	go run ./internal/bench -count 5       # five interleaved runs, medians
//	go run ./internal/bench -profile a     # and a CPU profile of scenario a, by layer
//
// dirgate is the production binary, built from this checkout by go build
// and configured by a file, so it is wired by run() exactly as it is in
// production (JSON logs at info, every limit on). The emulators (the
// demo's directory: 2,400 Concur users, 300 getbill users) run in another
// process, this program re-executed in emulator mode, so the CPU time
// reported is dirgate's alone: it is read from /proc/PID/stat over each
// measured window, and divided by the requests completed in it. The
// emulators' CPU time is reported beside it, never in it. Allocations come
// from dirgate's /metrics (go_memstats_alloc_bytes_total,
// go_memstats_mallocs_total), peak RSS from VmHWM, reset at the start of
// each window, and vendor calls from dirgate_vendor_requests_total.
//
// The scenarios (see BENCHMARKS.md for what bounds each figure):
//
//	a  users(first: 100) of Concur, five fields, at -c clients, paired in
//	   the same run with the plain-handler floor (a net/http +
//	   encoding/json program, also a process of its own, that fetches the
//	   same page from the same emulator and returns the same fields) and
//	   with a direct fetch of the page; and both again at one client, for
//	   latency without queueing
//	b  users(first: 1000) at -latency per vendor call, vendor pages of 100,
//	   one client, paired with one direct round trip (how many vendor
//	   requests run at once is Concur's maxConcurrency: -max-concurrency)
//	c  50 aliased user(id) lookups, 25 Concur and 25 getbill users, at
//	   -latency, one client, paired with one direct id lookup
//	d  users(first: 20) of getbill, whose directory is cached, at -cd
//	   clients
//	e  a with every User field and linkedAccounts { id }
//
// The machine may be shared: compare figures within a run (the pairings),
// and repeat (-count) and take medians.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"
)

func main() {
	if err := mainErr(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	d, warm     time.Duration
	conc, concD int
	count       int
	latency     time.Duration
	only        string
	dirgate     string
	profile     string
	profileD    time.Duration
	keep        bool
	maxConc     int
}

func mainErr() error {
	var o options
	mode := flag.String("mode", "", "internal: emulators or floor, for the processes this command starts")
	concurURL := flag.String("concur", "", "internal: the Concur emulator the floor fetches from")
	flag.DurationVar(&o.d, "d", 4*time.Second, "length of each measured window")
	flag.DurationVar(&o.warm, "warm", time.Second, "warm-up before each window")
	flag.IntVar(&o.conc, "c", 8, "concurrent clients of scenarios a and e")
	flag.IntVar(&o.concD, "cd", 200, "concurrent clients of scenario d")
	flag.IntVar(&o.count, "count", 1, "runs of every window, interleaved; figures are the medians (0: only -profile)")
	flag.DurationVar(&o.latency, "latency", 50*time.Millisecond, "vendor latency of scenarios b and c")
	flag.StringVar(&o.only, "only", "abcde", "scenarios to run")
	flag.StringVar(&o.dirgate, "dirgate", "", "a dirgate binary to measure (default: go build this checkout)")
	flag.StringVar(&o.profile, "profile", "", "after the runs, profile dirgate's CPU over one scenario (a to e) for -profile-d, and print where it goes")
	flag.DurationVar(&o.profileD, "profile-d", 20*time.Second, "length of the profiled window")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (binaries, configurations, logs, profile)")
	flag.IntVar(&o.maxConc, "max-concurrency", 0, "Concur's providers[].maxConcurrency in dirgate's configuration (0: dirgate's default)")
	flag.Parse()

	switch *mode {
	case "emulators":
		return serveEmulators(o.latency)
	case "floor":
		return serveFloor(*concurURL)
	case "":
	default:
		return fmt.Errorf("unknown -mode %q", *mode)
	}
	if o.profile != "" && (len(o.profile) != 1 || !strings.Contains("abcde", o.profile)) {
		return fmt.Errorf("-profile takes one scenario, a to e")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return bench(ctx, o)
}

// env is what the windows run against.
type env struct {
	o          options
	dir        string
	hc         *http.Client
	emulators  *child
	urls       vendorURLs
	floor      *child
	fast, slow *child // dirgate over the emulators without and with latency
	bin        string
	// Concur access tokens and geolocations, for direct fetches.
	fastToken, fastGeo string
	slowToken, slowGeo string
}

func bench(ctx context.Context, o options) (err error) {
	e := &env{o: o, hc: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: max(o.conc, o.concD) + 16,
		DisableCompression:  true,
	}}}
	if e.dir, err = os.MkdirTemp("", "dirgate-bench-"); err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "working directory: %s\n", e.dir)
	} else {
		defer os.RemoveAll(e.dir)
	}
	if e.bin = o.dirgate; e.bin == "" {
		fmt.Fprintln(os.Stderr, "building dirgate…")
		if e.bin, err = buildDirgate(ctx, e.dir); err != nil {
			return err
		}
	}
	if e.emulators, e.urls, err = startEmulators(ctx, e.dir, o.latency); err != nil {
		return err
	}
	defer e.emulators.stop()
	if e.fastToken, e.fastGeo, err = concurToken(ctx, e.hc, e.urls.Concur); err != nil {
		return err
	}
	if e.slowToken, e.slowGeo, err = concurToken(ctx, e.hc, e.urls.ConcurSlow); err != nil {
		return err
	}
	if e.floor, err = startFloor(ctx, e.dir, e.urls.Concur); err != nil {
		return err
	}
	defer e.floor.stop()
	if e.fast, err = startDirgate(ctx, e.dir, "dirgate", e.bin, e.urls.Concur, e.urls.Getbill, o.maxConc); err != nil {
		return err
	}
	defer e.fast.stop()
	if e.slow, err = startDirgate(ctx, e.dir, "dirgate-slow", e.bin, e.urls.ConcurSlow, e.urls.GetbillSlow, o.maxConc); err != nil {
		return err
	}
	defer e.slow.stop()
	if err := e.checkAnswers(ctx); err != nil {
		return err
	}

	windows := e.windows()
	fmt.Printf("dirgate load: %d run(s) of %d windows, %v each after %v of warm-up; GOMAXPROCS unset, %d CPUs\n\n",
		o.count, len(windows), o.d, o.warm, numCPU())
	var runs []map[string]row
	for run := range o.count {
		rows := map[string]row{}
		for _, w := range windows {
			fmt.Fprintf(os.Stderr, "run %d/%d: %s…\n", run+1, o.count, w.name)
			s, err := measure(ctx, e.hc, w.target, e.emulators.pid(), w.load, o.warm, o.d)
			if err != nil {
				return fmt.Errorf("%s: %w", w.name, err)
			}
			if s.errs > 0 {
				return fmt.Errorf("%s: %d of %d requests failed; the first: %s", w.name, s.errs, s.n, s.firstErr)
			}
			rows[w.name] = newRow(w, s)
		}
		runs = append(runs, rows)
	}
	if len(runs) > 0 {
		report(os.Stdout, o, windows, runs)
	}
	if o.profile != "" {
		return e.profileScenario(ctx)
	}
	return nil
}

// window is one measured configuration.
type window struct {
	name     string // "a dirgate", …
	scenario byte
	what     string
	conc     int
	dirgate  bool // the target is a dirgate process
	target   target
	load     load
}

func (e *env) windows() []window {
	o := e.o
	gql := func(c *child, body func(seq int) []byte) func(int) (*http.Request, error) {
		return func(seq int) (*http.Request, error) { return postGraphQL(c.url+"/query", body(seq)) }
	}
	fixed := func(query string) func(int) []byte {
		b := gqlBody(query, nil)
		return func(int) []byte { return b }
	}
	on := func(c *child) target { return target{pid: c.pid(), metrics: c.url + "/metrics"} }
	direct := func(geo, token, query string) func(int) (*http.Request, error) {
		return func(int) (*http.Request, error) { return concurGet(geo, token, query) }
	}
	concurID := func(seq int) string {
		c, _ := directory()
		return "offset=0&limit=1&id=" + c[seq%len(c)].ID
	}
	var ws []window
	add := func(w window) {
		if strings.IndexByte(o.only, w.scenario) >= 0 {
			ws = append(ws, w)
		}
	}
	add(window{name: "a dirgate", scenario: 'a', what: "users(first: 100), 5 fields", conc: o.conc, dirgate: true,
		target: on(e.fast), load: load{o.conc, gql(e.fast, fixed(queryA)), okGraphQL}})
	add(window{name: "a floor", scenario: 'a', what: "plain net/http + encoding/json handler", conc: o.conc,
		target: on(e.floor), load: load{o.conc, gql(e.floor, fixed(queryA)), ok200}})
	add(window{name: "a direct", scenario: 'a', what: "the vendor page, fetched directly", conc: o.conc,
		load: load{o.conc, direct(e.fastGeo, e.fastToken, "offset=0&limit=100"), ok200}})
	add(window{name: "a dirgate 1", scenario: 'a', what: "as a dirgate, one client", conc: 1, dirgate: true,
		target: on(e.fast), load: load{1, gql(e.fast, fixed(queryA)), okGraphQL}})
	add(window{name: "a floor 1", scenario: 'a', what: "as a floor, one client", conc: 1,
		target: on(e.floor), load: load{1, gql(e.floor, fixed(queryA)), ok200}})
	add(window{name: "a direct 1", scenario: 'a', what: "as a direct, one client", conc: 1,
		load: load{1, direct(e.fastGeo, e.fastToken, "offset=0&limit=100"), ok200}})
	add(window{name: "b dirgate", scenario: 'b', what: fmt.Sprintf("users(first: 1000), vendor pages of 100 at %v", o.latency), conc: 1, dirgate: true,
		target: on(e.slow), load: load{1, gql(e.slow, fixed(queryB)), okGraphQL}})
	add(window{name: "b direct", scenario: 'b', what: "one vendor page of 100, fetched directly", conc: 1,
		load: load{1, direct(e.slowGeo, e.slowToken, "offset=0&limit=100"), ok200}})
	add(window{name: "c dirgate", scenario: 'c', what: fmt.Sprintf("50 aliased user(id), 25 Concur + 25 getbill, at %v", o.latency), conc: 1, dirgate: true,
		target: on(e.slow), load: load{1, gql(e.slow, func(seq int) []byte {
			vars, _ := lookups(seq)
			return gqlBody(queryC, vars)
		}), okGraphQL}})
	add(window{name: "c direct", scenario: 'c', what: "one Concur id lookup, fetched directly", conc: 1,
		load: load{1, func(seq int) (*http.Request, error) { return concurGet(e.slowGeo, e.slowToken, concurID(seq)) }, ok200}})
	add(window{name: "d dirgate", scenario: 'd', what: "users(first: 20) of cached getbill", conc: o.concD, dirgate: true,
		target: on(e.fast), load: load{o.concD, gql(e.fast, fixed(queryD)), okGraphQL}})
	add(window{name: "e dirgate", scenario: 'e', what: "as a, every User field + linkedAccounts { id }", conc: o.conc, dirgate: true,
		target: on(e.fast), load: load{o.conc, gql(e.fast, fixed(queryE)), okGraphQL}})
	return ws
}

// checkAnswers checks one answer of every scenario in full before
// anything is measured, and that the floor answers what dirgate does.
func (e *env) checkAnswers(ctx context.Context) error {
	ask := func(c *child, body []byte) ([]byte, error) {
		req, err := postGraphQL(c.url+"/query", body)
		if err != nil {
			return nil, err
		}
		resp, err := e.hc.Do(req.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		return io.ReadAll(resp.Body)
	}
	checks := []struct {
		scenario byte
		c        *child
		body     []byte
		check    func([]byte) error
	}{
		{'a', e.fast, gqlBody(queryA, nil), func(b []byte) error { return checkUsers(b, 100, fewFields) }},
		{'b', e.slow, gqlBody(queryB, nil), func(b []byte) error { return checkUsers(b, 1000, fewFields) }},
		{'d', e.fast, gqlBody(queryD, nil), func(b []byte) error { return checkUsers(b, 20, fewFields) }},
		{'e', e.fast, gqlBody(queryE, nil), func(b []byte) error {
			return checkUsers(b, 100, "id nativeId provider email emails displayName company linkedAccounts createdAt")
		}},
	}
	vars, want := lookups(0)
	checks = append(checks, struct {
		scenario byte
		c        *child
		body     []byte
		check    func([]byte) error
	}{'c', e.slow, gqlBody(queryC, vars), func(b []byte) error { return checkLookups(b, want) }})
	for _, c := range checks {
		if strings.IndexByte(e.o.only, c.scenario) < 0 {
			continue
		}
		b, err := ask(c.c, c.body)
		if err != nil {
			return fmt.Errorf("scenario %c: %w", c.scenario, err)
		}
		if err := c.check(b); err != nil {
			return fmt.Errorf("scenario %c: %w", c.scenario, err)
		}
	}
	if strings.IndexByte(e.o.only, 'a') >= 0 {
		d, err1 := ask(e.fast, gqlBody(queryA, nil))
		f, err2 := ask(e.floor, gqlBody(queryA, nil))
		if err1 != nil || err2 != nil || !sameJSON(d, f) {
			return fmt.Errorf("the floor does not answer what dirgate does (%v, %v):\n%.300s\n%.300s", err1, err2, d, f)
		}
	}
	return nil
}
