package storage_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// childEnv marks a run of the test binary as a helper process for a test
// here: its value is "<mode>:<data file path>".
const childEnv = "MEMCACHED_LITE_STORAGE_CHILD"

// startChild re-runs this test binary as a helper process that runs only the
// test named run, in the given mode, on the data file at path.
func startChild(t *testing.T, run, mode, path string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode+":"+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // the test failed before it waited
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, stdout)
			_ = cmd.Wait()
		}
	})
	return cmd, bufio.NewScanner(stdout), stdin
}

// childArgs returns the data file path if this process is a helper started
// for mode, and skips the test otherwise.
func childArgs(t *testing.T, mode string) string {
	m, path, ok := strings.Cut(os.Getenv(childEnv), ":")
	if !ok || m != mode {
		t.Skip("helper process for another test")
	}
	return path
}

// crashOp is the i-th write of the crash child: a set of one of 300 keys,
// with every tenth write an incr of "counter" and every tenth an append to "log".
func crashOp(i int) (kind, key, arg string) {
	switch {
	case i == 0:
		return "set", "counter", "0"
	case i == 1:
		return "set", "log", ""
	case i%10 == 8:
		return "incr", "counter", ""
	case i%10 == 9:
		return "append", "log", strconv.Itoa(i) + ","
	}
	return "set", "key-" + strconv.Itoa(i%300), "value-" + strconv.Itoa(i) + "-" + strings.Repeat("x", i%97)
}

// applyCrashOp applies crashOp(i) to a model of the store.
func applyCrashOp(m map[string]string, i int) {
	kind, key, arg := crashOp(i)
	switch kind {
	case "set":
		m[key] = arg
	case "append":
		m[key] += arg
	case "incr":
		n, _ := strconv.ParseUint(m[key], 10, 64)
		m[key] = strconv.FormatUint(n+1, 10)
	}
}

// TestCrashChild is the child of TestCrash: it writes with SyncAlways and
// prints "ack <i> <incr result>" after each write returns, until killed.
func TestCrashChild(t *testing.T) {
	path := childArgs(t, "crash")
	s, err := storage.Open(path, storage.Options{Sync: storage.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 100_000 { // far more than the parent waits for
		kind, key, arg := crashOp(i)
		var n uint64
		switch kind {
		case "set":
			err = s.Set(storage.Item{Key: key, Value: []byte(arg)})
		case "append":
			err = s.Append(storage.Item{Key: key, Value: []byte(arg)})
		case "incr":
			n, err = s.Incr(key, 1)
		}
		if err != nil {
			t.Fatalf("write %d (%s %s): %v", i, kind, key, err)
		}
		if _, err := fmt.Printf("ack %d %d\n", i, n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrash kills a writing child process with SIGKILL at a random point and
// checks that every write it acknowledged is in the file, exactly: the file
// must hold the state after the acknowledged writes, or after those and the
// one write in flight.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: hundreds of fsyncs")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	killAt := 200 + rand.IntN(601)
	cmd, acks, _ := startChild(t, "TestCrashChild", "crash", path)

	acked := 0 // writes 0..acked-1 are acknowledged
	model := make(map[string]string)
	check := func(line string) {
		var i int
		var n uint64
		if _, err := fmt.Sscanf(line, "ack %d %d", &i, &n); err != nil || i != acked {
			t.Fatalf("child printed %q, want an ack of write %d", line, acked)
		}
		applyCrashOp(model, i)
		if kind, key, _ := crashOp(i); kind == "incr" && strconv.FormatUint(n, 10) != model[key] {
			t.Fatalf("write %d: incr returned %d, want %s", i, n, model[key])
		}
		acked++
	}
	for acked < killAt && acks.Scan() {
		check(acks.Text())
	}
	if acked < killAt {
		t.Fatalf("child stopped after %d acks (%v): %v", acked, acks.Err(), cmd.Wait())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for acks.Scan() { // acks printed before the signal landed count too
		check(acks.Text())
	}
	err := cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", err)
	}
	t.Logf("killed after %d acknowledged writes (asked at %d)", acked, killAt)

	inFlight := make(map[string]string, len(model))
	for k, v := range model {
		inFlight[k] = v
	}
	applyCrashOp(inFlight, acked)

	s := openPath(t, path, storage.Options{})
	got := make(map[string]string, len(model))
	for k := range inFlight {
		if it, err := s.Get(k); err == nil {
			got[k] = string(it.Value)
		} else if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("Get(%q): %v", k, err)
		}
	}
	if !mapsEqual(got, model) && !mapsEqual(got, inFlight) {
		for k, want := range model {
			if got[k] != want {
				t.Errorf("%q = %q, want %q (acknowledged)", k, got[k], want)
			}
		}
		t.Fatalf("the file does not hold the acknowledged writes")
	}
	if items := s.Stats().Items; items != int64(len(got)) {
		t.Fatalf("Stats().Items = %d, want %d", items, len(got))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestLockChild is the child of TestOpenLockedByChild: it opens the store,
// prints "ready" and holds the file until its stdin is closed.
func TestLockChild(t *testing.T) {
	path := childArgs(t, "lock")
	s, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLockedByChild opens a file another process holds: the error names
// the file and the process.
func TestOpenLockedByChild(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	cmd, out, stdin := startChild(t, "TestLockChild", "lock", path)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("child did not open the store: %q, %v", out.Text(), out.Err())
	}
	s, err := storage.Open(path, storage.Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open of a file locked by another process succeeded")
	}
	want := "process " + strconv.Itoa(cmd.Process.Pid)
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, want) {
		t.Errorf("error %q does not name the file %s and %q", msg, path, want)
	}
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	for out.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	// Released: it opens now.
	openPath(t, path, storage.Options{})
}
