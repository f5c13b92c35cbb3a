//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"
)

// target is what a window sends requests to, and the process whose cost
// is measured (pid 0: none, as for a direct fetch, whose cost is the
// emulator's).
type target struct {
	pid     int
	metrics string // URL of its /metrics; "" when it has none
}

// load is the traffic of one window: conc clients in a closed loop, each
// sending newRequest(seq) and checking each answer with ok.
type load struct {
	conc       int
	newRequest func(seq int) (*http.Request, error)
	ok         func(status int, body []byte) error
}

// sample is what one window measured.
type sample struct {
	n, errs  int
	firstErr string
	lat      []time.Duration
	elapsed  time.Duration
	cpu      time.Duration // the target's CPU time over the window
	emuCPU   time.Duration // the emulators' CPU time over the window
	before   counters
	after    counters
	peakRSS  int64 // bytes; 0 when unknown
}

// drive runs l for d and returns the latencies of every request that
// started within d (the window ends when the last of them ends).
func drive(ctx context.Context, hc *http.Client, l load, d time.Duration) sample {
	var (
		mu  sync.Mutex
		s   sample
		seq int
		wg  sync.WaitGroup
	)
	next := func() int {
		mu.Lock()
		defer mu.Unlock()
		seq++
		return seq
	}
	start := time.Now()
	end := start.Add(d)
	for range l.conc {
		wg.Go(func() {
			var lat []time.Duration
			var n, errs int
			var firstErr string
			buf := new(bytes.Buffer)
			for time.Now().Before(end) && ctx.Err() == nil {
				req, err := l.newRequest(next())
				if err != nil {
					errs, firstErr = errs+1, err.Error()
					continue
				}
				t0 := time.Now()
				err = roundTrip(hc, req.WithContext(ctx), buf, l.ok)
				lat = append(lat, time.Since(t0))
				n++
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
			}
			mu.Lock()
			s.lat = append(s.lat, lat...)
			s.n += n
			s.errs += errs
			if s.firstErr == "" {
				s.firstErr = firstErr
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	slices.Sort(s.lat)
	return s
}

func roundTrip(hc *http.Client, req *http.Request, buf *bytes.Buffer, ok func(int, []byte) error) error {
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	buf.Reset()
	_, err = io.Copy(buf, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	return ok(resp.StatusCode, buf.Bytes())
}

// measure warms up, then runs one window of l against t, reading the
// target's CPU time, peak RSS and counters around it.
func measure(ctx context.Context, hc *http.Client, t target, emulators int, l load, warm, d time.Duration) (sample, error) {
	if warm > 0 {
		if w := drive(ctx, hc, l, warm); w.errs > 0 {
			return sample{}, fmt.Errorf("warm-up: %d of %d requests failed; the first: %s", w.errs, w.n, w.firstErr)
		}
	}
	var s sample
	var err error
	if t.metrics != "" {
		if s.before, err = scrape(hc, t.metrics); err != nil {
			return sample{}, err
		}
	}
	var cpu0, emu0 time.Duration
	if t.pid != 0 {
		resetPeakRSS(t.pid) // best effort: without it, the peak is the process's
		if cpu0, err = cpuTime(t.pid); err != nil {
			return sample{}, err
		}
	}
	if emu0, err = cpuTime(emulators); err != nil {
		return sample{}, err
	}
	w := drive(ctx, hc, l, d)
	w.before = s.before
	if t.pid != 0 {
		cpu1, err := cpuTime(t.pid)
		if err != nil {
			return sample{}, err
		}
		w.cpu = cpu1 - cpu0
		w.peakRSS, _ = peakRSS(t.pid)
	}
	emu1, err := cpuTime(emulators)
	if err != nil {
		return sample{}, err
	}
	w.emuCPU = emu1 - emu0
	if t.metrics != "" {
		if w.after, err = scrape(hc, t.metrics); err != nil {
			return sample{}, err
		}
	}
	return w, nil
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted
// latencies, by the nearest-rank method.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// median returns the median of xs, NaN when there are none.
func median(xs []float64) float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 1 {
		return xs[n/2]
	} else {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
}
