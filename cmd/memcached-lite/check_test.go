package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestCheckCommand runs check on a good file, on one whose record header
// the test corrupts, on a foreign bbolt file and on a file a running server
// holds: exit status and the one-line verdict, exactly.
func TestCheckCommand(t *testing.T) {
	path := newDataFile(t)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w := dialWire(t, p.Addr)
	w.expect("set a 1 0 3\r\nabc\r\n", "STORED\r\n")
	w.expect("set bb 2 0 2\r\nxy\r\n", "STORED\r\n")

	t.Run("locked by a running server", func(t *testing.T) {
		start := time.Now()
		stdout, stderr, code := servertest.Run(t, "", "check", "--data", path)
		want := fmt.Sprintf("FAIL storage: open %s: the file is locked by process %d (waited 100ms)\n", path, p.Cmd.Process.Pid)
		if code != 1 || stdout != want || stderr != "" {
			t.Errorf("check: exit status %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("check took %v to give up on a locked file", d)
		}
	})
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("server exit status %d", code)
	}

	t.Run("good", func(t *testing.T) {
		stdout, stderr, code := servertest.Run(t, "", "check", "--data", path)
		want := fmt.Sprintf("OK %s: format 1, 2 items, 8 bytes of keys and values\n", path)
		if code != 0 || stdout != want || stderr != "" {
			t.Errorf("check: exit status %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, want)
		}
	})

	t.Run("corrupt record header", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.db")
		copyFile(t, path, bad)
		db, err := bolt.Open(bad, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("items"))
			return b.Put([]byte("bb"), []byte{1, 0, 0}) // version 1, but 3 bytes: no room for the header
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		stdout, _, code := servertest.Run(t, "", "check", "--data", bad)
		want := fmt.Sprintf("FAIL storage: check failed: %s: 1 problem: key \"bb\": record header does not decode (3 bytes, version byte 1)\n", bad)
		if code != 1 || stdout != want {
			t.Errorf("check: exit status %d, stdout %q; want 1 and %q", code, stdout, want)
		}
	})

	t.Run("foreign bbolt file", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other.db")
		db, err := bolt.Open(other, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte("widgets"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		stdout, _, code := servertest.Run(t, "", "check", "--data", other)
		want := fmt.Sprintf("FAIL storage: check %s: storage: not a memcached-lite data file\n", other)
		if code != 1 || stdout != want {
			t.Errorf("check: exit status %d, stdout %q; want 1 and %q", code, stdout, want)
		}
	})

	// bbolt's own tool agrees with check on the good file.
	t.Run("bbolt check", func(t *testing.T) {
		out, err := exec.Command(servertest.Tool(t, "bbolt"), "check", path).CombinedOutput()
		if err != nil || string(out) != "OK\n" {
			t.Errorf("bbolt check: %v, %q; want OK", err, out)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
