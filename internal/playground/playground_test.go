package playground

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAssetsMatchManifest checks that the vendored files embedded in the
// binary are exactly the ones update-assets.sh recorded in assets/VERSIONS.
func TestAssetsMatchManifest(t *testing.T) {
	manifest, err := files.ReadFile("assets/VERSIONS")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	packages := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(manifest))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch {
		case f[0] == "package" && len(f) == 3:
			if !regexp.MustCompile(`^[a-z@/.-]+@\d+\.\d+\.\d+$`).MatchString(f[1]) || !strings.HasPrefix(f[2], "sha512-") {
				t.Errorf("VERSIONS: bad package line %q", sc.Text())
			}
			packages[f[1]] = true
		case f[0] == "file" && len(f) == 4:
			name, want, from := f[1], f[2], f[3]
			if pkg, _, _ := strings.Cut(from, ":"); !packages[pkg] {
				t.Errorf("VERSIONS: %s comes from %s, which has no package line", name, pkg)
			}
			data, err := files.ReadFile("assets/" + name)
			if err != nil {
				t.Errorf("VERSIONS lists %s, which is not embedded: %v", name, err)
				continue
			}
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != want {
				t.Errorf("%s: sha256 %s, VERSIONS says %s: run update-assets.sh, never edit assets by hand", name, got, want)
			}
			listed[name] = true
		default:
			t.Errorf("VERSIONS: cannot read line %q", sc.Text())
		}
	}
	for _, pkg := range []string{"graphiql", "react", "react-dom"} {
		if !slices.ContainsFunc(keys(packages), func(p string) bool { return strings.HasPrefix(p, pkg+"@") }) {
			t.Errorf("VERSIONS records no version of %s", pkg)
		}
	}
	entries, _ := fs.ReadDir(files, "assets")
	for _, e := range entries {
		if e.Name() != "VERSIONS" && !listed[e.Name()] {
			t.Errorf("assets/%s is embedded but not in VERSIONS", e.Name())
		}
	}
}

func keys(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

func get(t *testing.T, h http.Handler, target string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// csp parses a Content-Security-Policy into its directives.
func csp(header string) map[string][]string {
	m := map[string][]string{}
	for d := range strings.SplitSeq(header, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			m[f[0]] = f[1:]
		}
	}
	return m
}

var (
	scriptTag = regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`)
	srcAttr   = regexp.MustCompile(`(?:src|href)="(assets/[^"]+)"`)
)

func TestPage(t *testing.T) {
	h := New(Options{})
	resp := get(t, h, "/")
	page := body(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for k, v := range map[string]string{
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	// The CSP: nothing but the page's own origin, no inline script, no eval.
	policy := csp(resp.Header.Get("Content-Security-Policy"))
	nonce := regexp.MustCompile(`<script src="assets/playground\.js\?v=[0-9a-f]+" nonce="([^"]+)">`).FindStringSubmatch(page)
	if nonce == nil {
		t.Fatalf("no nonce on playground.js in\n%s", page)
	}
	want := map[string][]string{
		"default-src":     {"'none'"},
		"script-src":      {"'self'"},
		"style-src":       {"'self'", "'nonce-" + nonce[1] + "'"},
		"img-src":         {"'self'", "data:"},
		"font-src":        {"'self'", "data:"},
		"connect-src":     {"'self'"},
		"base-uri":        {"'none'"},
		"form-action":     {"'none'"},
		"frame-ancestors": {"'none'"},
	}
	if len(policy) != len(want) {
		t.Errorf("CSP %q, want the directives %v", resp.Header.Get("Content-Security-Policy"), want)
	}
	for d, v := range want {
		if !slices.Equal(policy[d], v) {
			t.Errorf("CSP %s %v, want %v", d, policy[d], v)
		}
	}
	if again := csp(get(t, h, "/").Header.Get("Content-Security-Policy")); slices.Equal(again["style-src"], policy["style-src"]) {
		t.Errorf("two pages share the nonce %v", again["style-src"])
	}

	// No inline script: every script is a file of the page's origin, but
	// for the configuration, which is JSON and never runs.
	var config pageConfig
	for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
		attrs, text := m[1], m[2]
		switch {
		case strings.Contains(attrs, `type="application/json"`):
			if err := json.Unmarshal([]byte(text), &config); err != nil {
				t.Errorf("config %q: %v", text, err)
			}
		case strings.Contains(attrs, ` src="assets/`) && strings.TrimSpace(text) == "":
		default:
			t.Errorf("inline or foreign script %q", m[0])
		}
	}
	if strings.Contains(page, " style=") || strings.Contains(page, "<style") {
		t.Error("the page has inline styles")
	}
	if config.Endpoint != "/query" || config.DefaultQuery != DefaultQuery(nil, false) || config.DefaultHeaders != "" || config.KeyPlaceholder != "" {
		t.Errorf("config %+v", config)
	}
	if !strings.Contains(page, "<title>dirgate</title>") {
		t.Error("no title")
	}

	// Every asset the page names is served, as the type it is.
	refs := srcAttr.FindAllStringSubmatch(page, -1)
	if len(refs) != 6 {
		t.Errorf("page loads %d assets, want 6: %v", len(refs), refs)
	}
	for _, ref := range refs {
		resp := get(t, h, "/"+strings.ReplaceAll(ref[1], "&amp;", "&"))
		b := body(t, resp)
		ext := ref[1][strings.LastIndex(strings.Split(ref[1], "?")[0], ".")+1 : strings.Index(ref[1], "?")]
		wantType := map[string]string{"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}[ext]
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != wantType || resp.Header.Get("X-Content-Type-Options") != "nosniff" || len(b) == 0 {
			t.Errorf("%s: %d %q %q, %d bytes", ref[1], resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"), len(b))
		}
		if resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", ref[1], resp.Header.Get("Cache-Control"))
		}
	}
}

// TestDefaultQuery: the first tab's query has an alias per provider, in
// order, each a valid GraphQL name, and selects ids and linked accounts.
func TestDefaultQuery(t *testing.T) {
	q := DefaultQuery([]string{"concur", "getbill-eu", "getbill_eu", "9x"}, false)
	var aliases []string
	for _, m := range regexp.MustCompile(`(?m)^  (\w+): users\(first: \$first, filter: \{providers: \["([^"]+)"\]\}\)`).FindAllStringSubmatch(q, -1) {
		aliases = append(aliases, m[1]+"="+m[2])
	}
	if want := []string{"concur=concur", "getbill_eu=getbill-eu", "getbill_eu_2=getbill_eu", "p_9x=9x"}; !slices.Equal(aliases, want) {
		t.Errorf("aliases %v, want %v", aliases, want)
	}
	for _, want := range []string{"      id\n", "      linkedAccounts {\n"} {
		if !strings.Contains(q, want) {
			t.Errorf("the query does not select %q:\n%s", want, q)
		}
	}
	if strings.Contains(q, "API key") {
		t.Error("the guide speaks of an API key without auth")
	}
}

func TestAuthHeaderAndEndpoint(t *testing.T) {
	resp := get(t, New(Options{Endpoint: "https://api.example.com:8443/graphql", Title: "ACME <directory>", AuthHeader: true}), "/")
	page := body(t, resp)
	m := regexp.MustCompile(`<script type="application/json" id="playground-config">([^<]*)</script>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no config in\n%s", page)
	}
	var config pageConfig
	if err := json.Unmarshal([]byte(m[1]), &config); err != nil {
		t.Fatal(err)
	}
	if config.Endpoint != "https://api.example.com:8443/graphql" || config.DefaultHeaders != AuthHeaders || config.KeyPlaceholder != KeyPlaceholder ||
		!strings.Contains(config.DefaultQuery, "type it in Headers") {
		t.Errorf("config %+v", config)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(config.DefaultHeaders), &headers); err != nil || headers["Authorization"] != "Bearer <your API key>" {
		t.Errorf("default headers %q: %v", config.DefaultHeaders, err)
	}
	if got := csp(resp.Header.Get("Content-Security-Policy"))["connect-src"]; !slices.Equal(got, []string{"'self'", "https://api.example.com:8443"}) {
		t.Errorf("connect-src %v", got)
	}
	if !strings.Contains(page, "<title>ACME &lt;directory&gt;</title>") {
		t.Error("title not escaped")
	}
	for _, bad := range []string{"javascript:alert(1)", "https://x.example'; script-src *", "ftp://x.example/q"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(Endpoint %q) did not panic", bad)
				}
			}()
			New(Options{Endpoint: bad})
		}()
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /tools/playground/", http.StripPrefix("/tools/playground", New(Options{})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/tools/playground") // redirected to .../
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/tools/playground/" {
		t.Fatalf("GET /tools/playground = %d at %s", resp.StatusCode, resp.Request.URL)
	}
	for _, ref := range srcAttr.FindAllStringSubmatch(page, -1) {
		u, _ := resp.Request.URL.Parse(ref[1])
		r, err := http.Get(u.String())
		if err != nil || r.StatusCode != 200 {
			t.Errorf("%s: %v %v", u, r.Status, err)
		}
		r.Body.Close()
	}
}

func TestAssetEncodingAndCaching(t *testing.T) {
	h := New(Options{})
	plain := get(t, h, "/assets/graphiql.min.js")
	want := body(t, plain)
	if plain.Header.Get("Content-Encoding") != "" || plain.Header.Get("Cache-Control") != "no-cache" || plain.Header.Get("ETag") == "" {
		t.Errorf("unversioned: %v", plain.Header)
	}
	zipped := get(t, h, "/assets/graphiql.min.js", "Accept-Encoding", "br, gzip;q=0.8")
	if zipped.Header.Get("Content-Encoding") != "gzip" || zipped.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("gzip: %v", zipped.Header)
	}
	zr, err := gzip.NewReader(zipped.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if string(got) != want || zipped.ContentLength >= int64(len(want))/2 {
		t.Errorf("gzip: %d bytes decode to %d, want %d", zipped.ContentLength, len(got), len(want))
	}
	if r := get(t, h, "/assets/graphiql.min.js", "Accept-Encoding", "gzip;q=0"); r.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 got gzip")
	}
	if r := get(t, h, "/assets/graphiql.min.js", "If-None-Match", plain.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", r.StatusCode)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := New(Options{})
	for _, p := range []string{"/x", "/assets/", "/assets/VERSIONS", "/assets/react.LICENSE", "/assets/../page.html", "/static/playground.js", "/page.html"} {
		if r := get(t, h, p); r.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, r.StatusCode)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", nil))
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d %v", w.Code, w.Header())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodHead, "/", nil))
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("HEAD / = %d, %d bytes", w.Code, w.Body.Len())
	}
}

func TestMount(t *testing.T) {
	for _, path := range []string{"/", "/tools/playground/", "/tools/playground"} {
		mux := http.NewServeMux()
		mux.Handle("/query", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") }))
		mux.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
		Mount(mux, path, New(Options{})) // must not panic beside "/query"
		srv := httptest.NewServer(mux)
		base := srv.URL + "/" + strings.Trim(path, "/")
		if !strings.HasSuffix(base, "/") {
			base += "/"
		}
		resp, err := http.Get(strings.TrimSuffix(base, "/")) // the page, or a redirect to it
		if err != nil {
			t.Fatal(err)
		}
		page := body(t, resp)
		if got := "/" + strings.TrimPrefix(resp.Request.URL.Path, "/"); resp.StatusCode != 200 || srv.URL+got != base || !strings.Contains(page, "playground-config") {
			t.Errorf("%s: GET %s = %d at %s", path, strings.TrimSuffix(base, "/"), resp.StatusCode, resp.Request.URL)
		}
		refs := srcAttr.FindAllStringSubmatch(page, -1)
		for _, ref := range refs {
			u, _ := resp.Request.URL.Parse(strings.ReplaceAll(ref[1], "&amp;", "&"))
			r, err := http.Get(u.String())
			if err != nil || r.StatusCode != 200 {
				t.Errorf("%s: %s: %v %v", path, u, r.Status, err)
			}
			r.Body.Close()
		}
		for p, want := range map[string]int{"/query": 200, "/healthz": 200, "/nope": 404, "/assets/nope.js": 404} {
			r, err := http.Post(srv.URL+p, "text/plain", nil)
			if p == "/healthz" || strings.HasPrefix(p, "/assets") || p == "/nope" {
				r, err = http.Get(srv.URL + p)
			}
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != want && !(path != "/" && p == "/assets/nope.js") {
				t.Errorf("%s: %s = %d, want %d", path, p, r.StatusCode, want)
			}
		}
		srv.Close()
	}
}
