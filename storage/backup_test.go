package storage_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// TestSnapshot takes a snapshot, writes on, and checks that the backup made
// from it holds exactly what was committed when it was taken, attributes
// included, and passes Check.
func TestSnapshot(t *testing.T) {
	c := newClock()
	s, _ := openStore(t, testOptions(c))
	mustSet(t, s, storage.Item{Key: "a", Value: []byte("A"), Flags: 1})
	mustSet(t, s, storage.Item{Key: "b", Value: []byte("B"), Flags: 2, Expires: c.After(time.Hour)})
	a, b := mustGet(t, s, "a"), mustGet(t, s, "b")

	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	mustSet(t, s, storage.Item{Key: "c", Value: []byte("C")})
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, storage.Item{Key: "b", Value: []byte("B2")})

	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != sn.Size() || int64(buf.Len()) != n {
		t.Fatalf("WriteTo wrote %d bytes (buffer %d), Size says %d", n, buf.Len(), sn.Size())
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(t.TempDir(), "backup.db")
	if m, err := storage.WriteBackup(path, &buf); err != nil || m != n {
		t.Fatalf("WriteBackup: %d bytes, %v; want %d", m, err, n)
	}
	res, err := storage.Check(path)
	if err != nil || res.Items != 2 {
		t.Fatalf("Check(backup): %+v, %v; want 2 items, no error", res, err)
	}
	cp := openPath(t, path, testOptions(c))
	wantItem(t, cp, a)
	wantItem(t, cp, b)
	wantMissing(t, cp, "c")
	// The backup goes on from the snapshot's CAS, not a reused one.
	mustSet(t, cp, storage.Item{Key: "d", Value: []byte("D")})
	if d := mustGet(t, cp, "d"); d.CAS <= b.CAS {
		t.Errorf("CAS after restore: %d, want above %d", d.CAS, b.CAS)
	}
}

// TestWriteBackupPartial feeds WriteBackup half a snapshot, ended by EOF
// and by a read error, and checks that nothing is left in the directory:
// neither the named file nor the temporary one.
func TestWriteBackupPartial(t *testing.T) {
	s, _ := openStore(t, testOptions(newClock()))
	for i := range 100 {
		mustSet(t, s, storage.Item{Key: string(rune('a'+i%26)) + string(rune('0'+i/26)), Value: bytes.Repeat([]byte("v"), 1000)})
	}
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var full bytes.Buffer
	if _, err := sn.WriteTo(&full); err != nil {
		t.Fatal(err)
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}
	half := full.Bytes()[:full.Len()/2]
	for name, r := range map[string]io.Reader{
		"short":      bytes.NewReader(half),
		"read error": io.MultiReader(bytes.NewReader(half), iotest.ErrReader(errors.New("connection reset"))),
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "backup.db")
			if _, err := storage.WriteBackup(path, r); err == nil {
				t.Fatal("WriteBackup of half a file succeeded")
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				t.Errorf("left behind: %s", e.Name())
			}
		})
	}
}

func TestSnapshotClosed(t *testing.T) {
	s, err := storage.Open(filepath.Join(t.TempDir(), "data.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Snapshot(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Snapshot after Close: %v, want ErrClosed", err)
	}
	if err := s.Err(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Err after Close: %v, want ErrClosed", err)
	}
}

// TestWriteBackupOverLiveFile points WriteBackup at the data file of an
// open store: it must refuse, and leave the file and the directory as they
// were.
func TestWriteBackupOverLiveFile(t *testing.T) {
	s, path := openStore(t, testOptions(newClock()))
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("v")})
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = sn.WriteTo(&buf)
	sn.Close()
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = storage.WriteBackup(path, &buf)
	if err == nil || !strings.Contains(err.Error(), "in use by this process") {
		t.Fatalf("WriteBackup over the live file: %v, want \"in use by this process\"", err)
	}
	after, err := os.Stat(path)
	if err != nil || !os.SameFile(before, after) {
		t.Fatalf("the live file was replaced (%v)", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %v, want only the data file", ents)
	}
	wantItem(t, s, storage.Item{Key: "k", Value: []byte("v")})
}
