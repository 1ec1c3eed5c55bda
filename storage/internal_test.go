package storage

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// This file holds the helpers of the white-box tests (package storage); the
// black-box tests (package storage_test) have their own in main_test.go.

// fakeClock is an Options.Now that only moves when a test moves it.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := new(fakeClock)
	c.ns.Store(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *fakeClock) After(d time.Duration) time.Time { return c.Now().Add(d) }

// openTest opens a store in a fresh directory, with clock c (unless
// opts.Now is set) and no sweeper running on its own (unless
// opts.SweepInterval is set), and closes it when the test ends.
func openTest(t *testing.T, c *fakeClock, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20 // white-box tests look at the cache
	}
	path := filepath.Join(t.TempDir(), "data.db")
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func set(t *testing.T, s *Store, key, value string, expires time.Time) {
	t.Helper()
	if err := s.Set(Item{Key: key, Value: []byte(value), Expires: expires}); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// wantValue checks that Get(key) returns want.
func wantValue(t *testing.T, s *Store, key, want string) {
	t.Helper()
	it, err := s.Get(key)
	if err != nil || string(it.Value) != want {
		t.Fatalf("Get(%q) = %q, %v; want %q", key, it.Value, err, want)
	}
}

// wantNotFound checks that Get(key) reports ErrNotFound.
func wantNotFound(t *testing.T, s *Store, key string) {
	t.Helper()
	if it, err := s.Get(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, it.Value, err)
	}
}

// inFile reports whether key is physically in the items bucket.
func inFile(t *testing.T, s *Store, key string) bool {
	t.Helper()
	var found bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(itemsBucket).Get([]byte(key)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return found
}
