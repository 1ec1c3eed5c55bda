package main

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// needRoot skips a test that mounts file systems unless it runs as root;
// with CI set it fails instead (CI runs as root).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		servertest.SkipOrFail(t, "mounting a tmpfs needs root")
	}
}

// mountTmpfs mounts a tmpfs with the given options on a new directory and
// unmounts it when the test ends, after the processes the test started
// afterwards have been stopped.
func mountTmpfs(t testing.TB, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, opts); err != nil {
		t.Fatalf("mount -t tmpfs -o %s %s: %v", opts, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// faultsValue is the value of the key k in the fill tests: 20 KB, its own.
func faultsValue(k string) string {
	return strings.Repeat(k+".", 20000/(len(k)+1))
}

// fillUntilFull sets 20 KB items until a set fails, which must be with a
// SERVER_ERROR line matching cause. It returns the keys stored and the one
// that failed.
func fillUntilFull(t *testing.T, w *wire, cause *regexp.Regexp) (stored []string, failed string) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("fill%d", i)
		v := faultsValue(k)
		w.send(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(v), v))
		switch l := w.line(); {
		case l == "STORED\r\n":
			stored = append(stored, k)
		case strings.HasPrefix(l, "SERVER_ERROR ") && cause.MatchString(l):
			t.Logf("after %d sets of %d bytes: %q", len(stored), len(v), l)
			return stored, k
		default:
			t.Fatalf("set %s: got %q, want STORED or SERVER_ERROR matching %q", k, l, cause)
		}
	}
	t.Fatalf("2000 sets of 20 KB did not fill the disk")
	return nil, ""
}

// expectItems checks that every key holds its faultsValue.
func (w *wire) expectItems(keys []string) {
	w.t.Helper()
	for _, k := range keys {
		v := faultsValue(k)
		w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(v), v))
	}
}

// roomLeft returns an upper bound on the bytes a commit could still find
// for new pages, on the file system at dir that holds the data file path
// with live bytes of values in it: the file system's free space, plus all
// of the file's space that holds no value (bbolt's free pages, pages a
// failed commit wrote past the end, meta and branch pages). How much of it
// bbolt can use depends on where it places pages, which is not
// deterministic; a value larger than the bound can never fit.
func roomLeft(t *testing.T, dir, path string, live int64) int64 {
	t.Helper()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Fatalf("statfs %s: %v", dir, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	return int64(fs.Bavail)*fs.Bsize + st.Blocks*512 - live
}

// TestFaultsDiskFull fills a small tmpfs that holds the data file: a write
// that does not fit gets a SERVER_ERROR naming the cause and is not
// applied, every reply tells what the file holds, reads go on, the file
// stays consistent (bbolt check passes even after a SIGKILL right then),
// the server starts again on the full disk, and once space is freed writes
// work again, with nothing acknowledged lost.
//
// Which write is the first that does not fit, and whether the same write
// fits when sent again, is not deterministic: bbolt's free-page map hands
// out spans in Go's map order, so the pages a commit needs past the end of
// the file (where the disk is full) vary from one try to the next. So the
// test retries the set that failed and accepts either reply, checking that
// the file then holds what the reply said; the write that must fail, every
// time, is one larger than all the room left.
func TestFaultsDiskFull(t *testing.T) {
	needRoot(t)
	bbolt := servertest.Tool(t, "bbolt") // go install go.etcd.io/bbolt/cmd/bbolt@v1.5.0
	dir := mountTmpfs(t, 0, "size=4m")
	path := filepath.Join(dir, "memcached-lite.db")
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	enospc := regexp.MustCompile(`no space left on device`)

	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	p.AllowErrors = enospc
	w := dialWire(t, p.Addr)
	full := regexp.MustCompile(`^SERVER_ERROR storage: commit ` + regexp.QuoteMeta(path) + `: write ` + regexp.QuoteMeta(path) + `: no space left on device\r\n$`)
	stored, failed := fillUntilFull(t, w, full)
	w.expect("get "+failed+"\r\n", "END\r\n") // the failed write was not applied
	v := faultsValue(failed)
	w.send(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", failed, len(v), v))
	switch l := w.line(); {
	case l == "STORED\r\n":
		t.Logf("the same set again fitted: bbolt placed its pages differently")
		stored = append(stored, failed)
	case full.MatchString(l):
		w.expect("get "+failed+"\r\n", "END\r\n")
	default:
		t.Errorf("the same set again on the full disk: got %q, want STORED or %q", l, full)
	}

	// A value larger than all the room left fails, each time, and is not
	// applied.
	var live int64
	for _, k := range stored {
		live += int64(len(faultsValue(k)))
	}
	room := roomLeft(t, dir, path, live)
	t.Logf("at most %d bytes left for new pages", room)
	if room >= 1000<<10 {
		t.Fatalf("%d bytes may be left for new pages: a larger value would pass the 1 MiB item size", room)
	}
	big := strings.Repeat("b", int(room)+1)
	setBig := fmt.Sprintf("set big 0 0 %d\r\n%s\r\n", len(big), big)
	for _, try := range []string{"a value larger than the room left", "the same set again"} {
		w.send(setBig)
		if l := w.line(); !full.MatchString(l) {
			t.Errorf("%s on the full disk: got %q, want %q", try, l, full)
		}
	}
	w.expect("get big\r\n", "END\r\n")
	w.expectItems(stored)
	w.expectVersion()
	if p.Exited() {
		t.Fatal("the server exited on a full disk")
	}

	// Killed right after failed commits, the file is consistent.
	if code := p.Stop(syscall.SIGKILL); code != -1 {
		t.Fatalf("exit status %d after SIGKILL", code)
	}
	bboltCheck(t, bbolt, path)

	// It starts again on the full disk, with everything acknowledged and
	// nothing else.
	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	p.AllowErrors = enospc
	w = dialWire(t, p.Addr)
	w.expectItems(stored)
	w.expect("get big\r\n", "END\r\n")
	if !slices.Contains(stored, failed) {
		w.expect("get "+failed+"\r\n", "END\r\n")
	}

	// Free space, and writes work again, the large one too.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		k := failed
		if i > 0 {
			k = fmt.Sprintf("after%d", i)
		}
		v = faultsValue(k)
		w.expect(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(v), v), "STORED\r\n")
		if !slices.Contains(stored, k) {
			stored = append(stored, k)
		}
	}
	w.expect(setBig, "STORED\r\n")
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	bboltCheck(t, bbolt, path)
	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w = dialWire(t, p.Addr)
	w.expectItems(stored)
	w.expect("get big\r\n", fmt.Sprintf("VALUE big 0 %d\r\n%s\r\nEND\r\n", len(big), big))
}

// TestFaultsMaxFileSize is TestFaultsDiskFull with bbolt's own limit on the
// file (--max-file-size), which needs no root. Once the limit is reached even
// deletes can fail (they need new pages too): the way out is a restart with
// a larger limit.
func TestFaultsMaxFileSize(t *testing.T) {
	bbolt := servertest.Tool(t, "bbolt") // go install go.etcd.io/bbolt/cmd/bbolt@v1.5.0
	path := newDataFile(t)
	stdout, stderr, code := servertest.Run(t, "", "server", "-p", "0", "-l", "127.0.0.1", "--data", path, "--max-file-size", "-1")
	out := stdout + stderr
	if want := "--max-file-size -1: want a size in MiB, 0 for no limit"; code != 1 || !strings.Contains(out, want) {
		t.Errorf("--max-file-size -1: exit status %d, output:\n%s\nwant 1 and %q", code, out, want)
	}
	maxSize := regexp.MustCompile(`database reached maximum size`)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path, Args: []string{"--max-file-size", "1"}})
	p.AllowErrors = maxSize
	w := dialWire(t, p.Addr)
	stored, failed := fillUntilFull(t, w, regexp.MustCompile(`^SERVER_ERROR storage: commit `+regexp.QuoteMeta(path)+`: database reached maximum size\r\n$`))
	w.expect("get "+failed+"\r\n", "END\r\n")
	w.expectItems(stored)
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	bboltCheck(t, bbolt, path)

	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w = dialWire(t, p.Addr)
	w.expectItems(stored)
	v := faultsValue(failed)
	w.expect(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", failed, len(v), v), "STORED\r\n")
	w.expectItems(append(stored, failed))
}

// TestFaultsBadFiles starts the server on files it must not use. It must
// exit at once with a message naming the file and the reason, and leave the
// file as it was.
func TestFaultsBadFiles(t *testing.T) {
	t.Run("locked by another server", func(t *testing.T) {
		path := newDataFile(t)
		first := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
		start := time.Now()
		stdout, stderr, code := servertest.Run(t, "", "server", "-p", "0", "-l", "127.0.0.1", "--data", path)
		out := stdout + stderr
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("the second server took %v to give up, want at most 2s", d)
		}
		want := fmt.Sprintf("memcached-lite: storage: open %s: the file is locked by process %d", path, first.Cmd.Process.Pid)
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("a second server on %s: exit status %d, output:\n%s\nwant 1 and %q", path, code, out, want)
		}
		dialWire(t, first.Addr).expect("set k 0 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n")
	})

	dir := t.TempDir()
	// A file of ours with 300 items in it, for the damaged copies.
	ours := filepath.Join(dir, "ours.db")
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: ours})
	w := dialWire(t, p.Addr)
	var keys []string
	for i := range 300 {
		k := fmt.Sprintf("k%d", i)
		v := strings.Repeat("v", 1000)
		w.expect(fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(v), v), "STORED\r\n")
		keys = append(keys, k)
	}
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	good, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}

	random := make([]byte, 256<<10)
	rand.NewChaCha8([32]byte{7}).Read(random)
	zeroedMeta := bytes.Clone(good)
	clear(zeroedMeta[:2*os.Getpagesize()]) // both meta pages
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("config"))
		if err != nil {
			return err
		}
		return b.Put([]byte("owner"), []byte("another program"))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"text.db":      []byte("not a database\n"),
		"random.db":    random,
		"truncated.db": good[:64<<10],
		"zeroed.db":    zeroedMeta,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, why string }{
		{"text.db", "too short for a database"},
		{"random.db", "invalid database"},
		{"truncated.db", "the file is truncated"},
		{"zeroed.db", "invalid database"},
		{"foreign.db", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			stdout, stderr, code := servertest.Run(t, "", "server", "-p", "0", "-l", "127.0.0.1", "--data", path)
			out := stdout + stderr
			want := fmt.Sprintf("memcached-lite: storage: open %s: storage: not a memcached-lite data file", path)
			if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, c.why) || strings.Contains(out, "goroutine") {
				t.Errorf("server on %s: exit status %d, output:\n%s\nwant 1 and %q, %q", c.name, code, out, want, c.why)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("the server changed %s (%d bytes before, %d after)", c.name, len(before), len(after))
			}
		})
	}

	// The intact file still opens, with its items.
	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: ours})
	w = dialWire(t, p.Addr)
	for _, k := range keys[:10] {
		w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 0 1000\r\n%s\r\nEND\r\n", k, strings.Repeat("v", 1000)))
	}

	t.Run("read-only file system", func(t *testing.T) {
		needRoot(t)
		ro := mountTmpfs(t, 0, "size=1m")
		existing := filepath.Join(ro, "existing.db")
		p := servertest.StartBinary(t, servertest.BinaryOptions{Path: existing})
		dialWire(t, p.Addr).expect("set k 0 0 1\r\nx\r\n", "STORED\r\n")
		if code := p.Stop(syscall.SIGTERM); code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0", code)
		}
		before, err := os.ReadFile(existing)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mount("tmpfs", ro, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, "size=1m"); err != nil {
			t.Fatalf("mount -o remount,ro %s: %v", ro, err)
		}
		for _, path := range []string{existing, filepath.Join(ro, "new.db")} {
			stdout, stderr, code := servertest.Run(t, "", "server", "-p", "0", "-l", "127.0.0.1", "--data", path)
			out := stdout + stderr
			want := fmt.Sprintf("memcached-lite: storage: open %s: open %s: read-only file system", path, path)
			if code != 1 || !strings.Contains(out, want) {
				t.Errorf("server on %s: exit status %d, output:\n%s\nwant 1 and %q", path, code, out, want)
			}
		}
		after, err := os.ReadFile(existing)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(before, after) {
			t.Errorf("the server changed %s", existing)
		}
		if _, err := os.Stat(filepath.Join(ro, "new.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("new.db on the read-only file system: stat: %v, want it absent", err)
		}
	})
}
