package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/health"
	"github.com/dirgate/dirgate/internal/obs"
)

// The tests in this file meet dirgate as an operator does: they run it
// (run, which is main without os.Exit, or the binary go build makes) and
// read what it prints.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

// TestMain removes the binary the tests built, and fails the tests when
// they leave goroutines behind (goleak). Idle keep-alive connections of
// the tests' own HTTP client are closed first: they are the client's, not
// dirgate's.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// dirgateBinary builds dirgate as a user does, with go build in the
// repository, once per test run, and returns the binary's path. VCS
// stamping is asked for explicitly when git can read the repository, since
// some environments turn it off through GOFLAGS.
func dirgateBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "dirgate-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "dirgate")
		vcs := "-buildvcs=auto"
		if exec.Command("git", "rev-parse", "HEAD").Run() == nil {
			vcs = "-buildvcs=true"
		}
		// As the Dockerfile builds it, so that .ci/run's image build finds
		// the packages compiled.
		cmd := exec.Command("go", "build", vcs, "-trimpath", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// exitCode runs the binary and returns its exit code, stdout and stderr.
func exitCode(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(dirgateBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatal(err)
	return 0, "", ""
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigErrorsAtStartUp (issue 15, items 1, 2 and 4): the mistakes the
// issue met, in one file, stop dirgate at start-up with every error at
// once, each with the file, line and key path; typos get the nearest key;
// no error names a Go type or quotes a value (values may be secrets).
func TestConfigErrorsAtStartUp(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	secretEnv := map[string]string{"SHORT_SECRET": "short-cursor-secret", "GB_TOKEN": "getbill-token-Qm51"}
	for k, v := range env {
		secretEnv[k] = v
	}
	path := writeFile(t, "dirgate.yaml", `server:
  adress: 127.0.0.1:0
  requestTimeout: 10
  maxPageSize: lots
  cursorSecret: ${SHORT_SECRET}
`+providersYAML+`    timeout: 10
    cacheTTL: 60
  - key: gb2
    kind: getbill
    baseURL: ${GETBILL_URL}
    token: ${GB_TOKEN}
    clientID: ${CONCUR_CLIENT_ID}
`)
	err := run(t.Context(), []string{"dirgate", "-config", path}, func(k string) string { return secretEnv[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run = nil, want the configuration's errors")
	}
	msg := err.Error()
	for _, want := range []string{
		"config: " + path + " has 8 errors:",
		path + ":2: server.adress: unknown key; did you mean addr?",
		path + ":3: server.requestTimeout: want a duration with a unit, such as 10s, 2m or 1h30m: a bare number has none",
		path + ":4: server.maxPageSize: want a whole number",
		path + ":5: server.cursorSecret: must be at least 32 bytes (it has 19)",
		path + ":20: providers[1].timeout: want a duration with a unit",
		path + ":21: providers[1].cacheTTL: want a duration with a unit",
		path + ":24: providers[2].baseURL: ${GETBILL_URL} is not set (or is empty): set it, or write ${GETBILL_URL:-default}",
		path + ":26: providers[2].clientID: ${CONCUR_CLIENT_ID} is not set",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("run =\n%s\nwant a line with\n%s", msg, want)
		}
	}
	for _, leak := range []string{"unmarshal", "!!", "time.Duration", "config.Server", "lots", "getbill-token-Qm51", "short-cursor-secret"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the error names a Go type or quotes a value (%q):\n%s", leak, msg)
		}
	}

	// Fixed but for a token beside client credentials (which the unset
	// variable hid) and the short cursor secret: both, at once.
	secretEnv["GETBILL_URL"], secretEnv["CONCUR_CLIENT_ID"] = "http://127.0.0.1:1", "cid"
	fixed := writeFile(t, "fixed.yaml", "server:\n  addr: 127.0.0.1:0\n  cursorSecret: ${SHORT_SECRET}\n"+providersYAML+
		"  - key: gb2\n    kind: getbill\n    baseURL: ${GETBILL_URL}\n    token: ${GB_TOKEN}\n    clientID: ${CONCUR_CLIENT_ID}\n    clientSecret: client-secret-s\n")
	err = run(t.Context(), []string{"dirgate", "-config", fixed}, func(k string) string { return secretEnv[k] }, io.Discard, io.Discard)
	want := "config: " + fixed + " has 2 errors:\n" +
		"  " + fixed + ":3: server.cursorSecret: must be at least 32 bytes (it has 19): make one with openssl rand -base64 32\n" +
		"  " + fixed + ":21: providers[2].token: set together with clientID/clientSecret: give a token, or client credentials, not both"
	if err == nil || err.Error() != want {
		t.Errorf("run =\n%v\nwant\n%s", err, want)
	}
}

// TestUnsetVariableCallsNoVendor (issue 15, item 2): baseURL: ${GETBILL_URL}
// with the variable unset used to send getbill's calls to the production
// vendor; now dirgate does not start, and no vendor hears from it. With a
// default it starts, and the default is used.
func TestUnsetVariableCallsNoVendor(t *testing.T) {
	var calls atomic.Int32
	_, providersYAML, env := emulators(t, func(_ string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h.ServeHTTP(w, r) })
	})
	gbURL := regexp.MustCompile(`baseURL: (\S+)`).FindStringSubmatch(providersYAML)[1]
	cfg := "server:\n  addr: 127.0.0.1:0\n" + strings.Replace(providersYAML, "baseURL: "+gbURL, "baseURL: ${GETBILL_URL}", 1)
	err := run(t.Context(), []string{"dirgate", "-config", writeFile(t, "d.yaml", cfg)}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "providers[1].baseURL: ${GETBILL_URL} is not set") {
		t.Errorf("run = %v, want an error naming GETBILL_URL and providers[1].baseURL", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d vendor calls, want none", n)
	}

	cfg = strings.Replace(cfg, "${GETBILL_URL}", "${GETBILL_URL:-"+gbURL+"}", 1)
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, cfg, env, io.Discard)
	_, r := post(t, base, gqlBody(`{ users(first: 1, filter: {providers: ["getbill"]}) { totalCount } }`, nil))
	if len(r.Errors) > 0 || !strings.Contains(string(r.Data), `"totalCount":20`) {
		t.Errorf("with the default: %s %+v", r.Data, r.Errors)
	}
	cancel()
	<-done
}

// TestTokenStoreCheckedAtStartUp (issue 15, item 3): a tokenStore whose
// directory does not exist (the example's /var/lib/dirgate on a laptop)
// stops dirgate at start-up with the key, line and directory, instead of a
// vendor outage at the first query.
func TestTokenStoreCheckedAtStartUp(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	cfg := "server:\n  addr: 127.0.0.1:0\n" + regexp.MustCompile(`tokenStore: \S+`).ReplaceAllString(providersYAML, "tokenStore: "+missing+"/concur.json")
	path := writeFile(t, "d.yaml", cfg)
	err := run(t.Context(), []string{"dirgate", "-config", path}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	want := fmt.Sprintf("config: %s:11: providers[0].tokenStore: the directory %s does not exist: create it, writable by dirgate, or keep the token store elsewhere", path, missing)
	if err == nil || err.Error() != want {
		t.Errorf("run =\n%v\nwant\n%s", err, want)
	}
	// The example configuration, as shipped, says the same on a machine
	// without its state directory.
	if _, err := os.Stat("/var/lib/dirgate"); err == nil {
		return
	}
	getenv := func(k string) string { return "value-of-" + k }
	err = run(t.Context(), []string{"dirgate", "-check-config", "-config", "dirgate.example.yaml"}, func(k string) string {
		if k == "DIRGATE_STATE_DIR" {
			return ""
		}
		return getenv(k)
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "providers[0].tokenStore: the directory /var/lib/dirgate does not exist") {
		t.Errorf("the example without DIRGATE_STATE_DIR: %v", err)
	}
}

// TestCheckConfig (issue 15, item 5): dirgate -check-config validates a
// file and the environment it needs, calls no vendor, serves nothing, and
// exits 0 or 1, as a CI/CD pipeline runs it.
func TestCheckConfig(t *testing.T) {
	var calls atomic.Int32
	_, providersYAML, env := emulators(t, func(_ string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); h.ServeHTTP(w, r) })
	})
	good := writeFile(t, "good.yaml", "server:\n  addr: 127.0.0.1:0\n"+providersYAML)
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	code, stdout, stderr := exitCode(t, envList, "-check-config", "-config", good)
	if code != 0 || stdout != good+": ok: 2 providers: concur (concur), getbill (getbill); listens on 127.0.0.1:0 with no authentication, loopback only\n" || stderr != "" {
		t.Errorf("good file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// The environment it needs is part of the check.
	code, stdout, stderr = exitCode(t, envList[:0], "-check-config", "-config", good)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "dirgate: config: "+good+" has 3 errors:") || !strings.Contains(stderr, "${CONCUR_SECRET} is not set") {
		t.Errorf("no environment: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	bad := writeFile(t, "bad.yaml", "server:\n  adress: x\n"+providersYAML)
	code, _, stderr = exitCode(t, envList, "-check-config", "-config", bad)
	if code != 1 || stderr != "dirgate: config: "+bad+":2: server.adress: unknown key; did you mean addr?\n" {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = exitCode(t, envList, "-check-config")
	if code != 2 || !strings.Contains(stderr, "-check-config needs a configuration") {
		t.Errorf("no file: exit %d, stderr %q", code, stderr)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("-check-config made %d vendor calls", n)
	}
}

// TestCommandLine (issue 15, item 6): stray arguments are refused with the
// usage, -help exits 0, and -version says what was built from which
// revision.
func TestCommandLine(t *testing.T) {
	for _, args := range [][]string{{"cfg.yaml"}, {"cfg.yaml", "-addr", "127.0.0.1:0"}, {"-addr", "127.0.0.1:0", "extra"}} {
		code, stdout, stderr := exitCode(t, nil, args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "Usage: dirgate [flags]") || !strings.Contains(stderr, "\ndirgate: unexpected argument") {
			t.Errorf("dirgate %q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if _, _, stderr := exitCode(t, nil, "cfg.yaml"); !strings.Contains(stderr, `unexpected argument "cfg.yaml": a configuration file is given as -config cfg.yaml`) {
		t.Errorf("dirgate cfg.yaml: %q", stderr)
	}
	if code, _, stderr := exitCode(t, nil, "-nope"); code != 2 || !strings.Contains(stderr, "dirgate: flag provided but not defined: -nope") {
		t.Errorf("dirgate -nope: exit %d, stderr %q", code, stderr)
	}
	for _, h := range []string{"-help", "-h", "--help"} {
		code, stdout, stderr := exitCode(t, nil, h)
		if code != 0 || !strings.HasPrefix(stdout, "Usage: dirgate [flags]") || !strings.Contains(stdout, "-check-config") || stderr != "" {
			t.Errorf("dirgate %s: exit %d, stdout %q, stderr %q", h, code, stdout, stderr)
		}
	}

	code, stdout, _ := exitCode(t, nil, "-version")
	m := regexp.MustCompile(`^dirgate (\S+)(?: \(revision ([0-9a-f]{40}) of (\S+?)(, with uncommitted changes)?\))? (go1\.\S+) (\S+/\S+)\n$`).FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("dirgate -version: exit %d, %q", code, stdout)
	}
	if m[5] != runtime.Version() {
		t.Errorf("-version says %s, want %s", m[5], runtime.Version())
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if st, serr := os.Stat(".git"); err != nil || serr != nil || !st.IsDir() {
		// go build reads VCS information from a .git directory; a git
		// worktree's .git is a file, and a source tarball has none.
		t.Logf("not in a git clone (%v, %v): -version says %q", err, serr, stdout)
		return
	}
	if m[2] != strings.TrimSpace(string(head)) {
		t.Errorf("-version says revision %q, want HEAD %s", m[2], head)
	}
	// go build derives a pseudo-version from the revision (go install
	// ...@v1.2.3 stamps v1.2.3).
	if !strings.Contains(m[1], m[2][:12]) {
		t.Errorf("-version says module version %q, want a pseudo-version of %s", m[1], m[2][:12])
	}
}

// TestListenEverywhere (issue 15, item 7): bound to 0.0.0.0, dirgate
// prints URLs a browser opens (not http://[::]:PORT), and says so.
func TestListenEverywhere(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var stdout syncBuffer
			stderr := &syncBuffer{}
			ctx, cancel := context.WithCancel(t.Context())
			// Unauthenticated on every interface needs the hosts callers
			// name (issue 10, item 7).
			path := writeFile(t, "d.yaml", "server:\n  addr: 0.0.0.0:0\n  auth: {mode: none}\n  allowedHosts: [localhost]\n  log: {format: "+format+"}\n"+providersYAML)
			done := make(chan error, 1)
			stderr.watch, stderr.seen = `listening`, make(chan struct{})
			go func() {
				done <- run(ctx, []string{"dirgate", "-config", path}, func(k string) string { return env[k] }, &stdout, stderr)
			}()
			select {
			case <-stderr.seen:
			case err := <-done:
				t.Fatalf("run = %v", err)
			}
			u := regexp.MustCompile(`graphql"?[=:]"?(http://[^"\s]+)/query`).FindStringSubmatch(stderr.String())
			if u == nil || !regexp.MustCompile(`^http://localhost:\d+$`).MatchString(u[1]) {
				t.Fatalf("the listening line: %s", stderr.String())
			}
			if _, r := post(t, u[1], gqlBody(`{ users(first: 1) { totalCount } }`, nil)); len(r.Errors) > 0 {
				t.Errorf("the printed URL: %+v", r.Errors)
			}
			cancel()
			<-done
			out := stdout.String()
			if format == "json" {
				return
			}
			if strings.Contains(out, "[::]") || strings.Contains(out, "0.0.0.0:") && !strings.Contains(out, "every interface (0.0.0.0:") ||
				!strings.Contains(out, "GraphQL:    "+u[1]+"/query\n") || !strings.Contains(out, "Listening on every interface") {
				t.Errorf("the banner:\n%s", out)
			}
		})
	}
}

// TestEmulate (issue 15, item 8): dirgate -emulate starts only the
// emulators, on loopback, and prints a configuration file that a second
// dirgate runs on as it is: users of both directories, linked accounts,
// with the production surface (API keys) the newcomer wants to try.
func TestEmulate(t *testing.T) {
	var stdout syncBuffer
	stderr := &syncBuffer{watch: "Save the configuration above", seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dirgate", "-emulate"}, func(string) string { return "" }, &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case err := <-done:
		t.Fatalf("run -emulate = %v", err)
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run -emulate = %v after cancel", err)
		}
	}()
	yaml := stdout.String()
	urls := regexp.MustCompile(`(?m)^\s+(?:tokenURL|baseURL): (http://\S+)$`).FindAllStringSubmatch(yaml, -1)
	if len(urls) != 3 || strings.Contains(yaml, "GraphQL:") { // Concur, getbill, the SCIM chat
		t.Fatalf("-emulate printed\n%s", yaml)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u[1], "http://127.0.0.1:") {
			t.Errorf("an emulator at %s, not on loopback", u[1])
		}
	}
	// The newcomer turns API keys on, and runs a second dirgate on it.
	key, hash := "dg_emulate-test-key-0123456789abcdef", ""
	{
		var out bytes.Buffer
		run(t.Context(), []string{"dirgate", "-gen-key"}, func(string) string { return "" }, &out, io.Discard)
		m := regexp.MustCompile(`(?s)\n  (dg_\S+)\n.*- (sha256:[0-9a-f]{64})\n`).FindStringSubmatch(out.String())
		key, hash = m[1], m[2]
	}
	cfg := strings.Replace(yaml, "  addr: 127.0.0.1:8080\n", "  addr: 127.0.0.1:0\n  auth:\n    apiKeys: ["+hash+"]\n", 1)
	ctx2, cancel2 := context.WithCancel(t.Context())
	base, done2 := started(t, ctx2, cfg, nil, io.Discard)
	defer func() { cancel2(); <-done2 }()
	if resp, _ := post(t, base, gqlBody(`{ __typename }`, nil)); resp.status != http.StatusUnauthorized {
		t.Errorf("without a key: %d", resp.status)
	}
	_, r := post(t, base, gqlBody(`{ users(last: 2, filter: {providers: ["concur"]}) { totalCount }
		gb: users(first: 2, filter: {providers: ["getbill"]}) { totalCount edges { node { linkedAccounts { provider { key } } } } } }`, nil),
		"Authorization", "Bearer "+key)
	var d struct {
		Users struct{ TotalCount int }
		GB    struct {
			TotalCount int
			Edges      []struct {
				Node struct {
					LinkedAccounts []struct{ Provider struct{ Key string } }
				}
			}
		}
	}
	json.Unmarshal(r.Data, &d)
	if len(r.Errors) > 0 || d.Users.TotalCount != demo.ConcurUsers || d.GB.TotalCount != demo.GetbillUsers ||
		len(d.GB.Edges) != 2 || len(d.GB.Edges[0].Node.LinkedAccounts) == 0 || d.GB.Edges[0].Node.LinkedAccounts[0].Provider.Key != "concur" {
		t.Errorf("the second dirgate answered %s %+v", r.Data, r.Errors)
	}
}

// TestDemoEverywhere (issue 15, item 8): dirgate -demo -addr 0.0.0.0:PORT
// serves the demo on every interface, on purpose, with a warning; without
// -demo it is refused with advice that applies to the demo.
func TestDemoEverywhere(t *testing.T) {
	err := run(t.Context(), []string{"dirgate", "-addr", "0.0.0.0:0"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "run dirgate -demo -addr 0.0.0.0:0") || strings.Contains(err.Error(), "server.auth") {
		t.Errorf("run -addr 0.0.0.0:0 = %v, want advice to use -demo", err)
	}
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := startRun(t, ctx, []string{"-demo", "-addr", "0.0.0.0:0"}, func(string) string { return "" }, stderr)
	p, errs := (&gateway{url: base}).page(t, map[string]any{"first": 1})
	if len(errs) > 0 || p.Users.TotalCount != demo.ConcurUsers+demo.GetbillUsers+demo.ChatUsers+demo.ContractorUsers {
		t.Errorf("the demo on 0.0.0.0: %+v %+v", p, errs)
	}
	// Reached from outside by any name: its people are synthetic, so no
	// Host check (issue 10, item 7).
	if _, r := post(t, base, gqlBody(`{ users(first: 1) { totalCount } }`, nil), "Host", "demo.example:8080"); len(r.Errors) > 0 {
		t.Errorf("the open demo by another host name: %+v", r.Errors)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run = %v", err)
	}
	if !strings.Contains(stderr.String(), `level=WARN msg="serving the demo without authentication on an address other hosts can reach; its people are synthetic" addr=0.0.0.0:0`) {
		t.Errorf("no warning in:\n%s", stderr)
	}
	if err := run(t.Context(), []string{"dirgate", "-demo", "-config", "x.yaml"}, func(string) string { return "" }, io.Discard, io.Discard); !errors.As(err, new(*usageError)) {
		t.Errorf("-demo with -config: %v", err)
	}
}

// TestHealthcheckFlag: dirgate -healthcheck, the image's health check,
// exits 0 while dirgate serves and 1 when nothing answers.
func TestHealthcheckFlag(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	base, done := startRun(t, ctx, []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	addr := strings.TrimPrefix(base, "http://")
	if code, _, stderr := exitCode(t, nil, "-healthcheck", "-addr", addr); code != 0 {
		t.Errorf("-healthcheck: exit %d, %s", code, stderr)
	}
	cancel()
	<-done
	if code, _, stderr := exitCode(t, nil, "-healthcheck", "-addr", addr); code != 1 || !strings.Contains(stderr, "dirgate: healthcheck: http://"+addr+"/healthz") {
		t.Errorf("-healthcheck with nothing listening: exit %d, %s", code, stderr)
	}
}

// jsonLines parses every line of a JSON log, failing on any that is not.
func jsonLines(t *testing.T, log string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("a log line that is not JSON: %q", line)
			continue
		}
		out = append(out, m)
	}
	return out
}

// TestJSONLogs (issue 15, item 9): in JSON mode everything is JSON on one
// stream (stderr): no banner on stdout, a structured "listening" line,
// durations in milliseconds, and every request line with its codes, 401s,
// 400s and 413s included.
func TestJSONLogs(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	key, hash := "dg_json-logs-test-key", ""
	{
		sum := sha256.Sum256([]byte(key))
		hash = "sha256:" + hex.EncodeToString(sum[:])
	}
	var stdout syncBuffer
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	path := writeFile(t, "d.yaml", "server:\n  addr: 127.0.0.1:0\n  auth:\n    apiKeys: ["+hash+"]\n  limits:\n    bodyBytes: 1024\n"+providersYAML)
	stderr.watch, stderr.seen = `"msg":"listening"`, make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dirgate", "-config", path}, func(k string) string { return env[k] }, &stdout, stderr)
	}()
	select {
	case <-stderr.seen:
	case err := <-done:
		t.Fatalf("run = %v", err)
	}
	base := regexp.MustCompile(`"graphql":"(http://[^"]+)/query"`).FindStringSubmatch(stderr.String())[1]
	send := func(id, method, contentType, body string, auth bool) int {
		req, _ := http.NewRequest(method, base+"/query", strings.NewReader(body))
		req.Header.Set("X-Request-ID", id)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if auth {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	statuses := map[string]int{
		"no-key":    send("no-key", "POST", "application/json", `{"query":"{ __typename }"}`, false),
		"not-json":  send("not-json", "POST", "application/json", `not json`, true),
		"too-large": send("too-large", "POST", "application/json", `{"query":"`+strings.Repeat("x", 2000)+`"}`, true),
		"put":       send("put", "PUT", "application/json", `{}`, true),
		"ok":        send("ok", "POST", "application/json", `{"query":"query Q { users(first: 1) { totalCount } }"}`, true),
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("stdout holds %q; in JSON mode everything goes to the log", out)
	}
	lines := jsonLines(t, stderr.String())
	byID := map[string]map[string]any{}
	var listening, stopping map[string]any
	for _, l := range lines {
		switch l["msg"] {
		case "request":
			byID[fmt.Sprint(l["request_id"])] = l
		case "listening":
			listening = l
		case "shutting down: waiting for in-flight requests":
			stopping = l
		}
		for k, v := range l {
			if k == "duration" || k == "bound" {
				t.Errorf("a duration in nanoseconds: %s=%v in %v", k, v, l)
			}
		}
	}
	if listening == nil || listening["graphql"] != base+"/query" || listening["auth"] != "apikey" {
		t.Errorf("the listening line: %v", listening)
	}
	if stopping == nil || stopping["bound_ms"] != 10000.0 {
		t.Errorf("the shutdown line: %v", stopping)
	}
	for id, want := range map[string]struct {
		status int
		codes  string
	}{
		"no-key": {401, "[UNAUTHENTICATED]"}, "not-json": {400, "[BAD_REQUEST]"}, "too-large": {413, "[REQUEST_TOO_LARGE]"},
		"put": {405, "[BAD_REQUEST]"}, "ok": {200, "<nil>"},
	} {
		l := byID[id]
		if l == nil {
			t.Errorf("no request line for %s", id)
			continue
		}
		ms, isNumber := l["duration_ms"].(float64)
		if statuses[id] != want.status || l["status"] != float64(want.status) || fmt.Sprint(l["codes"]) != want.codes || !isNumber || ms < 0 {
			t.Errorf("%s: status %d, line %v; want status %d, codes %s, duration_ms", id, statuses[id], l, want.status, want.codes)
		}
	}
}

// TestLogLinesBounded (issue 10, item 6): a 36 KB query with 3,000
// misplaced directives gets 3,000 errors of one code; its request line
// names the code once, and no line of the log, for this or a request with
// a huge path, outgrows the bound.
func TestLogLinesBounded(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	stderr := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, "server:\n  addr: 127.0.0.1:0\n  log: {level: debug}\n"+providersYAML, env, stderr)
	query := "query Q " + strings.Repeat("@deprecated ", 3000) + "{ __typename }"
	if len(query) < 36000 {
		t.Fatalf("the query is %d bytes", len(query))
	}
	resp, r := post(t, base, gqlBody(query, nil), "X-Request-ID", "amplified")
	if resp.status >= 500 || len(r.Errors) < 3000 {
		t.Fatalf("status %d, %d errors; want 3,000 validation errors", resp.status, len(r.Errors))
	}
	get(t, base+"/"+strings.Repeat("p", 64<<10))
	cancel()
	<-done
	var line map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if len(l) > obs.MaxLineBytes+2048 {
			t.Errorf("a log line of %d bytes (bound %d): %.300s…", len(l), obs.MaxLineBytes, l)
		}
		if strings.Contains(l, `"request_id":"amplified"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if fmt.Sprint(line["codes"]) != "[GRAPHQL_VALIDATION_FAILED]" {
		t.Errorf("the request line: %v", line)
	}
}

// readyzUntil asks /readyz until its status is no longer starting (the
// start-up probes ended), and returns the last answer.
func readyzUntil(t *testing.T, base string) (int, health.Report) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for range 1500 { // 30s at most, for a loaded machine
		code, body := get(t, base+"/readyz")
		var r health.Report
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("readyz: %q", body)
		}
		if r.Status != health.Starting {
			return code, r
		}
		<-tick.C
	}
	t.Fatal("/readyz stayed starting")
	return 0, health.Report{}
}

// TestReadyWithOneVendorDown (issue 15, item 9a): with the default
// whenDegraded: ready, a vendor that cannot be reached during a deploy no
// longer keeps dirgate out of the load balancer: it is ready with the
// other provider up, and reports the unreachable one as down.
func TestReadyWithOneVendorDown(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing listens there any more
	cfg := "server:\n  addr: 127.0.0.1:0\n" + regexp.MustCompile(`baseURL: \S+`).ReplaceAllString(providersYAML, "baseURL: "+dead.URL)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, _ := started(t, ctx, cfg, env, io.Discard)
	code, r := readyzUntil(t, base)
	if code != 200 || r.Status != health.Degraded || !r.Ready || len(r.Providers) != 2 ||
		!r.Providers[0].Up || r.Providers[1].Up || r.Providers[1].Authenticated || r.Providers[1].Key != "getbill" {
		t.Errorf("/readyz = %d %+v, want 200 degraded, concur up and getbill down", code, r)
	}

	// minProvidersUp: 2 asks for both.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	base2, _ := started(t, ctx2, strings.Replace(cfg, "server:\n", "server:\n  readiness: {minProvidersUp: 2}\n", 1), env, io.Discard)
	if code, r := readyzUntil(t, base2); code != 503 || r.Status != health.Degraded || r.Ready {
		t.Errorf("minProvidersUp 2: /readyz = %d %+v, want 503 degraded", code, r)
	}
}

// TestReadmeMatchesDemo (issue 15, item 13a): the README's sample output,
// the demo's banner and the first page of users, is what the demo prints
// and answers.
func TestReadmeMatchesDemo(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(after, lang string) string {
		i := bytes.Index(readme, []byte(after))
		if i < 0 {
			t.Fatalf("README: no %q", after)
		}
		m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindSubmatch(readme[i:])
		if m == nil {
			t.Fatalf("README: no %s block after %q", lang, after)
		}
		return string(m[1])
	}
	ports := regexp.MustCompile(`127\.0\.0\.1:\d+|dirgate-demo-\d+`)

	stdout := &syncBuffer{watch: `"}'` + "\n", seen: make(chan struct{})} // the end of the banner's curl line
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"dirgate", "-addr", "127.0.0.1:0"}, func(string) string { return "" }, stdout, io.Discard)
	}()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("run = %v", err)
	}
	defer func() { cancel(); <-done }()
	banner := block("prints the URLs and a first query:", "")
	if got := ports.ReplaceAllString(stdout.String(), "…"); !strings.HasPrefix(got, ports.ReplaceAllString(banner, "…")) {
		t.Errorf("the README shows the banner\n%s\nthe demo prints\n%s", banner, stdout)
	}

	base := regexp.MustCompile(`GraphQL:\s+(http://\S+)/query`).FindStringSubmatch(stdout.String())[1]
	query := block("## The GraphQL API by example", "graphql")
	answer := block(query, "json")
	_, r := post(t, base, gqlBody(query, nil))
	if len(r.Errors) > 0 {
		t.Fatalf("the README's query: %+v", r.Errors)
	}
	// Every value the README shows, but for elisions and cursors (made
	// with a random key in the demo), is in the answer.
	got := string(r.Data) // compact JSON
	for _, m := range regexp.MustCompile(`"(\w+)":\s*("[^"…]*"|\d+|true|false)`).FindAllStringSubmatch(answer, -1) {
		if m[1] == "startCursor" || m[1] == "endCursor" || m[1] == "cursor" {
			continue
		}
		if !strings.Contains(got, `"`+m[1]+`":`+m[2]) {
			t.Errorf("the README shows %s: %s; the demo answers\n%s", m[1], m[2], r.Data)
		}
	}
	for _, m := range regexp.MustCompile(`"(\w+)":\s*"([^"…]+)…"`).FindAllStringSubmatch(answer, -1) {
		if !strings.Contains(got, `"`+m[1]+`":"`+m[2]) {
			t.Errorf("the README shows %s starting %q; the demo answers\n%s", m[1], m[2], r.Data)
		}
	}
}
