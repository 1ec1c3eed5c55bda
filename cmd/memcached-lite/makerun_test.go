package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// makeRunArgs runs "make run" in the repository with the binary under test
// (-o build: nothing is built) and the given variables.
func makeRunArgs(vars ...string) []string {
	return append([]string{"-C", "../..", "--no-print-directory", "-o", "build", "run", "BIN=" + serverBin}, vars...)
}

// makeEnv clears what an enclosing make (make test) passes to its
// children, which would change what the make under test prints.
var makeEnv = []string{"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL="}

var pidRE = regexp.MustCompile(` pid=(\d+)`)

// TestMakeRun runs "make run PORT=... DATA=..." with a data file in a
// directory whose name has a space, checks that the server answers on that
// port and created that file, and stops it as Ctrl-C would.
func TestMakeRun(t *testing.T) {
	mk := needTool(t, "make")
	dir := filepath.Join(t.TempDir(), "a b")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "c.db")
	_, port, _ := strings.Cut(twemproxyFreePort(t), ":")
	p := startProcess(t, mk, makeEnv, makeRunArgs("PORT="+port, "DATA="+data, "ARGS=-F --idle-timeout 30"), func(line string) bool {
		return strings.Contains(line, `msg="memcached-lite listening"`)
	})
	if !strings.Contains(p.ready, " addr=127.0.0.1:"+port+" ") || !strings.Contains(p.ready, ` data="`+data+`" `) {
		t.Errorf("listening line %q: want addr=127.0.0.1:%s and data=%q", p.ready, port, data)
	}
	t.Logf("make run: %s", p.ready)
	w := dialWire(t, "127.0.0.1:"+port)
	w.expect("set k 0 0 2\r\nhi\r\n", "STORED\r\n")
	w.expect("flush_all\r\n", "CLIENT_ERROR flush_all not allowed\r\n") // ARGS=-F
	if got := w.stats("settings")["idle_timeout"]; got != "30" {
		t.Errorf("ARGS=--idle-timeout 30: stats settings idle_timeout = %s", got)
	}
	if _, err := os.Stat(data); err != nil {
		t.Errorf("DATA=%q: %v", data, err)
	}

	// Stop the server (make exec'd it) with SIGINT: make exits 0 with it.
	m := pidRE.FindStringSubmatch(p.ready)
	if m == nil {
		t.Fatalf("no pid= in %q", p.ready)
	}
	pid, _ := strconv.Atoi(m[1])
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(procStopTimeout); code != 0 {
		t.Errorf("make run exited with status %d after the server's SIGINT, want 0", code)
	}

	// A second make run on the same port: the message suggests the same
	// make run, with another port.
	first := startBinary(t, newDataFile(t))
	busy := strconv.Itoa(first.port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mk, makeRunArgs("PORT="+busy, "DATA="+data)...)
	cmd.Env = append(testEnv(), makeEnv...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) {
		t.Fatalf("make run PORT=%s: %v\n%s", busy, err, out)
	}
	hint := regexp.MustCompile(`To use port (\d+) instead: `).FindSubmatch(out)
	if hint == nil {
		t.Fatalf("make run PORT=%s: no port suggested:\n%s", busy, out)
	}
	free := string(hint[1])
	want := "memcached-lite: listen tcp4 127.0.0.1:" + busy + ": bind: address already in use\n" +
		"port " + busy + " is taken: another memcached may be running there (Debian's memcached package listens on 127.0.0.1:11211), or another memcached-lite.\n" +
		"To use port " + free + " instead: make run PORT=" + free + " DATA='" + data + "'\n"
	if !strings.HasPrefix(string(out), want) || !regexp.MustCompile(`\nmake: \*\*\* \[Makefile:\d+: run\] Error 1\n$`).Match(out) {
		t.Errorf("make run PORT=%s (taken):\n got %q\nwant %q and make's Error 1 line", busy, out, want)
	}
}
