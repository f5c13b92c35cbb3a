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
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/dirgate/dirgate/graph"
	"github.com/dirgate/dirgate/graph/loader"
	"github.com/dirgate/dirgate/graph/relay"
	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/demo"
	"github.com/dirgate/dirgate/providers"
	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/getbill"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dirgate:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds how long in-flight requests may take to finish
// once dirgate is told to stop.
const shutdownTimeout = 10 * time.Second

// run is dirgate: it reads its configuration, wires the providers, serves
// until ctx is done, then shuts down gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet(args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", getenv("DIRGATE_CONFIG"), "configuration `file` (default $DIRGATE_CONFIG; none: demo on emulated vendors)")
	addr := flags.String("addr", "", "listen `address` host:port, overriding server.addr")
	if err := flags.Parse(args[1:]); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

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

	h, err := newHandler(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	printWelcome(stdout, "http://"+ln.Addr().String(), *configPath == "")

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler wires the providers named in cfg and returns dirgate's one
// HTTP handler.
func newHandler(cfg *config.Config, log *slog.Logger) (http.Handler, error) {
	dir, err := newDirectory(cfg)
	if err != nil {
		return nil, err
	}
	secret := []byte(cfg.Server.CursorSecret)
	if len(secret) == 0 {
		secret = make([]byte, 32)
		rand.Read(secret)
	}
	gql := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{
		Dir:             dir,
		Cursors:         relay.NewCursors(secret),
		Logger:          log,
		DefaultPageSize: cfg.Server.DefaultPageSize,
		MaxPageSize:     cfg.Server.MaxPageSize,
	}}))
	gql.AddTransport(transport.Options{})
	gql.AddTransport(transport.GET{})
	gql.AddTransport(transport.POST{})
	gql.AddTransport(graph.Unsupported{})
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.Introspection{})
	gql.SetErrorPresenter(graph.PresentError(log))
	gql.SetRecoverFunc(graph.Recover(log))

	mux := http.NewServeMux()
	mux.Handle("/query", loader.Middleware(dir, gql))
	mux.Handle("GET /{$}", playground.Handler("dirgate", "/query"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	return cors.New(cors.Options{
		AllowedOrigins: cfg.Server.CORS.AllowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost},
		AllowedHeaders: []string{"Content-Type", "Authorization"},
	}).Handler(mux), nil
}

// newDirectory builds each configured provider's adapter, explicitly, and
// puts them behind the portable layer in configured order.
func newDirectory(cfg *config.Config) (*providers.Directory, error) {
	httpClient := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}}
	var sources []*providers.Source
	for _, p := range cfg.Providers {
		var (
			impl providers.Provider
			err  error
		)
		opts := &providers.SourceOptions{Timeout: p.Timeout}
		switch p.Kind {
		case "concur":
			impl, err = concur.New(concur.Config{
				TokenURL: p.TokenURL, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
				CompanyUUID: p.CompanyUUID, RequestToken: p.RequestToken, TokenStore: p.TokenStore,
				PageSize: p.PageSize,
			}, &concur.Options{HTTPClient: httpClient})
		case "getbill":
			impl, err = getbill.New(getbill.Config{
				BaseURL: p.BaseURL, Token: p.Token, ClientID: p.ClientID, ClientSecret: p.ClientSecret,
			}, &getbill.Options{HTTPClient: httpClient})
			opts.CacheTTL = p.CacheTTL
		default:
			err = fmt.Errorf("unknown kind %q", p.Kind)
		}
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Key, err)
		}
		sources = append(sources, providers.NewSource(providers.Info{Key: p.Key, Kind: p.Kind, Name: p.Name}, impl, opts))
	}
	return providers.NewDirectory(sources...)
}

func printWelcome(w io.Writer, base string, demoMode bool) {
	if demoMode {
		fmt.Fprintf(w, "dirgate demo: no configuration, so SAP Concur (%d users) and getbill (%d users, %d of them also in Concur)\n"+
			"are emulated on loopback, and the real adapters talk to them over HTTP.\n\n",
			demo.ConcurUsers, demo.GetbillUsers, demo.SharedUsers)
	}
	fmt.Fprintf(w, "GraphQL:    %s/query\nPlayground: %s/\nHealth:     %s/healthz\n\n", base, base, base)
	fmt.Fprintf(w, "A first query to paste into the playground:\n\n"+
		"  { users(first: 5) { totalCount pageInfo { hasNextPage endCursor }\n"+
		"      edges { node { displayName email active provider { key } } } } }\n\n"+
		"or with curl:\n\n"+
		"  curl -s %s/query -H 'Content-Type: application/json' \\\n"+
		"    -d '{\"query\":\"{ users(first: 5) { totalCount edges { node { displayName email provider { key } } } } }\"}'\n\n", base)
}
