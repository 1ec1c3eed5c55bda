package storage_test

import (
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/memcached-lite/memcached-lite/storage"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// itemCmp compares Items: times with Equal, a nil Value equal to an empty one.
var itemCmp = cmp.Options{cmpopts.EquateEmpty()}

// epoch is where every fake clock starts.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a fake Options.Now that only moves when a test moves it.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := new(clock)
	c.ns.Store(epoch.UnixNano())
	return c
}

func (c *clock) Now() time.Time                  { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration)             { c.ns.Add(int64(d)) }
func (c *clock) After(d time.Duration) time.Time { return c.Now().Add(d) }

// testOptions are the options most tests use: a fake clock and no sweeper
// running on its own during a test.
func testOptions(c *clock) storage.Options {
	return storage.Options{Now: c.Now, SweepInterval: -1, CacheBytes: 64 << 20}
}

// openStore opens a store in a fresh directory and closes it when the test
// ends. It returns the store and its path, for reopening.
func openStore(t testing.TB, opts storage.Options) (*storage.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.db")
	return openPath(t, path, opts), path
}

// openPath opens the store at path and closes it when the test ends.
func openPath(t testing.TB, path string, opts storage.Options) *storage.Store {
	t.Helper()
	if opts.SweepInterval == 0 {
		opts.SweepInterval = -1 // no sweeper: the test decides what is in the file
	}
	s, err := storage.Open(path, opts)
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

func mustSet(t testing.TB, s *storage.Store, it storage.Item) {
	t.Helper()
	if err := s.Set(it); err != nil {
		t.Fatalf("Set(%q): %v", it.Key, err)
	}
}

func mustGet(t testing.TB, s *storage.Store, key string) storage.Item {
	t.Helper()
	it, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return it
}

// wantItem checks that key holds want (CAS included unless want.CAS is 0).
func wantItem(t testing.TB, s *storage.Store, want storage.Item) storage.Item {
	t.Helper()
	got, err := s.Get(want.Key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want %q", want.Key, err, want.Value)
	}
	if want.CAS == 0 {
		want.CAS = got.CAS
	}
	if diff := cmp.Diff(want, got, itemCmp); diff != "" {
		t.Fatalf("Get(%q) mismatch (-want +got):\n%s", want.Key, diff)
	}
	return got
}

// wantErr checks that err matches want with errors.Is.
func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// wantMissing checks that Get(key) reports ErrNotFound.
func wantMissing(t testing.TB, s *storage.Store, key string) {
	t.Helper()
	it, err := s.Get(key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, it.Value, err)
	}
}

// writeForeignDB writes a bbolt file that another program could have made:
// one bucket, one key, none of memcached-lite's.
func writeForeignDB(t *testing.T, path string) {
	t.Helper()
	writeBolt(t, path, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("users"))
		if err != nil {
			return err
		}
		return b.Put([]byte("alice"), []byte("1"))
	})
}
