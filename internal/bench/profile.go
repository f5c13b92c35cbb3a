//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// profileScenario runs one scenario against a dirgate started with
// -cpuprofile, then prints where its CPU time went, by layer.
func (e *env) profileScenario(ctx context.Context) error {
	var w *window
	for _, x := range e.windows() {
		if x.scenario == e.o.profile[0] && x.dirgate {
			w = &x
			break
		}
	}
	if w == nil {
		return fmt.Errorf("-profile %s: the scenario is not among -only %s", e.o.profile, e.o.only)
	}
	concurURL, getbillURL := e.urls.Concur, e.urls.Getbill
	if w.target.pid == e.slow.pid() {
		concurURL, getbillURL = e.urls.ConcurSlow, e.urls.GetbillSlow
	}
	prof := filepath.Join(e.dir, "cpu-"+e.o.profile+".pprof")
	d, err := startDirgate(ctx, e.dir, "dirgate-profiled", e.bin, concurURL, getbillURL, e.o.maxConc, "-cpuprofile", prof)
	if err != nil {
		return err
	}
	// The same load, sent to the profiled process.
	l := w.load
	mk := l.newRequest
	l.newRequest = func(seq int) (*http.Request, error) {
		req, err := mk(seq)
		if err == nil {
			req.URL.Host = strings.TrimPrefix(d.url, "http://")
		}
		return req, err
	}
	fmt.Fprintf(os.Stderr, "profiling %s for %v…\n", w.name, e.o.profileD)
	s := drive(ctx, e.hc, l, e.o.warm+e.o.profileD)
	if err := d.stop(); err != nil {
		return fmt.Errorf("profiled dirgate: %w", err)
	}
	if s.errs > 0 {
		return fmt.Errorf("profiled %s: %d of %d requests failed; the first: %s", w.name, s.errs, s.n, s.firstErr)
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", e.bin, prof).Output()
	if err != nil {
		return fmt.Errorf("go tool pprof: %w", err)
	}
	traces, err := parseTraces(strings.NewReader(string(out)))
	if err != nil {
		return err
	}
	fmt.Printf("\nWhere dirgate's CPU time goes, scenario %s (%s, %d clients), %v profiled, %d requests:\n\n",
		w.name, w.what, w.conc, e.o.warm+e.o.profileD, s.n)
	printLayers(os.Stdout, traces)
	if e.o.keep {
		fmt.Printf("\nThe profile: go tool pprof %s %s\n", e.bin, prof)
	}
	return nil
}

// trace is one stack of a CPU profile, leaf first, and its time.
type trace struct {
	d      time.Duration
	frames []string
}

// parseTraces reads the output of go tool pprof -traces: blocks separated
// by lines of dashes, each a duration before the leaf frame, then one
// frame a line.
func parseTraces(r io.Reader) ([]trace, error) {
	var out []trace
	var cur *trace
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			cur = nil
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if cur == nil {
			if len(f) < 2 {
				continue // the header
			}
			d, err := time.ParseDuration(f[0])
			if err != nil {
				continue // the header
			}
			out = append(out, trace{d: d})
			cur = &out[len(out)-1]
			f = f[1:]
		}
		cur.frames = append(cur.frames, f[0])
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the profile holds no samples")
	}
	return out, nil
}

// layer is a part of dirgate's work, known by the functions on its
// stacks. A sample belongs to the first layer, in this order, that has a
// frame on its stack.
type layer struct {
	name string
	re   *regexp.Regexp
}

var layers = []layer{
	{"garbage collection (background marking, assists, sweeping)",
		regexp.MustCompile(`^runtime\.(gcBgMarkWorker|gcAssistAlloc|bgsweep|bgscavenge|gcStart|gcMarkDone|gcMarkTermination|markroot|gcDrain|sweepone|GC)$`)},
	{"vendor page decoding",
		regexp.MustCompile(`^github\.com/dirgate/dirgate/providers/\w+\.\S*(?i:decode|unmarshal|flex|touser|useremails)`)},
	{"list elements marshalled in goroutines of their own (gqlgen MarshalSliceConcurrently)",
		regexp.MustCompile(`^github\.com/99designs/gqlgen/graphql\.MarshalSliceConcurrently`)},
	{"response serialisation (MarshalGQL, then the transport's json.Marshal)",
		regexp.MustCompile(`MarshalGQL$|^github\.com/99designs/gqlgen/graphql/handler/transport\.writeJson|^github\.com/dirgate/dirgate/graph\.\S*(?i:write|marshal)`)},
	{"cursors", regexp.MustCompile(`^github\.com/dirgate/dirgate/graph/relay\.\(\*Cursors\)`)},
	{"loader priming", regexp.MustCompile(`^github\.com/dirgate/dirgate/graph\.\(\*Resolver\)\.prime|^github\.com/dirgate/dirgate/graph/loader\.\(\*Loaders\)\.Prime`)},
	{"resolvers, loaders, directory, vendor calls", regexp.MustCompile(`^github\.com/dirgate/dirgate/(graph\.\(\*\w*[rR]esolver\)|graph/loader|providers)`)},
	{"gqlgen: parsing, validation, executing fields", regexp.MustCompile(`^github\.com/(99designs/gqlgen|vektah/gqlparser)/|^github\.com/dirgate/dirgate/graph`)},
	{"logs and metrics", regexp.MustCompile(`^log/slog|^github\.com/dirgate/dirgate/internal/obs|^github\.com/prometheus/`)},
	{"HTTP server and client, syscalls", regexp.MustCompile(`^net/http\.|^net\.|^internal/poll\.|^syscall\.|^bufio\.`)},
}

// printLayers prints each layer's share of the profile's time.
func printLayers(w io.Writer, traces []trace) {
	sums := make([]time.Duration, len(layers)+1)
	var total time.Duration
	for _, t := range traces {
		total += t.d
		i := slices.IndexFunc(layers, func(l layer) bool {
			return slices.ContainsFunc(t.frames, l.re.MatchString)
		})
		if i < 0 {
			i = len(layers)
		}
		sums[i] += t.d
	}
	fmt.Fprintf(w, "| layer | share | CPU time |\n|---|--:|--:|\n")
	for i, d := range sums {
		name := "everything else (runtime: scheduler, goroutines, stacks)"
		if i < len(layers) {
			name = layers[i].name
		}
		fmt.Fprintf(w, "| %s | %.0f%% | %v |\n", name, 100*float64(d)/float64(total), d.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "| total | 100%% | %v |\n", total.Round(time.Millisecond))
}
