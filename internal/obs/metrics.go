package obs

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/dirgate/dirgate/internal/errcode"
	"github.com/dirgate/dirgate/providers"
)

// Metrics are dirgate's Prometheus metrics, on a registry of their own
// (never the global one), with the Go runtime and process collectors.
// Every label takes values from a bounded set: route names, provider keys
// from the configuration, HTTP status codes, error codes, and operation
// names, of which at most MaxOperationNames distinct ones are kept.
type Metrics struct {
	reg *prometheus.Registry

	gqlRequests   *prometheus.CounterVec
	gqlDuration   *prometheus.HistogramVec
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	vendorCalls   *prometheus.CounterVec
	vendorLatency *prometheus.HistogramVec
	renewals      *prometheus.CounterVec
	providerCalls *prometheus.CounterVec
	providerTime  *prometheus.HistogramVec
	retries       *prometheus.CounterVec
	cache         *prometheus.CounterVec

	mu  sync.Mutex
	ops map[string]bool
}

// MaxOperationNames bounds the operation label: names beyond the first
// MaxOperationNames seen are counted as "other".
const MaxOperationNames = 200

var buckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics registers dirgate's metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), ops: map[string]bool{}}
	m.gqlRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_graphql_requests_total",
		Help: "GraphQL requests by operation name and outcome (ok, partial: data and errors, error: no data).",
	}, []string{"operation", "outcome"})
	m.gqlDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dirgate_graphql_request_duration_seconds", Buckets: buckets,
		Help: "Time from receiving a GraphQL request to its response, by operation name and outcome.",
	}, []string{"operation", "outcome"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_http_requests_total",
		Help: "HTTP requests by route and status code (a 401 or 413 never reaches GraphQL).",
	}, []string{"handler", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dirgate_http_request_duration_seconds", Buckets: buckets,
		Help: "HTTP request latency by route.",
	}, []string{"handler"})
	m.vendorCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_vendor_requests_total",
		Help: "HTTP requests to vendors, by provider, endpoint (api or token) and status code (error: no answer).",
	}, []string{"provider", "endpoint", "status"})
	m.vendorLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dirgate_vendor_request_duration_seconds", Buckets: buckets,
		Help: "Latency of HTTP requests to vendors, by provider and endpoint.",
	}, []string{"provider", "endpoint"})
	m.renewals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_vendor_token_renewals_total",
		Help: "Requests to a vendor's token endpoint (new or refreshed access tokens), by provider and outcome (ok or failed).",
	}, []string{"provider", "outcome"})
	m.providerCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_provider_calls_total",
		Help: "Calls through the portable layer, retries included, by provider and outcome (ok or the error code).",
	}, []string{"provider", "outcome"})
	m.providerTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dirgate_provider_call_duration_seconds", Buckets: buckets,
		Help: "Latency of calls through the portable layer, retries and cache included, by provider.",
	}, []string{"provider"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_provider_retries_total",
		Help: "Vendor calls tried again after a temporary failure or a rate limit, by provider.",
	}, []string{"provider"})
	m.cache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dirgate_provider_cache_requests_total",
		Help: "Lookups of a whole-directory copy, by provider and result: hit (fresh copy), miss (asked the vendor), stale (stale copy while calls are held back), held (the last failure while calls are held back).",
	}, []string{"provider", "result"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.gqlRequests, m.gqlDuration, m.httpRequests, m.httpDuration,
		m.vendorCalls, m.vendorLatency, m.renewals,
		m.providerCalls, m.providerTime, m.retries, m.cache,
	)
	return m
}

// Registry is where further collectors go (readiness, rate budgets).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Route counts and times the requests next serves, under name.
func (m *Metrics) Route(name string, next http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(m.httpRequests.MustCurryWith(prometheus.Labels{"handler": name}),
		promhttp.InstrumentHandlerDuration(m.httpDuration.MustCurryWith(prometheus.Labels{"handler": name}), next))
}

// GraphQL returns a gqlgen extension that counts and times every GraphQL
// response, rejections included, puts the operation name, outcome and
// error codes on the request's log line, and traces each operation as a
// span of tracer (see Tracing) around its execution.
func (m *Metrics) GraphQL(tracer trace.Tracer) graphql.HandlerExtension {
	return gqlExtension{m, tracer}
}

type gqlExtension struct {
	m      *Metrics
	tracer trace.Tracer
}

var _ interface {
	graphql.HandlerExtension
	graphql.ResponseInterceptor
} = gqlExtension{}

func (gqlExtension) ExtensionName() string                   { return "Metrics" }
func (gqlExtension) Validate(graphql.ExecutableSchema) error { return nil }

func (e gqlExtension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	op := e.m.operation(ctx)
	ctx, span := e.tracer.Start(ctx, spanName(ctx, op), trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	outcome := "ok"
	if len(resp.Errors) > 0 {
		outcome = "partial"
		if len(resp.Data) == 0 || string(resp.Data) == "null" {
			outcome = "error"
		}
	}
	var codes []string
	for _, err := range resp.Errors {
		code, _ := err.Extensions["code"].(string)
		codes = append(codes, code)
	}
	codes = uniqueCodes(codes)
	e.m.gqlRequests.WithLabelValues(op, outcome).Inc()
	if r := recordOf(ctx); r != nil {
		e.m.gqlDuration.WithLabelValues(op, outcome).Observe(time.Since(r.start).Seconds())
	}
	traceOperation(ctx, span, op, outcome, codes)
	traceID := ""
	if sc := span.SpanContext(); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	setOperation(ctx, op, outcome, codes, traceID)
	return resp
}

var operationName = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

// operation names the operation for a label: its name when it has a valid
// one among the first MaxOperationNames seen, "anonymous", "other", or
// "none" when the request never got as far as naming one.
func (m *Metrics) operation(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return "none"
	}
	oc := graphql.GetOperationContext(ctx)
	name := oc.OperationName
	if oc.Operation != nil {
		name = oc.Operation.Name
	}
	switch {
	case name == "":
		return "anonymous"
	case !operationName.MatchString(name):
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.ops[name] {
		if len(m.ops) >= MaxOperationNames {
			return "other"
		}
		m.ops[name] = true
	}
	return name
}

// Transport wraps next, the HTTP transport of provider's adapter: it
// counts and times each request by endpoint ("token" when isToken says
// so, else "api") and status, counts token renewals, and logs each
// request at debug level by method, host and path only (vendor query
// strings can hold personal data, and bodies hold secrets).
//
// Each request is a span of tracer (see Tracing): "vendor call", or
// "token renewal" for the token endpoint, with the provider, endpoint,
// method, URL without its query string, status and the portable layer's
// retry attempt.
func (m *Metrics) Transport(provider string, isToken func(*http.Request) bool, log *slog.Logger, tracer trace.Tracer, next http.RoundTripper) http.RoundTripper {
	for _, ep := range []string{"api", "token"} {
		m.vendorLatency.WithLabelValues(provider, ep)
	}
	m.renewals.WithLabelValues(provider, "ok")
	m.renewals.WithLabelValues(provider, "failed")
	return &transport{m: m, provider: provider, isToken: isToken, log: log, tracer: tracer, next: next}
}

type transport struct {
	m        *Metrics
	provider string
	isToken  func(*http.Request) bool
	log      *slog.Logger
	tracer   trace.Tracer
	next     http.RoundTripper
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	endpoint := "api"
	if t.isToken != nil && t.isToken(r) {
		endpoint = "token"
	}
	span := startVendorSpan(t.tracer, t.provider, endpoint, r)
	defer span.End()
	start := time.Now()
	resp, err := t.next.RoundTrip(r)
	d := time.Since(start)
	status := "error"
	if err == nil {
		status = strconv.Itoa(resp.StatusCode)
	}
	endVendorSpan(span, resp, err)
	t.m.vendorCalls.WithLabelValues(t.provider, endpoint, status).Inc()
	t.m.vendorLatency.WithLabelValues(t.provider, endpoint).Observe(d.Seconds())
	if endpoint == "token" {
		outcome := "failed"
		if err == nil && resp.StatusCode/100 == 2 {
			outcome = "ok"
		}
		t.m.renewals.WithLabelValues(t.provider, outcome).Inc()
	}
	t.log.LogAttrs(r.Context(), slog.LevelDebug, "vendor request",
		slog.String("provider", t.provider), slog.String("endpoint", endpoint),
		slog.String("method", r.Method), slog.String("host", r.URL.Host), slog.String("path", r.URL.Path),
		slog.String("status", status), Millis("duration", d))
	return resp, err
}

var _ providers.Observer = (*Metrics)(nil)

// Call records one call through the portable layer (providers.Observer).
func (m *Metrics) Call(provider string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = string(errcode.ProviderUnavailable)
		var pe *providers.Error
		if errors.As(err, &pe) {
			outcome = string(pe.Code)
		}
	}
	m.providerCalls.WithLabelValues(provider, outcome).Inc()
	m.providerTime.WithLabelValues(provider).Observe(d.Seconds())
}

// Retry records that a call to provider is tried again
// (providers.Observer).
func (m *Metrics) Retry(provider string) { m.retries.WithLabelValues(provider).Inc() }

// Cache records a lookup of provider's whole-directory copy
// (providers.Observer).
func (m *Metrics) Cache(provider string, result providers.CacheResult) {
	m.cache.WithLabelValues(provider, string(result)).Inc()
}

// Provider makes provider's series exist, at zero, before its first call.
func (m *Metrics) Provider(provider string) {
	m.providerCalls.WithLabelValues(provider, "ok")
	m.providerTime.WithLabelValues(provider)
	m.retries.WithLabelValues(provider)
}

// RateBudget exports a vendor's rate budget as it last reported it:
// dirgate_vendor_rate_limit_remaining and dirgate_vendor_rate_limit, per
// provider; budget's ok is false while it has not reported one.
func (m *Metrics) RateBudget(provider string, budget func() (limit, remaining int, ok bool)) {
	labels := prometheus.Labels{"provider": provider}
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dirgate_vendor_rate_limit_remaining", ConstLabels: labels,
			Help: "Requests the vendor still allows in its current window, as it last said (-1: not known yet).",
		}, func() float64 {
			if _, rem, ok := budget(); ok {
				return float64(rem)
			}
			return -1
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dirgate_vendor_rate_limit", ConstLabels: labels,
			Help: "Requests the vendor allows per window, as it last said (-1: not known yet).",
		}, func() float64 {
			if lim, _, ok := budget(); ok {
				return float64(lim)
			}
			return -1
		}),
	)
}
