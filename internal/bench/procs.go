//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// child is a process the load command started: the emulators, the floor,
// or a dirgate.
type child struct {
	name string
	cmd  *exec.Cmd
	// stdin is held open: the emulators and the floor serve until it
	// closes.
	stdin io.WriteCloser
	log   string // its standard error, for when it fails
	url   string
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// start runs bin with args, waits for the first line of its standard
// output or error for which ready returns a non-empty string, and keeps
// reading both (its standard error into its log file).
func start(ctx context.Context, dir, name, bin string, args []string, ready func(line string) string) (*child, error) {
	c := &child{name: name, log: filepath.Join(dir, name+".log")}
	c.cmd = exec.CommandContext(ctx, bin, args...)
	c.cmd.Env = os.Environ()
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the load command
	logFile, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	found := make(chan string, 2)
	var ready1 atomic.Bool // ready has said yes: the rest is only kept
	scan := func(r io.Reader, keep io.Writer) {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if keep != nil {
				fmt.Fprintln(keep, sc.Text())
			}
			if ready1.Load() {
				continue
			}
			if s := ready(sc.Text()); s != "" && ready1.CompareAndSwap(false, true) {
				found <- s
			}
		}
		io.Copy(io.Discard, r)
	}
	var wg sync.WaitGroup
	wg.Go(func() { scan(stdout, nil) })
	wg.Go(func() { scan(stderr, logFile) })
	go func() {
		wg.Wait()
		logFile.Close()
		close(found)
	}()
	select {
	case s, ok := <-found:
		if !ok || s == "" {
			c.stop()
			return nil, fmt.Errorf("%s exited before it was ready; its log: %s\n%s", name, c.log, tail(c.log))
		}
		c.url = s
		return c, nil
	case <-time.After(2 * time.Minute):
		c.stop()
		return nil, fmt.Errorf("%s did not start; its log: %s", name, c.log)
	}
}

// stop ends the child: SIGINT (dirgate shuts down gracefully and writes
// its CPU profile), then closing its input, then SIGKILL after 15s.
func (c *child) stop() error {
	c.cmd.Process.Signal(os.Interrupt)
	c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		return <-done
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// startEmulators re-executes this program in emulator mode.
func startEmulators(ctx context.Context, dir string, latency time.Duration) (*child, vendorURLs, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, vendorURLs{}, err
	}
	var urls vendorURLs
	c, err := start(ctx, dir, "emulators", self, []string{"-mode", "emulators", "-latency", latency.String()}, func(line string) string {
		if json.Unmarshal([]byte(line), &urls) == nil && urls.Concur != "" {
			return urls.Concur
		}
		return ""
	})
	return c, urls, err
}

// startFloor re-executes this program as the plain-handler floor over the
// Concur emulator at concurURL.
func startFloor(ctx context.Context, dir, concurURL string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return start(ctx, dir, "floor", self, []string{"-mode", "floor", "-concur", concurURL}, func(line string) string {
		if strings.HasPrefix(line, "http://") {
			return line
		}
		return ""
	})
}

// buildDirgate builds the dirgate binary of the module the load command
// runs in: the production binary, wired by run() as it always is.
func buildDirgate(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside dirgate's module: run from its checkout, or pass -dirgate BINARY")
	}
	bin := filepath.Join(dir, "dirgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(mod)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}

// dirgateConfig is dirgate's configuration over one pair of emulators:
// the production defaults (JSON logs at info, every limit on), no auth on
// loopback.
func dirgateConfig(concurURL, getbillURL string, maxConcurrency int) string {
	extra := ""
	if maxConcurrency > 0 {
		extra = fmt.Sprintf("\n    maxConcurrency: %d", maxConcurrency)
	}
	return fmt.Sprintf(`server:
  addr: 127.0.0.1:0
providers:
  - key: concur
    kind: concur%s
    tokenURL: %s/oauth2/v0/token
    clientID: %s
    clientSecret: %s
    companyUUID: %s
    requestToken: %s
    pageSize: 100
  - key: getbill
    kind: getbill
    baseURL: %s
    clientID: %s
    clientSecret: %s
`, extra, concurURL, concurClientID, concurClientSecret, concurCompany, concurRequestToken, getbillURL, getbillClientID, getbillSecret)
}

// startDirgate runs dirgate over the emulators at concurURL and getbillURL
// and waits until /readyz says every provider is up.
func startDirgate(ctx context.Context, dir, name, bin, concurURL, getbillURL string, maxConcurrency int, extra ...string) (*child, error) {
	cfg := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfg, []byte(dirgateConfig(concurURL, getbillURL, maxConcurrency)), 0o600); err != nil {
		return nil, err
	}
	c, err := start(ctx, dir, name, bin, append([]string{"-config", cfg}, extra...), func(line string) string {
		// The banner (text logs), or the JSON log line "listening".
		if u, ok := strings.CutPrefix(line, "GraphQL:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(u), "/query")
		}
		var l struct{ Msg, GraphQL string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "listening" && l.GraphQL != "" {
			return strings.TrimSuffix(l.GraphQL, "/query")
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(c.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("%s is not ready after 30s; its log: %s\n%s", name, c.log, tail(c.log))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// heapAllocs reads this process's cumulative heap allocations as
// client_golang's go_memstats_alloc_bytes_total and
// go_memstats_mallocs_total do.
func heapAllocs() (bytes, objects uint64) {
	s := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/allocs:objects"},
		{Name: "/gc/heap/tiny/allocs:objects"},
	}
	metrics.Read(s)
	return s[0].Value.Uint64(), s[1].Value.Uint64() + s[2].Value.Uint64()
}
