package obs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace/noop"
)

func value(c prometheus.Counter) float64 {
	var m dto.Metric
	c.Write(&m)
	return m.GetCounter().GetValue()
}

func TestRequests(t *testing.T) {
	var logs bytes.Buffer
	log, err := NewLogger(&logs, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	h := Requests(log, Quiet{"/healthz"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Annotate(r.Context(), slog.String("key", "abc"))
		log.InfoContext(r.Context(), "inner")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "body")
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()

	tests := []struct {
		name, give string
		keep       bool
	}{
		{"kept", "req-123_abc.DEF", true},
		{"none", "", false},
		{"spaces", "a b", false},
		{"not ascii", "réq", false},
		{"quote", `a"b`, true},
		{"too long", strings.Repeat("x", 129), false},
	}
	for _, tt := range tests {
		logs.Reset()
		req, _ := http.NewRequest("POST", srv.URL+"/query?secret=1", nil)
		if tt.give != "" {
			req.Header.Set("X-Request-ID", tt.give)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		id := resp.Header.Get("X-Request-ID")
		if tt.keep && id != tt.give || !tt.keep && (len(id) != 32 || id == tt.give) {
			t.Errorf("%s: X-Request-ID %q in, %q out", tt.name, tt.give, id)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 2 {
			t.Fatalf("%s: %d log lines, want 2:\n%s", tt.name, len(lines), logs.String())
		}
		var inner, line map[string]any
		json.Unmarshal([]byte(lines[0]), &inner)
		json.Unmarshal([]byte(lines[1]), &line)
		if inner["request_id"] != id || line["request_id"] != id {
			t.Errorf("%s: request ids %v and %v in the log, want %q", tt.name, inner["request_id"], line["request_id"], id)
		}
		if line["msg"] != "request" || line["status"] != 418.0 || line["path"] != "/query" || line["method"] != "POST" || line["bytes"] != 4.0 || line["key"] != "abc" || line["duration_ms"] == nil {
			t.Errorf("%s: request line %v", tt.name, line)
		}
		if strings.Contains(logs.String(), "secret=1") {
			t.Errorf("%s: the query string reached the log", tt.name)
		}
	}
	// Quiet paths log at debug.
	logs.Reset()
	http.Get(srv.URL + "/healthz")
	if strings.Contains(logs.String(), `"msg":"request"`) {
		t.Errorf("a quiet path was logged at info: %s", logs.String())
	}
}

func TestNewLoggerErrors(t *testing.T) {
	if _, err := NewLogger(io.Discard, "xml", "info"); err == nil {
		t.Error("NewLogger(xml) = nil error")
	}
	if _, err := NewLogger(io.Discard, "text", "loud"); err == nil {
		t.Error("NewLogger(level loud) = nil error")
	}
}

func TestTransport(t *testing.T) {
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer vendor.Close()
	m := NewMetrics()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := &http.Client{Transport: m.Transport("gb", func(r *http.Request) bool { return r.URL.Path == "/token" }, log, noop.NewTracerProvider().Tracer(""), http.DefaultTransport)}
	for _, p := range []string{"/users?email=ada@example.com", "/users", "/token"} {
		resp, err := c.Get(vendor.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if got := value(m.vendorCalls.WithLabelValues("gb", "api", "200")); got != 2 {
		t.Errorf("api calls = %v, want 2", got)
	}
	if got := value(m.renewals.WithLabelValues("gb", "failed")); got != 1 {
		t.Errorf("failed renewals = %v, want 1", got)
	}
	if got := value(m.renewals.WithLabelValues("gb", "ok")); got != 0 {
		t.Errorf("ok renewals = %v, want 0", got)
	}
	if strings.Contains(logs.String(), "ada@example.com") || !strings.Contains(logs.String(), "path=/users") {
		t.Errorf("vendor request log: %s", logs.String())
	}
}

// TestLineBounds: whatever is logged, a line stays within the bounds, and
// says what it cut.
func TestLineBounds(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(&buf, "json", "info")
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("é", 10000) // two bytes a rune: cuts fall on rune boundaries
	var many []any
	for i := range 200 {
		many = append(many, slog.String(fmt.Sprintf("k%d", i), huge))
	}
	log.Info(huge, "s", huge, "err", errors.New(huge), "list", slices.Repeat([]string{"CODE"}, 3000), "any", struct{ S string }{huge})
	log.Info("many", many...)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Errorf("not JSON (a rune cut in two?): %v", err)
		}
		if len(l) > MaxLineBytes+MaxAttrs*64 {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
	var first, second map[string]any
	json.Unmarshal([]byte(lines[0]), &first)
	json.Unmarshal([]byte(lines[1]), &second)
	if s := first["s"].(string); len(s) > MaxValueBytes+32 || !strings.HasSuffix(s, " more bytes)") {
		t.Errorf("a long string kept %d bytes: …%s", len(s), s[max(0, len(s)-30):])
	}
	if l := first["list"].([]any); len(l) != MaxListItems+1 || l[MaxListItems] != "…(2968 more)" {
		t.Errorf("a long list kept %d items, ending %v", len(l), l[len(l)-1])
	}
	if second["attrs_dropped"] != float64(200-MaxAttrs) {
		t.Errorf("attrs_dropped = %v", second["attrs_dropped"])
	}
}
