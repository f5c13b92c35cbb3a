package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/internal/obs"
)

// The caller's trace: an API gateway in front of dirgate sent this
// traceparent.
const (
	callerTrace = "4bf92f3577b34e4da22a4b2b0b2f3a4e"
	callerSpan  = "00f067aa0ba902b7"
	traceparent = "00-" + callerTrace + "-" + callerSpan + "-01"
)

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// TestTracing (issue 15, item 12): a query that pages Concur, sent with
// the caller's traceparent, makes one server span for the operation under
// the caller's span, and under it a span per vendor call (one retried
// after a 503, with its attempt) and the token renewal, recorded by the
// SDK's in-memory exporter. No span carries a query string, variables or
// personal data; the request's log line carries the trace id.
func TestTracing(t *testing.T) {
	var failed atomic.Bool
	_, providersYAML, env := emulators(t, func(vendor string, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The second page's first try fails, once.
			if vendor == "concur" && r.URL.Query().Get("offset") == "30" && failed.CompareAndSwap(false, true) {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	providersYAML = strings.Replace(providersYAML, "    tokenStore:", "    pageSize: 30\n    tokenStore:", 1)
	cfg, err := config.Parse([]byte(providersYAML), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	h, err := newServer(cfg, log, tp.Tracer(obs.Instrumentation))
	if err != nil {
		t.Fatal(err)
	}
	defer h.ready.Close()
	srv := httptest.NewServer(h)
	defer srv.Close()

	const pii = "ada.lovelace@example.com"
	_, r := post(t, srv.URL, gqlBody(`query Users($e: String) {
		users(first: 100, filter: {providers: ["concur"]}) { edges { node { id } } }
		byEmail: users(first: 1, filter: {providers: ["getbill"], email: $e}) { totalCount }
	}`, map[string]any{"e": pii}), "traceparent", traceparent, "X-Request-ID", "traced")
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %+v", r.Errors)
	}
	if !failed.Load() {
		t.Fatal("the fault was not hit: the test does not page Concur as it thinks")
	}

	got := spans.GetSpans().Snapshots()
	var op sdktrace.ReadOnlySpan
	for _, s := range got {
		if s.Name() == "query Users" {
			op = s
		}
	}
	if op == nil {
		t.Fatalf("no span for the operation among %d", len(got))
	}
	if op.SpanContext().TraceID().String() != callerTrace || op.Parent().SpanID().String() != callerSpan || !op.Parent().IsRemote() ||
		op.SpanKind() != trace.SpanKindServer {
		t.Errorf("the operation's span: trace %s, parent %s (remote %t), kind %s; want it under the caller's span",
			op.SpanContext().TraceID(), op.Parent().SpanID(), op.Parent().IsRemote(), op.SpanKind())
	}
	if a := attrs(op); a["graphql.operation.name"] != "Users" || a["graphql.operation.type"] != "query" || a["dirgate.outcome"] != "ok" {
		t.Errorf("the operation's attributes: %v", a)
	}

	type call struct{ name, provider, endpoint, status, attempt string }
	var calls []call
	for _, s := range got {
		if s.SpanContext().SpanID() == op.SpanContext().SpanID() {
			continue
		}
		a := attrs(s)
		if s.Parent().SpanID() != op.SpanContext().SpanID() || s.SpanContext().TraceID().String() != callerTrace || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %q is not a client span under the operation's", s.Name())
		}
		u := a["url.full"]
		if strings.Contains(u, "?") || !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("span %q has url.full %q, want a URL without its query", s.Name(), u)
		}
		calls = append(calls, call{s.Name(), a["dirgate.provider"], a["dirgate.endpoint"], a["http.response.status_code"], a["dirgate.retry.attempt"]})
	}
	count := func(c call) int {
		n := 0
		for _, x := range calls {
			if x == c {
				n++
			}
		}
		return n
	}
	// Exactly: one token renewal per provider, the 503 on a first try,
	// getbill's one call. At least: the retry of the page that failed
	// (the pages fetched after it in the same try are fetched again with
	// it), and four pages of 30 of Concur's 100 users.
	for _, want := range []struct {
		c        call
		min, max int
	}{
		{call{"token renewal", "concur", "token", "200", ""}, 1, 1},
		{call{"token renewal", "getbill", "token", "200", ""}, 1, 1},
		{call{"vendor call", "concur", "api", "503", "1"}, 1, 1},
		{call{"vendor call", "getbill", "api", "200", "1"}, 1, 1},
		{call{"vendor call", "concur", "api", "200", "2"}, 1, 3},
		{call{"vendor call", "concur", "api", "200", "1"}, 1, 3},
	} {
		if n := count(want.c); n < want.min || n > want.max {
			t.Errorf("%d spans %+v, want %d to %d; all: %+v", n, want.c, want.min, want.max, calls)
		}
	}
	if n := count(call{"vendor call", "concur", "api", "200", "1"}) + count(call{"vendor call", "concur", "api", "200", "2"}); n < 4 {
		t.Errorf("%d Concur pages answered, want at least 4: %+v", n, calls)
	}
	for _, s := range got {
		for _, kv := range s.Attributes() {
			if v := kv.Value.String(); strings.Contains(v, pii) || strings.Contains(v, "secret") || strings.Contains(v, "offset=") {
				t.Errorf("span %q carries %s=%q", s.Name(), kv.Key, v)
			}
		}
	}
	if !strings.Contains(logs.String(), `"trace_id":"`+callerTrace+`"`) {
		t.Errorf("the request's log line has no trace id:\n%s", logs)
	}
}

// collector receives OTLP trace exports, over HTTP and gRPC, and keeps
// the trace ids and span names it got.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]string // trace id → span names
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				id := hex.EncodeToString(s.TraceId)
				c.spans[id] = append(c.spans[id], s.Name)
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req coltracepb.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	c.Export(r.Context(), &req)
	w.Header().Set("Content-Type", "application/x-protobuf")
	b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Write(b)
}

// TestTracingOverOTLP (issue 15, item 12): with server.tracing on, dirgate
// exports its spans over OTLP, HTTP or gRPC, to the configured endpoint;
// the operation's span continues the caller's trace. Off by default: the
// same run without the block exports nothing.
func TestTracingOverOTLP(t *testing.T) {
	_, providersYAML, env := emulators(t, nil)
	for _, protocol := range []string{"http/protobuf", "grpc", "off"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) {
			c := &collector{spans: map[string][]string{}}
			endpoint := ""
			switch protocol {
			case "grpc":
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				gs := grpc.NewServer()
				coltracepb.RegisterTraceServiceServer(gs, c)
				go gs.Serve(ln)
				defer gs.Stop()
				endpoint = "http://" + ln.Addr().String()
			default:
				hs := httptest.NewServer(c)
				defer hs.Close()
				endpoint = hs.URL
			}
			tracing := fmt.Sprintf("  tracing: {enabled: true, protocol: %s, endpoint: %s}\n", protocol, endpoint)
			if protocol == "off" {
				tracing = ""
			}
			ctx, cancel := context.WithCancel(t.Context())
			base, done := started(t, ctx, "server:\n  addr: 127.0.0.1:0\n"+tracing+providersYAML, env, io.Discard)
			post(t, base, gqlBody(`query Page { users(first: 2) { totalCount } }`, nil), "traceparent", traceparent)
			cancel()
			if err := <-done; err != nil { // shutting down exports what is left
				t.Fatal(err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			names := c.spans[callerTrace]
			if protocol == "off" {
				if len(c.spans) > 0 {
					t.Errorf("tracing off exported %v", c.spans)
				}
				return
			}
			if !slices.Contains(names, "query Page") || !slices.Contains(names, "vendor call") {
				t.Errorf("the collector got %v in the caller's trace (all: %v)", names, c.spans)
			}
		})
	}
}
