//go:build linux

package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

// row is one window's figures.
type row struct {
	dirgate       bool // measured on a dirgate process
	rps           float64
	p50, p95, p99 float64 // ms
	cpuMs         float64 // the target's CPU time per request; NaN: not measured
	emuCPUms      float64 // the emulators' CPU time per request
	allocKiB      float64 // NaN: not measured
	allocs        float64
	rssMiB        float64
	calls         map[string]float64 // vendor API calls per query, by provider
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func newRow(w window, s sample) row {
	n := float64(s.n)
	r := row{
		dirgate: w.dirgate,
		rps:     n / s.elapsed.Seconds(),
		p50:     ms(percentile(s.lat, 50)), p95: ms(percentile(s.lat, 95)), p99: ms(percentile(s.lat, 99)),
		cpuMs: math.NaN(), allocKiB: math.NaN(), allocs: math.NaN(), rssMiB: math.NaN(),
		emuCPUms: ms(s.emuCPU) / n,
	}
	if w.target.pid != 0 {
		r.cpuMs = ms(s.cpu) / n
		r.rssMiB = float64(s.peakRSS) / (1 << 20)
	}
	if w.target.metrics != "" {
		r.allocKiB = (s.after.allocBytes - s.before.allocBytes) / 1024 / n
		r.allocs = (s.after.mallocs - s.before.mallocs) / n
		if w.dirgate {
			r.calls = map[string]float64{}
			for p, v := range s.after.vendor {
				if d := v - s.before.vendor[p]; d > 0 {
					r.calls[p] = d / n
				}
			}
		}
	}
	return r
}

// medianRow is the median of each figure over the runs.
func medianRow(rows []row) row {
	pick := func(f func(row) float64) float64 {
		xs := make([]float64, len(rows))
		for i, r := range rows {
			xs[i] = f(r)
		}
		return median(xs)
	}
	m := row{
		dirgate:  rows[0].dirgate,
		rps:      pick(func(r row) float64 { return r.rps }),
		p50:      pick(func(r row) float64 { return r.p50 }),
		p95:      pick(func(r row) float64 { return r.p95 }),
		p99:      pick(func(r row) float64 { return r.p99 }),
		cpuMs:    pick(func(r row) float64 { return r.cpuMs }),
		emuCPUms: pick(func(r row) float64 { return r.emuCPUms }),
		allocKiB: pick(func(r row) float64 { return r.allocKiB }),
		allocs:   pick(func(r row) float64 { return r.allocs }),
		rssMiB:   pick(func(r row) float64 { return r.rssMiB }),
	}
	if rows[0].calls != nil {
		m.calls = map[string]float64{}
		for _, r := range rows {
			for p := range r.calls {
				m.calls[p] = pick(func(r row) float64 { return r.calls[p] })
			}
		}
	}
	return m
}

func num(x float64, format string) string {
	if math.IsNaN(x) {
		return "–"
	}
	return fmt.Sprintf(format, x)
}

func callsText(c map[string]float64) string {
	if c == nil {
		return "–"
	}
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %.2f", p, c[p]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// goal is one of the targets, checked on each run's figures.
type goal struct {
	what  string
	value func(map[string]row) float64 // NaN when a window it needs did not run
	limit float64
	unit  string
	ref   bool // not a target: what the floor achieves, for reference
}

func goals(o options) []goal {
	get := func(rs map[string]row, name string) (row, bool) { r, ok := rs[name]; return r, ok }
	ratio := func(a, b string, f func(row) float64) func(map[string]row) float64 {
		return func(rs map[string]row) float64 {
			x, ok1 := get(rs, a)
			y, ok2 := get(rs, b)
			if !ok1 || !ok2 {
				return math.NaN()
			}
			return f(x) / f(y)
		}
	}
	one := func(name string, f func(row) float64) func(map[string]row) float64 {
		return func(rs map[string]row) float64 {
			if r, ok := get(rs, name); ok {
				return f(r)
			}
			return math.NaN()
		}
	}
	cpu := func(r row) float64 { return r.cpuMs }
	p50 := func(r row) float64 { return r.p50 }
	return []goal{
		{"a: dirgate CPU per request / the plain-handler floor's", ratio("a dirgate", "a floor", cpu), 2, "×", false},
		{"a: dirgate allocations per request", one("a dirgate", func(r row) float64 { return r.allocKiB }), 300, " KiB", false},
		{"a: p50 latency / a direct fetch's, one client", ratio("a dirgate 1", "a direct 1", p50), 1.5, "×", false},
		{"a: the floor's p50 latency / a direct fetch's, one client", ratio("a floor 1", "a direct 1", p50), 1.5, "×", true},
		{fmt.Sprintf("a: p50 latency / a direct fetch's, %d clients", o.conc), ratio("a dirgate", "a direct", p50), 1.5, "×", false},
		{"b: p50 latency / one direct round trip", ratio("b dirgate", "b direct", p50), 1.5, "×", false},
		{"c: Concur calls per query (25 distinct ids)", one("c dirgate", func(r row) float64 { return r.calls["concur"] }), lookupsPerProvider, "", false},
		{"c: getbill calls per query", one("c dirgate", func(r row) float64 { return r.calls["getbill"] }), 1, "", false},
		{"c: p50 latency / (one direct round trip + the 2 ms batch wait)", func(rs map[string]row) float64 {
			c, ok1 := get(rs, "c dirgate")
			d, ok2 := get(rs, "c direct")
			if !ok1 || !ok2 {
				return math.NaN()
			}
			return c.p50 / (d.p50 + 2)
		}, 1, "×", false},
		{"d: dirgate CPU per request", one("d dirgate", cpu), 0.4, " ms", false},
		{"peak RSS of dirgate under load, any window", func(rs map[string]row) float64 {
			peak := math.NaN()
			for _, r := range rs {
				if !math.IsNaN(r.rssMiB) && r.dirgate && (math.IsNaN(peak) || r.rssMiB > peak) {
					peak = r.rssMiB
				}
			}
			return peak
		}, 50, " MiB", false},
	}
}

// report prints the median of every figure, then each target with its
// value in every run.
func report(w io.Writer, o options, windows []window, runs []map[string]row) {
	fmt.Fprintf(w, "| window | clients | req/s | p50 ms | p95 ms | p99 ms | CPU ms/req | allocs KiB/req | allocs/req | peak RSS MiB | vendor calls/query | emulators' CPU ms/req |\n")
	fmt.Fprintf(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|\n")
	for _, win := range windows {
		var rows []row
		for _, r := range runs {
			rows = append(rows, r[win.name])
		}
		m := medianRow(rows)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			win.name, win.conc, num(m.rps, "%.0f"), num(m.p50, "%.2f"), num(m.p95, "%.2f"), num(m.p99, "%.2f"),
			num(m.cpuMs, "%.3f"), num(m.allocKiB, "%.0f"), num(m.allocs, "%.0f"), num(m.rssMiB, "%.1f"),
			callsText(m.calls), num(m.emuCPUms, "%.3f"))
	}
	fmt.Fprintln(w)
	for _, win := range windows {
		fmt.Fprintf(w, "- %s: %s\n", win.name, win.what)
	}
	fmt.Fprintf(w, "\n| target | median | limit | met | each run |\n|---|--:|--:|---|---|\n")
	for _, g := range goals(o) {
		var each []float64
		var texts []string
		for _, r := range runs {
			v := g.value(r)
			each = append(each, v)
			texts = append(texts, num(v, "%.2f"))
		}
		m := median(each)
		if math.IsNaN(m) {
			continue
		}
		met := "yes"
		switch {
		case g.ref:
			met = "(reference)"
		case m > g.limit:
			met = fmt.Sprintf("no, by %.0f%%", (m/g.limit-1)*100)
		}
		fmt.Fprintf(w, "| %s | %.2f%s | %g%s | %s | %s |\n", g.what, m, g.unit, g.limit, g.unit, met, strings.Join(texts, " "))
	}
}
