package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/memcached-lite/memcached-lite/storage"
)

// fillClosed writes three items to a new data file and closes it. It
// returns the path and the CAS of the last write.
func fillClosed(t *testing.T) (path string, lastCAS uint64) {
	t.Helper()
	c := newClock()
	path = filepath.Join(t.TempDir(), "data.db")
	s, err := storage.Open(path, testOptions(c))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range []storage.Item{
		{Key: "a", Value: []byte("1")},
		{Key: "bb", Value: []byte("22"), Flags: 7, Expires: c.After(time.Hour)},
		{Key: "expired", Value: []byte("333"), Expires: c.After(time.Second)},
	} {
		mustSet(t, s, it)
	}
	c.Add(time.Minute) // "expired" is dead, not yet swept: still a record
	lastCAS = mustGet(t, s, "bb").CAS + 1
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path, lastCAS
}

func TestCheckGood(t *testing.T) {
	path, lastCAS := fillClosed(t)
	got, err := storage.Check(path)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	want := storage.CheckResult{Version: 1, Items: 3, Bytes: 1 + 1 + 2 + 2 + 7 + 3, MaxCAS: lastCAS}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Check mismatch (-want +got):\n%s", diff)
	}
	// Read-only: the file is byte for byte the same.
	before, _ := os.ReadFile(path)
	if _, err := storage.Check(path); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("Check changed the file")
	}
}

// TestCheckCorruptRecord corrupts one record's header, as a bad disk or a
// foreign writer would, and checks that Check names the key and that the
// file no longer passes.
func TestCheckCorruptRecord(t *testing.T) {
	path, _ := fillClosed(t)
	writeBolt(t, path, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("items"))
		v := append([]byte(nil), b.Get([]byte("bb"))...)
		v[0] = 9 // the record version byte
		return b.Put([]byte("bb"), v)
	})
	res, err := storage.Check(path)
	if !errors.Is(err, storage.ErrCheckFailed) {
		t.Fatalf("Check: %v, want ErrCheckFailed", err)
	}
	want := []string{`key "bb": record header does not decode (31 bytes, version byte 9)`}
	if diff := cmp.Diff(want, res.Problems); diff != "" || res.Count != 1 {
		t.Fatalf("problems (%d) mismatch (-want +got):\n%s", res.Count, diff)
	}
	if !strings.Contains(err.Error(), want[0]) {
		t.Errorf("error %q does not name the problem", err)
	}
}

// TestCheckCounters makes the meta bucket's item count disagree with the
// items.
func TestCheckCounters(t *testing.T) {
	path, _ := fillClosed(t)
	writeBolt(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("items")).Delete([]byte("a"))
	})
	res, err := storage.Check(path)
	if !errors.Is(err, storage.ErrCheckFailed) {
		t.Fatalf("Check: %v, want ErrCheckFailed", err)
	}
	want := []string{"meta items is 3, the items bucket holds 2", "meta bytes is 16, the items hold 14"}
	if diff := cmp.Diff(want, res.Problems); diff != "" {
		t.Fatalf("problems mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckForeign(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	writeForeignDB(t, path)
	if _, err := storage.Check(path); !errors.Is(err, storage.ErrNotOurs) {
		t.Fatalf("Check of a foreign bbolt file: %v, want ErrNotOurs", err)
	}

	text := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Check(text); !errors.Is(err, storage.ErrNotOurs) {
		t.Fatalf("Check of a text file: %v, want ErrNotOurs", err)
	}
}

// TestCheckLocked checks a file that an open Store holds: Check must fail
// at once, not wait, and say who holds it.
func TestCheckLocked(t *testing.T) {
	_, path := openStore(t, testOptions(newClock()))
	start := time.Now()
	_, err := storage.Check(path)
	if err == nil || !strings.Contains(err.Error(), "locked by this process") {
		t.Fatalf("Check of an open file: %v, want \"locked by this process\"", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Check took %v to fail on a locked file", d)
	}
}
