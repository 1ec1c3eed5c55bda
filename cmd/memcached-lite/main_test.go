package main

// Black-box tests of the memcached-lite binary, next to its main as Go's
// cmd/go tests are: each test starts the binary with server/servertest (on
// an ephemeral port, ready once it writes its --ready-file) and talks to it
// over TCP with raw protocol lines or real third-party clients (gomemcache,
// memccapable, pymemcache, pylibmc).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

const wireTimeout = 5 * time.Second // per request on a test connection

func TestMain(m *testing.M) { servertest.Main(m) }

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
		servertest.SkipOrFail(t, fmt.Sprintf("%s cannot import %s: %v\n%s", systemPython, module, err, out))
	}
}

func newDataFile(t testing.TB) string {
	return filepath.Join(t.TempDir(), "memcached-lite.db")
}

// listeningLine returns the line the server logs once it listens, for the
// tests of what it says (data=, sync=, items=). It is in the output by the
// time StartBinary returns: the server writes its --ready-file after it.
func listeningLine(t testing.TB, p *servertest.Process) string {
	t.Helper()
	for _, l := range strings.Split(p.Output(), "\n") {
		if strings.Contains(l, `msg="memcached-lite listening"`) {
			return l
		}
	}
	t.Fatalf("no listening line in the server's output:\n%s", p.Output())
	return ""
}
