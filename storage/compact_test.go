package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/memcached-lite/memcached-lite/storage"
)

// closeStore closes s, failing the test on an error.
func closeStore(t *testing.T, s *storage.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// snapshot returns the items Get returns for keys: a missing key maps to
// the zero Item.
func snapshot(t *testing.T, s *storage.Store, keys []string) map[string]storage.Item {
	t.Helper()
	m := make(map[string]storage.Item, len(keys))
	for _, k := range keys {
		it, err := s.Get(k)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			m[k] = storage.Item{}
		case err != nil:
			t.Fatalf("Get(%q): %v", k, err)
		default:
			it.Value = bytes.Clone(it.Value)
			m[k] = it
		}
	}
	return m
}

// wantFiles checks that dir holds exactly the files names.
func wantFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if diff := cmp.Diff(names, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", dir, diff)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCompactKeepsItems writes a file through the store (sets with flags
// and expiries, incr, append, deletes, an item already expired), compacts
// it in place, and checks that the store then returns the same items with
// the same CAS values, the same counts, and hands out the same next CAS as
// an untouched copy of the file.
func TestCompactKeepsItems(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	path := filepath.Join(dir, "data.db")
	opts := testOptions(c)
	opts.Sync = storage.SyncNone // Compact's copy is fsynced all the same
	s := openPath(t, path, opts)
	var keys []string
	var writes []*storage.Pending
	for i := range 2000 {
		k := fmt.Sprintf("key%04d", i)
		keys = append(keys, k)
		it := storage.Item{Key: k, Value: []byte(strings.Repeat(strconv.Itoa(i), i%300)), Flags: uint32(i)}
		switch i % 7 {
		case 0:
			it.Expires = c.After(time.Hour)
		case 1:
			it.Expires = c.After(-time.Second) // dead, not swept
		}
		writes = append(writes, s.Start(storage.OpSet, it, 0))
	}
	waitAll(t, writes)
	mustSet(t, s, storage.Item{Key: "counter", Value: []byte("100")})
	if _, err := s.Decr("counter", 91); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(storage.Item{Key: "key0002", Value: []byte("+tail")}); err != nil {
		t.Fatal(err)
	}
	writes = writes[:0]
	for i := 3; i < 2000; i += 2 {
		if i%7 != 1 { // the dead ones stay dead, not deleted
			writes = append(writes, s.Start(storage.OpDelete, storage.Item{Key: keys[i]}, 0))
		}
	}
	waitAll(t, writes)
	keys = append(keys, "counter")
	want, wantStats := snapshot(t, s, keys), s.Stats()
	closeStore(t, s)

	ref := filepath.Join(t.TempDir(), "ref.db")
	if err := os.WriteFile(ref, readFile(t, path), 0o600); err != nil {
		t.Fatal(err)
	}
	size := int64(len(readFile(t, path)))
	before, after, err := storage.Compact(path, storage.CompactOptions{})
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if before != size || after != fi.Size() {
		t.Errorf("Compact = %d, %d bytes; want the sizes before and after, %d and %d", before, after, size, fi.Size())
	}
	wantFiles(t, dir, "data.db")

	s = openPath(t, path, testOptions(c))
	got := snapshot(t, s, keys)
	for _, k := range keys {
		w, g := want[k], got[k]
		if w.Key != g.Key || !bytes.Equal(w.Value, g.Value) || w.Flags != g.Flags || !w.Expires.Equal(g.Expires) || w.CAS != g.CAS {
			t.Errorf("Get(%q) after Compact = %+v, before %+v", k, g, w)
		}
	}
	if got := s.Stats(); got.Items != wantStats.Items || got.Bytes != wantStats.Bytes {
		t.Errorf("after Compact: items, bytes = %d, %d; want %d, %d", got.Items, got.Bytes, wantStats.Items, wantStats.Bytes)
	}
	r := openPath(t, ref, testOptions(c))
	mustSet(t, s, storage.Item{Key: "probe", Value: []byte("v")})
	mustSet(t, r, storage.Item{Key: "probe", Value: []byte("v")})
	if got, want := mustGet(t, s, "probe").CAS, mustGet(t, r, "probe").CAS; got != want {
		t.Errorf("first CAS handed out after Compact = %d, want %d as from the original file", got, want)
	}
}

// waitAll waits for writes queued with Start (queued together, they share
// commits) and fails the test on an error.
func waitAll(t *testing.T, writes []*storage.Pending) {
	t.Helper()
	for _, p := range writes {
		if _, err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactShrinks deletes 49 items in 50 and checks that the compacted
// file is a small fraction of the original, with the rest of the items.
func TestCompactShrinks(t *testing.T) {
	c := newClock()
	path := filepath.Join(t.TempDir(), "data.db")
	s := openPath(t, path, storage.Options{Now: c.Now, SweepInterval: -1, Sync: storage.SyncNone})
	value := bytes.Repeat([]byte("v"), 1000)
	var writes []*storage.Pending
	for i := range 5000 {
		writes = append(writes, s.Start(storage.OpSet, storage.Item{Key: "k" + strconv.Itoa(i), Value: value}, 0))
	}
	for i := range 5000 {
		if i%50 != 0 {
			writes = append(writes, s.Start(storage.OpDelete, storage.Item{Key: "k" + strconv.Itoa(i)}, 0))
		}
	}
	waitAll(t, writes)
	closeStore(t, s)
	before, after, err := storage.Compact(path, storage.CompactOptions{})
	if err != nil {
		t.Fatalf("Compact: %v", err)
	}
	t.Logf("100 items of 1,000 bytes left of 5,000: %d KiB compacted to %d KiB", before>>10, after>>10)
	if after*10 > before {
		t.Errorf("Compact: %d bytes to %d, want under a tenth", before, after)
	}
	s = openPath(t, path, storage.Options{Now: c.Now})
	if n := s.Stats().Items; n != 100 {
		t.Errorf("after Compact: %d items, want 100", n)
	}
	for i := 0; i < 5000; i += 50 {
		wantItem(t, s, storage.Item{Key: "k" + strconv.Itoa(i), Value: value})
	}
}

// TestCompactOut writes the copy to another file and leaves the original as
// it was; it refuses an existing destination.
func TestCompactOut(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	path, out := filepath.Join(dir, "data.db"), filepath.Join(dir, "copy.db")
	s := openPath(t, path, testOptions(c))
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 7})
	want := mustGet(t, s, "k")
	closeStore(t, s)
	orig := readFile(t, path)

	if _, _, err := storage.Compact(path, storage.CompactOptions{Out: out}); err != nil {
		t.Fatalf("Compact to %s: %v", out, err)
	}
	if !bytes.Equal(readFile(t, path), orig) {
		t.Error("Compact with Out changed the original")
	}
	wantFiles(t, dir, "copy.db", "data.db")
	cs := openPath(t, out, testOptions(c))
	wantItem(t, cs, want)
	closeStore(t, cs)
	copied := readFile(t, out)

	_, _, err := storage.Compact(path, storage.CompactOptions{Out: out})
	if err == nil || !strings.Contains(err.Error(), out+" exists") {
		t.Errorf("Compact to an existing %s: %v, want an error saying it exists", out, err)
	}
	if !bytes.Equal(readFile(t, out), copied) {
		t.Error("Compact changed the existing destination it refused")
	}
}

// TestCompactRefusesLockedFile compacts a file a server (a child process)
// holds: Compact fails after the 1 s lock timeout, naming the process,
// with the file's bytes unchanged and no temporary file left.
func TestCompactRefusesLockedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "locked.db")
	s := openPath(t, path, storage.Options{})
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("v")})
	closeStore(t, s)

	cmd, out, stdin := startChild(t, "TestLockChild", "lock", path)
	if !out.Scan() || out.Text() != "ready" {
		t.Fatalf("child did not open the store: %q, %v", out.Text(), out.Err())
	}
	orig := readFile(t, path) // as the child left it after opening
	start := time.Now()
	_, _, err := storage.Compact(path, storage.CompactOptions{})
	elapsed := time.Since(start)
	want := "locked by process " + strconv.Itoa(cmd.Process.Pid)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("Compact of a locked file: %v; want an error naming %s and %q", err, path, want)
	}
	if elapsed > 3*time.Second {
		t.Errorf("Compact of a locked file took %v, want about the 1 s lock timeout", elapsed)
	}
	if !bytes.Equal(readFile(t, path), orig) {
		t.Error("Compact changed a file it could not lock")
	}
	wantFiles(t, dir, "locked.db")
	if err := stdin.Close(); err != nil {
		t.Fatal(err)
	}
	for out.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
}

// TestCompactRefusesForeignFiles checks that Compact leaves alone, with no
// temporary file, what memcached-lite did not write.
func TestCompactRefusesForeignFiles(t *testing.T) {
	tests := []struct {
		name  string
		write func(t *testing.T, path string)
		err   error // nil: any error
	}{
		{name: "another program's bbolt file", err: storage.ErrNotOurs, write: func(t *testing.T, path string) {
			writeForeignDB(t, path)
		}},
		{name: "random bytes", err: storage.ErrNotOurs, write: func(t *testing.T, path string) {
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "an empty file", write: func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "data.db")
			tc.write(t, path)
			orig := readFile(t, path)
			_, _, err := storage.Compact(path, storage.CompactOptions{})
			if err == nil || (tc.err != nil && !errors.Is(err, tc.err)) || !strings.Contains(err.Error(), path) {
				t.Errorf("Compact: %v; want an error naming %s (and %v)", err, path, tc.err)
			}
			if !bytes.Equal(readFile(t, path), orig) {
				t.Error("Compact changed the file")
			}
			wantFiles(t, dir, "data.db")
		})
	}
}

// openFDs returns how many of this process's file descriptors are open on
// the file fi describes.
func openFDs(t *testing.T, fi os.FileInfo) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if fdi, err := os.Stat(filepath.Join("/proc/self/fd", e.Name())); err == nil && os.SameFile(fi, fdi) {
			n++
		}
	}
	return n
}

// TestOpenWhileCompacted starts Open on a file that Compact holds: Open
// waits for the lock on the file, Compact renames its copy over it and
// lets go of the lock. Open must then use the copy, now at the path, and
// not the file it waited on, which no path leads to any more (its writes
// would be lost).
func TestOpenWhileCompacted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("watches /proc/self/fd")
	}
	dir := t.TempDir()
	path, cp := filepath.Join(dir, "data.db"), filepath.Join(dir, "copy.db")
	for p, v := range map[string]string{path: "original", cp: "copy"} {
		s := openPath(t, p, storage.Options{SweepInterval: -1})
		mustSet(t, s, storage.Item{Key: "which", Value: []byte(v)})
		closeStore(t, s)
	}
	orig, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the lock as Compact does: bbolt, read-only, a shared lock.
	held, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		s   *storage.Store
		err error
	}
	opened := make(chan result, 1)
	go func() {
		s, err := storage.Open(path, storage.Options{SweepInterval: -1, LockTimeout: time.Minute})
		opened <- result{s, err}
	}()
	// Open has opened the file once it holds a second descriptor on it:
	// it waits for the lock from then on. (No event tells this; poll.)
	for deadline := time.Now().Add(10 * time.Second); openFDs(t, orig) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Open did not open the file within 10 s")
		}
	}
	if err := os.Rename(cp, path); err != nil {
		t.Fatal(err)
	}
	if err := held.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-opened
	if r.err != nil {
		t.Fatalf("Open: %v", r.err)
	}
	t.Cleanup(func() { r.s.Close() })
	wantItem(t, r.s, storage.Item{Key: "which", Value: []byte("copy")})
}
