package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// compactFile writes n items of size bytes to a new data file in dir with
// the store, deletes all but every keep-th, and returns the file's path.
func compactFile(t *testing.T, dir string, n, size, keep int) string {
	t.Helper()
	path := filepath.Join(dir, "data.db")
	st, err := storage.Open(path, storage.Options{Sync: storage.SyncNone, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	v := bytes.Repeat([]byte("v"), size)
	for i := range n {
		if err := st.Set(storage.Item{Key: "k" + strconv.Itoa(i), Value: v, Flags: uint32(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if i%keep != 0 {
			if err := st.Delete("k" + strconv.Itoa(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantDir checks that dir holds exactly the files names.
func wantDir(t *testing.T, dir string, names ...string) {
	t.Helper()
	if got := dirNames(t, dir); strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("files in %s: %q, want %q", dir, got, names)
	}
}

var compactedRE = regexp.MustCompile(`^compacted (\S+): (\d+) bytes before, (\d+) after\n$`)

// TestCompactCommand compacts a file of which 1 item in 20 is left, prints
// the sizes before and after, and a server started on the file afterwards
// serves every item left.
func TestCompactCommand(t *testing.T) {
	dir := t.TempDir()
	path := compactFile(t, dir, 4000, 1000, 20)
	size := fileSize(t, path)
	stdout, stderr, code := servertest.Run(t, "", "compact", "--data", path)
	if code != 0 {
		t.Fatalf("compact: exit status %d\n%s", code, stderr)
	}
	m := compactedRE.FindStringSubmatch(stdout)
	if m == nil || m[1] != path || m[2] != strconv.FormatInt(size, 10) || m[3] != strconv.FormatInt(fileSize(t, path), 10) {
		t.Fatalf("compact printed %q; want the sizes before (%d) and after (%d)", stdout, size, fileSize(t, path))
	}
	t.Logf("%s", stdout)
	if after := fileSize(t, path); after*4 > size {
		t.Errorf("compact: %d bytes to %d, want under a quarter", size, after)
	}
	wantDir(t, dir, "data.db")

	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w := dialWire(t, p.Addr)
	for i := 0; i < 4000; i += 20 {
		k := "k" + strconv.Itoa(i)
		w.expect("get "+k+"\r\n", "VALUE "+k+" "+strconv.Itoa(i)+" 1000\r\n"+strings.Repeat("v", 1000)+"\r\nEND\r\n")
	}
	w.expect("get k1\r\n", "END\r\n")
}

// TestCompactCommandRefusesRunningServer runs compact on the file a server
// holds: it fails within about the 1 s lock timeout, naming the server's
// process, and leaves the file as it was, with no temporary file beside it.
func TestCompactCommandRefusesRunningServer(t *testing.T) {
	dir := t.TempDir()
	path := compactFile(t, dir, 100, 100, 2)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path}) // serving
	orig := readAll(t, path)

	start := time.Now()
	_, stderr, code := servertest.Run(t, "", "compact", "--data", path)
	elapsed := time.Since(start)
	want := "memcached-lite: storage: open " + path + ": the file is locked by process " + strconv.Itoa(p.Cmd.Process.Pid) + " (waited 1s)\n"
	if code != 1 || stderr != want {
		t.Errorf("compact of a served file: exit status %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("compact of a served file took %v, want about the 1 s lock timeout", elapsed)
	}
	if !bytes.Equal(readAll(t, path), orig) {
		t.Error("compact changed the file a server holds")
	}
	wantDir(t, dir, "data.db")
}

// TestCompactCommandDiskFull writes the copy (--out) to a file system too
// small for it: compact fails with the cause, leaves no temporary file
// there, and the data file as it was.
func TestCompactCommandDiskFull(t *testing.T) {
	needRoot(t)
	full := mountTmpfs(t, 0, "size=256k")
	dir := t.TempDir()
	path := compactFile(t, dir, 2000, 1000, 1) // 2 MB of items, all kept
	orig := readAll(t, path)
	out := filepath.Join(full, "copy.db")
	_, stderr, code := servertest.Run(t, "", "compact", "--data", path, "--out", out)
	if code != 1 || !strings.Contains(stderr, "no space left on device") {
		t.Errorf("compact to a full disk: exit status %d, stderr %q; want 1 and no space left on device", code, stderr)
	}
	wantDir(t, full)
	wantDir(t, dir, "data.db")
	if !bytes.Equal(readAll(t, path), orig) {
		t.Error("a failed compact changed the data file")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readAll(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
