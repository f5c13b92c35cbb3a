// Package playground serves dirgate's GraphQL playground: GraphiQL, from
// assets embedded in the binary, under a Content-Security-Policy that lets
// the page load and connect to nothing but its own origin.
//
// The vendored GraphiQL and React files in assets/ come from the npm
// registry through update-assets.sh, which records their exact versions, the
// registry's integrity of each package and the sha256 of each file in
// assets/VERSIONS. Nothing is fetched at run time.
//
// The handler serves the page at its root and the assets below it under
// assets/, by relative URLs, so it can be mounted at any path. Mount does
// that on a ServeMux:
//
//	playground.Mount(mux, "/", playground.New(opts))
//	playground.Mount(mux, "/tools/playground/", playground.New(opts))
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// DefaultQuery is the query of the playground's first tab, for the
// configured providers' keys, in order: the first users of each provider
// (an alias per provider), each with the same person's accounts in the
// other providers, so that the merge shows at once, whatever directories
// are configured; and a short guide to paging, filters, and, when callers
// must authenticate (auth), the API key. Its variable has a default, so it
// runs as it is. (GraphiQL 3 shows a first tab's query but not its
// variables.)
func DefaultQuery(providers []string, auth bool) string {
	var b strings.Builder
	b.WriteString(`# dirgate: the users of every directory, one API.
# Run this query: Ctrl-Enter, or the run button.
`)
	if auth {
		b.WriteString(`#
# This dirgate wants an API key: type it in Headers
# below, in place of <your API key>. The playground
# sends nothing until you do; then it loads the schema
# (Docs, completion), and again whenever the key changes.
`)
	}
	b.WriteString(`#
# Below: each directory's first users, and for each,
# the same person's accounts in the other directories
# (linkedAccounts, matched by email).
#
# users walks every directory in one order: drop the
# providers filter to walk them all. Next page: add
#   after: "<pageInfo.endCursor>"
# previous page: last: 5, before: "<pageInfo.startCursor>"
# (cursors are opaque, and bound to their filter).
# Filters are ANDed; strings match the whole value,
# in any case: try filter: {lastName: "berg"}.
# Ctrl-Space completes; Docs (top left) lists all.
query Directories($first: Int = 5) {
`)
	seen := map[string]bool{}
	for _, key := range providers {
		alias := aliasOf(key)
		for n := 2; seen[alias]; n++ {
			alias = fmt.Sprintf("%s_%d", aliasOf(key), n)
		}
		seen[alias] = true
		fmt.Fprintf(&b, "  %s: users(first: $first, filter: {providers: [%q]}) {\n    ...Page\n  }\n", alias, key)
	}
	b.WriteString(`}

fragment Page on UserConnection {
  totalCount
  pageInfo {
    hasNextPage
    startCursor
    endCursor
  }
  edges {
    node {
      id
      displayName
      email
      active
      provider {
        key
      }
      linkedAccounts {
        displayName
        email
        provider {
          key
        }
      }
    }
  }
}
`)
	return b.String()
}

// aliasOf makes a GraphQL alias of a provider key ([a-z][a-z0-9_-]*).
func aliasOf(key string) string {
	a := strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, key)
	if a == "" || a[0] >= '0' && a[0] <= '9' {
		a = "p_" + a
	}
	return a
}

// KeyPlaceholder stands for the caller's API key in AuthHeaders; the
// playground sends no request while the headers hold it, or no key.
const KeyPlaceholder = "<your API key>"

// AuthHeaders is what the headers editor of each new tab holds when
// Options.AuthHeader is set: a placeholder for the caller's API key.
const AuthHeaders = `{
  "Authorization": "Bearer ` + KeyPlaceholder + `"
}`

// Options configures the playground.
type Options struct {
	// Endpoint is the GraphQL endpoint as the page fetches it: a path on
	// the page's own origin (default "/query"), or an http or https URL,
	// whose origin the page's CSP then also lets it connect to.
	Endpoint string
	// Title is the page's title (default "dirgate").
	Title string
	// AuthHeader says callers must authenticate: each new tab's headers
	// editor then starts with an Authorization header for the caller's API
	// key, and shows the headers editor first; the page sends nothing
	// until a key is typed there, and loads the schema again whenever the
	// key changes. The headers editor is there either way; what is typed
	// into it is never persisted.
	AuthHeader bool
	// Providers are the configured providers' keys, in order, for the
	// first tab's query (see DefaultQuery).
	Providers []string
}

// New returns the playground's handler. It panics if opts.Endpoint is
// neither a path nor an http or https URL.
func New(opts Options) http.Handler {
	if opts.Endpoint == "" {
		opts.Endpoint = "/query"
	}
	if opts.Title == "" {
		opts.Title = "dirgate"
	}
	connect := "'self'"
	if origin, err := endpointOrigin(opts.Endpoint); err != nil {
		panic("playground: " + err.Error())
	} else if origin != "" {
		connect += " " + origin
	}
	h := &handler{
		assets: loadAssets(),
		config: pageConfig{
			Endpoint:     opts.Endpoint,
			DefaultQuery: DefaultQuery(opts.Providers, opts.AuthHeader),
		},
		title: opts.Title,
		csp: "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-%s'; " +
			"img-src 'self' data:; font-src 'self' data:; connect-src " + connect + "; " +
			"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	}
	if opts.AuthHeader {
		h.config.DefaultHeaders = AuthHeaders
		h.config.KeyPlaceholder = KeyPlaceholder
	}
	return h
}

// Mount serves h, a handler from New (wrapped or not), on mux at path:
// the page at path ("/" or "/tools/playground/", say), its assets under
// path+"assets/", and a redirect to the page from path without its final
// slash. It registers only those GET patterns, so at the root too it
// leaves every other path, "/query" among them, to the mux's other
// handlers. (A plain "GET /" would not do: ServeMux refuses it beside a
// pattern such as "/query" that matches every method.)
func Mount(mux *http.ServeMux, path string, h http.Handler) {
	base := "/" + strings.Trim(path, "/")
	if base == "/" {
		base = ""
	}
	sub := http.StripPrefix(base, h)
	mux.Handle("GET "+base+"/{$}", sub)
	mux.Handle("GET "+base+"/assets/", sub)
	if base != "" {
		last := base[strings.LastIndex(base, "/")+1:]
		mux.Handle("GET "+base, http.RedirectHandler(last+"/", http.StatusMovedPermanently))
	}
}

// endpointOrigin returns the origin of an absolute endpoint URL, or "" for
// a path.
func endpointOrigin(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %v", endpoint, err)
	}
	if u.Scheme == "" && u.Host == "" {
		return "", nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.ContainsAny(u.Host, "'; ,\"") {
		return "", fmt.Errorf("endpoint %q is neither a path nor an http or https URL", endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// pageConfig is what playground.js reads from the page.
type pageConfig struct {
	Endpoint       string `json:"endpoint"`
	DefaultQuery   string `json:"defaultQuery"`
	DefaultHeaders string `json:"defaultHeaders,omitempty"`
	// KeyPlaceholder, when set, means callers must authenticate: the page
	// sends nothing while the headers hold no key but this.
	KeyPlaceholder string `json:"keyPlaceholder,omitempty"`
}

type handler struct {
	assets map[string]*asset
	config pageConfig
	title  string
	csp    string // with a %s for the nonce
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	// Mounted with or without the prefix's trailing slash stripped, the
	// page is at "" and the assets at "assets/NAME".
	p := strings.TrimPrefix(r.URL.Path, "/")
	if p == "" {
		h.servePage(w, r)
		return
	}
	if name, ok := strings.CutPrefix(p, "assets/"); ok {
		if a := h.assets[name]; a != nil {
			a.serve(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	nonce := newNonce()
	var buf bytes.Buffer
	err := pageTemplate().Execute(&buf, struct {
		Title  string
		Config pageConfig
		Nonce  string
	}{h.title, h.config, nonce})
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", fmt.Sprintf(h.csp, nonce))
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(buf.Bytes()))
}

// newNonce returns a fresh CSP nonce: 128 random bits.
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b) // nothing to escape in HTML
}

//go:embed page.html static assets
var files embed.FS

var pageTemplate = sync.OnceValue(func() *template.Template {
	assets := loadAssets()
	return template.Must(template.New("page.html").Funcs(template.FuncMap{
		"asset": func(name string) (string, error) {
			a := assets[name]
			if a == nil {
				return "", fmt.Errorf("no asset %q", name)
			}
			// The content hash in the URL lets browsers keep it for good.
			return "assets/" + name + "?v=" + a.version, nil
		},
	}).ParseFS(files, "page.html"))
})

// asset is one embedded file the page loads.
type asset struct {
	data    []byte
	ctype   string
	version string // hex prefix of the sha256, for URLs

	gzipOnce sync.Once
	gz       []byte
}

// loadAssets indexes the embedded .js and .css files by name: the vendored
// ones in assets/ and dirgate's own in static/.
var loadAssets = sync.OnceValue(func() map[string]*asset {
	m := map[string]*asset{}
	for _, dir := range []string{"assets", "static"} {
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			panic(err)
		}
		for _, e := range entries {
			var ctype string
			switch path.Ext(e.Name()) {
			case ".js":
				ctype = "text/javascript; charset=utf-8"
			case ".css":
				ctype = "text/css; charset=utf-8"
			default:
				continue // licenses and VERSIONS: in the binary, not served
			}
			data, err := files.ReadFile(dir + "/" + e.Name())
			if err != nil {
				panic(err)
			}
			sum := sha256.Sum256(data)
			m[e.Name()] = &asset{data: data, ctype: ctype, version: hex.EncodeToString(sum[:6])}
		}
	}
	return m
})

func (a *asset) serve(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Vary", "Accept-Encoding")
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.data, `"`+a.version+`"`
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		a.gzipOnce.Do(func() {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(a.data)
			zw.Close()
			a.gz = buf.Bytes()
		})
		body, etag = a.gz, `"`+a.version+`-gzip"`
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if strings.TrimSpace(coding) != "gzip" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
