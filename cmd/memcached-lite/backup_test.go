package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// backupExptime is the absolute expiry (Unix seconds, in 2033) of every
// item the backup test writes, so that the restored expiry can be compared
// exactly.
const backupExptime = 2000000000

// writeLoop sets w<w>-<i> for i = 0, 1, ... on its own connection until
// stop is closed, storing in acked the number of writes answered STORED
// (each key is written once, in order). warm is signalled after the 20th.
func writeLoop(addr string, w int, acked *atomic.Int64, warm *sync.WaitGroup, stop <-chan struct{}) error {
	warmed := false
	signal := func() {
		if !warmed {
			warmed = true
			warm.Done()
		}
	}
	defer signal()
	nc, err := net.DialTimeout("tcp", addr, wireTimeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	for i := 0; ; i++ {
		if i == 20 {
			signal()
		}
		select {
		case <-stop:
			return nil
		default:
		}
		v := fmt.Sprintf("value of w%d-%d", w, i)
		nc.SetDeadline(time.Now().Add(wireTimeout))
		if _, err := fmt.Fprintf(nc, "set w%d-%d %d %d %d\r\n%s\r\n", w, i, w*1000+i, backupExptime, len(v), v); err != nil {
			return err
		}
		if l, err := r.ReadString('\n'); err != nil || l != "STORED\r\n" {
			return fmt.Errorf("set w%d-%d: %q, %v", w, i, l, err)
		}
		acked.Store(int64(i + 1))
	}
}

// getsAll sends one gets for keys and returns the whole reply.
func getsAll(w *wire, keys []string) string {
	w.t.Helper()
	w.send("gets " + strings.Join(keys, " ") + "\r\n")
	var b strings.Builder
	for {
		l := w.line()
		b.WriteString(l)
		if l == "END\r\n" {
			return b.String()
		}
	}
}

// TestBackupDuringWrites takes a backup with the backup subcommand while 16
// connections write, then serves the copy and finds in it every write that
// had been acknowledged before the backup began, with its value, flags,
// CAS and expiry; check says OK on the copy.
func TestBackupDuringWrites(t *testing.T) {
	metrics := servertest.FreeAddr(t)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"--metrics", metrics}})

	const writers = 16
	var acked [writers]atomic.Int64
	var wg, warm sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, writers)
	warm.Add(writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writeLoop(p.Addr, w, &acked[w], &warm, stop)
		}()
	}
	warm.Wait() // every writer has had 20 writes acknowledged
	var before [writers]int64
	for w := range before {
		before[w] = acked[w].Load()
	}
	out := filepath.Join(t.TempDir(), "backup.db")
	stdout, stderr, code := servertest.Run(t, "", "backup", "-s", metrics, out)
	var during int64
	for w := range writers {
		during += acked[w].Load() - before[w]
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if code != 0 || !regexp.MustCompile(`^backup .*backup\.db: \d+ bytes, snapshot of .* GMT\n$`).MatchString(stdout) {
		t.Fatalf("backup: exit status %d, stdout %q, stderr %q; want 0 and one line", code, stdout, stderr)
	}
	t.Logf("writes acknowledged while the backup ran: %d", during)

	stdout, stderr, code = servertest.Run(t, "", "check", "--data", out)
	if code != 0 || !strings.HasPrefix(stdout, "OK "+out+": format 1, ") {
		t.Fatalf("check of the backup: exit status %d, stdout %q, stderr %q; want 0 and OK", code, stdout, stderr)
	}

	// The copy serves each acknowledged write as the original does: the
	// same value, flags and CAS (each key was written once).
	orig := dialWire(t, p.Addr)
	cp := servertest.StartBinary(t, servertest.BinaryOptions{Path: out})
	restored := dialWire(t, cp.Addr)
	var total int
	for w, n := range before {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("w%d-%d", w, i))
		}
		want, got := getsAll(orig, keys), getsAll(restored, keys)
		if strings.Count(want, "VALUE ") != int(n) {
			t.Fatalf("the original server lost writes of w%d: %q", w, want)
		}
		if got != want {
			t.Fatalf("writer %d: the backup serves\n%s\nthe original\n%s", w, got, want)
		}
		total += int(n)
	}
	if code := cp.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("the server on the backup exited %d", code)
	}

	// And with the expiry it was written with.
	st, err := storage.Open(out, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for w, n := range before {
		for i := range n {
			it, err := st.Get(fmt.Sprintf("w%d-%d", w, i))
			if err != nil || !it.Expires.Equal(time.Unix(backupExptime, 0)) {
				t.Fatalf("w%d-%d in the backup: expires %v, %v; want %v", w, i, it.Expires, err, time.Unix(backupExptime, 0))
			}
		}
	}
	t.Logf("%d acknowledged writes found in the backup", total)
}

// fakeBackupServer serves GET /backup as a server would, with the
// Content-Length of body, but sends only its first half, then calls
// midway and blocks until the test ends or, if hangUp, closes the
// connection.
func fakeBackupServer(t *testing.T, body []byte, hangUp bool, midway func()) string {
	t.Helper()
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		midway()
		if hangUp {
			panic(http.ErrAbortHandler) // closes the connection mid-body
		}
		<-release
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) })
	return strings.TrimPrefix(hs.URL, "http://")
}

// snapshotBytes returns a real backup of a file with 200 items of 1 KB.
func snapshotBytes(t *testing.T) []byte {
	t.Helper()
	ts := servertest.Start(t, servertest.Options{})
	w := dialWire(t, ts.Addr)
	v := strings.Repeat("v", 1000)
	for i := range 200 {
		w.expect(fmt.Sprintf("set k%d 0 0 %d\r\n%s\r\n", i, len(v), v), "STORED\r\n")
	}
	sn, err := ts.Store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var b strings.Builder
	if _, err := sn.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// waitForPartial waits until a temporary file in dir holds n bytes: the
// backup process has written them.
func waitForPartial(t *testing.T, dir string, n int64) string {
	t.Helper()
	deadline := time.Now().Add(wireTimeout)
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && fi.Size() == n {
				return e.Name()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no file of %d bytes in %s after %v: %v", n, dir, wireTimeout, ents)
		}
		time.Sleep(5 * time.Millisecond) // polling a file the child writes, as servertest does
	}
}

// TestBackupInterrupted stops a backup midway, three ways, and checks that
// no complete-looking file is left: OUT.db never appears, and what is left
// (only after SIGKILL, which allows no clean-up) has a temporary name and
// fails check.
func TestBackupInterrupted(t *testing.T) {
	body := snapshotBytes(t)
	for _, tc := range []struct {
		name     string
		sig      syscall.Signal // sent to the backup process midway; 0: none
		hangUp   bool           // the server closes the connection midway
		leftover bool           // a temporary file stays behind
	}{
		{name: "SIGKILL", sig: syscall.SIGKILL, leftover: true},
		{name: "SIGTERM", sig: syscall.SIGTERM},
		{name: "server hangs up", hangUp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			half := make(chan struct{})
			addr := fakeBackupServer(t, body, tc.hangUp, func() { close(half) })
			dir := t.TempDir()
			out := filepath.Join(dir, "backup.db")
			cmd := servertest.Command(t, "backup", "-s", addr, out)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			<-half
			if tc.sig != 0 {
				tmp := waitForPartial(t, dir, int64(len(body)/2))
				if !regexp.MustCompile(`^\.backup\.db\..*\.partial$`).MatchString(tmp) {
					t.Errorf("the backup in progress is named %q, want .backup.db.*.partial", tmp)
				}
				if err := cmd.Process.Signal(tc.sig); err != nil {
					t.Fatal(err)
				}
			}
			err := cmd.Wait()
			if err == nil {
				t.Fatalf("the interrupted backup exited 0")
			}
			if tc.hangUp && !strings.Contains(stderr.String(), "unexpected EOF") {
				t.Errorf("stderr %q, want it to say unexpected EOF", stderr.String())
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("%s exists after an interrupted backup (%v)", out, err)
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.leftover {
				for _, e := range ents {
					t.Errorf("left behind: %s", e.Name())
				}
				return
			}
			if len(ents) != 1 || !strings.HasSuffix(ents[0].Name(), ".partial") {
				t.Fatalf("left behind: %v, want one .partial file", ents)
			}
			left := filepath.Join(dir, ents[0].Name())
			if stdout, _, code := servertest.Run(t, "", "check", "--data", left); code != 1 || !strings.HasPrefix(stdout, "FAIL ") {
				t.Errorf("check of the partial file: exit status %d, %q; want 1 and FAIL", code, stdout)
			}
		})
	}
}
