//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// makeRun returns "make run" in the repository with the binary under test
// (-o build: nothing is built) and the given variables, in an environment
// without what an enclosing make (make test) passes to its children, which
// would change what the make under test prints.
func makeRun(t *testing.T, ctx context.Context, vars ...string) *exec.Cmd {
	t.Helper()
	mk := servertest.Tool(t, "make")
	args := append([]string{"-C", "../..", "--no-print-directory", "-o", "build", "run", "BIN=" + servertest.Binary(t)}, vars...)
	cmd := exec.CommandContext(ctx, mk, args...)
	cmd.Env = servertest.Env("MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=")
	// make and the server it runs are a process group, as in a terminal:
	// the context's end kills both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	return cmd
}

// lockedBuffer is an io.Writer for a process's output that a test may read
// while the process writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestMakeRun runs "make run PORT=... DATA=... ARGS=..." with a data file
// in a directory whose name has a space, checks that the server answers on
// that port with those flags and created that file, and stops it as Ctrl-C
// would. Then it runs make run on a port that is taken.
func TestMakeRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "c.db")
	ready := filepath.Join(t.TempDir(), "ready")
	_, port, _ := strings.Cut(servertest.FreeAddr(t), ":")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := makeRun(t, ctx, "PORT="+port, "DATA="+data, "ARGS=-F --idle-timeout 30 --ready-file "+ready)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cancel() // kills make and the server
			<-exited
		}
		if t.Failed() {
			t.Logf("make run output:\n%s", out.String())
		}
	})

	// The server writes --ready-file once it serves (make exec'd it).
	addr, err := waitForFile(ready, exited, 10*time.Second)
	if err != nil {
		t.Fatalf("make run: %v\n%s", err, out.String())
	}
	if addr != "127.0.0.1:"+port {
		t.Errorf("make run PORT=%s: the server listens on %s", port, addr)
	}
	if !strings.Contains(out.String(), ` data="`+data+`" `) {
		t.Errorf("DATA=%q: the listening line does not name it:\n%s", data, out.String())
	}
	w := dialWire(t, addr)
	w.expect("set k 0 0 2\r\nhi\r\n", "STORED\r\n")
	w.expect("flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n") // ARGS=-F
	if got := w.stats("settings")["idle_timeout"]; got != "30" {
		t.Errorf("ARGS=--idle-timeout 30: stats settings idle_timeout = %s", got)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("DATA=%q: %v", data, err)
	}

	// Ctrl-C: SIGINT to the server (and make, which waits for it). make
	// exits 0 with the server.
	m := regexp.MustCompile(` pid=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no pid= in the output:\n%s", out.String())
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("make run after the server's SIGINT: %v, want status 0", err)
	}

	// make run on a port that is taken: the message suggests the same
	// make run, with another port.
	first := servertest.StartBinary(t, servertest.BinaryOptions{})
	busy := strconv.Itoa(first.Port)
	taken := makeRun(t, ctx, "PORT="+busy, "DATA="+data)
	got, err := taken.CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) {
		t.Fatalf("make run PORT=%s: %v\n%s", busy, err, got)
	}
	hint := regexp.MustCompile(`To use port (\d+) instead: `).FindSubmatch(got)
	if hint == nil {
		t.Fatalf("make run PORT=%s: no port suggested:\n%s", busy, got)
	}
	free := string(hint[1])
	want := "memcached-lite: listen tcp4 127.0.0.1:" + busy + ": bind: address already in use\n" +
		"port " + busy + " is taken: another memcached may be running there (Debian's memcached package listens on 127.0.0.1:11211), or another memcached-lite.\n" +
		"To use port " + free + " instead: make run PORT=" + free + " DATA='" + data + "'\n"
	if !strings.HasPrefix(string(got), want) || !regexp.MustCompile(`\nmake: \*\*\* \[Makefile:\d+: run\] Error 1\n$`).Match(got) {
		t.Errorf("make run PORT=%s (taken):\n got %q\nwant %q and make's Error 1 line", busy, got, want)
	}
}

// waitForFile returns the first line of the file at path once it exists,
// looking every 5 ms (nothing tells when another process creates a file),
// or an error if exited gets the process's end first or limit passes.
func waitForFile(path string, exited <-chan error, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			return line, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		select {
		case err := <-exited:
			return "", errors.Join(errors.New("exited before it was ready"), err)
		case <-deadline.C:
			return "", errors.New("not ready in time")
		case <-tick.C:
		}
	}
}
