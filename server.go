// Command dirgate is a GraphQL gateway over the user directories a company
// keeps in different vendors' systems.
//
// Run it with a configuration file (dirgate -config FILE, or
// DIRGATE_CONFIG=FILE), or with none to start a demo on emulated vendors.
package main

import (
	"cmp"
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
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/auth"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/internal/fleet"
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
		if errors.As(err, new(*usageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run is dirgate: it reads its configuration, wires the providers, serves
// until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	configPath := flags.String("config", getenv("DIRGATE_CONFIG"), "configuration `file` (default $DIRGATE_CONFIG; none: the demo)")
	addr := flags.String("addr", "", "listen `address` host:port, overriding server.addr")
	demoFlag := flags.Bool("demo", false, "run the demo, on emulated vendors with synthetic people (the default without a configuration); with -demo it may listen on any address, such as 0.0.0.0:8080 in a container")
	emulate := flags.Bool("emulate", false, "start only the demo's vendor emulators, on loopback, and print a configuration file for a dirgate that uses them")
	checkConfig := flags.Bool("check-config", false, "check the configuration and the environment it needs, print what it serves, and exit: 0 when dirgate would start")
	healthcheck := flags.Bool("healthcheck", false, "ask the dirgate listening at -addr (or the configuration's server.addr, else 127.0.0.1:8080) for /healthz, and exit 0 when it is healthy: a container's health check")
	version := flags.Bool("version", false, "print the version and the revision dirgate was built from, and exit")
	genKey := flags.Bool("gen-key", false, "print a new random API key and its hash for server.auth.apiKeys, and exit")
	printSchema := flags.Bool("print-schema", false, "print the GraphQL schema (SDL), as /schema.graphql serves it, and exit")
	cpuProfile := flags.String("cpuprofile", "", "write a CPU profile to `file` until dirgate stops (the load command's -profile uses it)")
	if err := parseFlags(flags, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case *version:
		fmt.Fprintln(stdout, versionLine())
		return nil
	case *printSchema:
		_, err := io.WriteString(stdout, graph.SDL())
		return err
	case *genKey:
		printKey(stdout)
		return nil
	case *healthcheck:
		return checkHealth(ctx, *addr, *configPath, getenv)
	case *emulate:
		if *configPath != "" || *demoFlag || *checkConfig {
			return usage(flags, stderr, errors.New("-emulate takes no configuration, -demo or -check-config"))
		}
		return runEmulators(ctx, stdout, stderr)
	case *demoFlag && *configPath != "":
		return usage(flags, stderr, errors.New("-demo runs without a configuration: drop -config (or unset DIRGATE_CONFIG), or drop -demo"))
	case *checkConfig && *configPath == "":
		return usage(flags, stderr, errors.New("-check-config needs a configuration: -config FILE, or DIRGATE_CONFIG"))
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	var cfg *config.Config
	var d *demo.Demo
	if *configPath == "" {
		var err error
		if d, err = demo.Start(); err != nil {
			return err
		}
		defer d.Close()
		cfg = d.Config
	} else {
		var err error
		if cfg, err = config.Load(*configPath, getenv); err != nil {
			return err
		}
	}
	if *addr != "" {
		cfg.Server.Addr = *addr
	}
	openDemo := d != nil && !config.IsLoopback(cfg.Server.Addr)
	switch {
	case openDemo && !*demoFlag:
		return fmt.Errorf("the demo has no authentication, so it serves on loopback only: to serve it on %s on purpose (its people are synthetic), run dirgate -demo -addr %s", cfg.Server.Addr, cfg.Server.Addr)
	case openDemo:
		cfg.Server.Auth.Mode = config.AuthNone
		// Its people are synthetic: callers may name it by any host.
		cfg.Server.AllowedHosts = []string{"*"}
	default:
		if err := cfg.Server.CheckListen(); err != nil {
			return err
		}
	}
	log, err := obs.NewLogger(stderr, cfg.Server.Log.Format, cfg.Server.Log.Level)
	if err != nil {
		return fmt.Errorf("config: server.log: %w", err)
	}
	tracing, err := obs.NewTracing(ctx, cfg.Server.Tracing, moduleVersion(), getenv)
	if err != nil {
		return fmt.Errorf("config: server.tracing: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tracing.Shutdown(sctx); err != nil {
			log.Warn("could not export the last spans", "err", err)
		}
	}()
	h, err := newServer(cfg, log, tracing.Tracer())
	if err != nil {
		return err
	}
	defer h.Close()
	if *checkConfig {
		printChecked(stdout, *configPath, cfg)
		return nil
	}
	if openDemo {
		log.Warn("serving the demo without authentication on an address other hosts can reach; its people are synthetic", "addr", cfg.Server.Addr)
	}
	if cfg.Server.Auth.Mode == "" && d == nil {
		log.Warn("serving without authentication, on loopback only: set server.auth.apiKeys to let callers in with keys")
	}
	if cfg.Server.Playground.Enabled && !cfg.Server.Introspection {
		log.Warn("the playground is on but introspection is off: it will have no docs or completion")
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	srv, conns := newHTTPServer(&cfg.Server, h, log)
	srv.RegisterOnShutdown(func() { log.Info("stopped accepting connections") })
	base, bound := baseURL(ln.Addr()), listenAddr(cfg.Server.Addr, ln.Addr())
	ln = conns.Listener(ln)
	listening(log, bound, base, &cfg.Server)
	if cfg.Server.Log.Format == "text" {
		// In JSON mode the log line above says it all, on one stream.
		printWelcome(stdout, base, bound, d, &cfg.Server)
	}
	h.ready.ProbeDown() // so that /readyz turns ready without traffic

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.LogAttrs(ctx, slog.LevelInfo, "shutting down: waiting for in-flight requests", obs.Millis("bound", cfg.Server.ShutdownTimeout))
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

// readTimeout bounds reading a request, headers and body. The body of a
// request that does not authenticate is never waited for; without API
// keys, where no request authenticates, the body must come within
// unauthBodyTimeout.
const (
	readTimeout       = 30 * time.Second
	unauthBodyTimeout = 10 * time.Second
)

// newHTTPServer returns the HTTP server of handler h, with its connections
// bounded (server.limits.connections; a connection whose last request did
// not authenticate is closed once idle for a few seconds). Serve it on the
// returned Conns' Listener.
func newHTTPServer(s *config.Server, h http.Handler, log *slog.Logger) (*http.Server, *limits.Conns) {
	conns := &limits.Conns{Max: s.Limits.Connections}
	return &http.Server{
		Handler: h,
		// Before its headers are read, no request has authenticated.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		// Longer than the request deadline, so that a request that runs
		// out of time still gets its answer.
		WriteTimeout: s.RequestTimeout + 10*time.Second,
		IdleTimeout:  120 * time.Second,
		ConnState:    conns.ConnState,
		ConnContext:  conns.ConnContext,
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}, conns
}

// newServer wires the providers named in cfg and returns dirgate's one
// HTTP handler (see surface for auth, limits, health, metrics, logs).
func newServer(cfg *config.Config, log *slog.Logger, tracer trace.Tracer) (_ *server, err error) {
	sf := newSurface(cfg, log, tracer)
	log = sf.log // with request ids
	if err := sf.openRedis(cfg); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil && sf.redis != nil {
			sf.redis.Close()
		}
	}()
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
	}}))
	gql.AddTransport(graph.HTTP{})
	cache := lru.New[*ast.QueryDocument](1000)
	gql.SetQueryCache(cache)
	sf.graphql(gql, graph.NewCosts(dir, cfg.Server.DefaultPageSize), cache)
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
	return &server{Handler: sf.wrap(withCORS(cfg.Server.CORS.AllowedOrigins, mux)), ready: sf.ready, redis: sf.redis}, nil
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
			HTTP:    &http.Client{Transport: sf.metrics.Transport(p.Key, vendorhttp.IsTokenRequest, sf.log, sf.tracer, base)},
			Now:     cfg.Now,
			Ceiling: p.MaxResponseBytes,
			Bodies:  bodies,
		})}
		opts := &providers.SourceOptions{
			Timeout: p.Timeout, MaxConcurrency: p.MaxConcurrency, CacheTTL: p.CacheTTL, MaxStale: p.MaxStale,
			Now: cfg.Now, Logger: log, Observer: sf.metrics,
		}
		if sf.redis != nil { // several replicas: tokens, copies and budgets in Redis
			env.Tokens = sf.redis.Tokens(p.Key)
			d := sf.redis.Directory(p.Key, max(p.MaxStale, p.CacheTTL), cfg.Now)
			opts.Shared = d
			if k.Whole {
				opts.Snapshots = d
			}
		}
		drv, err := k.Open(p.Settings, env)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Key, err)
		}
		src, err := providers.NewSource(providers.Info{Key: p.Key, Kind: p.Kind, Name: p.Name}, drv, opts)
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
	}
	return providers.NewDirectory(sources...)
}

// baseURL is the URL dirgate serves at, as a browser on this host opens
// it: an address that means "every interface" (0.0.0.0, ::) becomes
// localhost.
func baseURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// listenAddr is the configured listen address with the port the listener
// got (Go reports 0.0.0.0 as [::]).
func listenAddr(configured string, a net.Addr) string {
	host, _, err1 := net.SplitHostPort(configured)
	_, port, err2 := net.SplitHostPort(a.String())
	if err1 != nil || err2 != nil {
		return a.String()
	}
	return net.JoinHostPort(host, port)
}

// everywhere reports whether the listen address addr means every
// interface.
func everywhere(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

// listening logs where dirgate serves, as one structured line, at info
// level but whatever the level configured: like the text banner, it is
// what an operator looks for first.
func listening(log *slog.Logger, addr, base string, s *config.Server) {
	attrs := []slog.Attr{slog.String("addr", addr), slog.String("graphql", base+"/query")}
	if s.Playground.Enabled {
		attrs = append(attrs, slog.String("playground", base+s.Playground.Path))
	}
	if s.Introspection || s.SchemaSDL {
		attrs = append(attrs, slog.String("schema", base+"/schema.graphql"))
	}
	attrs = append(attrs, slog.String("health", base+"/healthz"), slog.String("ready", base+"/readyz"), slog.String("metrics", base+"/metrics"),
		slog.String("auth", cmp.Or(s.Auth.Mode, config.AuthNone)), slog.Bool("tracing", s.Tracing.Enabled))
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "listening", 0)
	r.AddAttrs(attrs...)
	log.Handler().Handle(context.Background(), r)
}

func printWelcome(w io.Writer, base, addr string, d *demo.Demo, s *config.Server) {
	if d != nil {
		fmt.Fprintf(w, "dirgate demo: no configuration, so these directories of synthetic people are emulated on\n"+
			"loopback, and the real adapters read them (people in more than one are linked by email):\n\n")
		for _, line := range d.Summary() {
			fmt.Fprintf(w, "  %s\n", line)
		}
		fmt.Fprintf(w, "\n(dirgate -emulate runs only these emulators, and prints a configuration file that uses them.)\n\n")
	}
	fmt.Fprintf(w, "GraphQL:    %s/query\n", base)
	if s.Playground.Enabled {
		fmt.Fprintf(w, "Playground: %s%s\n", base, s.Playground.Path)
	}
	if s.Introspection || s.SchemaSDL {
		fmt.Fprintf(w, "Schema:     %s/schema.graphql\n", base)
	}
	fmt.Fprintf(w, "Health:     %s/healthz\nReady:      %s/readyz\nMetrics:    %s/metrics\n\n", base, base, base)
	if everywhere(addr) {
		fmt.Fprintf(w, "Listening on every interface (%s): from other hosts, use this host's name or address.\n\n", addr)
	}
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
	redis *fleet.Redis // nil for a single replica
}

// Close stops the readiness probes and closes the connection to Redis.
func (s *server) Close() {
	s.ready.Close()
	if s.redis != nil {
		s.redis.Close()
	}
}

// surface is what a platform team sees of dirgate besides the GraphQL
// API: caller auth, limits, health, metrics and logs.
type surface struct {
	cfg       *config.Server
	log       *slog.Logger
	metrics   *obs.Metrics
	tracer    trace.Tracer
	ready     *health.Checker
	providers []string     // keys, in order
	redis     *fleet.Redis // the state shared with other replicas; nil for one
	apq       graphql.Cache[string]
}

func newSurface(cfg *config.Config, log *slog.Logger, tracer trace.Tracer) *surface {
	cfg.Server.SetDefaults() // a configuration built in code has none
	log = slog.New(obs.Handler(log.Handler()))
	return &surface{cfg: &cfg.Server, log: log, metrics: obs.NewMetrics(), tracer: tracer, apq: limits.PersistedQueries(cfg.Server.APQ.CacheSize)}
}

// openRedis connects to the state shared with the other replicas, when
// the configuration has a redis block: persisted queries go there too.
func (sf *surface) openRedis(cfg *config.Config) error {
	rc := cfg.Redis
	if !rc.Configured() {
		return nil
	}
	rc.SetDefaults() // a configuration built in code has none
	key, err := cfg.SealingKey()
	if err != nil {
		return fmt.Errorf("config: redis: %w", err)
	}
	r, err := fleet.Open(fleet.Config{URL: rc.URL, KeyPrefix: rc.KeyPrefix, Timeout: rc.Timeout, Key: key},
		&fleet.Options{Now: cfg.Now, Log: sf.log})
	if err != nil {
		return fmt.Errorf("config: redis: %w", err)
	}
	sf.redis = r
	sf.metrics.Registry().MustRegister(r.Collectors()...)
	sf.apq = r.APQ(sf.apq, fleet.APQOptions{TTL: rc.APQTTL, Size: sf.cfg.APQ.CacheSize, MaxBytes: limits.MaxPersistedQueryBytes})
	return nil
}

// watch starts tracking the directory's providers: their readiness and
// their rate budgets.
func (sf *surface) watch(dir *providers.Directory) {
	var targets []health.Target
	for _, s := range dir.Sources() {
		sf.providers = append(sf.providers, s.Key)
		targets = append(targets, health.SourceTarget(s))
		sf.metrics.Provider(s.Key)
		sf.metrics.RateBudget(s.Key, func() (limit, remaining int, ok bool) {
			if rl := s.Status().RateLimit; rl != nil {
				return rl.Limit, rl.Remaining, true
			}
			return 0, 0, false
		})
	}
	opts := health.Options{
		DegradedReady: sf.cfg.Readiness.WhenDegraded == config.DegradedReady,
		MinUp:         *sf.cfg.Readiness.MinProvidersUp,
		ProbeInterval: sf.cfg.Readiness.ProbeInterval,
		Log:           sf.log,
	}
	if sf.redis != nil {
		opts.Shared = sf.redis
	}
	sf.ready = health.New(targets, opts)
	sf.metrics.Registry().MustRegister(sf.ready.Collectors()...)
}

// graphql adds the limits, introspection, persisted queries and metrics to
// the GraphQL server. The extensions run in this order, so the first limit
// broken is the one reported: the field limits before validation, the
// others after it; costs prices fields for the complexity and vendor-call
// limits.
func (sf *surface) graphql(gql gqlServer, costs limits.Model, cache graphql.Cache[*ast.QueryDocument]) {
	l := sf.cfg.Limits
	gql.SetParserTokenLimit(l.Tokens)
	// "Did you mean ...?" would name the fields introspection hides.
	gql.SetDisableSuggestion(!sf.cfg.Introspection)
	gql.Use(sf.metrics.GraphQL(sf.tracer))
	gql.Use(graph.PersistedQueries{Cache: sf.apq})
	gql.Use(limits.Fields{Max: l.Fields, Repeats: l.FieldRepeats, TokenLimit: l.Tokens, Cache: cache})
	if sf.cfg.Introspection {
		gql.Use(extension.Introspection{})
	} else {
		gql.Use(limits.NoIntrospection{})
	}
	gql.Use(limits.Depth{Max: l.Depth})
	gql.Use(limits.PageSize{Max: sf.cfg.MaxPageSize, Fields: []string{"Query.users"}})
	gql.Use(limits.Complexity{Model: costs, Points: l.Complexity, Calls: l.VendorCalls})
}

// readDeadline sets the connection's read deadline d from now; d zero
// clears it. Once a request's body is read, net/http reads its connection
// only to notice the caller leaving, and a read deadline that passes then
// would end the request's context, and that of every later request on
// the connection: so query clears it there.
func readDeadline(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var t time.Time
		if d > 0 {
			t = time.Now().Add(d)
		}
		http.NewResponseController(w).SetReadDeadline(t)
		next.ServeHTTP(w, r)
	})
}

// gqlServer is what graphql configures: gqlgen's handler.Server, or its
// executor alone (the worst-case search and benchmarks drive that).
type gqlServer interface {
	Use(graphql.HandlerExtension)
	SetParserTokenLimit(int)
	SetDisableSuggestion(bool)
}

// query wraps the GraphQL endpoint: callers authenticate first, then wait
// for no one (beyond server.limits.inFlight requests at once: 503), then
// the body's bytes and JSON values are bounded, then the request gets its
// deadline and its vendor-call budget.
func (sf *surface) query(next http.Handler) (http.Handler, error) {
	l := sf.cfg.Limits
	h := limits.Deadline(sf.cfg.RequestTimeout, limits.CallBudget(l.VendorCalls, next))
	if sf.redis != nil {
		h = sf.redis.Middleware(obs.Annotate, h) // each request's Redis budget
	}
	return sf.authed("query", limits.InFlight(l.InFlight, limits.Body(l.BodyBytes, readDeadline(0, limits.JSONValues(l.Tokens, h)))))
}

// authed lets only the callers of /query reach h, and counts its requests
// under route; every answer, a 401 included, has the caching headers of
// GraphQL answers. Without API keys, where no request authenticates, the
// body must come within unauthBodyTimeout. With them, an authenticated
// request has the server's readTimeout for its body, and one that does
// not authenticate gets its 401 and its connection closed, without its
// body being waited for: its read deadline passes once the 401 is written.
// (Not before: for a request without a body, net/http is already reading
// the connection, and a deadline that passes ends the connection's
// context, and so that of the request and of every later one on it.)
func (sf *surface) authed(route string, h http.Handler) (http.Handler, error) {
	if sf.cfg.Auth.Mode != config.AuthAPIKey {
		h = readDeadline(unauthBodyTimeout, h)
	} else {
		keys, err := auth.NewAPIKeys(sf.cfg.Auth.APIKeys, sf.log)
		if err != nil {
			return nil, err
		}
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			passed := false
			keys.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				passed = true
				w.Header().Del("Connection")
				limits.Authenticated(r.Context())
				obs.Annotate(r.Context(), slog.String("key", auth.KeyID(r.Context())))
				inner.ServeHTTP(w, r)
			})).ServeHTTP(w, r)
			if !passed {
				http.NewResponseController(w).SetReadDeadline(time.Now())
			}
		})
	}
	return sf.metrics.Route(route, graph.CacheHeaders(sf.cfg.CacheControl, h)), nil
}

// routes adds readiness, metrics and, when configured, the playground.
func (sf *surface) routes(mux *http.ServeMux) {
	mux.Handle("GET /readyz", sf.metrics.Route("readyz", sf.ready))
	mux.Handle("GET /metrics", sf.metrics.Route("metrics", sf.metrics.Handler()))
	if p := sf.cfg.Playground; p.Enabled {
		h := sf.metrics.Route("playground", playground.New(playground.Options{
			Endpoint: "/query", Title: "dirgate", AuthHeader: sf.cfg.Auth.Mode == config.AuthAPIKey, Providers: sf.providers,
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

// wrap is the outermost layer: request ids and the request log, then the
// Host check (DNS rebinding): without API keys, only loopback names and
// server.allowedHosts; with them, server.allowedHosts when set. Probes
// and scrapes are not checked.
func (sf *surface) wrap(h http.Handler) http.Handler {
	probes := []string{"/healthz", "/readyz", "/metrics"}
	h = limits.Hosts(sf.cfg.AllowedHosts, sf.cfg.Auth.Mode != config.AuthAPIKey, probes, h)
	return obs.Requests(sf.log, obs.Quiet(probes), h)
}

// printKey prints a new API key and the line that lets it in.
func printKey(w io.Writer) {
	key, hash := auth.GenerateKey()
	fmt.Fprintf(w, "API key (give it to the caller; dirgate does not keep it):\n\n  %s\n\n"+
		"Its hash, for the configuration:\n\n  server:\n    auth:\n      apiKeys:\n        - %s\n", key, hash)
}

// usageError is a command line dirgate cannot read.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }

func (e *usageError) Unwrap() error { return e.err }

// parseFlags reads args: -help prints the usage to stdout and returns
// flag.ErrHelp; a flag dirgate does not know, or any argument that is not
// a flag (dirgate takes none), prints the usage to stderr and returns a
// *usageError.
func parseFlags(flags *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	err := flags.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(flags, stdout)
		return err
	case err != nil:
		return usage(flags, stderr, err)
	case flags.NArg() > 0:
		arg := flags.Arg(0)
		hint := "dirgate takes no arguments, only flags, and flags go first"
		if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") {
			hint = "a configuration file is given as -config " + arg
		}
		return usage(flags, stderr, fmt.Errorf("unexpected argument %q: %s", arg, hint))
	}
	return nil
}

// usage prints the usage to w, and returns err as a *usageError.
func usage(flags *flag.FlagSet, w io.Writer, err error) error {
	printUsage(flags, w)
	fmt.Fprintln(w)
	return &usageError{err}
}

func printUsage(flags *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, "Usage: dirgate [flags]\n\n"+
		"dirgate is a GraphQL gateway over the user directories a company keeps in vendors' systems.\n"+
		"With no configuration it runs a demo on emulated vendors.\n\n"+
		"  dirgate                             the demo, on 127.0.0.1:8080\n"+
		"  dirgate -demo -addr 0.0.0.0:8080    the demo, on purpose on every interface (synthetic data only)\n"+
		"  dirgate -emulate                    only the demo's vendor emulators, and a configuration that uses them\n"+
		"  dirgate -config dirgate.yaml        dirgate on your directories\n"+
		"  dirgate -check-config -config dirgate.yaml\n\nFlags:\n")
	flags.SetOutput(w)
	flags.PrintDefaults()
	flags.SetOutput(io.Discard)
}

// versionLine is dirgate's version as the build recorded it: the module
// version (go install ...@v1.2.3, or a pseudo-version that go build
// derives from the VCS) and the VCS revision, time and whether the tree
// had uncommitted changes.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dirgate (no build information)"
	}
	version := cmp.Or(bi.Main.Version, "(devel)")
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	line := "dirgate " + version
	if rev != "" {
		line += " (revision " + rev
		if at != "" {
			line += " of " + at
		}
		if modified {
			line += ", with uncommitted changes"
		}
		line += ")"
	}
	return line + " " + bi.GoVersion + " " + goruntime.GOOS + "/" + goruntime.GOARCH
}

// moduleVersion is the module version the build recorded: v1.2.3, a
// pseudo-version, or (devel).
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// checkHealth asks the dirgate at addr (else the configuration's
// server.addr, else the default) for /healthz: the health check of a
// container whose image has no curl.
func checkHealth(ctx context.Context, addr, configPath string, getenv func(string) string) error {
	if addr == "" && configPath != "" {
		cfg, err := config.Load(configPath, getenv)
		if err != nil {
			return err
		}
		addr = cfg.Server.Addr
	}
	host, port, err := net.SplitHostPort(cmp.Or(addr, config.DefaultAddr))
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := "http://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		return fmt.Errorf("healthcheck: %s answered %s", u, resp.Status)
	}
	return nil
}

// runEmulators starts the demo's vendor emulators, prints a configuration
// file that uses them, and serves until ctx is done.
func runEmulators(ctx context.Context, stdout, stderr io.Writer) error {
	d, err := demo.Start()
	if err != nil {
		return err
	}
	defer d.Close()
	io.WriteString(stdout, d.YAML)
	fmt.Fprintf(stderr, "dirgate -emulate: the vendor emulators run until you stop this command (Ctrl-C):\n")
	for _, line := range d.Summary() {
		fmt.Fprintf(stderr, "  %s\n", line)
	}
	fmt.Fprintf(stderr, "Save the configuration above (dirgate -emulate > demo.yaml), and in another shell run\n  dirgate -config demo.yaml\n")
	<-ctx.Done()
	return nil
}

// printChecked says what a checked configuration would serve.
func printChecked(w io.Writer, path string, cfg *config.Config) {
	var keys []string
	for _, p := range cfg.Providers {
		keys = append(keys, p.Key+" ("+p.Kind+")")
	}
	auth := "no authentication, loopback only"
	switch cfg.Server.Auth.Mode {
	case config.AuthAPIKey:
		auth = fmt.Sprintf("%d API key(s)", len(cfg.Server.Auth.APIKeys))
	case config.AuthNone:
		auth = "no authentication, on purpose"
	}
	fmt.Fprintf(w, "%s: ok: %d providers: %s; listens on %s with %s\n", path, len(cfg.Providers), strings.Join(keys, ", "), cfg.Server.Addr, auth)
}
