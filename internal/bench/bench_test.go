//go:build linux

package main

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses; utime 250, stime 50.
	line := "4242 (dir gate) (x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 100 0 0\n"
	got, err := parseStat([]byte(line))
	if err != nil || got != 3*time.Second {
		t.Errorf("parseStat = %v, %v; want 3s", got, err)
	}
	if _, err := parseStat([]byte("4242 (x) S 1")); err == nil {
		t.Error("parseStat of a short line: no error")
	}
	self, err := cpuTime(os.Getpid())
	if err != nil || self < 0 {
		t.Errorf("cpuTime(self) = %v, %v", self, err)
	}
}

func TestParseHWM(t *testing.T) {
	got, err := parseHWM(strings.NewReader("Name:\tdirgate\nVmPeak:\t  900 kB\nVmHWM:\t   23552 kB\nVmRSS:\t 20000 kB\n"))
	if err != nil || got != 23552<<10 {
		t.Errorf("parseHWM = %d, %v; want %d", got, err, 23552<<10)
	}
	if _, err := parseHWM(strings.NewReader("VmRSS:\t1 kB\n")); err == nil {
		t.Error("parseHWM without VmHWM: no error")
	}
	if err := resetPeakRSS(os.Getpid()); err != nil {
		t.Logf("resetPeakRSS(self): %v (peaks are then the process's)", err)
	}
	if n, err := peakRSS(os.Getpid()); err != nil || n <= 0 {
		t.Errorf("peakRSS(self) = %d, %v", n, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP go_memstats_alloc_bytes_total Total number of bytes allocated.
# TYPE go_memstats_alloc_bytes_total counter
go_memstats_alloc_bytes_total 1.2345e+09
go_memstats_mallocs_total 987654
go_memstats_alloc_bytes 12345
dirgate_vendor_requests_total{endpoint="api",provider="concur",status="200"} 40
dirgate_vendor_requests_total{endpoint="api",provider="concur",status="503"} 2
dirgate_vendor_requests_total{endpoint="token",provider="concur",status="200"} 1
dirgate_vendor_requests_total{endpoint="api",provider="getbill",status="200"} 3
`
	c, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if c.allocBytes != 1.2345e9 || c.mallocs != 987654 || c.vendor["concur"] != 42 || c.vendor["getbill"] != 3 || len(c.vendor) != 2 {
		t.Errorf("parseMetrics = %+v; want 1.2345e9 bytes, 987654 mallocs, concur 42 and getbill 3 API calls", c)
	}
	if _, err := parseMetrics(strings.NewReader("go_memstats_mallocs_total 1\n")); err == nil {
		t.Error("parseMetrics without go_memstats_alloc_bytes_total: no error")
	}
}

func TestPercentileAndMedian(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(lat, tt.p); got != tt.want {
			t.Errorf("percentile(1..100 ms, %v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
	if got := median([]float64{3, math.NaN(), 1, 2}); got != 2 {
		t.Errorf("median(3, NaN, 1, 2) = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median(4, 1, 3, 2) = %v, want 2.5", got)
	}
	if got := median([]float64{math.NaN()}); !math.IsNaN(got) {
		t.Errorf("median(NaN) = %v, want NaN", got)
	}
}

// traces is an excerpt of go tool pprof -traces of dirgate.
const traces = `File: dirgate
Type: cpu
Duration: 5.63s, Total samples = 7.23s (128.50%)
-----------+-------------------------------------------------------
      10ms   runtime.typePointers.next
             runtime.scanObject
             runtime.gcDrainN
             runtime.gcAssistAlloc1
             runtime.gcAssistAlloc
             runtime.mallocgc
             encoding/json.(*decodeState).literalStore
             github.com/dirgate/dirgate/providers/concur.(*flexString).UnmarshalJSON
             github.com/dirgate/dirgate/providers/concur.(*Client).decodeUsers
-----------+-------------------------------------------------------
      30ms   encoding/json.checkValid
             encoding/json.Unmarshal
             github.com/dirgate/dirgate/providers/concur.(*Client).decodeUsers
             github.com/dirgate/dirgate/providers/concur.(*Client).usersPage
             net/http.(*conn).serve
-----------+-------------------------------------------------------
      20ms   runtime.memmove
             runtime.copystack
             runtime.newstack
             runtime.morestack
             github.com/dirgate/dirgate/graph.(*executionContext)._User
             github.com/99designs/gqlgen/graphql.MarshalSliceConcurrently.func2
-----------+-------------------------------------------------------
      10ms   crypto/sha256.block
             github.com/dirgate/dirgate/graph/relay.(*Cursors).Encode
             github.com/dirgate/dirgate/graph.(*Resolver).users
-----------+-------------------------------------------------------
      10ms   syscall.Syscall
             net.(*conn).Write
             net/http.(*conn).serve
-----------+-------------------------------------------------------
      20ms   runtime.futex
             runtime.findRunnable
             runtime.schedule
-----------+-------------------------------------------------------
`

func TestLayers(t *testing.T) {
	tr, err := parseTraces(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 6 || tr[1].d != 30*time.Millisecond || len(tr[1].frames) != 5 || tr[1].frames[0] != "encoding/json.checkValid" {
		t.Fatalf("parseTraces = %+v", tr)
	}
	var b strings.Builder
	printLayers(&b, tr)
	out := b.String()
	for _, want := range []string{
		"| garbage collection (background marking, assists, sweeping) | 10% | 10ms |", // the assist, though under decoding
		"| vendor page decoding | 30% | 30ms |",
		"| list elements marshalled in goroutines of their own (gqlgen MarshalSliceConcurrently) | 20% | 20ms |",
		"| cursors | 10% | 10ms |",
		"| HTTP server and client, syscalls | 10% | 10ms |",
		"| everything else (runtime: scheduler, goroutines, stacks) | 20% | 20ms |",
		"| total | 100% | 100ms |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("printLayers lacks %q:\n%s", want, out)
		}
	}
	if _, err := parseTraces(strings.NewReader("File: dirgate\n")); err == nil {
		t.Error("parseTraces of no samples: no error")
	}
}
