package providertest

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Vendor puts the suite's faults in front of a vendor emulator's
// http.Handler, for the harness of an HTTP adapter: it counts the API
// requests, and answers them as its Fault says (FaultAuth answers token
// requests too).
type Vendor struct {
	next    http.Handler
	isToken func(*http.Request) bool

	requests atomic.Int64
	mu       sync.Mutex
	fault    Fault
	release  chan struct{} // closed by Release: hanging requests end
	once     sync.Once
}

// NewVendor wraps next; isToken tells token requests from API requests.
func NewVendor(next http.Handler, isToken func(*http.Request) bool) *Vendor {
	return &Vendor{next: next, isToken: isToken, release: make(chan struct{})}
}

// SetFault makes every later API request fail as f says; the zero Fault
// ends it.
func (v *Vendor) SetFault(f Fault) {
	v.mu.Lock()
	v.fault = f
	v.mu.Unlock()
}

// Requests returns the number of API requests received.
func (v *Vendor) Requests() int { return int(v.requests.Load()) }

// Release lets every hanging request go, now and later.
func (v *Vendor) Release() { v.once.Do(func() { close(v.release) }) }

// ServeHTTP implements http.Handler.
func (v *Vendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := v.isToken(r)
	if !token {
		v.requests.Add(1)
	}
	v.mu.Lock()
	f := v.fault
	v.mu.Unlock()
	if token && f.Kind != FaultAuth {
		f = Fault{}
	}
	retryAfter := func() {
		if f.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		}
	}
	answer := func(status int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	switch f.Kind {
	case FaultUnavailable:
		retryAfter()
		answer(http.StatusServiceUnavailable, `{"error":"unavailable"}`)
	case FaultServerError:
		answer(http.StatusInternalServerError, `{"error":"internal"}`)
	case FaultRateLimited:
		retryAfter()
		answer(http.StatusTooManyRequests, `{"error":"rate limited"}`)
	case FaultAuth:
		answer(http.StatusUnauthorized, `{"error":"invalid_client"}`)
	case FaultBadResponse:
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>Service temporarily moved</body></html>")
	case FaultDisconnect:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case FaultHang:
		select {
		case <-r.Context().Done():
		case <-v.release:
		}
	default:
		v.next.ServeHTTP(w, r)
	}
}
