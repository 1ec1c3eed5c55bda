package repl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The REPL is tested against the real memcached-lite binary, built once from
// ../../cmd/memcached-lite, which also runs the REPL itself for the tests of
// its pipe and terminal modes. The package imports nothing of the server.

const (
	startTimeout = 10 * time.Second // from exec to the server's listening line
	stopTimeout  = 10 * time.Second // from SIGTERM to exit
	runTimeout   = 20 * time.Second // a whole client run
)

var liteBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if liteBin.dir != "" {
			os.RemoveAll(liteBin.dir)
		}
		os.Exit(code)
	}))
}

// binary returns the memcached-lite binary, built on first use; with -race
// when the tests run with it, so a race in the REPL fails them too.
func binary(t *testing.T) string {
	t.Helper()
	liteBin.once.Do(func() {
		if liteBin.dir, liteBin.err = os.MkdirTemp("", "repl-test-"); liteBin.err != nil {
			return
		}
		liteBin.path = filepath.Join(liteBin.dir, "memcached-lite")
		args := []string{"build", "-o", liteBin.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", append(args, "../../cmd/memcached-lite")...).CombinedOutput()
		if err != nil {
			liteBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if liteBin.err != nil {
		t.Fatal(liteBin.err)
	}
	return liteBin.path
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// testEnv is the environment of the processes a test starts: the test's,
// without MEMCACHED_LITE_* (flags) and terminal settings, and with a short
// race-detector exit delay.
func testEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "MEMCACHED_LITE_"), name == "GORACE", name == "TERM",
			name == "NO_COLOR", name == "HOME", name == "XDG_STATE_HOME":
		default:
			env = append(env, kv)
		}
	}
	return append(append(env, "GORACE=atexit_sleep_ms=100"), extra...)
}

// server is a memcached-lite server process.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	addr string
	done chan struct{} // closed when the process has exited
}

var listenRE = regexp.MustCompile(`msg="memcached-lite listening" addr=(\S+)`)

// startServer starts memcached-lite on data (a new file if ""), on the
// loopback address addr ("" for a free port), and waits for its listening
// line. It is stopped with SIGTERM when the test ends, and must exit 0.
func startServer(t *testing.T, data, addr string) *server {
	t.Helper()
	if data == "" {
		data = filepath.Join(t.TempDir(), "data.db")
	}
	port := "0"
	if addr != "" {
		_, port, _ = net.SplitHostPort(addr)
	}
	s := &server{t: t, out: newSyncBuffer(), done: make(chan struct{})}
	s.cmd = exec.Command(binary(t), "server", "-p", port, "-l", "127.0.0.1", "--data", data)
	s.cmd.Env = testEnv()
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = dieWithParent()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait() // the status is read from ProcessState
		close(s.done)
	}()
	t.Cleanup(func() { s.stop() })
	m, err := s.out.waitMatch(listenRE, s.done, startTimeout)
	if err != nil {
		t.Fatalf("memcached-lite server: %v\noutput:\n%s", err, s.out)
	}
	s.addr = m[1]
	return s
}

// stop sends SIGTERM and checks that the server exits 0 in time. It may be
// called more than once.
func (s *server) stop() {
	s.t.Helper()
	select {
	case <-s.done:
		return
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("SIGTERM: %v", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		s.t.Errorf("server did not exit within %v of SIGTERM", stopTimeout)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		s.t.Errorf("server exited with status %d after SIGTERM, want 0\noutput:\n%s", code, s.out)
	}
	if strings.Contains(s.out.String(), "WARNING: DATA RACE") {
		s.t.Errorf("data race in the server:\n%s", s.out)
	}
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// runClient runs "memcached-lite client args..." with stdin, to its end.
func runClient(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), append([]string{"client"}, args...)...)
	cmd.Env = testEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("client %v did not exit within %v\nstdout:\n%s\nstderr:\n%s", args, runTimeout, &out, &errOut)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("client %v: %v", args, err)
	}
	if strings.Contains(errOut.String(), "WARNING: DATA RACE") {
		t.Errorf("data race in the client:\n%s", &errOut)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// syncBuffer collects output written by another goroutine or process and
// lets a test wait, without sleeping, until some text appears.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // gets a value after each write, if none is waiting
	read    int           // bytes of buf already consumed by waitFor
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until want appears after the text consumed by earlier
// calls, consumes up to its end and returns what came before it. It fails
// when closed is closed (the writer is gone) and want has not come, or
// after limit.
func (b *syncBuffer) waitFor(want string, closed <-chan struct{}, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for gone := false; ; {
		b.mu.Lock()
		rest := b.buf.String()[b.read:]
		if i := strings.Index(rest, want); i >= 0 {
			b.read += i + len(want)
			b.mu.Unlock()
			return rest[:i], nil
		}
		b.mu.Unlock()
		if gone {
			return "", fmt.Errorf("%q never came (the writer is gone); got %q", want, rest)
		}
		select {
		case <-b.changed:
		case <-closed:
			gone = true // every write came before: look once more
		case <-deadline.C:
			return "", fmt.Errorf("%q did not come within %v; got %q", want, limit, rest)
		}
	}
}

// waitMatch waits until re matches the output and returns its submatches.
func (b *syncBuffer) waitMatch(re *regexp.Regexp, closed <-chan struct{}, limit time.Duration) ([]string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for gone := false; ; {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m, nil
		}
		if gone {
			return nil, errors.New("exited before it was ready")
		}
		select {
		case <-b.changed:
		case <-closed:
			gone = true
		case <-deadline.C:
			return nil, fmt.Errorf("not ready within %v", limit)
		}
	}
}
