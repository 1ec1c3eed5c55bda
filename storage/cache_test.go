package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestLRU(t *testing.T) {
	rec := func(value []byte, updated int64) []byte {
		return appendRecord(nil, record{value: value, updated: updated})
	}
	size := entrySize("a", rec([]byte("1234"), 0)) // every key here is 1 byte
	l := newLRU(3 * size)
	for _, k := range []string{"a", "b", "c"} {
		l.add(k, rec([]byte("1234"), 0))
	}
	if _, ok := l.get("a"); !ok { // a is now the most recently used; b the least
		t.Fatal("get(a) missed")
	}
	l.add("d", rec([]byte("1234"), 0))
	for k, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, ok := l.get(k); ok != want {
			t.Errorf("after adding d: get(%q) found = %v, want %v", k, ok, want)
		}
	}
	if l.bytes != 3*size || l.evictions != 1 || len(l.items) != 3 {
		t.Fatalf("bytes, evictions, items = %d, %d, %d; want %d, 1, 3", l.bytes, l.evictions, len(l.items), 3*size)
	}

	// Replacing an entry re-counts its bytes; it evicts nothing if it fits.
	l.add("a", rec([]byte("12"), 7))
	if e, ok := l.get("a"); !ok {
		t.Fatal("get(a) after replace missed")
	} else if it, updated := e.item(); string(it.Value) != "12" || updated != 7 {
		t.Fatalf("get(a) after replace = %+v, updated %d", it, updated)
	}
	if l.bytes != 3*size-2 || l.evictions != 1 {
		t.Fatalf("after replace: bytes, evictions = %d, %d; want %d, 1", l.bytes, l.evictions, 3*size-2)
	}

	// An item bigger than the whole LRU is not kept, and drops the old one.
	l.add("a", rec(make([]byte, 3*size), 0))
	if _, ok := l.get("a"); ok {
		t.Fatal("an oversized item was cached")
	}
	if l.bytes != 2*size || len(l.items) != 2 || l.evictions != 1 {
		t.Fatalf("after oversized add: bytes, items, evictions = %d, %d, %d; want %d, 2, 1", l.bytes, len(l.items), l.evictions, 2*size)
	}

	// One item as big as the whole LRU evicts all the others.
	l.add("z", rec(make([]byte, 3*size-entryOverhead-1-recordHeaderSize), 0))
	if len(l.items) != 1 || l.bytes != 3*size || l.evictions != 3 {
		t.Fatalf("after a full-size add: items, bytes, evictions = %d, %d, %d; want 1, %d, 3", len(l.items), l.bytes, l.evictions, 3*size)
	}
	l.remove("z")
	l.remove("z")
	if len(l.items) != 0 || l.bytes != 0 || l.head.next != &l.head || l.head.prev != &l.head {
		t.Fatalf("after removing everything: items, bytes = %d, %d; list not empty", len(l.items), l.bytes)
	}
}

func TestCacheShards(t *testing.T) {
	const maxEntry = 1<<20 + MaxKeySize + entryOverhead // an item of the default MaxItemSize
	tests := []struct {
		bytes      int64
		shards     int
		shardBytes int64
	}{
		{64 << 20, 16, 4 << 20},
		{16 << 20, 8, 2 << 20}, // 16 shards of 1 MiB could not hold a 1 MiB item
		{8 << 20, 4, 2 << 20},
		{2 << 20, 1, 2 << 20},
		{1 << 20, 1, 1 << 20}, // smaller than an item: one shard, as big as it gets
		{1000, 1, 1000},
	}
	for _, tc := range tests {
		c := newCache(tc.bytes, maxEntry)
		used := c.used()
		if len(used) != tc.shards || used[0].lru.maxBytes != tc.shardBytes {
			t.Errorf("newCache(%d): %d shards of %d bytes, want %d of %d", tc.bytes, len(used), used[0].lru.maxBytes, tc.shards, tc.shardBytes)
		}
		if got := c.stats().limit; got != int64(tc.shards)*tc.shardBytes {
			t.Errorf("newCache(%d): limit %d, want %d", tc.bytes, got, int64(tc.shards)*tc.shardBytes)
		}
	}
}

// TestCacheLargeItems checks that an item a good fraction of the cache's size
// is cached, and one bigger than the whole cache is stored but not cached.
func TestCacheLargeItems(t *testing.T) {
	tests := []struct {
		name       string
		cacheBytes int64
		valueSize  int
		cached     bool
	}{
		{"quarter of a 1MiB cache", 1 << 20, 256 << 10, true},
		{"max item in a 64MiB cache", 64 << 20, 1 << 20, true},
		{"max item in a 16MiB cache", 16 << 20, 1 << 20, true},
		{"bigger than the cache", 64 << 10, 100 << 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, newFakeClock(), Options{CacheBytes: tc.cacheBytes})
			v := bytes.Repeat([]byte("x"), min(tc.valueSize, s.MaxValueSize(len("big"), 0)))
			if err := s.Set(Item{Key: "big", Value: v}); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				it, err := s.Get("big")
				if err != nil || !bytes.Equal(it.Value, v) {
					t.Fatalf("Get(big) = %d bytes, %v; want the %d bytes set", len(it.Value), err, len(v))
				}
			}
			st := s.Stats()
			wantHits, wantMisses, wantItems := uint64(2), uint64(0), int64(1)
			if !tc.cached {
				wantHits, wantMisses, wantItems = 0, 2, 0
			}
			if st.CacheHits != wantHits || st.CacheMisses != wantMisses || st.CacheItems != wantItems {
				t.Fatalf("hits, misses, cached items = %d, %d, %d; want %d, %d, %d",
					st.CacheHits, st.CacheMisses, st.CacheItems, wantHits, wantMisses, wantItems)
			}
		})
	}
}

// TestCacheFillAfterCommit interleaves, step by step, a Get that missed the
// cache with a write of the same key: the reader notes the generation and
// reads the old value from the file, the write commits and updates the cache,
// and only then does the reader fill. The fill must not put the old value back.
func TestCacheFillAfterCommit(t *testing.T) {
	c := newFakeClock()
	writes := []struct {
		name  string
		start string
		write func(*Store) error
		want  string // "" means ErrNotFound
	}{
		{"set", "old", func(s *Store) error { return s.Set(Item{Key: "k", Value: []byte("new")}) }, "new"},
		{"delete", "old", func(s *Store) error { return s.Delete("k") }, ""},
		{"append", "old", func(s *Store) error { return s.Append(Item{Key: "k", Value: []byte("+")}) }, "old+"},
		{"incr", "41", func(s *Store) error { _, err := s.Incr("k", 1); return err }, "42"},
		{"touch", "old", func(s *Store) error { return s.Touch("k", c.After(-time.Second)) }, ""},
		{"flush", "old", func(s *Store) error { return s.FlushAll(time.Time{}) }, ""},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			s := openTest(t, c, Options{})
			set(t, s, "k", w.start, time.Time{})
			s.cache.remove("k") // evicted: the next Get misses

			// Get's miss path, with the write between its read and its fill.
			gen := s.cache.generation("k")
			it, rec, err := s.load("k", c.Now().UnixNano())
			if err != nil || string(it.Value) != w.start {
				t.Fatalf("load = %q, %v; want %q", it.Value, err, w.start)
			}
			if err := w.write(s); err != nil {
				t.Fatalf("write: %v", err)
			}
			s.cache.fill(gen, "k", rec)

			if w.want == "" {
				wantNotFound(t, s, "k")
			} else {
				wantValue(t, s, "k", w.want)
			}
		})
	}
}

// TestCacheFillUnchanged is the control for TestCacheFillAfterCommit: with no
// write in between, the fill does cache the item.
func TestCacheFillUnchanged(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "k", "v", time.Time{})
	s.cache.remove("k")
	gen := s.cache.generation("k")
	_, rec, err := s.load("k", c.Now().UnixNano())
	if err != nil {
		t.Fatal(err)
	}
	s.cache.fill(gen, "k", rec)
	if _, _, ok := s.cache.get("k"); !ok {
		t.Fatal("fill with an unchanged generation did not cache the item")
	}
	// Through Get: a miss fills, the next Get hits.
	s.cache.remove("k")
	s.ResetStats() // the look-up above counted a hit
	wantValue(t, s, "k", "v")
	wantValue(t, s, "k", "v")
	if st := s.Stats(); st.CacheMisses != 1 || st.CacheHits != 1 {
		t.Fatalf("misses, hits = %d, %d; want 1, 1", st.CacheMisses, st.CacheHits)
	}
}

// TestCacheNotStale checks the cache against the file after a mix of writes:
// every cached entry is what the file holds.
func TestCacheNotStale(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "a", "1", time.Time{})
	set(t, s, "b", "2", c.After(time.Minute))
	if _, err := s.Incr("a", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Prepend(Item{Key: "b", Value: []byte("0")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"a", "b"} {
		cached, _, inCache := s.cache.get(key)
		file, _, err := s.load(key, c.Now().UnixNano())
		switch {
		case errors.Is(err, ErrNotFound):
			if inCache {
				t.Errorf("%q: cached %q, but absent from the file", key, cached.Value)
			}
		case err != nil:
			t.Fatal(err)
		case inCache && (string(cached.Value) != string(file.Value) || cached.CAS != file.CAS ||
			cached.Flags != file.Flags || !cached.Expires.Equal(file.Expires)):
			t.Errorf("%q: cached %+v, file has %+v", key, cached, file)
		}
	}
}
