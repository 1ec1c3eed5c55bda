package main

// Black-box tests of the memcached-lite binary: TestMain builds it once, and
// each test starts it as a separate process on an ephemeral port and talks
// to it over TCP with raw protocol lines or real third-party clients
// (gomemcache, memccapable, pymemcache, pylibmc).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const (
	procStartTimeout = 10 * time.Second // from exec to the "listening" line
	procStopTimeout  = 10 * time.Second // from a signal to the exit
	wireTimeout      = 5 * time.Second  // per request on a test connection
)

// serverBin is the binary under test, built once by TestMain.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "memcached-lite-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "memcached-lite")
	if err := buildServerBin(serverBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

// buildServerBin builds this package into bin. When the tests run with -race,
// so does the server: a data race under real clients fails the test (the
// race detector makes the server exit with status 66).
func buildServerBin(bin string) error {
	args := []string{"build", "-o", bin}
	if buildWithRace() {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func buildWithRace() bool {
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

// proc is a running server process.
type proc struct {
	t     testing.TB
	cmd   *exec.Cmd
	out   *procLog
	addr  string // host:port from the listening line
	port  int
	ready string // the listening line
	done  chan struct{}
	state *os.ProcessState // set before done is closed
	// allowErrors matches the level=ERROR lines a test provokes on purpose
	// (a full disk); nil means that any is a failure.
	allowErrors *regexp.Regexp
}

// procLog collects a process's output and sends the first line that
// matches isReady on ready.
type procLog struct {
	isReady func(line string) bool
	ready   chan string // buffered; gets the ready line, once

	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int  // bytes of buf already searched for the ready line
	found   bool // the ready line was sent
}

func (l *procLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(b)
	for !l.found {
		rest := l.buf.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		line := string(rest[:i])
		l.scanned += i + 1
		if l.isReady(line) {
			l.ready <- line
			l.found = true
		}
	}
	return len(b), nil
}

func (l *procLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var listenAddrRE = regexp.MustCompile(` addr=(\S+)`)

// startBinary starts the server on dataFile, listening on an ephemeral
// loopback port, with extra args. It returns once the server has logged that
// it listens; the process is stopped with SIGTERM when the test ends, and
// must then exit 0.
func startBinary(t testing.TB, dataFile string, args ...string) *proc {
	t.Helper()
	return startServerArgs(t, nil, append([]string{"server", "-p", "0", "-l", "127.0.0.1", "--data", dataFile}, args...)...)
}

// startServerArgs starts the binary with exactly args and the extra
// environment env, and waits for its listening line.
func startServerArgs(t testing.TB, env []string, args ...string) *proc {
	t.Helper()
	p := startProcess(t, serverBin, env, args, func(line string) bool {
		return strings.Contains(line, `msg="memcached-lite listening"`)
	})
	m := listenAddrRE.FindStringSubmatch(p.ready)
	if m == nil {
		t.Fatalf("no addr= in the listening line %q", p.ready)
	}
	p.addr = m[1]
	_, port, err := net.SplitHostPort(p.addr)
	if err != nil {
		t.Fatalf("listening line %q: %v", p.ready, err)
	}
	if p.port, err = strconv.Atoi(port); err != nil || p.port <= 0 {
		t.Fatalf("listening line %q: bad port %q", p.ready, port)
	}
	return p
}

// startProcess starts bin and waits until isReady accepts a line of its
// output. The process's environment is testEnv plus env. It is stopped with
// SIGTERM when the test ends.
func startProcess(t testing.TB, bin string, env, args []string, isReady func(string) bool) *proc {
	t.Helper()
	p, err := launch(t, bin, env, args, isReady)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch is startProcess that returns an error, with the output, if the
// process exits or is not ready in procStartTimeout.
func launch(t testing.TB, bin string, env, args []string, isReady func(string) bool) (*proc, error) {
	t.Helper()
	out := &procLog{isReady: isReady, ready: make(chan string, 1)}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(testEnv(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	p := &proc{t: t, cmd: cmd, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		cmd.Wait() // the exit status is read from state
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(p.cleanup)

	timer := time.NewTimer(procStartTimeout)
	defer timer.Stop()
	select {
	case p.ready = <-out.ready:
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s %s exited before it was ready: %v\noutput:\n%s", filepath.Base(bin), strings.Join(args, " "), p.state, out)
	case <-timer.C:
		return nil, fmt.Errorf("%s %s not ready after %v\noutput:\n%s", filepath.Base(bin), strings.Join(args, " "), procStartTimeout, out)
	}
}

// startMemcached starts the reference server, memcached, on a free loopback
// port with extra args, for checking that a test expects what memcached
// does. Without memcached the test is skipped (failed when CI is set).
func startMemcached(t testing.TB, args ...string) *proc {
	t.Helper()
	bin := needTool(t, "memcached")
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// -vv makes memcached log "server listening" once it listens.
		a := append([]string{"-p", strconv.Itoa(port), "-U", "0", "-l", "127.0.0.1", "-vv"}, args...)
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root") // memcached refuses to run as root otherwise
		}
		p, err := launch(t, bin, nil, a, func(line string) bool {
			return strings.Contains(line, "server listening")
		})
		if err != nil {
			// Another process may have taken the port in between.
			if attempt < 3 && strings.Contains(err.Error(), "Address already in use") {
				continue
			}
			t.Fatal(err)
		}
		p.port, p.addr = port, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		return p
	}
}

// testEnv is the environment for the processes a test starts: the test's
// without MEMCACHED_LITE_* variables, which would change the server's
// flags. A race-enabled server waits 100 ms, not 1 s, at exit for
// goroutines to report races.
func testEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEMCACHED_LITE_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return append(env, "GORACE=atexit_sleep_ms=100")
}

// stop sends sig and waits for the process to exit, killing it if it takes
// longer than procStopTimeout. It returns the exit status, -1 if a signal
// ended the process.
func (p *proc) stop(sig os.Signal) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Errorf("signal %v: %v", sig, err)
	}
	return p.wait(procStopTimeout)
}

// wait waits up to d for the process to exit on its own, then kills it.
// It returns the exit status, -1 if a signal ended the process.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.t.Errorf("process %d did not exit within %v; killing it", p.cmd.Process.Pid, d)
		p.cmd.Process.Kill()
		<-p.done
	}
	return p.state.ExitCode()
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signaled returns the signal that ended the process, or 0.
func (p *proc) signaled() syscall.Signal {
	if ws, ok := p.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// cleanup stops the process if it still runs (it must then exit 0) and
// fails the test on a data race or an error in the output, which it shows
// when the test failed.
func (p *proc) cleanup() {
	if !p.exited() {
		if code := p.stop(syscall.SIGTERM); code != 0 {
			p.t.Errorf("%s exited with status %d after SIGTERM at the end of the test, want 0", filepath.Base(p.cmd.Path), code)
		}
	}
	out := p.out.String()
	if strings.Contains(out, "WARNING: DATA RACE") {
		p.t.Errorf("the race detector found a data race in %s", filepath.Base(p.cmd.Path))
	}
	// The server logs at ERROR level only what should not happen: a failed
	// commit, a panic in a connection.
	if p.cmd.Path == serverBin {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "level=ERROR") && (p.allowErrors == nil || !p.allowErrors.MatchString(l)) {
				p.t.Errorf("the server logged errors: %s", l)
				break
			}
		}
	}
	if p.t.Failed() {
		p.t.Logf("output of %s (pid %d):\n%s", strings.Join(p.cmd.Args, " "), p.cmd.Process.Pid, out)
	}
}

// runBinary runs the binary with args to completion, which must come
// within d. It returns the exit status and the combined output.
func runBinary(t testing.TB, d time.Duration, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	cmd.Env = append(testEnv(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("memcached-lite %s did not exit within %v\noutput:\n%s", strings.Join(args, " "), d, out)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("memcached-lite %s: %v", strings.Join(args, " "), err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// wire is a raw text-protocol connection. Every request gets a fresh
// wireTimeout deadline, so a hang fails fast.
type wire struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func dialWire(t testing.TB, addr string) *wire {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, wireTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wire{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (w *wire) send(s string) {
	w.t.Helper()
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	if _, err := io.WriteString(w.nc, s); err != nil {
		w.t.Fatalf("send %.100q: %v", s, err)
	}
}

// line reads one reply line, with its "\r\n".
func (w *wire) line() string {
	w.t.Helper()
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	s, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("read a line: %v (got %q)", err, s)
	}
	return s
}

// expect sends req and checks that exactly want comes back.
func (w *wire) expect(req, want string) {
	w.t.Helper()
	w.send(req)
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	got := make([]byte, len(want))
	n, err := io.ReadFull(w.r, got)
	if err != nil || string(got) != want {
		w.t.Fatalf("send %.200q:\n got %q (%v)\nwant %q", req, got[:n], err, want)
	}
}

// expectEOF checks that the server closes the connection, with no more
// bytes, within wireTimeout.
func (w *wire) expectEOF() {
	w.t.Helper()
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	rest, err := io.ReadAll(w.r)
	if err != nil || len(rest) > 0 {
		w.t.Fatalf("want the connection closed with no more bytes, got %q and %v", rest, err)
	}
}

// stats sends "stats" (or "stats sub") and returns the values by name,
// checking that every line is "STAT <name> <value>\r\n" and the last "END\r\n".
func (w *wire) stats(sub string) map[string]string {
	w.t.Helper()
	req := "stats\r\n"
	if sub != "" {
		req = "stats " + sub + "\r\n"
	}
	w.send(req)
	m := make(map[string]string)
	for {
		l := w.line()
		if l == "END\r\n" {
			return m
		}
		f := wireStatRE.FindStringSubmatch(l)
		if f == nil {
			w.t.Fatalf("%q: line %q is not STAT <name> <value>", req, l)
		}
		if _, dup := m[f[1]]; dup {
			w.t.Errorf("%q: %s reported twice", req, f[1])
		}
		m[f[1]] = f[2]
	}
}

var wireStatRE = regexp.MustCompile(`^STAT (\S+) (\S+)\r\n$`)

// needTool returns the path of an external program. When it is missing the
// test is skipped, unless CI is set: then it fails.
func needTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	skipOrFail(t, name+" is not installed")
	return ""
}

// systemPython is Debian's interpreter, which has the python3-* client
// packages; python3 on PATH may be another one without them.
const systemPython = "/usr/bin/python3"

// needPython skips (or, with CI set, fails) the test unless systemPython
// can import module.
func needPython(t testing.TB, module string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, systemPython, "-c", "import "+module).CombinedOutput(); err != nil {
		skipOrFail(t, fmt.Sprintf("%s cannot import %s: %v\n%s", systemPython, module, err, out))
	}
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "" {
		t.Skip(why)
	}
	t.Fatalf("%s, and CI is set", why)
}

func newDataFile(t testing.TB) string {
	return filepath.Join(t.TempDir(), "memcached-lite.db")
}
