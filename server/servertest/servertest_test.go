package servertest_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

func TestMain(m *testing.M) { servertest.Main(m) }

// roundTrip sends send to addr on a new connection and checks that exactly
// want comes back.
func roundTrip(t *testing.T, addr, send, want string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(nc, send); err != nil {
		t.Fatalf("send %q: %v", send, err)
	}
	got := make([]byte, len(want))
	if n, err := io.ReadFull(nc, got); err != nil || string(got) != want {
		t.Fatalf("send %q:\n got %q (%v)\nwant %q", send, got[:n], err, want)
	}
}

func TestStart(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	roundTrip(t, ts.Addr, "set k 3 0 2\r\nhi\r\n", "STORED\r\n")
	if it, err := ts.Store.Get("k"); err != nil || string(it.Value) != "hi" || it.Flags != 3 {
		t.Errorf("Store.Get(k) = %+v, %v; want hi with flags 3", it, err)
	}
	if _, err := os.Stat(ts.Path); err != nil {
		t.Errorf("the data file: %v", err)
	}
}

func TestStartPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my data.db")
	ts := servertest.Start(t, servertest.Options{Path: path})
	if ts.Path != path || ts.Store.Path() != path {
		t.Errorf("Path %q, Store.Path %q; want %q", ts.Path, ts.Store.Path(), path)
	}
	roundTrip(t, ts.Addr, "get k\r\n", "END\r\n")
}

// TestStartBinaryRestart starts the binary, stops it with SIGTERM, restarts
// it on the same file and port, and kills it.
func TestStartBinaryRestart(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-A"}})
	if want := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)); p.Addr != want {
		t.Errorf("Addr %q, Port %d", p.Addr, p.Port)
	}
	roundTrip(t, p.Addr, "set k 0 0 2\r\nhi\r\n", "STORED\r\n")
	if code := p.Stop(syscall.SIGTERM); code != 0 || !p.Exited() || p.Signaled() != 0 {
		t.Fatalf("after SIGTERM: status %d, exited %v, signal %v; want 0, true, none", code, p.Exited(), p.Signaled())
	}
	if !strings.Contains(p.Output(), "msg=stopped") {
		t.Errorf("output after SIGTERM:\n%s\nwant a stopped line", p.Output())
	}

	q := p.Restart(t)
	if q.Addr != p.Addr || q.Path != p.Path {
		t.Errorf("restarted on %s with %s, want %s with %s", q.Addr, q.Path, p.Addr, p.Path)
	}
	roundTrip(t, q.Addr, "get k\r\n", "VALUE k 0 2\r\nhi\r\nEND\r\n")
	if code := q.Stop(syscall.SIGKILL); code != -1 || q.Signaled() != syscall.SIGKILL {
		t.Errorf("after SIGKILL: status %d, signal %v", code, q.Signaled())
	}
	select {
	case <-q.Done():
	default:
		t.Error("Done not closed after Stop")
	}
}

// TestStartBinaryEnvOnly gives the server its port and data file through
// the environment alone.
func TestStartBinaryEnvOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "env.db")
	p := servertest.StartBinary(t, servertest.BinaryOptions{
		NoDefaultFlags: true,
		Args:           []string{"-l", "127.0.0.1"},
		Env:            []string{"MEMCACHED_LITE_PORT=0", "MEMCACHED_LITE_DATA=" + path},
	})
	roundTrip(t, p.Addr, "set k 0 0 1\r\nx\r\n", "STORED\r\n")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the data file from the environment: %v", err)
	}
}

func TestRun(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	for _, c := range []struct {
		stdin string
		args  []string
		out   string
		code  int
	}{
		{"", []string{"client", "-s", p.Addr, "set", "k", "v"}, "STORED\n", 0},
		{"get k\nget nothing\n", []string{"client", "-s", p.Addr}, "v\n(not found)\n", 0},
		{"", []string{"client", "-s", p.Addr, "delete", "nothing"}, "NOT_FOUND (there is no \"nothing\")\n", 1},
	} {
		stdout, stderr, code := servertest.Run(t, c.stdin, c.args...)
		if stdout != c.out || stderr != "" || code != c.code {
			t.Errorf("%q with stdin %q: stdout %q, stderr %q, status %d; want %q, nothing, %d", c.args, c.stdin, stdout, stderr, code, c.out, c.code)
		}
	}
}

func TestCommand(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	cmd := servertest.Command(t, "client", "set", "k", "v")
	cmd.Env = append(cmd.Env, "MEMCACHED_LITE_SERVERS="+p.Addr)
	if out, err := cmd.Output(); err != nil || string(out) != "STORED\n" {
		t.Errorf("MEMCACHED_LITE_SERVERS=%s client set k v: %q, %v", p.Addr, out, err)
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("MEMCACHED_LITE_PORT", "1")
	t.Setenv("TERM", "xterm")
	t.Setenv("SERVERTEST_KEPT", "yes")
	env := servertest.Env("TERM=dumb")
	for _, kv := range []string{"SERVERTEST_KEPT=yes", "GORACE=atexit_sleep_ms=100", "TERM=dumb"} {
		if !slices.Contains(env, kv) {
			t.Errorf("Env has no %s", kv)
		}
	}
	for _, kv := range []string{"MEMCACHED_LITE_PORT=1", "TERM=xterm"} {
		if slices.Contains(env, kv) {
			t.Errorf("Env has %s", kv)
		}
	}
}

// TestStartMemcached checks that memcached is ready with no connection
// made before the test's (its stats count only the test's bytes), and on
// the port it reports.
func TestStartMemcached(t *testing.T) {
	p := servertest.StartMemcached(t, "-m", "64")
	nc, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	stats := func(req string) map[string]string {
		t.Helper()
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if l == "END\r\n" {
				return m
			}
			if f := strings.Fields(l); len(f) == 3 {
				m[f[1]] = f[2]
			}
		}
	}
	st := stats("stats\r\n")
	if st["curr_connections"] != "1" || st["bytes_read"] != "7" || st["pid"] != strconv.Itoa(p.Cmd.Process.Pid) {
		t.Errorf("curr_connections %s, bytes_read %s, pid %s; want 1, 7 (\"stats\\r\\n\"), %d",
			st["curr_connections"], st["bytes_read"], st["pid"], p.Cmd.Process.Pid)
	}
	if port := stats("stats settings\r\n")["tcpport"]; port != strconv.Itoa(p.Port) {
		t.Errorf("stats settings tcpport = %s, want %d", port, p.Port)
	}
}

func TestStartTwemproxy(t *testing.T) {
	a, b := servertest.Start(t, servertest.Options{}), servertest.Start(t, servertest.Options{})
	proxy := servertest.StartTwemproxy(t, servertest.TwemproxyServer{Addr: a.Addr}, servertest.TwemproxyServer{Addr: b.Addr, Weight: 2})
	for i := range 20 {
		roundTrip(t, proxy.Addr, fmt.Sprintf("set k%d 0 0 1\r\nx\r\n", i), "STORED\r\n")
	}
	na, nb := a.Store.Stats().Items, b.Store.Stats().Items
	if na+nb != 20 || na == 0 || nb == 0 {
		t.Errorf("items on the servers: %d and %d; want 20 between them, some on each", na, nb)
	}
}

// recorder is a testing.TB whose Skip and Fatalf record and end the
// goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// record runs f with a recorder on a goroutine of its own.
func record(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestTool(t *testing.T) {
	if p := servertest.Tool(t, "go"); filepath.Base(p) != "go" {
		t.Errorf("Tool(go) = %q", p)
	}
	const missing = "servertest-no-such-tool"
	t.Setenv("CI", "")
	if r := record(t, func(tb testing.TB) { servertest.Tool(tb, missing) }); r.skipped != missing+" is not installed" || r.failed != "" {
		t.Errorf("without CI: skipped %q, failed %q; want a skip", r.skipped, r.failed)
	}
	t.Setenv("CI", "true")
	if r := record(t, func(tb testing.TB) { servertest.Tool(tb, missing) }); r.failed != missing+" is not installed, and CI is set" || r.skipped != "" {
		t.Errorf("with CI: skipped %q, failed %q; want a failure", r.skipped, r.failed)
	}
}
