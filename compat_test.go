package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/providers/providertest"
)

// compatDir holds the real clients' side of TestClientCompatibility: a
// package.json with pinned versions, its lock file, and the scripts.
const compatDir = "internal/compat"

// TestClientCompatibility runs third-party GraphQL clients and the
// graphql-http audit suite, from npm, against dirgate started as main
// starts it, with authentication and introspection on. It needs node and
// `npm ci` in internal/compat; without them it is skipped, except under
// CI=true, where .ci/run installs them and their absence fails.
func TestClientCompatibility(t *testing.T) {
	node, err := exec.LookPath("node")
	for _, pkg := range []string{"graphql-http", "relay-compiler"} {
		if err == nil {
			_, err = os.Stat(filepath.Join(compatDir, "node_modules", pkg, "package.json"))
		}
	}
	if err != nil {
		msg := fmt.Sprintf("node or the npm clients are missing (%v): run `npm ci` in %s", err, compatDir)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	_, providersYAML, env := emulators(t, nil)
	key, hash := auth.GenerateKey()
	cfg := fmt.Sprintf("server:\n  addr: 127.0.0.1:0\n  introspection: true\n  auth:\n    apiKeys: [%q]\n  log: {level: warn}\n", hash) + providersYAML
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	base, done := started(t, ctx, cfg, env, logs)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
		if t.Failed() {
			t.Logf("dirgate's log:\n%s", logs)
		}
	}()

	// The ground truth: the emulators' users in connection order.
	all := providertest.Dataset(120)
	var truth []string
	for i, u := range all {
		k := "concur"
		if i >= 100 {
			k = "getbill"
		}
		truth = append(truth, relay.UserID(k, u.ID))
	}
	const pageSize = 7
	pages := (len(truth) + pageSize - 1) / pageSize

	script := func(t *testing.T, name string, out any, env ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, name)
		cmd.Dir = compatDir
		cmd.Env = append(os.Environ(), "DIRGATE_URL="+base, "DIRGATE_KEY="+key, fmt.Sprintf("PAGE_SIZE=%d", pageSize))
		cmd.Env = append(cmd.Env, env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("node %s: %v\n%s", name, err, strings.ReplaceAll(stderr.String(), key, "<KEY>"))
		}
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("node %s printed %q: %v", name, stdout.String(), err)
		}
	}

	t.Run("graphql-http audits", func(t *testing.T) {
		var audits []struct{ ID, Name, Status, Reason string }
		script(t, "audit.mjs", &audits)
		ok := 0
		for _, a := range audits {
			if a.Status == "ok" {
				ok++
				continue
			}
			// MUST fails as "error", SHOULD as "warn", MAY as "notice":
			// dirgate means to pass them all.
			t.Errorf("audit %s %q: %s: %s", a.ID, a.Name, a.Status, a.Reason)
		}
		if len(audits) < 50 {
			t.Errorf("%d audits ran, want the whole suite", len(audits))
		}
		t.Logf("graphql-http: %d of %d audits pass", ok, len(audits))
	})

	t.Run("Apollo Client 4 relayStylePagination", func(t *testing.T) {
		var r struct {
			Forward, Backward, Truth          []string
			ForwardRequests, BackwardRequests int
			Node                              struct {
				ID, RefetchedID, Typename, CacheID string
				EntityFields                       []string
				Provider                           map[string]string
				Merged                             struct {
					ID, Email, DisplayName string
					Provider               struct{ Key, Name string }
				}
			}
		}
		script(t, "apollo4.mjs", &r)
		if !slices.Equal(r.Truth, truth) {
			t.Fatalf("the plain fetch walk: %d users, want the emulators' %d in order", len(r.Truth), len(truth))
		}
		if !slices.Equal(r.Forward, truth) || r.ForwardRequests != pages {
			t.Errorf("forward walk: %d users in %d requests, want %d in %d; first difference at %d", len(r.Forward), r.ForwardRequests, len(truth), pages, firstDiff(r.Forward, truth))
		}
		if !slices.Equal(r.Backward, truth) || r.BackwardRequests != pages {
			t.Errorf("backward walk: %d users in %d requests, want %d in %d; first difference at %d", len(r.Backward), r.BackwardRequests, len(truth), pages, firstDiff(r.Backward, truth))
		}
		// node(id) refetches the user the walk loaded, onto the same
		// normalised cache entity: User:<id>, with the walk's email and
		// the refetch's displayName, and its provider a reference.
		n := r.Node
		u := all[slices.Index(truth, n.ID)]
		if n.RefetchedID != n.ID || n.Typename != "User" || n.CacheID != "User:"+n.ID {
			t.Errorf("node(%s) refetched %q (%s), cache id %q", n.ID, n.RefetchedID, n.Typename, n.CacheID)
		}
		if !slices.Contains(n.EntityFields, "email") || !slices.Contains(n.EntityFields, "displayName") || !strings.HasPrefix(n.Provider["__ref"], "Provider:") {
			t.Errorf("cache entity %s: fields %v, provider %v; want the walk's and the refetch's fields on one entity", n.CacheID, n.EntityFields, n.Provider)
		}
		if n.Merged.Email != u.Email || n.Merged.DisplayName == "" || n.Merged.Provider.Key == "" {
			t.Errorf("readFragment(%s) = %+v, want email %s", n.CacheID, n.Merged, u.Email)
		}
	})

	// The Relay compiler compiles relay/operations.js against the schema
	// dirgate serves, checking it as Relay does (the Node interface for
	// @refetchable on User, the connection spec for @connection), and
	// relay-runtime runs the artifacts: its connection handler walks the
	// users both ways, and a refetch through node lands on the record the
	// walk stored.
	t.Run("Relay compiler and runtime", func(t *testing.T) {
		dir := t.TempDir()
		artifacts := filepath.Join(dir, "src", "__generated__")
		ops, err := os.ReadFile(filepath.Join(compatDir, "relay", "operations.js"))
		if err != nil {
			t.Fatal(err)
		}
		config, _ := json.Marshal(map[string]any{
			"src": "./src", "schema": "./schema.graphql", "language": "javascript", "artifactDirectory": "./src/__generated__",
			"eagerEsModules": false, // CommonJS artifacts, which relay.mjs requires
		})
		for name, data := range map[string][]byte{
			"schema.graphql": []byte(graph.SDL()), "relay.config.json": config, "src/operations.js": ops,
		} {
			if err := os.MkdirAll(artifacts, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cli, err := filepath.Abs(filepath.Join(compatDir, "node_modules", "relay-compiler", "cli.js"))
		if err != nil {
			t.Fatal(err)
		}
		// The compiler reads the configuration's paths from its working
		// directory.
		compiler := exec.CommandContext(t.Context(), node, cli, "relay.config.json")
		compiler.Dir = dir
		compiler.Env = append(os.Environ(), "RUST_BACKTRACE=0")
		if out, err := compiler.CombinedOutput(); err != nil {
			t.Fatalf("relay-compiler: %v\n%s", err, out)
		}
		var r struct {
			Forward, Backward                 []string
			ForwardRequests, BackwardRequests int
			Node                              struct{ ID, Typename, Email, DisplayName string }
		}
		script(t, "relay.mjs", &r, "RELAY_ARTIFACTS="+artifacts)
		if !slices.Equal(r.Forward, truth) || r.ForwardRequests != pages {
			t.Errorf("forward walk: %d users in %d requests, want %d in %d; first difference at %d", len(r.Forward), r.ForwardRequests, len(truth), pages, firstDiff(r.Forward, truth))
		}
		if !slices.Equal(r.Backward, truth) || r.BackwardRequests != pages {
			t.Errorf("backward walk: %d users in %d requests, want %d in %d; first difference at %d", len(r.Backward), r.BackwardRequests, len(truth), pages, firstDiff(r.Backward, truth))
		}
		i := slices.Index(truth, r.Node.ID)
		if i < 0 || r.Node.Typename != "User" || r.Node.Email != all[i].Email || r.Node.DisplayName == "" {
			t.Errorf("the refetched user's record: %+v, want a User with the walk's email and the refetch's displayName", r.Node)
		}
	})

	t.Run("Apollo Client 3 errorPolicy all", func(t *testing.T) {
		var r struct {
			PageSize struct {
				Outcome       string
				Data          any
				GraphQLErrors []struct{ Message, Code string }
				NetworkError  *string
			}
			PageSizeExchanges []exchange
			APQ               struct {
				Results []struct {
					Data struct{ Providers []struct{ Key string } }
				}
				Exchanges []exchange
			}
		}
		script(t, "apollo3.mjs", &r)
		p := r.PageSize
		if p.Outcome != "resolved" || p.NetworkError != nil || len(p.GraphQLErrors) != 1 || p.GraphQLErrors[0].Code != "PAGE_SIZE_LIMIT_EXCEEDED" {
			t.Errorf("users(first: 5000) with errorPolicy all: %+v, want one GraphQL error with code PAGE_SIZE_LIMIT_EXCEEDED and no network error", p)
		}
		if len(r.PageSizeExchanges) != 1 || r.PageSizeExchanges[0].Status != 200 || r.PageSizeExchanges[0].Accept != "*/*" {
			t.Errorf("exchanges %+v, want one 200 to Accept: */*", r.PageSizeExchanges)
		}
		checkAPQ(t, "Apollo Client 3", r.APQ.Exchanges, "POST", 200)
		for i, res := range r.APQ.Results {
			if len(res.Data.Providers) != 2 || res.Data.Providers[0].Key != "concur" {
				t.Errorf("Apollo Client 3, persisted query run %d: %+v", i, res.Data)
			}
		}
		if len(r.APQ.Results) != 2 {
			t.Errorf("Apollo Client 3: %d persisted query results, want 2", len(r.APQ.Results))
		}
	})

	t.Run("APQ over GET", func(t *testing.T) {
		type run struct {
			Results []struct {
				Data  struct{ Users struct{ TotalCount int } }
				Error *string
			}
			Exchanges []exchange
		}
		var r struct{ Apollo, Urql run }
		script(t, "apq.mjs", &r)
		for _, c := range []struct {
			name       string
			run        run
			register   string
			missStatus int
		}{
			// Apollo's link registers the query with a POST; urql's with
			// a GET that carries the query. Both accept
			// application/graphql-response+json, so a miss is a 400.
			{"Apollo Client 4", r.Apollo, "POST", 400},
			{"urql", r.Urql, "GET", 400},
		} {
			checkAPQ(t, c.name, c.run.Exchanges, c.register, c.missStatus)
			if len(c.run.Results) != 2 {
				t.Errorf("%s: %d results", c.name, len(c.run.Results))
			}
			for i, res := range c.run.Results {
				if res.Error != nil || res.Data.Users.TotalCount != len(truth) {
					t.Errorf("%s, run %d: totalCount %d, error %v", c.name, i, res.Data.Users.TotalCount, res.Error)
				}
			}
		}
	})

	t.Run("SDL", func(t *testing.T) {
		var r struct {
			SDLStatus                  int
			FromSDL, FromIntrospection string
		}
		script(t, "schema.mjs", &r)
		if r.SDLStatus != 200 || r.FromSDL == "" || r.FromSDL != r.FromIntrospection {
			t.Errorf("graphql-js: the schema built from /schema.graphql (%d) prints\n%s\nand the one from introspection\n%s", r.SDLStatus, r.FromSDL, r.FromIntrospection)
		}
	})
}

// exchange is one request a client made and what it got, as the
// scripts record it (common.mjs).
type exchange struct {
	Method       string
	Query        map[string]string
	Body         map[string]any
	Accept       string
	Status       int
	ContentType  string
	CacheControl string
	Vary         string
	Codes        []string
}

// checkAPQ checks a client's persisted-query exchanges for one query run
// twice: a GET by hash alone that dirgate answers PERSISTED_QUERY_NOT_FOUND
// (with missStatus), the query registered with its hash by register, and
// the second run a GET by hash alone that runs it. Every answer tells
// caches not to store it.
func checkAPQ(t *testing.T, client string, ex []exchange, register string, missStatus int) {
	t.Helper()
	if len(ex) != 3 {
		t.Fatalf("%s: %d exchanges, want 3: %+v", client, len(ex), ex)
	}
	hashOnly := func(e exchange) bool {
		return e.Method == "GET" && e.Query["query"] == "" && strings.Contains(e.Query["extensions"], `"sha256Hash"`)
	}
	if e := ex[0]; !hashOnly(e) || e.Status != missStatus || !slices.Equal(e.Codes, []string{"PERSISTED_QUERY_NOT_FOUND"}) {
		t.Errorf("%s: first request %+v, want a GET by hash answered %d PERSISTED_QUERY_NOT_FOUND", client, e, missStatus)
	}
	if e := ex[1]; e.Method != register || e.Status != 200 || len(e.Codes) != 0 {
		t.Errorf("%s: registration %+v, want a %s with the query answered 200", client, e, register)
	}
	if e := ex[2]; !hashOnly(e) || e.Status != 200 || len(e.Codes) != 0 {
		t.Errorf("%s: second run %+v, want a GET by hash alone answered 200", client, e)
	}
	for i, e := range ex {
		if e.CacheControl != "no-store" || e.Vary != "Accept, Authorization, Origin" {
			t.Errorf("%s: exchange %d: Cache-Control %q, Vary %q", client, i, e.CacheControl, e.Vary)
		}
	}
}
