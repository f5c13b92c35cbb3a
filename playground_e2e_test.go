package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
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

// TestPlaygroundDefaultQuery checks, without a browser, that the query the
// playground opens with answers with users, and that its guide's variables
// for the next page, the previous page and other filters work.
func TestPlaygroundDefaultQuery(t *testing.T) {
	g := &gateway{url: startDemo(t)}
	type page struct {
		Users struct {
			TotalCount int
			PageInfo   struct {
				HasNextPage, HasPreviousPage bool
				StartCursor, EndCursor       string
			}
			Edges []struct {
				Node struct {
					DisplayName    string
					Provider       struct{ Key string }
					LinkedAccounts []struct{ Provider struct{ Key string } }
				}
			}
		}
	}
	run := func(vars map[string]any) (page, string) {
		t.Helper()
		r := g.query(t, playground.DefaultQuery, vars)
		var p page
		json.Unmarshal(r.Data, &p)
		if len(r.Errors) > 0 || len(p.Users.Edges) == 0 || p.Users.Edges[0].Node.DisplayName == "" {
			t.Fatalf("the default query with %v answered %s %+v", vars, r.Data, r.Errors)
		}
		return p, string(r.Data)
	}
	first, firstJSON := run(nil)
	// The opening page shows users of more than one directory: its users,
	// and the accounts they have in the others.
	shown := map[string]bool{}
	for _, e := range first.Users.Edges {
		shown[e.Node.Provider.Key] = true
		for _, l := range e.Node.LinkedAccounts {
			shown[l.Provider.Key] = true
		}
	}
	if len(shown) < 3 {
		t.Errorf("the opening page shows the users of %v, want three directories or more", shown)
	}
	if len(first.Users.Edges) != 10 || first.Users.TotalCount == 0 || first.Users.TotalCount >= demo.ConcurUsers+demo.GetbillUsers+demo.ChatUsers+demo.ContractorUsers ||
		!first.Users.PageInfo.HasNextPage {
		t.Errorf("the default query answered %s", firstJSON)
	}
	next, _ := run(map[string]any{"after": first.Users.PageInfo.EndCursor})
	if next.Users.Edges[0].Node.DisplayName == first.Users.Edges[0].Node.DisplayName || !next.Users.PageInfo.HasPreviousPage {
		t.Errorf("the next page repeats the first: %+v", next)
	}
	if _, back := run(map[string]any{"first": nil, "last": 10, "before": next.Users.PageInfo.StartCursor}); back != firstJSON {
		t.Errorf("the previous page of the next page is\n%s\nnot the first\n%s", back, firstJSON)
	}
	run(map[string]any{"filter": map[string]any{"lastName": "berg"}})
	run(map[string]any{"filter": map[string]any{"providers": []string{"getbill"}, "active": false}})
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
		if query := poll[string](t, ctx, "the query editor", editorValue(queryEditor)); query != playground.DefaultQuery {
			t.Errorf("the first tab holds\n%s", query)
		}

		result := runAndWait(t, ctx)

		// The browser got what a client of the API gets.
		var got, want any
		json.Unmarshal([]byte(result), &got)
		r := (&gateway{url: base}).query(t, playground.DefaultQuery, nil)
		json.Unmarshal(fmt.Appendf(nil, `{"data":%s}`, r.Data), &want)
		if len(r.Errors) > 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("the result pane holds\n%s\nthe API answers\n%s %+v", result, r.Data, r.Errors)
		}
		var d struct {
			Data struct {
				Users struct {
					TotalCount int
					Edges      []struct{ Node struct{ DisplayName string } }
				}
			}
		}
		json.Unmarshal([]byte(result), &d)
		if len(d.Data.Users.Edges) == 0 || d.Data.Users.TotalCount == 0 {
			t.Fatalf("no users in the result pane:\n%s", result)
		}

		// And users are there to see in the result pane.
		shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".result-window")))
		if err != nil {
			t.Fatal(err)
		}
		first := d.Data.Users.Edges[0].Node.DisplayName
		for _, s := range []string{`"totalCount": ` + fmt.Sprint(d.Data.Users.TotalCount), `"displayName": "` + first + `"`} {
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

	t.Run("auth header under a prefix", func(t *testing.T) {
		// dirgate's API, behind a proxy that records what the browser sends.
		target, err := url.Parse(startDemo(t))
		if err != nil {
			t.Fatal(err)
		}
		api := httputil.NewSingleHostReverseProxy(target)
		var (
			mu    sync.Mutex
			auths []string
		)
		mux := http.NewServeMux()
		mux.Handle("/query", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auths = append(auths, r.Header.Get("Authorization"))
			mu.Unlock()
			api.ServeHTTP(w, r)
		}))
		mux.Handle("GET /tools/playground/", http.StripPrefix("/tools/playground",
			playground.New(playground.Options{Endpoint: "/query", Title: "dirgate", AuthHeader: true})))
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)

		ctx := b.open(t, srv.URL+"/tools/playground/")
		if headers := poll[string](t, ctx, "the headers editor", editorValue(toolEditor)); headers != playground.AuthHeaders {
			t.Errorf("the headers editor holds %q, want the placeholder %q", headers, playground.AuthHeaders)
		}
		// A person types their key in the headers editor, and runs the query.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
			`document.querySelector(%q).CodeMirror.setValue('{"Authorization": "Bearer e2e-key-123"}')`, toolEditor),
		)); err != nil && !errors.Is(err, chromedp.ErrJSUndefined) {
			t.Fatal(err)
		}
		if result := runAndWait(t, ctx); !strings.Contains(result, `"displayName"`) {
			t.Errorf("no users in the result pane:\n%s", result)
		}
		screenshot(t, ctx, "playground-auth.png")
		mu.Lock()
		if !slices.Contains(auths, "Bearer e2e-key-123") {
			t.Errorf("the API saw Authorization %q, want the key typed in the headers editor", auths)
		}
		mu.Unlock()
		b.check(t, ctx)
	})
}
