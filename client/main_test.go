package client_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if liteBin.dir != "" {
			os.RemoveAll(liteBin.dir)
		}
		os.Exit(code)
	}))
}

// tool returns the path of an external program a test needs. When it is
// missing the test is skipped, unless CI is set: then it fails.
func tool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	if os.Getenv("CI") == "" {
		t.Skipf("%s is not installed", name)
	}
	t.Fatalf("%s is not installed, and CI is set", name)
	return ""
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

// startMemcached starts a memcached on a free loopback port and returns its
// address. It is killed when the test ends.
func startMemcached(t *testing.T) string {
	t.Helper()
	bin := tool(t, "memcached")
	return startDaemon(t, bin, func(addr string) []string {
		_, port, _ := net.SplitHostPort(addr)
		args := []string{"-p", port, "-U", "0", "-l", "127.0.0.1", "-m", "64", "-t", "2"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		return args
	})
}

var errExited = errors.New("exited before it accepted a connection")

// startDaemon runs bin with args(addr) for a free loopback addr and waits,
// without a fixed sleep, until addr accepts connections. If the program exits
// first (another process may have taken the port), it tries a new port. The
// process is killed in t.Cleanup.
func startDaemon(t *testing.T, bin string, args func(addr string) []string) string {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		logPath := filepath.Join(t.TempDir(), "output")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, args(addr)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = dieWithParent()
		err = cmd.Start()
		if cerr := logf.Close(); cerr != nil {
			t.Fatal(cerr)
		}
		if err != nil {
			t.Fatalf("start %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		err = waitListening(addr, exited, 10*time.Second)
		if err == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill() // it may have died already; Wait below tells
				<-exited
			})
			return addr
		}
		if !errors.Is(err, errExited) {
			_ = cmd.Process.Kill()
			<-exited
		}
		out, _ := os.ReadFile(logPath)
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatalf("%s %v: %v\noutput:\n%s", bin, cmd.Args[1:], err, out)
		}
		t.Logf("%s on %s %v; retrying on another port; output:\n%s", bin, addr, err, out)
	}
}

// waitListening dials addr until it answers, the process exits, or limit
// passes. The pause between tries grows from 1ms to 50ms.
func waitListening(addr string, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		nc, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return nc.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v: %w", addr, limit, err)
		}
		timer := time.NewTimer(pause)
		select {
		case werr := <-exited:
			timer.Stop()
			return fmt.Errorf("%w (%v)", errExited, werr)
		case <-timer.C:
		}
	}
}
