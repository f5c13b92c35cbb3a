package limits

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dirgate/dirgate/internal/errcode"
)

// Conns bounds the connections an http.Server holds, and how long a
// connection that has not authenticated may sit idle:
//
//   - at most Max connections are open at once. When one more arrives, the
//     connection idle the longest is closed to make room, else one that
//     has been open for NewGrace without sending a request (a slow or
//     silent client); when every connection is busy, the new one is
//     answered 503 OVERLOADED and closed;
//   - a connection whose last request did not authenticate (see
//     Authenticated; without API keys, none does) is closed once idle for
//     UnauthIdle, however long the server's own IdleTimeout.
//
// Install it with Listener, and as the server's ConnState and ConnContext.
type Conns struct {
	Max        int
	UnauthIdle time.Duration
	NewGrace   time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	open     map[net.Conn]*tracked
	refusers chan struct{} // one per refusal being written
	// Refused counts connections answered 503 at accept; Evicted those
	// closed to make room.
	refused, evicted atomic.Int64
}

// Default timings of Conns.
const (
	DefaultUnauthIdle = 5 * time.Second
	DefaultNewGrace   = time.Second
)

type tracked struct {
	conn   net.Conn
	state  http.ConnState
	since  time.Time
	authed atomic.Bool // the current or last request authenticated
	timer  *time.Timer
}

// Listener returns ln, bounded by c.
func (c *Conns) Listener(ln net.Listener) net.Listener { return &connListener{Listener: ln, c: c} }

type connListener struct {
	net.Listener
	c *Conns
}

func (l *connListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.c.admit(conn) {
			return conn, nil
		}
		l.c.refused.Add(1)
		select {
		case l.c.refusing() <- struct{}{}:
			go func() {
				defer func() { <-l.c.refusers }()
				refuse(conn)
			}()
		default:
			conn.Close() // already answering enough refusals
		}
	}
}

// maxRefusers bounds the refusals written at once.
const maxRefusers = 64

func (c *Conns) refusing() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refusers == nil {
		c.refusers = make(chan struct{}, maxRefusers)
	}
	return c.refusers
}

// admit records conn, making room for it if it can.
func (c *Conns) admit(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[net.Conn]*tracked{}
	}
	now := c.now()
	if len(c.open) >= c.Max {
		victim := c.evictableLocked(now)
		if victim == nil {
			return false
		}
		c.forgetLocked(victim)
		victim.conn.Close()
		c.evicted.Add(1)
	}
	c.open[conn] = &tracked{conn: conn, state: http.StateNew, since: now}
	return true
}

// evictableLocked returns the connection idle the longest, else the oldest
// that has sent no request for NewGrace, else nil.
//
// Idle is as ConnState last said, and net/http says active only once it
// has read a request's headers: a request that is arriving on the
// connection evicted as idle is lost with it, as with any server that
// closes idle keep-alive connections, and clients send it again on a new
// connection (Go's Transport does for requests it can replay). The table
// is full only under a flood of connections, when that is the lesser loss.
func (c *Conns) evictableLocked(now time.Time) *tracked {
	var idle, silent *tracked
	for _, t := range c.open {
		switch {
		case t.state == http.StateIdle && (idle == nil || t.since.Before(idle.since)):
			idle = t
		case t.state == http.StateNew && now.Sub(t.since) >= c.newGrace() && (silent == nil || t.since.Before(silent.since)):
			silent = t
		}
	}
	if idle != nil {
		return idle
	}
	return silent
}

func (c *Conns) forgetLocked(t *tracked) {
	if t.timer != nil {
		t.timer.Stop()
	}
	delete(c.open, t.conn)
}

// ConnState is the server's ConnState hook.
func (c *Conns) ConnState(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.open[conn]
	if t == nil {
		return // evicted, or accepted by another listener
	}
	switch state {
	case http.StateClosed, http.StateHijacked:
		c.forgetLocked(t)
		return
	case http.StateActive:
		t.authed.Store(false)
	}
	t.state, t.since = state, c.now()
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if state == http.StateIdle && !t.authed.Load() {
		t.timer = time.AfterFunc(c.unauthIdle(), func() { c.closeIdle(t) })
	}
}

// closeIdle closes t if it is still idle.
func (c *Conns) closeIdle(t *tracked) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[t.conn] != t || t.state != http.StateIdle {
		return
	}
	c.forgetLocked(t)
	t.conn.Close()
}

type connKey struct{}

// ConnContext is the server's ConnContext hook: it lets Authenticated find
// the request's connection.
func (c *Conns) ConnContext(ctx context.Context, conn net.Conn) context.Context {
	c.mu.Lock()
	t := c.open[conn]
	c.mu.Unlock()
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, connKey{}, t)
}

// Authenticated records that the request of ctx authenticated, so that
// its connection keeps the server's idle timeout.
func Authenticated(ctx context.Context) {
	if t, ok := ctx.Value(connKey{}).(*tracked); ok {
		t.authed.Store(true)
	}
}

// Stats returns the connections open now, and how many were refused and
// evicted so far.
func (c *Conns) Stats() (open int, refused, evicted int64) {
	c.mu.Lock()
	open = len(c.open)
	c.mu.Unlock()
	return open, c.refused.Load(), c.evicted.Load()
}

func (c *Conns) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Conns) unauthIdle() time.Duration {
	if c.UnauthIdle > 0 {
		return c.UnauthIdle
	}
	return DefaultUnauthIdle
}

func (c *Conns) newGrace() time.Duration {
	if c.NewGrace > 0 {
		return c.NewGrace
	}
	return DefaultNewGrace
}

// refuse answers a connection dirgate has no room for with a 503 and
// closes it, spending at most a second on it.
func refuse(conn net.Conn) {
	defer conn.Close()
	body, _ := json.Marshal(map[string]any{"errors": []any{map[string]any{
		"message":    "dirgate holds as many connections as it may: try again shortly",
		"extensions": map[string]string{"code": string(errcode.Overloaded)},
	}}})
	conn.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(conn, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Cache-Control: no-store\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}
