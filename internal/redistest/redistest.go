// Package redistest runs a real redis-server for tests: on a free loopback
// port, in a temporary directory, and with switches that make it fail the
// ways Redis fails in production (stopped, or hung).
//
// It needs Debian's redis-server on the PATH. Without it, Start skips the
// test, except under CI=true, where it fails it: CI installs redis-server
// (.ci/run), so a missing one is a broken CI, not a reason to pass.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long Start waits for redis-server to say that it
// accepts connections.
const startTimeout = 20 * time.Second

// Server is one redis-server process, bound to 127.0.0.1 on Port, with
// its data in a temporary directory that outlives restarts.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	Port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	paused bool
}

// Start starts a redis-server for t on a free loopback port and stops it
// when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI installs it (apt-get install redis-server), see .ci/run")
		}
		t.Skip("redis-server is not installed (apt-get install redis-server): skipping the tests that need a real Redis")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	var lastErr error
	for range 5 { // a port found free can be taken before redis binds it
		s.Port = freePort(t)
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redistest: redis-server did not start: %v", lastErr)
	return nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs redis-server on s.Port and waits until it accepts
// connections, reading its log rather than polling the port.
func (s *Server) start() error {
	cmd := exec.Command(s.bin,
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.Port),
		"--dir", s.dir, "--dbfilename", "dump.rdb",
		"--save", "", "--appendonly", "no", // saved only on Stop
		"--protected-mode", "yes", "--daemonize", "no",
		"--logfile", "", "--loglevel", "notice",
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	ready := make(chan struct{})
	var logTail strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				logTail.WriteString(line + "\n")
				if strings.Contains(line, "Ready to accept connections") {
					signalled = true
					close(ready)
				}
			}
		}
		io.Copy(io.Discard, out)
	}()
	go func() {
		cmd.Wait()
		close(exited)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-exited:
		return fmt.Errorf("redis-server exited at start-up:\n%s", logTail.String())
	case <-timer.C:
		cmd.Process.Kill()
		<-exited
		return fmt.Errorf("redis-server did not become ready within %v", startTimeout)
	}
	s.mu.Lock()
	s.cmd, s.exited, s.paused = cmd, exited, false
	s.mu.Unlock()
	return nil
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is the redis:// URL of database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a client for the test's own look at the data (not the
// code under test's), closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Stop shuts Redis down as an operator would, saving its data to disk
// first; Restart brings it back with that data. Until then, connections
// to its port are refused.
func (s *Server) Stop() {
	s.t.Helper()
	s.Resume()
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	if err := c.ShutdownSave(context.Background()).Err(); err != nil {
		s.t.Logf("redistest: SHUTDOWN SAVE: %v", err)
	}
	s.wait()
}

// Kill ends Redis at once, without saving, as a crash would. The test's
// cleanup calls it.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

func (s *Server) wait() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
	case <-time.After(startTimeout):
		s.t.Log("redistest: redis-server did not stop; killing it")
		cmd.Process.Kill()
		<-exited
	}
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
}

// Restart starts Redis again on the same port, with the data Stop saved
// (none after Kill).
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		s.t.Fatal("redistest: Restart while Redis runs: Stop or Kill it first")
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Pause freezes the process (SIGSTOP): connections open and commands are
// sent, but nothing answers, as with a Redis stuck on a slow disk or
// behind a dropped network path. Resume lets it go on.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP, true) }

// Resume undoes Pause.
func (s *Server) Resume() { s.signal(syscall.SIGCONT, false) }

func (s *Server) signal(sig syscall.Signal, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.paused == paused {
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("redistest: signal %v: %v", sig, err)
	}
	s.paused = paused
}

// Dump returns every key in the database with its value as Redis holds
// it: strings as they are, hashes as field=value lines, sorted sets as
// member lines, so that a test can search all of Redis for a secret.
func (s *Server) Dump(ctx context.Context) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	out := map[string]string{}
	iter := c.Scan(ctx, 0, "*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		typ, err := c.Type(ctx, key).Result()
		if err != nil {
			return nil, err
		}
		var v string
		switch typ {
		case "string":
			v, err = c.Get(ctx, key).Result()
		case "hash":
			var m map[string]string
			m, err = c.HGetAll(ctx, key).Result()
			var b strings.Builder
			for f, x := range m {
				b.WriteString(f + "=" + x + "\n")
			}
			v = b.String()
		case "zset":
			var ms []string
			ms, err = c.ZRange(ctx, key, 0, -1).Result()
			v = strings.Join(ms, "\n")
		case "list":
			var ms []string
			ms, err = c.LRange(ctx, key, 0, -1).Result()
			v = strings.Join(ms, "\n")
		case "set":
			var ms []string
			ms, err = c.SMembers(ctx, key).Result()
			v = strings.Join(ms, "\n")
		default:
			err = fmt.Errorf("key %s has type %s, which Dump does not read", key, typ)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, iter.Err()
}
