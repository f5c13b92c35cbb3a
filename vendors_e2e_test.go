package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/providertest"
)

// Tests of dirgate against Concur emulators that misbehave, run through
// run() with a YAML configuration as an operator writes it.

const (
	concurCID    = "concur-client-id"
	concurSecret = "concur-secret-Bq19"
	concurRT     = "concur-request-token-Hn42"
)

// concurOnly starts a Concur emulator of users behind wrap (when not nil)
// and dirgate configured with it alone, at debug level. It returns the
// gateway, the emulator and dirgate's log.
func concurOnly(t *testing.T, users []driver.User, wrap func(http.Handler) http.Handler, extraYAML string) (*gateway, *concur.Emulator, *syncBuffer) {
	t.Helper()
	emu := concur.NewEmulator(concur.EmulatorOptions{
		ClientID: concurCID, ClientSecret: concurSecret, CompanyUUID: "company", RequestToken: concurRT, Users: users,
	})
	var h http.Handler = emu
	if wrap != nil {
		h = wrap(emu)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := fmt.Sprintf(`server:
  addr: 127.0.0.1:0
  log: {format: json, level: debug}
providers:
  - key: concur
    kind: concur
    tokenURL: %s/oauth2/v0/token
    clientID: %s
    clientSecret: ${SECRET}
    companyUUID: company
    requestToken: ${RT}
    tokenStore: %s
%s`, srv.URL, concurCID, filepath.Join(t.TempDir(), "concur.json"), extraYAML)
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, cfg, map[string]string{"SECRET": concurSecret, "RT": concurRT}, logs)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return &gateway{url: base}, emu, logs
}

// isUsers tells the emulator's user requests from its token requests.
func isUsers(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/users") }

// TestVendorCallsInFlightAreCapped (issue 10, item 3): 40 aliases of
// users, each one vendor request, reach Concur 8 at a time at most (the
// default providers[].maxConcurrency), and all succeed.
func TestVendorCallsInFlightAreCapped(t *testing.T) {
	var inFlight, peak atomic.Int64
	users := providertest.Dataset(150)
	g, _, _ := concurOnly(t, users, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isUsers(r) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				time.Sleep(20 * time.Millisecond) // so that requests overlap
			}
			h.ServeHTTP(w, r)
		})
	}, "")
	var q strings.Builder
	q.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&q, " a%d: users(first: 100) { edges { node { id } } }", i)
	}
	q.WriteString(" }")
	r := g.query(t, q.String(), nil)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	var data map[string]struct{ Edges []any }
	if err := json.Unmarshal(r.Data, &data); err != nil || len(data) != 40 {
		t.Fatalf("data: %v, %d aliases", err, len(data))
	}
	for alias, c := range data {
		if len(c.Edges) != 100 {
			t.Errorf("%s: %d users, want 100", alias, len(c.Edges))
		}
	}
	if p := peak.Load(); p > 8 || p < 2 {
		t.Errorf("%d vendor requests in flight at once, want at most 8 (and some at once)", p)
	}
}

// hugeBodyEnv marks the process TestHugeVendorBodiesAreBounded starts.
const hugeBodyEnv = "DIRGATE_HUGE_BODY_CHILD"

// TestHugeVendorBodiesAreBounded (issue 10, item 9): a vendor that answers
// every users request with a 200 MiB body, to 8 users(first: 1000)
// queries at once: each answer is PROVIDER_BAD_RESPONSE, and dirgate's
// process never holds 300 MiB. The queries run in a process of their own,
// whose peak resident size the kernel reports.
func TestHugeVendorBodiesAreBounded(t *testing.T) {
	if os.Getenv(hugeBodyEnv) != "" {
		hugeBodies(t)
		return
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run", "^TestHugeVendorBodiesAreBounded$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), hugeBodyEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the queries failed: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`peak Go memory: (\d+) bytes`).FindSubmatch(out)
	if !strings.Contains(string(out), "answers: 8 PROVIDER_BAD_RESPONSE") || m == nil {
		t.Fatalf("the child did not report its answers and its memory:\n%s", out)
	}
	var goPeak int64
	fmt.Sscan(string(m[1]), &goPeak)
	t.Logf("peak memory held by the Go runtime: %d MiB", goPeak>>20)
	if goPeak >= 300<<20 {
		t.Errorf("peak Go memory %d MiB, want under 300 MiB", goPeak>>20)
	}
	// The child's own peak RSS (VmHWM). The kernel's rusage of a child
	// is no use here: it counts the parent's memory at the fork.
	m = regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(out)
	if m == nil {
		return // not Linux
	}
	var rss int64
	fmt.Sscan(string(m[1]), &rss)
	rss <<= 10
	t.Logf("peak RSS of the process: %d MiB", rss>>20)
	if rss >= 300<<20 {
		t.Errorf("peak RSS %d MiB, want under 300 MiB", rss>>20)
	}
}

// hugeBodies is the child's part.
func hugeBodies(t *testing.T) {
	const size = 200 << 20
	item := []byte(`{"ID":"5F0C7A2E-9B1D-4C3E-8F6A-0123456789AB","PrimaryEmail":"someone@acme.example","FirstName":"Some","LastName":"One","Active":true},`)
	chunk := make([]byte, 0, 1<<20)
	for len(chunk)+len(item) <= cap(chunk) {
		chunk = append(chunk, item...)
	}
	g, _, _ := concurOnly(t, nil, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isUsers(r) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"total":100000,"offset":0,"limit":100,"Items":[`)
			for n := 0; n < size; n += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // dirgate stopped reading
				}
			}
			io.WriteString(w, `{"ID":"last"}]}`)
		})
	}, "")
	// The peak of the memory the Go runtime holds, sampled while the
	// queries run (RSS counts more: the race detector's shadow memory,
	// the binary).
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		sample := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	codesSeen := make([][]string, 8)
	for i := range 8 {
		wg.Go(func() {
			r := g.query(t, `{ users(first: 1000) { edges { node { id } } } }`, nil)
			codesSeen[i] = codes(r.Errors)
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	bad := 0
	for _, c := range codesSeen {
		if slices.Equal(c, []string{"PROVIDER_BAD_RESPONSE@concur"}) {
			bad++
		}
	}
	if bad != 8 {
		t.Fatalf("answers: %v, want PROVIDER_BAD_RESPONSE from concur each", codesSeen)
	}
	fmt.Printf("answers: %d PROVIDER_BAD_RESPONSE\n", bad)
	fmt.Printf("peak Go memory: %d bytes\n", peak.Load())
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		fmt.Println(regexp.MustCompile(`VmHWM:\s+\d+ kB`).FindString(string(status)))
	}
}

// TestEmptyPageThatClaimsMore (issue 10, item 10): Concur answering
// total 2400 with no Items at an offset below it is PROVIDER_BAD_RESPONSE,
// never a silent empty page that says there is more.
func TestEmptyPageThatClaimsMore(t *testing.T) {
	g, _, _ := concurOnly(t, nil, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !isUsers(r) {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"total":2400,"offset":0,"limit":100,"Items":[]}`)
		})
	}, "")
	p, errs := g.page(t, map[string]any{"first": 10})
	if !slices.Equal(codes(errs), []string{"PROVIDER_BAD_RESPONSE@concur"}) {
		t.Errorf("errors %v, want PROVIDER_BAD_RESPONSE from concur", codes(errs))
	}
	if len(p.Users.Edges) == 0 && p.Users.PageInfo.HasNextPage && p.Users.PageInfo.EndCursor == nil && len(errs) == 0 {
		t.Error("a silent empty page that claims more, with no cursor to go on from")
	}
}

// TestNoPIIInLogs (issue 10, item 11): a vendor that echoes the request
// in its error bodies, asked with filter values that look like personal
// data: neither the values nor the query string reach any log line, at
// debug level, nor the answer.
func TestNoPIIInLogs(t *testing.T) {
	const email, lastName = "jane.doe@pii.example", "Doe-Personal"
	g, _, logs := concurOnly(t, providertest.Dataset(5), func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isUsers(r) && r.URL.Query().Has("primaryemail") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, `{"Error":{"Message":"no user with primaryemail=%s and lastname=%s (query %s)"}}`,
					r.URL.Query().Get("primaryemail"), r.URL.Query().Get("lastname"), r.URL.RawQuery)
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "")
	r := g.query(t, usersQuery, map[string]any{"first": 5, "filter": map[string]any{"email": email, "lastName": lastName}})
	if !slices.Equal(codes(r.Errors), []string{"PROVIDER_UNAVAILABLE@concur"}) {
		t.Fatalf("errors %+v, want PROVIDER_UNAVAILABLE from concur", r.Errors)
	}
	body, _ := json.Marshal(r)
	out := logs.String()
	if !strings.Contains(out, `"msg":"provider failed"`) || !strings.Contains(out, `"msg":"vendor request"`) {
		t.Fatalf("the log lacks the failure or the vendor requests: the run did not go where the test means it to:\n%s", out)
	}
	for _, pii := range []string{email, "jane.doe%40pii.example", lastName, "primaryemail=", "lastname="} {
		for i, line := range strings.Split(out, "\n") {
			if strings.Contains(line, pii) {
				t.Errorf("log line %d carries %q: %s", i, pii, line)
			}
		}
		if strings.Contains(string(body), pii) {
			t.Errorf("the answer carries %q: %s", pii, body)
		}
	}
}

// TestShortSecretsRefused (issue 10, item 12): a secret too short to be
// real (say clientSecret: t, which redaction by search and replace turned
// into every t of every log line) stops dirgate at start-up, with an error
// that names the key and quotes nothing.
func TestShortSecretsRefused(t *testing.T) {
	for _, tt := range []struct{ yaml, key string }{
		{"    clientID: cid\n    clientSecret: t\n    companyUUID: company\n    requestToken: request-token-long-enough\n", "clientSecret"},
		{"    clientID: cid\n    clientSecret: client-secret-long-enough\n    companyUUID: company\n    requestToken: rt\n", "requestToken"},
	} {
		path := filepath.Join(t.TempDir(), "dirgate.yaml")
		os.WriteFile(path, []byte("server:\n  addr: 127.0.0.1:0\nproviders:\n  - key: concur\n    kind: concur\n"+tt.yaml), 0o600)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"dirgate", "-config", path}, func(string) string { return "" }, io.Discard, io.Discard)
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "providers[0]."+tt.key+": is too short") {
				t.Errorf("run = %v, want an error naming %s as too short", err, tt.key)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("dirgate started with a %s too short to be real", tt.key)
			cancel()
			<-done
		}
		cancel()
	}
}

// TestTimedOutRequestIsRetried (issue 10, item 13): a vendor request that
// runs out of the provider's timeout is temporary, as the README says, and
// is tried again within the request's deadline.
func TestTimedOutRequestIsRetried(t *testing.T) {
	var hung atomic.Bool
	g, _, _ := concurOnly(t, providertest.Dataset(5), func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The first request for the page (not the readiness probe's,
			// which asks for one user) never answers.
			if isUsers(r) && r.URL.Query().Get("limit") == "5" && hung.CompareAndSwap(false, true) {
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(w, r)
		})
	}, "    timeout: 300ms\n")
	p, errs := g.page(t, map[string]any{"first": 5})
	if len(errs) > 0 || len(p.Users.Edges) != 5 {
		t.Errorf("%d users, errors %v; want 5 users after a retry", len(p.Users.Edges), codes(errs))
	}
	if !hung.Load() {
		t.Error("no request hung: the test did not go where it means to")
	}
}

// swap serves with whichever handler it holds.
type swap struct{ h atomic.Pointer[http.Handler] }

func (s *swap) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

// TestDirectoryChangesMidWalk (issue 11): while a client walks Concur in
// pages of 50, 20 users before its place leave the company (offsets alone
// would skip 20 users), then 20 join there (offsets alone would repeat
// 20). Following the cursors, forwards or backwards, every user present
// during the whole walk comes exactly once: the cursors re-anchor. When
// the users just before the place, which the cursor is anchored on, are
// among those who leave, the walk stops with DIRECTORY_CHANGED instead:
// never a silent duplicate or skip.
func TestDirectoryChangesMidWalk(t *testing.T) {
	for _, tt := range []struct {
		name        string
		backward    bool
		leave       [2]int // the users who leave, by index
		wantChanged bool
	}{
		{"forwards", false, [2]int{60, 80}, false},
		{"backwards", true, [2]int{60, 80}, false},
		{"forwards, the anchors leave", false, [2]int{80, 100}, true},
		{"backwards, the anchors leave", true, [2]int{180, 200}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := providertest.Dataset(300)
			left := slices.Delete(slices.Clone(before), tt.leave[0], tt.leave[1]) // before the place either way
			joined := providertest.Dataset(20)
			for i := range joined {
				joined[i].ID = fmt.Sprintf("JOINED-%02d", i)
			}
			after := slices.Insert(slices.Clone(left), 40, joined...)
			emulator := func(users []driver.User) *http.Handler {
				h := http.Handler(concur.NewEmulator(concur.EmulatorOptions{
					ClientID: concurCID, ClientSecret: concurSecret, CompanyUUID: "company", RequestToken: concurRT, Users: users,
				}))
				return &h
			}
			var sw swap
			g, _, _ := concurOnly(t, nil, func(http.Handler) http.Handler {
				sw.h.Store(emulator(before))
				return &sw
			}, "")
			seen := map[string]int{}
			var cursor *string
			changed := false
			for page := 0; ; page++ {
				switch page {
				case 2:
					sw.h.Store(emulator(left))
				case 3:
					sw.h.Store(emulator(after))
				}
				vars := map[string]any{}
				if tt.backward {
					vars["last"], vars["before"] = 50, cursor
				} else {
					vars["first"], vars["after"] = 50, cursor
				}
				p, errs := g.page(t, vars)
				if slices.Equal(codes(errs), []string{"DIRECTORY_CHANGED@concur"}) {
					changed = true
					break
				}
				if len(errs) > 0 {
					t.Fatalf("page %d: %v", page, codes(errs))
				}
				for _, e := range p.Users.Edges {
					seen[e.Node.NativeID]++
				}
				more := p.Users.PageInfo.HasNextPage
				cursor = p.Users.PageInfo.EndCursor
				if tt.backward {
					more, cursor = p.Users.PageInfo.HasPreviousPage, p.Users.PageInfo.StartCursor
				}
				if !more {
					break
				}
				if page > 20 {
					t.Fatal("no end")
				}
			}
			dups, missing := 0, 0
			for _, u := range after {
				if seen[u.ID] == 0 && !strings.HasPrefix(u.ID, "JOINED-") {
					missing++
				}
			}
			for _, n := range seen {
				if n > 1 {
					dups++
				}
			}
			switch {
			case dups > 0:
				t.Errorf("%d users came more than once", dups)
			case changed != tt.wantChanged:
				t.Errorf("DIRECTORY_CHANGED: %t, want %t", changed, tt.wantChanged)
			case !changed && missing > 0:
				t.Errorf("%d users present all along never came", missing)
			}
		})
	}
}
