package storage_test

import (
	"os"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

func TestExpiry(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		exp := c.After(10 * time.Second)
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v"), Expires: exp})
		mustSet(t, s, storage.Item{Key: "past", Value: []byte("v"), Expires: c.After(-time.Nanosecond)})
		mustSet(t, s, storage.Item{Key: "epoch", Value: []byte("v"), Expires: time.Unix(0, 0)})
		far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC) // beyond Unix nanoseconds
		mustSet(t, s, storage.Item{Key: "far", Value: []byte("v"), Expires: far})
		wantMissing(t, s, "past")
		wantMissing(t, s, "epoch")

		c.Add(10*time.Second - time.Nanosecond)
		wantItem(t, s, storage.Item{Key: "k", Value: []byte("v"), Expires: exp})
		c.Add(time.Nanosecond) // the expiry instant itself
		wantMissing(t, s, "k")
		c.Add(time.Hour)
		wantMissing(t, s, "k")
		if got, err := s.Get("far"); err != nil || got.Expires.Before(time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("Get(far) = %v, %v; want the item, expiring no earlier than 2262", got.Expires, err)
		}
	})
}

func TestFlushAllNow(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		for _, at := range []time.Time{{}, c.After(-time.Hour), c.Now()} {
			mustSet(t, s, storage.Item{Key: "a", Value: []byte("1")})
			mustSet(t, s, storage.Item{Key: "b", Value: []byte("2"), Expires: c.After(time.Hour)})
			if err := s.FlushAll(at); err != nil {
				t.Fatalf("FlushAll(%v): %v", at, err)
			}
			wantMissing(t, s, "a")
			wantMissing(t, s, "b")
			if st := s.Stats(); st.Items != 0 || st.Bytes != 0 {
				t.Fatalf("after FlushAll(%v): Items, Bytes = %d, %d; want 0, 0", at, st.Items, st.Bytes)
			}
			mustSet(t, s, storage.Item{Key: "c", Value: []byte("3")})
			wantItem(t, s, storage.Item{Key: "c", Value: []byte("3")})
			if err := s.Delete("c"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestFlushAllLater(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "before", Value: []byte("1")})
		deadline := c.After(10 * time.Second)
		if err := s.FlushAll(deadline); err != nil {
			t.Fatal(err)
		}
		c.Add(5 * time.Second)
		mustSet(t, s, storage.Item{Key: "between", Value: []byte("2")})
		c.Add(5*time.Second - time.Nanosecond)
		wantItem(t, s, storage.Item{Key: "before", Value: []byte("1")})
		wantItem(t, s, storage.Item{Key: "between", Value: []byte("2")})

		c.Add(time.Nanosecond) // the deadline
		wantMissing(t, s, "before")
		wantMissing(t, s, "between")
		c.Add(time.Second)
		mustSet(t, s, storage.Item{Key: "after", Value: []byte("3")})
		wantItem(t, s, storage.Item{Key: "after", Value: []byte("3")})
		wantMissing(t, s, "before")
		if got := s.Stats().Items; got != 1 {
			t.Errorf("Stats().Items = %d, want 1: the flushed items are deleted by the next commit", got)
		}
		// The flush is done: a later flush deadline does not bring them back,
		// nor does it hide what was set after the first one.
		c.Add(time.Hour)
		wantItem(t, s, storage.Item{Key: "after", Value: []byte("3")})
		if err := s.Add(storage.Item{Key: "before", Value: []byte("new")}); err != nil {
			t.Fatalf("Add of a flushed key: %v", err)
		}
	})
}

func TestFlushAllReplacesPending(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "a", Value: []byte("1")})
		if err := s.FlushAll(c.After(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.FlushAll(c.After(20 * time.Second)); err != nil {
			t.Fatal(err)
		}
		c.Add(15 * time.Second) // past the first deadline, which no longer holds
		wantItem(t, s, storage.Item{Key: "a", Value: []byte("1")})
		mustSet(t, s, storage.Item{Key: "b", Value: []byte("2")})
		c.Add(5 * time.Second)
		wantMissing(t, s, "a")
		wantMissing(t, s, "b")

		// A flush now cancels a pending one.
		mustSet(t, s, storage.Item{Key: "c", Value: []byte("3")})
		if err := s.FlushAll(c.After(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := s.FlushAll(time.Time{}); err != nil {
			t.Fatal(err)
		}
		wantMissing(t, s, "c")
		mustSet(t, s, storage.Item{Key: "d", Value: []byte("4")})
		c.Add(time.Minute)
		wantItem(t, s, storage.Item{Key: "d", Value: []byte("4")})
	})
}

func TestFlushAllLaterPersists(t *testing.T) {
	c := newClock()
	s, path := openStore(t, testOptions(c))
	mustSet(t, s, storage.Item{Key: "a", Value: []byte("1")})
	if err := s.FlushAll(c.After(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openPath(t, path, testOptions(c))
	wantItem(t, s, storage.Item{Key: "a", Value: []byte("1")})
	c.Add(time.Minute)
	wantMissing(t, s, "a")
}

func TestStats(t *testing.T) {
	c := newClock()
	s, path := openStore(t, testOptions(c))
	mustSet(t, s, storage.Item{Key: "a", Value: []byte("1")})
	mustSet(t, s, storage.Item{Key: "bb", Value: []byte("22")})
	mustGet(t, s, "a")
	mustGet(t, s, "bb")
	wantMissing(t, s, "zz")
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Add", s.Add(storage.Item{Key: "bb", Value: []byte("x")}), storage.ErrNotStored)

	const overhead = storage.CacheEntryOverhead
	want := storage.Stats{
		Items: 1, Bytes: 4,
		CacheItems: 1, CacheBytes: overhead + 4, CacheLimit: 64 << 20,
		CacheHits: 2, CacheMisses: 1,
		Commits: 4, Ops: 4, MaxBatch: 1,
		Path: path, Sync: storage.SyncAlways,
	}
	got := s.Stats()
	if got.FileSize <= 0 || got.CommitTime <= 0 {
		t.Errorf("FileSize, CommitTime = %d, %v; want both > 0", got.FileSize, got.CommitTime)
	}
	got.FileSize, got.CommitTime = 0, 0
	// The free pages are bbolt's business; their bytes are their pages'.
	if got.FreeBytes != int64(got.FreePages*os.Getpagesize()) {
		t.Errorf("FreeBytes = %d, want FreePages (%d) pages", got.FreeBytes, got.FreePages)
	}
	got.FreePages, got.FreeBytes = 0, 0
	if got != want {
		t.Fatalf("Stats() =\n%+v\nwant\n%+v", got, want)
	}
	if avg := got.AvgBatch(); avg != 1 {
		t.Errorf("AvgBatch() = %v, want 1", avg)
	}

	s.ResetStats()
	got = s.Stats()
	got.FileSize, got.FreePages, got.FreeBytes = 0, 0, 0
	want.CacheHits, want.CacheMisses, want.Commits, want.Ops, want.MaxBatch = 0, 0, 0, 0, 0
	if got != want {
		t.Fatalf("Stats() after ResetStats =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCacheEvictionStats(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	const entry = storage.CacheEntryOverhead + 2 + 8 // key, value
	opts.CacheBytes = 2 * entry                      // two entries; smaller than an item: one shard
	s, _ := openStore(t, opts)
	for _, k := range []string{"k1", "k2", "k3"} {
		mustSet(t, s, storage.Item{Key: k, Value: []byte("12345678")})
	}
	st := s.Stats()
	if st.CacheItems != 2 || st.CacheBytes != 2*entry || st.CacheEvictions != 1 || st.CacheLimit != 2*entry {
		t.Fatalf("cache items, bytes, evictions, limit = %d, %d, %d, %d; want 2, %d, 1, %d",
			st.CacheItems, st.CacheBytes, st.CacheEvictions, st.CacheLimit, 2*entry, 2*entry)
	}
	wantItem(t, s, storage.Item{Key: "k1", Value: []byte("12345678")}) // evicted: a miss, refills
	wantItem(t, s, storage.Item{Key: "k1", Value: []byte("12345678")}) // now a hit
	st = s.Stats()
	if st.CacheMisses != 1 || st.CacheHits != 1 || st.CacheEvictions != 2 {
		t.Fatalf("misses, hits, evictions = %d, %d, %d; want 1, 1, 2", st.CacheMisses, st.CacheHits, st.CacheEvictions)
	}
	s.ResetStats()
	if got := s.Stats().CacheEvictions; got != 0 {
		t.Fatalf("CacheEvictions after ResetStats = %d, want 0", got)
	}
}

// TestCancelFlush: CancelFlush forgets a pending flush deadline and
// flushes nothing (memcached's flush_all with a time before it started).
func TestCancelFlush(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "a", Value: []byte("1")})
		if err := s.FlushAll(c.After(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.CancelFlush(); err != nil {
			t.Fatal(err)
		}
		c.Add(2 * time.Minute)
		wantItem(t, s, storage.Item{Key: "a", Value: []byte("1")})
	})
}

// TestLivenessRuleAgrees: reads and the committer see an item die at the
// same instant, for an expiry and for a flush_all deadline.
func TestLivenessRuleAgrees(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "e", Value: []byte("1"), Expires: c.After(time.Second)})
		c.Add(time.Second - 1)
		mustGet(t, s, "e")
		wantErr(t, "Add one nanosecond before the expiry", s.Add(storage.Item{Key: "e", Value: []byte("2")}), storage.ErrNotStored)
		c.Add(1)
		wantMissing(t, s, "e")
		if err := s.Add(storage.Item{Key: "e", Value: []byte("2")}); err != nil {
			t.Errorf("Add at the expiry: %v, want it stored", err)
		}

		mustSet(t, s, storage.Item{Key: "f", Value: []byte("1")})
		if err := s.FlushAll(c.After(time.Second)); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Second - 1)
		mustGet(t, s, "f")
		wantErr(t, "Add one nanosecond before the flush", s.Add(storage.Item{Key: "f", Value: []byte("2")}), storage.ErrNotStored)
		c.Add(1)
		wantMissing(t, s, "f")
		if err := s.Add(storage.Item{Key: "f", Value: []byte("2")}); err != nil {
			t.Errorf("Add at the flush deadline: %v, want it stored", err)
		}
	})
}
