package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/playground"
)

// startDemo runs dirgate as `go run . -addr 127.0.0.1:0` does, with no
// configuration, and returns its base URL. It stops when the test ends.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	base, done := startRun(t, ctx, []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, io.Discard)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run returned %v after cancel, want nil", err)
		}
	})
	return base
}

// pageConfig reads the settings the playground's page at u gives its
// script: the first tab's query, and the headers it starts with.
func pageConfig(t *testing.T, u string) (query, headers string) {
	t.Helper()
	_, page := get(t, u)
	m := regexp.MustCompile(`<script type="application/json" id="playground-config">([^<]*)</script>`).FindStringSubmatch(page)
	var c struct{ DefaultQuery, DefaultHeaders string }
	if m == nil || json.Unmarshal([]byte(html.UnescapeString(m[1])), &c) != nil {
		t.Fatalf("no playground config in %s", u)
	}
	return c.DefaultQuery, c.DefaultHeaders
}

type firstTab map[string]struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage bool
		EndCursor   string
	}
	Edges []struct {
		Node struct {
			ID, DisplayName string
			Provider        struct{ Key string }
			LinkedAccounts  []struct{ Provider struct{ Key string } }
		}
	}
}

// TestPlaygroundDefaultQuery (issue 15, item 11): the query the demo's
// playground opens with, run as it is, shows users of every directory,
// with their ids, and the merge: accounts linked across directories. The
// paging its guide describes works.
func TestPlaygroundDefaultQuery(t *testing.T) {
	base := startDemo(t)
	g := &gateway{url: base}
	query, _ := pageConfig(t, base+"/")
	r := g.query(t, query, nil)
	var tab firstTab
	if err := json.Unmarshal(r.Data, &tab); err != nil || len(r.Errors) > 0 {
		t.Fatalf("the default query answered %s %+v", r.Data, r.Errors)
	}
	shown, linked := map[string]int{}, map[string]bool{}
	for alias, conn := range tab {
		for _, e := range conn.Edges {
			if e.Node.ID == "" || e.Node.DisplayName == "" {
				t.Errorf("%s: a user without id or name: %+v", alias, e.Node)
			}
			shown[e.Node.Provider.Key]++
			for _, l := range e.Node.LinkedAccounts {
				if l.Provider.Key != e.Node.Provider.Key {
					linked[e.Node.Provider.Key+"→"+l.Provider.Key] = true
				}
			}
		}
	}
	if shown["concur"] == 0 || shown["getbill"] == 0 || tab["concur"].TotalCount != demo.ConcurUsers || tab["getbill"].TotalCount != demo.GetbillUsers {
		t.Errorf("users shown per directory %v, totals %d and %d; want both directories", shown, tab["concur"].TotalCount, tab["getbill"].TotalCount)
	}
	if !linked["concur→getbill"] || !linked["getbill→concur"] {
		t.Errorf("links shown %v; want accounts linked both ways", linked)
	}
	// The guide's next page: after the endCursor, with the same filter.
	next := g.query(t, `query($after: String) { users(first: 5, after: $after, filter: {providers: ["concur"]}) { edges { node { id } } } }`,
		map[string]any{"after": tab["concur"].PageInfo.EndCursor})
	if len(r.Errors) > 0 || !strings.Contains(string(next.Data), `"id"`) || strings.Contains(string(next.Data), tab["concur"].Edges[0].Node.ID) {
		t.Errorf("the next page: %s %+v", next.Data, next.Errors)
	}
}

// chromiumPath finds Debian's Chromium. Without it the browser tests skip,
// except in CI (CI=true), where .ci/run installs it and its absence fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium on PATH or at /usr/bin/chromium; .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium: apt-get install chromium to run the playground's browser test")
	return ""
}

// artifactsDir is where browser tests leave screenshots: $DIRGATE_ARTIFACTS,
// or artifacts/ at the repository root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("DIRGATE_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is headless Chromium with the network cut off but for loopback,
// and a record of what its pages asked for and complained about.
type browser struct {
	ctx context.Context

	mu         sync.Mutex
	foreign    []string // requests for anything but loopback
	exceptions []string // uncaught JavaScript exceptions
	console    []string // the browser's errors and warnings, for the log
	documents  map[string]network.Headers
}

// watchCSP is injected into every page before its own scripts: it
// records the page's CSP violations where the test can read them.
const watchCSP = `window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
	window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber);
});`

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		// Anything but loopback (which Chromium never proxies) goes to a
		// proxy where nothing listens, and no name but localhost resolves.
		chromedp.ProxyServer("http://127.0.0.1:9"),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.WindowSize(1440, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	// chromedp may log while the browser stops; the test's log is closed by then.
	var (
		logMu   sync.Mutex
		stopped bool
	)
	logf := func(format string, args ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		if !stopped {
			t.Logf("chromedp: "+format, args...)
		}
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(logf))
	t.Cleanup(cancel)
	t.Cleanup(func() { // runs before cancel
		logMu.Lock()
		stopped = true
		logMu.Unlock()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser, with no timeout on its context
		t.Fatal(err)
	}
	return &browser{ctx: ctx, documents: map[string]network.Headers{}}
}

// open opens a new tab, watched, on the URL, and waits for GraphiQL.
func (b *browser) open(t *testing.T, u string) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(tab); err != nil { // open the tab
		t.Fatal(err)
	}
	// Generous, for a loaded 2-core machine; every wait below polls.
	ctx, cancelTimeout := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(cancelTimeout)
	err := chromedp.Listen(tab, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if !isLoopback(ev.Request.URL) {
				b.foreign = append(b.foreign, ev.Request.URL)
			}
		case *network.EventResponseReceived:
			if ev.Type == network.ResourceTypeDocument {
				b.documents[ev.Response.URL] = ev.Response.Headers
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.exceptions = append(b.exceptions, fmt.Sprintf("%s at %s:%d", msg, d.URL, d.LineNumber+1))
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.console = append(b.console, fmt.Sprintf("%s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.console = append(b.console, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCSP}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u), chromedp.WaitVisible(chromedp.CSS(executeButton))); err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	return ctx
}

// poll evaluates the JavaScript expression every 100 ms until it is truthy,
// and returns its value. chromedp.Poll would not do: it makes its predicate
// with new Function, which the page's CSP forbids.
func poll[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		if err == nil && !reflect.ValueOf(&v).Elem().IsZero() {
			return v
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// check fails the test on any foreign request, exception or CSP violation
// seen so far, and logs what the browser complained of.
func (b *browser) check(t *testing.T, ctx context.Context) {
	t.Helper()
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
	if err != nil {
		t.Errorf("reading CSP violations: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range b.console {
		t.Logf("browser %s", line)
	}
	b.console = nil
	if len(violations) > 0 {
		t.Errorf("the page broke its Content-Security-Policy: %q", violations)
	}
	if len(b.foreign) > 0 {
		t.Errorf("the page asked for something beyond loopback: %q", b.foreign)
	}
	if len(b.exceptions) > 0 {
		t.Errorf("uncaught exceptions: %q", b.exceptions)
	}
}

func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	case "http", "https", "ws", "wss":
		h := u.Hostname()
		return h == "localhost" || h == "::1" || strings.HasPrefix(h, "127.")
	}
	return false
}

// screenshot saves what the tab shows to the artifacts directory.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)
}

// Selectors of GraphiQL 3's editors; each is a CodeMirror 5 instance.
const (
	queryEditor   = ".graphiql-query-editor .CodeMirror"
	toolEditor    = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror" // variables or headers, whichever shows
	resultEditor  = ".result-window .CodeMirror"
	executeButton = ".graphiql-execute-button"
)

func editorValue(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.CodeMirror ? e.CodeMirror.getValue() : ""; })()`, sel)
}

// runAndWait presses the run button and waits for a result with data.
func runAndWait(t *testing.T, ctx context.Context) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(executeButton))); err != nil {
		t.Fatalf("pressing run: %v", err)
	}
	return poll[string](t, ctx, "a result", fmt.Sprintf(`(() => {
		const v = %s;
		try { return JSON.parse(v).data ? v : ""; } catch (_) { return ""; }
	})()`, editorValue(resultEditor)))
}

// TestPlaygroundInChromium loads the playground from a dirgate demo in
// headless Chromium with the network cut off but for loopback, runs the
// query it opens with, and checks that users appear in the result pane,
// that the page asked for nothing beyond loopback, and that it kept to its
// CSP. It leaves a screenshot in the artifacts directory.
func TestPlaygroundInChromium(t *testing.T) {
	b := newBrowser(t)

	t.Run("demo", func(t *testing.T) {
		base := startDemo(t)
		ctx := b.open(t, base+"/")

		// The page came with its CSP.
		b.mu.Lock()
		doc, ok := b.documents[base+"/"]
		b.mu.Unlock()
		var policy string
		for k, v := range doc {
			if strings.EqualFold(k, "Content-Security-Policy") {
				policy, _ = v.(string)
			}
		}
		if !ok || !strings.Contains(policy, "script-src 'self';") || !strings.Contains(policy, "connect-src 'self';") {
			t.Errorf("the page came with Content-Security-Policy %q", policy)
		}

		// It opens with the default query.
		opening, _ := pageConfig(t, base+"/")
		if query := poll[string](t, ctx, "the query editor", editorValue(queryEditor)); query != opening {
			t.Errorf("the first tab holds\n%s", query)
		}

		result := runAndWait(t, ctx)

		// The browser got what a client of the API gets.
		var got, want any
		json.Unmarshal([]byte(result), &got)
		r := (&gateway{url: base}).query(t, opening, nil)
		json.Unmarshal(fmt.Appendf(nil, `{"data":%s}`, r.Data), &want)
		if len(r.Errors) > 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("the result pane holds\n%s\nthe API answers\n%s %+v", result, r.Data, r.Errors)
		}
		var d struct{ Data firstTab }
		json.Unmarshal([]byte(result), &d)
		// The first lines (CodeMirror draws what is in view): Concur's
		// first user, and the same person in getbill.
		c := d.Data["concur"]
		if len(c.Edges) == 0 || len(c.Edges[0].Node.LinkedAccounts) == 0 || len(d.Data["getbill"].Edges) == 0 {
			t.Fatalf("no users of both directories, linked, in the result pane:\n%s", result)
		}

		// And users are there to see in the result pane.
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".result-window")))
		if err != nil {
			t.Fatal(err)
		}
		first := c.Edges[0].Node.DisplayName
		for _, s := range []string{`"totalCount": ` + fmt.Sprint(c.TotalCount), `"displayName": "` + first + `"`, `"linkedAccounts": [`} {
			if !strings.Contains(shown, s) {
				t.Errorf("the result pane does not show %s; it shows\n%s", s, shown)
			}
		}

		screenshot(t, ctx, "playground.png")

		// GraphiQL's dialogs add a <style> element, allowed by the page's nonce.
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`[aria-label="Open settings dialog"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.graphiql-dialog`)),
		); err != nil {
			t.Fatalf("settings dialog: %v", err)
		}
		poll[bool](t, ctx, "the dialog's style element", `document.querySelector('style[nonce]') !== null`)
		if err := chromedp.Do(ctx,
			chromedp.KeyEvent(kb.Escape),
			chromedp.WaitNotPresent(chromedp.CSS(`.graphiql-dialog`)),
		); err != nil {
			t.Errorf("closing the settings dialog: %v", err)
		}
		b.check(t, ctx)
	})

	t.Run("API key, under a prefix", func(t *testing.T) {
		// dirgate with API keys, its playground under a prefix.
		key, hash := auth.GenerateKey()
		_, providersYAML, env := emulators(t, nil)
		logs := &syncBuffer{}
		ctx0, cancel := context.WithCancel(t.Context())
		base, done := started(t, ctx0, "server:\n  addr: 127.0.0.1:0\n  auth:\n    apiKeys: ["+hash+"]\n  introspection: true\n"+
			"  playground: {enabled: true, path: /tools/playground/}\n"+providersYAML, env, logs)
		t.Cleanup(func() { cancel(); <-done })
		queries := func() []string { // the key id or the status of each /query request dirgate logged
			var out []string
			for _, l := range jsonLines(t, logs.String()) {
				if l["msg"] == "request" && l["path"] == "/query" {
					out = append(out, fmt.Sprintf("%v %v", l["status"], l["key"]))
				}
			}
			return out
		}

		ctx := b.open(t, base+"/tools/playground/")
		if headers := poll[string](t, ctx, "the headers editor", editorValue(toolEditor)); headers != playground.AuthHeaders {
			t.Errorf("the headers editor holds %q, want the placeholder %q", headers, playground.AuthHeaders)
		}
		// The page asks for the schema at once; with the placeholder it
		// sends nothing, and running the query says where the key goes.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(executeButton))); err != nil {
			t.Fatal(err)
		}
		said := poll[string](t, ctx, "the advice", fmt.Sprintf(`(() => { const v = %s; return v.includes("Type your API key") ? v : ""; })()`, editorValue(resultEditor)))
		if !strings.Contains(said, "in place of <your API key>") {
			t.Errorf("the result pane says\n%s", said)
		}
		http.Get(base + "/healthz") // the log is written up to here
		if q := queries(); len(q) > 0 {
			t.Errorf("dirgate got %v before a key was typed, want nothing", q)
		}

		// A person types their key in the headers editor.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`document.querySelector(%q).CodeMirror.setValue('{"Authorization": "Bearer %s"}')`, toolEditor, key),
		)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
			t.Fatal(err)
		}
		// Docs: the schema came, without the re-fetch button.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[aria-label="Show Documentation Explorer"]`))); err != nil {
			t.Fatalf("opening Docs: %v", err)
		}
		poll[bool](t, ctx, "the schema in Docs", `(() => { const d = document.querySelector('.graphiql-doc-explorer'); return !!d && d.textContent.includes('Query') && !d.textContent.includes('Error fetching schema'); })()`)
		// Completion: Ctrl-Space after "{ us" offers users.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`(() => { const cm = document.querySelector(%q).CodeMirror; cm.setValue('{ us'); cm.focus(); cm.setCursor({line: 0, ch: 4}); })()`, queryEditor),
		)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(" ", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
			t.Fatal(err)
		}
		hints := poll[string](t, ctx, "completion", `(() => { const h = document.querySelector('.CodeMirror-hints'); return h ? h.textContent : ""; })()`)
		if !strings.Contains(hints, "users") {
			t.Errorf("completion offers %q, want users", hints)
		}
		screenshot(t, ctx, "playground-auth.png")
		// And the query runs, with the key.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`document.querySelector(%q).CodeMirror.setValue('{ users(first: 2) { edges { node { displayName } } } }')`, queryEditor),
		)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
			t.Fatal(err)
		}
		if result := runAndWait(t, ctx); !strings.Contains(result, `"displayName"`) {
			t.Errorf("no users in the result pane:\n%s", result)
		}
		http.Get(base + "/healthz")
		id := auth.HashKey(key)[len("sha256:") : len("sha256:")+12]
		for _, q := range queries() {
			if q != "200 "+id {
				t.Errorf("dirgate got requests %v, want each with the typed key (%s)", queries(), id)
				break
			}
		}
		b.check(t, ctx)
	})
}
