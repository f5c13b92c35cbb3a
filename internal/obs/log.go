// Package obs is dirgate's observability: its log (log/slog, one line per
// request with a request id), and its Prometheus metrics (GraphQL
// operations, HTTP routes, vendor calls, retries, cache, token renewals,
// rate budgets), on a registry of its own.
//
// What it records carries no personal data beyond ids and no secret: no
// query text, variables, vendor query strings, request or response
// bodies, or header values other than the request id.
package obs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"
)

// NewLogger returns a logger writing to w in format ("json" or "text")
// from level ("debug", "info", "warn" or "error") up. Records logged with
// a request's context carry its request id.
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
	return slog.New(WithRequestID(h)), nil
}

// WithRequestID wraps h so that every record logged with a request's
// context carries the request's id, as request_id. A handler it returned
// comes back as it is.
func WithRequestID(h slog.Handler) slog.Handler {
	if _, ok := h.(requestIDHandler); ok {
		return h
	}
	return requestIDHandler{h}
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
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
func setOperation(ctx context.Context, operation, outcome string, codes []string) {
	if r := recordOf(ctx); r != nil {
		r.mu.Lock()
		r.operation, r.outcome, r.codes = operation, outcome, codes
		r.mu.Unlock()
	}
}

// Quiet lists paths whose request lines are logged at debug level rather
// than info, such as the probes a platform asks every few seconds.
type Quiet []string

// Requests gives each request an id (an incoming X-Request-ID that is
// short printable ASCII is kept, else a random one is made), returns it in
// the X-Request-ID response header, and logs one line per request when it
// ends: method, path, status, duration, bytes written, and for GraphQL the
// operation name, outcome (ok, partial or error) and error codes.
func Requests(log *slog.Logger, quiet Quiet, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &record{id: requestID(r.Header.Get(RequestIDHeader)), start: start}
		w.Header().Set(RequestIDHeader, rec.id)
		ctx := context.WithValue(r.Context(), recordKey{}, rec)
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
				slog.Duration("duration", time.Since(start)),
				slog.Int64("bytes", sw.bytes),
			}, rec.attrs...)
			if rec.outcome != "" {
				attrs = append(attrs, slog.String("operation", rec.operation), slog.String("outcome", rec.outcome))
				if len(rec.codes) > 0 {
					attrs = append(attrs, slog.Any("codes", rec.codes))
				}
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

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	bytes int64
}

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
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
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
