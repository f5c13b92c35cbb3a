// Package obs is dirgate's observability: its log (log/slog, one bounded
// line per request with a request id and a trace id), its Prometheus
// metrics (GraphQL operations, HTTP routes, vendor calls, retries, cache,
// token renewals, rate budgets), on a registry of its own, and its
// OpenTelemetry traces (GraphQL operations, vendor calls, token renewals).
//
// What it records carries no personal data beyond ids and no secret: no
// query text, variables, vendor query strings, request or response
// bodies, or header values other than the request id.
package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a logger writing to w in format ("json" or "text")
// from level ("debug", "info", "warn" or "error") up, through Handler.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: not json or text", format)
	}
	return slog.New(Handler(h)), nil
}

// Bounds of one log line: no string value is longer than MaxValueBytes,
// no list has more than MaxListItems items, a record keeps at most
// MaxAttrs attributes, and all its values together hold at most
// MaxLineBytes; what is cut is marked. So no request, however large or
// hostile, makes a line much longer than MaxLineBytes.
const (
	MaxValueBytes = 1024
	MaxListItems  = 32
	MaxAttrs      = 48
	MaxLineBytes  = 8 << 10
)

// Handler wraps h with what every line of dirgate's log gets: the
// request's id (request_id) and trace id (trace_id) when the record is
// logged with a request's context, and the bounds above. A handler it
// returned comes back as it is.
func Handler(h slog.Handler) slog.Handler {
	if _, ok := h.(lineHandler); ok {
		return h
	}
	return lineHandler{h}
}

type lineHandler struct{ slog.Handler }

func (h lineHandler) Handle(ctx context.Context, r slog.Record) error {
	b := &bounder{budget: MaxLineBytes}
	out := slog.NewRecord(r.Time, r.Level, b.str(r.Message), r.PC)
	n := 0
	r.Attrs(func(a slog.Attr) bool {
		if n++; n > MaxAttrs {
			out.AddAttrs(slog.Int("attrs_dropped", r.NumAttrs()-MaxAttrs))
			return false
		}
		out.AddAttrs(b.attr(a))
		return true
	})
	if id := RequestID(ctx); id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	if id := TraceID(ctx); id != "" {
		out.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, out)
}

func (h lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	b := &bounder{budget: MaxLineBytes}
	bounded := make([]slog.Attr, len(as))
	for i, a := range as {
		bounded[i] = b.attr(a)
	}
	return lineHandler{h.Handler.WithAttrs(bounded)}
}

func (h lineHandler) WithGroup(name string) slog.Handler {
	return lineHandler{h.Handler.WithGroup(name)}
}

// bounder cuts values to the bounds, out of one line's budget.
type bounder struct{ budget int }

func (b *bounder) str(s string) string {
	limit := max(0, min(MaxValueBytes, b.budget))
	if len(s) <= limit {
		b.budget -= len(s)
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	b.budget -= cut
	return fmt.Sprintf("%s…(%d more bytes)", s[:cut], len(s)-cut)
}

func (b *bounder) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, b.str(v.String()))
	case slog.KindGroup:
		as := v.Group()
		out := make([]slog.Attr, 0, min(len(as), MaxAttrs))
		for i, g := range as {
			if i == MaxAttrs {
				break
			}
			out = append(out, b.attr(g))
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(out...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, b.str(x.Error()))
		case []string:
			n := min(len(x), MaxListItems)
			out := make([]string, n, n+1)
			for i := range n {
				out[i] = b.str(x[i])
			}
			if len(x) > n {
				out = append(out, fmt.Sprintf("…(%d more)", len(x)-n))
			}
			return slog.Any(a.Key, out)
		default:
			return slog.String(a.Key, b.str(fmt.Sprintf("%+v", x)))
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// Millis is a duration as a log attribute: key_ms, in milliseconds.
func Millis(key string, d time.Duration) slog.Attr {
	return slog.Float64(key+"_ms", math.Round(float64(d.Microseconds()))/1000)
}

// RequestIDHeader carries the request id, in and out.
const RequestIDHeader = "X-Request-ID"

// record is what is known about one request, filled in as it is served.
type record struct {
	id    string
	start time.Time

	mu        sync.Mutex
	operation string
	outcome   string
	codes     []string
	traceID   string
	attrs     []slog.Attr
}

type recordKey struct{}

func recordOf(ctx context.Context) *record {
	r, _ := ctx.Value(recordKey{}).(*record)
	return r
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	if r := recordOf(ctx); r != nil {
		return r.id
	}
	return ""
}

// TraceID returns the trace id of ctx's span, or of the GraphQL operation
// of the request ctx belongs to, or "".
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	if r := recordOf(ctx); r != nil {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.traceID
	}
	return ""
}

// Annotate adds attributes to the request's log line, e.g. which API key
// it was authenticated with. They must carry no personal data or secret.
func Annotate(ctx context.Context, attrs ...slog.Attr) {
	if r := recordOf(ctx); r != nil {
		r.mu.Lock()
		r.attrs = append(r.attrs, attrs...)
		r.mu.Unlock()
	}
}

// setOperation records the GraphQL side of the request.
func setOperation(ctx context.Context, operation, outcome string, codes []string, traceID string) {
	if r := recordOf(ctx); r != nil {
		r.mu.Lock()
		r.operation, r.outcome, r.codes = operation, outcome, codes
		if traceID != "" {
			r.traceID = traceID
		}
		r.mu.Unlock()
	}
}

// uniqueCodes returns the codes once each, in the order first seen: a
// response of 3,000 errors of one code logs that code once.
func uniqueCodes(codes []string) []string {
	var out []string
	for _, c := range codes {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// Quiet lists paths whose request lines are logged at debug level rather
// than info, such as the probes a platform asks every few seconds.
type Quiet []string

// Requests gives each request an id (an incoming X-Request-ID that is
// short printable ASCII is kept, else a random one is made), returns it in
// the X-Request-ID response header, takes the caller's trace context from
// a W3C traceparent header, and logs one line per request when it ends:
// method, path, status, duration_ms, bytes written, the error codes of
// the answer, the trace id, and for GraphQL the operation name and
// outcome (ok, partial or error).
func Requests(log *slog.Logger, quiet Quiet, next http.Handler) http.Handler {
	var tc propagation.TraceContext
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &record{id: requestID(r.Header.Get(RequestIDHeader)), start: start}
		w.Header().Set(RequestIDHeader, rec.id)
		ctx := context.WithValue(tc.Extract(r.Context(), propagation.HeaderCarrier(r.Header)), recordKey{}, rec)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			level := slog.LevelInfo
			if slices.Contains(quiet, r.URL.Path) {
				level = slog.LevelDebug
			}
			if !log.Enabled(ctx, level) {
				return
			}
			rec.mu.Lock()
			attrs := append([]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.status()),
				Millis("duration", time.Since(start)),
				slog.Int64("bytes", sw.bytes),
			}, rec.attrs...)
			if rec.outcome != "" {
				attrs = append(attrs, slog.String("operation", rec.operation), slog.String("outcome", rec.outcome))
			}
			codes := rec.codes
			if rec.outcome == "" {
				codes = sw.codes() // an error answered before GraphQL
			}
			if len(codes) > 0 {
				attrs = append(attrs, slog.Any("codes", codes))
			}
			rec.mu.Unlock()
			log.LogAttrs(ctx, level, "request", attrs...)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}

// requestID keeps an incoming id that is safe to log and echo (1 to 128
// printable ASCII characters, no spaces), or makes one.
func requestID(in string) string {
	if len(in) > 0 && len(in) <= 128 {
		ok := true
		for i := 0; i < len(in) && ok; i++ {
			ok = in[i] > ' ' && in[i] < 0x7f
		}
		if ok {
			return in
		}
	}
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// statusWriter remembers the status and size of a response, and the
// beginning of an error's body, for its codes.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
	head  []byte
}

// maxSniff is how much of an error's body is kept for its codes: errors
// answered before GraphQL are a few hundred bytes.
const maxSniff = 4 << 10

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.code >= 400 && len(w.head) < maxSniff {
		w.head = append(w.head, b[:min(len(b), maxSniff-len(w.head))]...)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// codes returns the extensions.code of each error in a JSON error body
// written, once each.
func (w *statusWriter) codes() []string {
	if len(w.head) == 0 || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/") {
		return nil
	}
	var body struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if json.Unmarshal(w.head, &body) != nil {
		return nil
	}
	var codes []string
	for _, e := range body.Errors {
		if e.Extensions.Code != "" {
			codes = append(codes, e.Extensions.Code)
		}
	}
	return uniqueCodes(codes)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets streaming responses through.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
