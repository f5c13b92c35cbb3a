//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100
// on every Linux ABI Go supports).
const userHZ = 100

// cpuTime returns the CPU time (user and system, every thread) the process
// has used so far, from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(b)
}

// parseStat reads utime and stime from the text of /proc/PID/stat. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields", len(f)+2)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("proc stat: utime %q, stime %q", f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes:
// since it started, or since resetPeakRSS.
func peakRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseHWM(f)
}

func parseHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc status: VmHWM %q", rest)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("proc status: no VmHWM")
}

// resetPeakRSS sets the process's VmHWM to its current RSS, so that the
// next peakRSS is the peak of a measured window alone.
func resetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// counters are the Prometheus counters the load command reads from a
// process's /metrics.
type counters struct {
	allocBytes float64 // go_memstats_alloc_bytes_total
	mallocs    float64 // go_memstats_mallocs_total
	// vendor holds dirgate_vendor_requests_total{endpoint="api"} summed
	// over status, by provider.
	vendor map[string]float64
}

func scrape(hc *http.Client, url string) (counters, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return counters{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return counters{}, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// parseMetrics reads the counters out of the Prometheus text format.
func parseMetrics(r io.Reader) (counters, error) {
	c := counters{vendor: map[string]float64{}}
	var seen int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series, val := line[:sp], line[sp+1:]
		name, labels, _ := strings.Cut(series, "{")
		switch name {
		case "go_memstats_alloc_bytes_total", "go_memstats_mallocs_total", "dirgate_vendor_requests_total":
		default:
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return counters{}, fmt.Errorf("metrics: %s: value %q", name, val)
		}
		switch name {
		case "go_memstats_alloc_bytes_total":
			c.allocBytes, seen = v, seen|1
		case "go_memstats_mallocs_total":
			c.mallocs, seen = v, seen|2
		case "dirgate_vendor_requests_total":
			l := parseLabels(strings.TrimSuffix(labels, "}"))
			if l["endpoint"] == "api" {
				c.vendor[l["provider"]] += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return counters{}, err
	}
	if seen != 3 {
		return counters{}, fmt.Errorf("metrics: go_memstats_alloc_bytes_total or go_memstats_mallocs_total missing")
	}
	return c, nil
}

// parseLabels reads `a="x",b="y"`; values hold no escapes here (provider
// keys, endpoints and status codes).
func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		k, rest, ok := strings.Cut(s, `="`)
		if !ok {
			break
		}
		v, rest, _ := strings.Cut(rest, `"`)
		out[strings.TrimPrefix(k, ",")] = v
		s = strings.TrimPrefix(rest, ",")
	}
	return out
}
