package limits

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestHosts (issue 10, item 7): without API keys only loopback hosts are
// served, plus the allowed ones; probes are not checked.
func TestHosts(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	probes := []string{"/healthz"}
	for _, tt := range []struct {
		name     string
		allowed  []string
		loopback bool
		host     string
		path     string
		want     int
	}{
		{"rebinding", nil, true, "attacker.example:8080", "/query", http.StatusMisdirectedRequest},
		{"rebinding to a loopback-looking name", nil, true, "localhost.attacker.example", "/query", http.StatusMisdirectedRequest},
		{"127.0.0.1", nil, true, "127.0.0.1:8080", "/query", http.StatusOK},
		{"127.9.9.9", nil, true, "127.9.9.9", "/query", http.StatusOK},
		{"::1", nil, true, "[::1]:8080", "/query", http.StatusOK},
		{"localhost", nil, true, "LocalHost.:8080", "/query", http.StatusOK},
		{"a .localhost name", nil, true, "dash.localhost:8080", "/query", http.StatusOK},
		{"the LAN address", nil, true, "192.168.1.20:8080", "/query", http.StatusMisdirectedRequest},
		{"a probe", nil, true, "10.0.0.7:8080", "/healthz", http.StatusOK},
		{"allowed", []string{"dirgate.example.com"}, true, "Dirgate.Example.com:443", "/query", http.StatusOK},
		{"not allowed", []string{"dirgate.example.com"}, true, "attacker.example", "/query", http.StatusMisdirectedRequest},
		{"allowed, keys", []string{"dirgate.example.com"}, false, "attacker.example", "/query", http.StatusMisdirectedRequest},
		{"allowed, keys, loopback", []string{"dirgate.example.com"}, false, "127.0.0.1", "/query", http.StatusMisdirectedRequest},
		{"keys, nothing allowed: any", nil, false, "attacker.example", "/query", http.StatusOK},
		{"the open demo", []string{"*"}, true, "demo.example", "/query", http.StatusOK},
	} {
		h := Hosts(tt.allowed, tt.loopback, probes, ok)
		r := httptest.NewRequest(http.MethodPost, "http://x"+tt.path, nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, w.Code, tt.want)
		}
		if tt.want != http.StatusOK && !strings.Contains(w.Body.String(), `"code":"HOST_NOT_ALLOWED"`) {
			t.Errorf("%s: body %s", tt.name, w.Body)
		}
	}
}

// TestInFlight (item 8): beyond n requests at once, 503 OVERLOADED with
// Retry-After, at once, not queued; a slot frees when a request ends.
func TestInFlight(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	h := InFlight(2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	finished := make(chan struct{}, 2)
	for range 2 {
		wg.Go(func() {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/query", nil))
			finished <- struct{}{}
		})
		<-entered
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("POST", "/query", nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"code":"OVERLOADED"`) {
		t.Errorf("third request: %d %v %s", w.Code, w.Header(), w.Body)
	}
	release <- struct{}{}
	<-finished
	done := make(chan int)
	go func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("POST", "/query", nil))
		done <- w.Code
	}()
	<-entered // a freed slot is taken
	close(release)
	if code := <-done; code != http.StatusOK {
		t.Errorf("after a slot freed: %d", code)
	}
	wg.Wait()
}

// pipeListener hands out the server ends of in-memory connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { close(l.done); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

// dial makes a connection, accepts it through ln, and returns both ends.
func dial(t *testing.T, pl *pipeListener, ln net.Listener) (client, server net.Conn) {
	t.Helper()
	client, server = net.Pipe()
	pl.conns <- server
	return client, server
}

// closed reports whether the other end of client has been closed.
func closed(client net.Conn) bool {
	client.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err := client.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe)
}

// TestConns (item 8): at most Max connections; room is made by closing the
// connection idle the longest, else one silent past NewGrace; with no room
// a new connection gets a 503 OVERLOADED; a connection whose last request
// did not authenticate is closed after UnauthIdle idle, one that did is
// not.
func TestConns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Conns{Max: 2}
		pl := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
		ln := c.Listener(pl)
		defer ln.Close()
		accept := func() net.Conn {
			conn, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			c.ConnState(conn, http.StateNew)
			return conn
		}
		c1, s1 := dial(t, pl, ln)
		accept()
		c2, s2 := dial(t, pl, ln)
		accept()

		// Both new and fresh: the third is refused.
		c3, _ := dial(t, pl, ln)
		accepted := make(chan net.Conn)
		go func() { conn, _ := ln.Accept(); accepted <- conn }()
		resp, err := http.ReadResponse(bufio.NewReader(c3), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(body), `"code":"OVERLOADED"`) {
			t.Errorf("third connection: %d %v %s", resp.StatusCode, resp.Header, body)
		}
		if open, refused, _ := c.Stats(); open != 2 || refused != 1 {
			t.Errorf("open %d, refused %d; want 2 and 1", open, refused)
		}

		// s2 serves a request and goes idle; s1 stays silent past the
		// grace. The fourth connection closes the idle one first.
		c.ConnState(s2, http.StateActive)
		Authenticated(c.ConnContext(context.Background(), s2))
		c.ConnState(s2, http.StateIdle)
		time.Sleep(2 * DefaultNewGrace)
		c4, s4 := dial(t, pl, ln)
		if got := <-accepted; got != s4 {
			t.Fatalf("accepted %v, want the fourth connection", got)
		}
		c.ConnState(s4, http.StateNew)
		if !closed(c2) || closed(c1) {
			t.Errorf("after the fourth: idle closed %t, silent closed %t; want the idle one only", closed(c2), closed(c1))
		}
		// Now only the silent one can make room.
		c5, s5 := dial(t, pl, ln)
		if conn := accept(); conn != s5 {
			t.Fatalf("accepted %v, want the fifth", conn)
		}
		if !closed(c1) {
			t.Error("the silent connection was kept, and the fifth let in")
		}
		_ = c5

		// s4 serves a request that does not authenticate, s5 one that
		// does; both go idle.
		c.ConnState(s4, http.StateActive)
		c.ConnState(s4, http.StateIdle)
		c.ConnState(s5, http.StateActive)
		Authenticated(c.ConnContext(context.Background(), s5))
		c.ConnState(s5, http.StateIdle)
		time.Sleep(DefaultUnauthIdle - 10*time.Millisecond)
		synctest.Wait()
		if closed(c4) {
			t.Error("unauthenticated connection closed before UnauthIdle")
		}
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		if !closed(c4) || closed(c5) {
			t.Errorf("after UnauthIdle: unauthenticated closed %t, authenticated closed %t", closed(c4), closed(c5))
		}
		if open, _, evicted := c.Stats(); open != 1 || evicted != 2 {
			t.Errorf("open %d, evicted %d; want 1 and 2", open, evicted)
		}
		c.ConnState(s5, http.StateClosed)
		for _, conn := range []net.Conn{c1, c2, c3, c4, c5, s1, s2, s4, s5} {
			conn.Close()
		}
	})
}

// TestJSONValues: a request whose JSON holds more values than the limit
// is refused before it is decoded, by POST and GET; values inside strings
// (the query itself) are not counted.
func TestJSONValues(t *testing.T) {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	h := JSONValues(10, next)
	for _, tt := range []struct {
		name, body string
		ok         bool
	}{
		{"small", `{"query":"{ a b c d e f g h i j k l m n }","variables":{"ids":[1,2,3]}}`, true},
		{"escaped quotes", `{"query":"\"[1,2,3,4,5,6,7,8,9,10,11]\\\\","variables":null}`, true},
		{"eleven ids", `{"query":"q","variables":{"ids":[1,2,3,4,5,6,7,8,9,10,11]}}`, false},
		{"nested", `{"query":"q","variables":{"x":[[[[[[[[[[[]]]]]]]]]]]}}`, false},
		{"strings", `{"query":"q","variables":{"x":["a","b","c","d","e","f","g","h","i"]}}`, false},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(tt.body)))
		if ok := w.Code == http.StatusOK; ok != tt.ok {
			t.Errorf("%s: %d %s", tt.name, w.Code, w.Body)
		}
		if tt.ok && w.Body.String() != tt.body {
			t.Errorf("%s: the handler read %q", tt.name, w.Body)
		}
		if !tt.ok && (w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), `"code":"REQUEST_TOO_LARGE"`)) {
			t.Errorf("%s: body %s", tt.name, w.Body)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/query?query=q&variables="+url.QueryEscape(`{"ids":[1,2,3,4,5,6,7,8,9,10,11]}`), nil))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("GET with eleven ids: %d", w.Code)
	}
}
