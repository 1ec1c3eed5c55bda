package storage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/memcached-lite/memcached-lite/storage"
)

// TestOpenLocked opens a file that is already open. bbolt locks with flock,
// which belongs to the open file description: a second open of the same path
// conflicts even within one process.
func TestOpenLocked(t *testing.T) {
	_, path := openStore(t, storage.Options{})
	start := time.Now()
	s, err := storage.Open(path, storage.Options{}) // the default LockTimeout
	elapsed := time.Since(start)
	if err == nil {
		s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if elapsed > 2*time.Second {
		t.Errorf("second Open took %v, want at most 2s", elapsed)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "locked") {
		t.Errorf("error %q does not name the file %s and say it is locked", msg, path)
	}
	t.Logf("error: %v (after %v)", err, elapsed)
}

func TestOpenNotOurs(t *testing.T) {
	dir := t.TempDir()
	random := make([]byte, 64<<10)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(random)

	foreign := filepath.Join(dir, "foreign.db") // a bbolt file of another program
	writeBolt(t, foreign, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("other"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	newer := filepath.Join(dir, "newer.db") // ours, from a newer format version
	writeBolt(t, newer, func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "items"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("version"), binary.BigEndian.AppendUint64(nil, 2))
	})
	files := map[string][]byte{
		"random.db": random,
		"short.db":  []byte("hello, world\n"),
		"page.db":   random[:4096],
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"random.db", "short.db", "page.db", "foreign.db", "newer.db"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := storage.Open(path, storage.Options{})
			if err == nil {
				s.Close()
				t.Fatalf("Open(%s) succeeded", name)
			}
			if !errors.Is(err, storage.ErrNotOurs) {
				t.Errorf("Open(%s): %v, want ErrNotOurs", name, err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("Open(%s) changed the file (%d bytes before, %d after)", name, len(before), len(after))
			}
		})
	}
}

// writeBolt creates a bbolt file at path and runs f in a write transaction.
func writeBolt(t *testing.T, path string, f func(*bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(f); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no", "such", "dir")
	_, err := storage.Open(filepath.Join(missing, "data.db"), storage.Options{})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open in a missing directory: %v; want ErrNotExist naming %s", err, missing)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "no")); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("Open created the missing directory (stat: %v)", statErr)
	}

	_, err = storage.Open(dir, storage.Options{})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open of a directory: %v; want an error naming %s", err, dir)
	}
}

// TestOpenNewFile checks that Open creates a missing file, which then opens
// again as ours.
func TestOpenNewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	for range 2 {
		s, err := storage.Open(path, storage.Options{SweepInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if s.Path() != path {
			t.Errorf("Path() = %q, want %q", s.Path(), path)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
