// Command dirgate is a GraphQL gateway over the user directories a company
// keeps in different vendors' systems.
//
// Run it with a configuration file (dirgate -config FILE, or
// DIRGATE_CONFIG=FILE), or with none to start a demo on emulated vendors.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/health"
	"github.com/dirgate/dirgate/internal/limits"
	"github.com/dirgate/dirgate/internal/obs"
	"github.com/dirgate/dirgate/internal/playground"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/kinds"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal starts a graceful shutdown, a second one
		// kills dirgate at once.
		<-ctx.Done()
		stop()
	}()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dirgate:", err)
		os.Exit(1)
	}
}

// run is dirgate: it reads its configuration, wires the providers, serves
// until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", getenv("DIRGATE_CONFIG"), "configuration `file` (default $DIRGATE_CONFIG; none: demo on emulated vendors)")
	addr := flags.String("addr", "", "listen `address` host:port, overriding server.addr")
	genKey := flags.Bool("gen-key", false, "print a new random API key and its hash for server.auth.apiKeys, and exit")
	printSchema := flags.Bool("print-schema", false, "print the GraphQL schema (SDL), as /schema.graphql serves it, and exit")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	if *printSchema {
		_, err := io.WriteString(stdout, graph.SDL())
		return err
	}
	if *genKey {
		printKey(stdout)
		return nil
	}

	var cfg *config.Config
	if *configPath == "" {
		d, err := demo.Start()
		if err != nil {
			return err
		}
		defer d.Close()
		cfg = d.Config
	} else {
		data, err := os.ReadFile(*configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if cfg, err = config.Parse(data, getenv); err != nil {
			return err
		}
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	cfg.Server.SetDefaults()
	if err := cfg.Server.CheckListen(); err != nil {
		return err
	}
	log, err := obs.NewLogger(stderr, cfg.Server.Log.Format, cfg.Server.Log.Level)
	if err != nil {
		return fmt.Errorf("config: server.log: %w", err)
	}
	if cfg.Server.Auth.Mode == "" && *configPath != "" {
		log.Warn("serving without authentication, on loopback only: set server.auth.apiKeys to let callers in with keys")
	}
	if cfg.Server.Playground.Enabled && !cfg.Server.Introspection {
		log.Warn("the playground is on but introspection is off: it will have no docs or completion")
	}

	h, err := newServer(cfg, log)
	if err != nil {
		return err
	}
	defer h.ready.Close()
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// Longer than the request deadline, so that a request that runs
		// out of time still gets its answer.
		WriteTimeout: cfg.Server.RequestTimeout + 10*time.Second,
		IdleTimeout:  120 * time.Second,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(func() {
		log.Info("stopped accepting; waiting for in-flight requests", "bound", cfg.Server.ShutdownTimeout)
	})
	printWelcome(stdout, "http://"+ln.Addr().String(), *configPath == "", &cfg.Server)
	h.ready.ProbeDown() // so that /readyz turns ready without traffic

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish within server.shutdownTimeout; closing their connections")
		srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer wires the providers named in cfg and returns dirgate's one
// HTTP handler (see surface.go for auth, limits, health, metrics, logs).
func newServer(cfg *config.Config, log *slog.Logger) (*server, error) {
	sf := newSurface(cfg, log)
	log = sf.log // with request ids
	dir, err := newDirectory(cfg, log, sf)
	if err != nil {
		return nil, err
	}
	sf.watch(dir)
	secret := []byte(cfg.Server.CursorSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	gql := handler.New(graph.NewExecutableSchema(graph.Config{Schema: graph.Schema(), Resolvers: &graph.Resolver{
		Dir:             dir,
		Cursors:         relay.NewCursors(secret),
		Logger:          log,
		DefaultPageSize: cfg.Server.DefaultPageSize,
		MaxPageSize:     cfg.Server.MaxPageSize,
	}, Complexity: graph.Complexity(cfg.Server.DefaultPageSize)}))
	gql.AddTransport(graph.HTTP{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	sf.graphql(gql)
	gql.SetErrorPresenter(graph.PresentError(log))
	gql.SetRecoverFunc(graph.Recover(log))

	query, err := sf.query(loader.Middleware(dir, gql))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/query", query)
	if cfg.Server.Introspection || cfg.Server.SchemaSDL {
		sdl, err := sf.authed("schema", graph.SDLHandler())
		if err != nil {
			return nil, err
		}
		mux.Handle("GET /schema.graphql", sdl)
	}
	sf.routes(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return &server{Handler: sf.wrap(withCORS(cfg.Server.CORS.AllowedOrigins, mux)), ready: sf.ready}, nil
}

// withCORS lets the listed origins read dirgate's answers from a browser,
// and no other. (rs/cors allows every origin when given none, which would
// let any web page its operator visits read the directory.)
func withCORS(origins []string, h http.Handler) http.Handler {
	if len(origins) == 0 {
		return h
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Authorization"},
	}).Handler(h)
}

// newDirectory builds each configured provider's adapter from the kinds
// table, explicitly, and puts them behind the portable layer in configured
// order.
func newDirectory(cfg *config.Config, log *slog.Logger, sf *surface) (*providers.Directory, error) {
	base := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	bodies := vendorhttp.NewBodyBudget(vendorhttp.DefaultInFlight) // shared by every provider
	var sources []*providers.Source
	for _, p := range cfg.Providers {
		k, ok := kinds.Lookup(p.Kind)
		if !ok {
			return nil, fmt.Errorf("provider %s: unknown kind %q", p.Key, p.Kind)
		}
		env := vendorhttp.Env{HTTP: vendorhttp.New(vendorhttp.Options{
			HTTP:    &http.Client{Transport: sf.metrics.Transport(p.Key, vendorhttp.IsTokenRequest, sf.log, base)},
			Now:     cfg.Now,
			Ceiling: p.MaxResponseBytes,
			Bodies:  bodies,
		})}
		drv, err := k.Open(p.Settings, env)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Key, err)
		}
		src, err := providers.NewSource(providers.Info{Key: p.Key, Kind: p.Kind, Name: p.Name}, drv, &providers.SourceOptions{
			Timeout: p.Timeout, MaxConcurrency: p.MaxConcurrency, CacheTTL: p.CacheTTL, MaxStale: p.MaxStale,
			Now: cfg.Now, Logger: log, Observer: sf.metrics,
		})
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
	}
	return providers.NewDirectory(sources...)
}

func printWelcome(w io.Writer, base string, demoMode bool, s *config.Server) {
	if demoMode {
		fmt.Fprintf(w, "dirgate demo: no configuration, so SAP Concur Identity v4.1 (%d users), getbill (%d users, %d of them\n"+
			"also in Concur) and a team chat's SCIM 2.0 directory (%d users, %d of them also in Concur or getbill)\n"+
			"are emulated on loopback, and the real adapters talk to them over HTTP; %d contractors (%d of them\n"+
			"also in Concur or getbill) are read from a CSV file.\n\n",
			demo.ConcurUsers, demo.GetbillUsers, demo.SharedUsers, demo.ChatUsers, demo.ChatFromConcur+demo.ChatFromGetbill,
			demo.ContractorUsers, 2*demo.SharedContractors)
	}
	fmt.Fprintf(w, "GraphQL:    %s/query\n", base)
	if s.Playground.Enabled {
		fmt.Fprintf(w, "Playground: %s%s\n", base, s.Playground.Path)
	}
	if s.Introspection || s.SchemaSDL {
		fmt.Fprintf(w, "Schema:     %s/schema.graphql\n", base)
	}
	fmt.Fprintf(w, "Health:     %s/healthz\nReady:      %s/readyz\nMetrics:    %s/metrics\n\n", base, base, base)
	if s.Auth.Mode == config.AuthAPIKey {
		fmt.Fprintf(w, "Callers need an API key: Authorization: Bearer <key>.\n\n")
	}
	if s.Playground.Enabled {
		fmt.Fprintf(w, "A first query to paste into the playground:\n\n"+
			"  { users(first: 5) { totalCount pageInfo { hasNextPage endCursor }\n"+
			"      edges { node { displayName email active provider { key } } } } }\n\n"+
			"or with curl:\n\n")
	} else {
		fmt.Fprintf(w, "A first query, with curl:\n\n")
	}
	key := ""
	if s.Auth.Mode == config.AuthAPIKey {
		key = " -H 'Authorization: Bearer <key>'"
	}
	fmt.Fprintf(w, "  curl -s %s/query -H 'Content-Type: application/json'%s \\\n"+
		"    -d '{\"query\":\"{ users(first: 5) { totalCount edges { node { displayName email provider { key } } } } }\"}'\n\n", base, key)
}

// server is dirgate's one HTTP handler, and the readiness checker run
// starts and stops.
type server struct {
	http.Handler
	ready *health.Checker
}

// newHandler wires the providers named in cfg and returns dirgate's one
// HTTP handler.
func newHandler(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
	s, err := newServer(cfg, log)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// surface is what a platform team sees of dirgate besides the GraphQL
// API: caller auth, limits, health, metrics and logs.
type surface struct {
	cfg     *config.Server
	log     *slog.Logger
	metrics *obs.Metrics
	ready   *health.Checker
}

func newSurface(cfg *config.Config, log *slog.Logger) *surface {
	cfg.Server.SetDefaults() // a configuration built in code has none
	log = slog.New(obs.WithRequestID(log.Handler()))
	return &surface{cfg: &cfg.Server, log: log, metrics: obs.NewMetrics()}
}

// watch starts tracking the directory's providers: their readiness and
// their rate budgets.
func (sf *surface) watch(dir *providers.Directory) {
	var targets []health.Target
	for _, s := range dir.Sources() {
		targets = append(targets, health.SourceTarget(s))
		sf.metrics.Provider(s.Key)
		sf.metrics.RateBudget(s.Key, func() (limit, remaining int, ok bool) {
			if rl := s.Status().RateLimit; rl != nil {
				return rl.Limit, rl.Remaining, true
			}
			return 0, 0, false
		})
	}
	sf.ready = health.New(targets, health.Options{
		DegradedReady: sf.cfg.Readiness.WhenDegraded == config.DegradedReady,
		ProbeInterval: sf.cfg.Readiness.ProbeInterval,
		Log:           sf.log,
	})
	sf.metrics.Registry().MustRegister(sf.ready.Collectors()...)
}

// graphql adds the limits, introspection, persisted queries and metrics to
// the GraphQL server. The operation context mutators run in this order,
// so the first limit broken is the one reported.
func (sf *surface) graphql(gql *handler.Server) {
	l := sf.cfg.Limits
	gql.SetParserTokenLimit(l.Tokens)
	gql.Use(sf.metrics.GraphQL())
	gql.Use(graph.PersistedQueries{Cache: limits.PersistedQueries(sf.cfg.APQ.CacheSize)})
	if sf.cfg.Introspection {
		gql.Use(extension.Introspection{})
	} else {
		gql.Use(limits.NoIntrospection{})
	}
	gql.Use(limits.Depth{Max: l.Depth})
	gql.Use(limits.PageSize{Max: sf.cfg.MaxPageSize, Fields: []string{"Query.users"}})
	gql.Use(extension.FixedComplexityLimit(l.Complexity))
}

// query wraps the GraphQL endpoint: callers authenticate first, then the
// body is bounded, then the request gets its deadline.
func (sf *surface) query(next http.Handler) (http.Handler, error) {
	return sf.authed("query", limits.Body(sf.cfg.Limits.BodyBytes, limits.Deadline(sf.cfg.RequestTimeout, next)))
}

// authed lets only the callers of /query reach h, and counts its requests
// under route; every answer, a 401 included, has the caching headers of
// GraphQL answers.
func (sf *surface) authed(route string, h http.Handler) (http.Handler, error) {
	if sf.cfg.Auth.Mode == config.AuthAPIKey {
		keys, err := auth.NewAPIKeys(sf.cfg.Auth.APIKeys, sf.log)
		if err != nil {
			return nil, err
		}
		inner := h
		h = keys.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			obs.Annotate(r.Context(), slog.String("key", auth.KeyID(r.Context())))
			inner.ServeHTTP(w, r)
		}))
	}
	return sf.metrics.Route(route, graph.CacheHeaders(sf.cfg.CacheControl, h)), nil
}

// routes adds readiness, metrics and, when configured, the playground.
func (sf *surface) routes(mux *http.ServeMux) {
	mux.Handle("GET /readyz", sf.metrics.Route("readyz", sf.ready))
	mux.Handle("GET /metrics", sf.metrics.Route("metrics", sf.metrics.Handler()))
	if p := sf.cfg.Playground; p.Enabled {
		h := sf.metrics.Route("playground", playground.New(playground.Options{
			Endpoint: "/query", Title: "dirgate", AuthHeader: sf.cfg.Auth.Mode == config.AuthAPIKey,
		}))
		if prefix := strings.TrimSuffix(p.Path, "/"); prefix != "" {
			mux.Handle("GET "+prefix+"/", http.StripPrefix(prefix, h))
		} else {
			// The page and its assets, and no catch-all that would
			// shadow /query for GET.
			mux.Handle("GET /{$}", h)
			mux.Handle("GET /assets/", h)
		}
	}
}

// wrap is the outermost layer: request ids and the request log.
func (sf *surface) wrap(h http.Handler) http.Handler {
	return obs.Requests(sf.log, obs.Quiet{"/healthz", "/readyz", "/metrics"}, h)
}

// printKey prints a new API key and the line that lets it in.
func printKey(w io.Writer) {
	key, hash := auth.GenerateKey()
	fmt.Fprintf(w, "API key (give it to the caller; dirgate does not keep it):\n\n  %s\n\n"+
		"Its hash, for the configuration:\n\n  server:\n    auth:\n      apiKeys:\n        - %s\n", key, hash)
}
