package obs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dirgate/dirgate/internal/config"
	"github.com/dirgate/dirgate/providers"
)

// Instrumentation is the name of dirgate's tracer.
const Instrumentation = "github.com/dirgate/dirgate"

// Tracing is dirgate's OpenTelemetry tracer provider: one exporting over
// OTLP when tracing is on, a no-op one when it is off.
//
// What dirgate traces: each GraphQL operation, as a server span under the
// caller's W3C traceparent ("query Users", with the operation's name and
// type, outcome and error codes; never the document or its variables),
// and below it each HTTP request to a vendor ("vendor call": provider,
// endpoint, method, URL without its query string, status, retry attempt)
// and each token renewal ("token renewal"). Vendors get no traceparent.
type Tracing struct {
	Provider trace.TracerProvider
	shutdown func(context.Context) error
}

// NoTracing is the tracer provider of a dirgate that does not trace.
func NoTracing() *Tracing {
	return &Tracing{Provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}
}

// NewTracing returns the tracing cfg asks for, with the OTEL_* variables
// read through getenv filling in what cfg leaves out (the exporter reads
// its own OTEL_EXPORTER_OTLP_* variables besides, such as headers and
// certificates). version is the service.version of the spans.
// It connects to nothing until the first spans are exported.
func NewTracing(ctx context.Context, cfg config.Tracing, version string, getenv func(string) string) (*Tracing, error) {
	if !cfg.Enabled || strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return NoTracing(), nil
	}
	protocol := cfg.Protocol
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if protocol == "" {
			protocol = getenv(v)
		}
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "", config.ProtocolHTTP:
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	case config.ProtocolGRPC:
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("tracing: OTLP protocol %q: dirgate speaks http/protobuf and grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "dirgate"), attribute.String("service.version", version)),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if r := cfg.SampleRatio; r != nil {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*r))))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{Provider: tp, shutdown: tp.Shutdown}, nil
}

// Tracer is dirgate's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.Provider.Tracer(Instrumentation) }

// Shutdown exports the spans not exported yet, within ctx, and stops.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// spanName is "query Users": the operation's type and name, as far as
// they are known and bounded (op is the metrics label).
func spanName(ctx context.Context, op string) string {
	kind := "operation"
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
			kind = string(oc.Operation.Operation)
		}
	}
	switch op {
	case "none", "anonymous", "other":
		return "GraphQL " + kind
	}
	return kind + " " + op
}

// traceOperation records a GraphQL operation's outcome on its span.
func traceOperation(ctx context.Context, span trace.Span, op, outcome string, errCodes []string) {
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.String("dirgate.outcome", outcome)}
	if op != "none" && op != "anonymous" {
		attrs = append(attrs, attribute.String("graphql.operation.name", op))
	}
	if graphql.HasOperationContext(ctx) {
		if oc := graphql.GetOperationContext(ctx); oc.Operation != nil {
			attrs = append(attrs, attribute.String("graphql.operation.type", string(oc.Operation.Operation)))
		}
	}
	if len(errCodes) > 0 {
		attrs = append(attrs, attribute.StringSlice("dirgate.codes", errCodes))
	}
	span.SetAttributes(attrs...)
	if outcome == "error" {
		span.SetStatus(codes.Error, strings.Join(errCodes, " "))
	}
}

// startVendorSpan starts the span of one HTTP request to a vendor, a
// child of the request's context's span.
func startVendorSpan(tracer trace.Tracer, provider, endpoint string, r *http.Request) trace.Span {
	name := "vendor call"
	if endpoint == "token" {
		name = "token renewal"
	}
	_, span := tracer.Start(r.Context(), name, trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		return span
	}
	u := url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host, Path: r.URL.Path} // no query, no user
	attrs := []attribute.KeyValue{
		attribute.String("dirgate.provider", provider),
		attribute.String("dirgate.endpoint", endpoint),
		attribute.String("http.request.method", r.Method),
		attribute.String("url.full", u.String()),
		attribute.String("server.address", r.URL.Hostname()),
	}
	if p, err := strconv.Atoi(r.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	if n := providers.Attempt(r.Context()); n > 0 && endpoint != "token" {
		attrs = append(attrs, attribute.Int("dirgate.retry.attempt", n))
		if n > 1 {
			attrs = append(attrs, attribute.Int("http.request.resend_count", n-1))
		}
	}
	span.SetAttributes(attrs...)
	return span
}

// endVendorSpan records a vendor's answer on its span.
func endVendorSpan(span trace.Span, resp *http.Response, err error) {
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetAttributes(attribute.String("error.type", "no answer"))
		span.SetStatus(codes.Error, "no answer")
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetAttributes(attribute.String("error.type", strconv.Itoa(resp.StatusCode)))
		span.SetStatus(codes.Error, "")
	}
}
