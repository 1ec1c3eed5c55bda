package storage

import (
	"runtime"
	"strconv"
	"testing"
)

// TestCacheChargesRealMemory fills a cache with memcached-typical items
// (short keys, 100-byte values) and checks that the bytes it charges are
// what the items really take on the heap: -m must bound the memory used,
// as memcached's does.
func TestCacheChargesRealMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates about 60 MB")
	}
	const n = 200_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(1_000_000+i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newCache(1<<40, 1<<20)
	for i, k := range keys {
		c.put(k, appendRecord(make([]byte, 0, recordHeaderSize+100), record{value: make([]byte, 100), cas: uint64(i)}))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	real := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	charged := c.stats().bytes
	// Keys are allocated before the count starts: add them back, as the
	// server allocates each key it caches.
	real += int64(n * 16)
	ratio := float64(real) / float64(charged)
	t.Logf("%d items: %d B/item on the heap, %d B/item charged (ratio %.2f)", n, real/n, charged/n, ratio)
	if ratio > 1.05 || ratio < 0.8 {
		t.Errorf("heap/charged = %.2f, want within [0.80, 1.05]: the cache's -m bound would not bound memory", ratio)
	}
	runtime.KeepAlive(c)
}
