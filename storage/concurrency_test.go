package storage_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memcached-lite/memcached-lite/storage"
)

const (
	workers   = 32
	perWorker = 200
)

// concurrentStore is a store for the concurrency tests. They check the
// committer's ordering, not the disk, so they skip the fsyncs.
func concurrentStore(t *testing.T) *storage.Store {
	t.Helper()
	s, _ := openStore(t, storage.Options{Sync: storage.SyncNone})
	return s
}

// run starts n goroutines running f(worker) and waits for them; the first
// error fails the test.
func run(t *testing.T, n int, f func(w int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range n {
		wg.Go(func() {
			if err := f(w); err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestConcurrentIncr(t *testing.T) {
	s := concurrentStore(t)
	keys := []string{"c0", "c1", "c2", "c3"}
	for _, k := range keys {
		mustSet(t, s, storage.Item{Key: k, Value: []byte("0"), Flags: 5})
	}
	var mu sync.Mutex
	seen := make(map[string][]uint64)
	run(t, workers, func(w int) error {
		got := make(map[string][]uint64)
		for i := range perWorker {
			k := keys[(w+i)%len(keys)]
			n, err := s.Incr(k, 1)
			if err != nil {
				return err
			}
			got[k] = append(got[k], n)
		}
		mu.Lock()
		defer mu.Unlock()
		for k, ns := range got {
			seen[k] = append(seen[k], ns...)
		}
		return nil
	})
	const each = workers * perWorker / 4
	for _, k := range keys {
		wantItem(t, s, storage.Item{Key: k, Value: []byte(strconv.Itoa(each)), Flags: 5})
		// Every incr returned a distinct value: 1..each, each exactly once.
		ns := seen[k]
		slices.Sort(ns)
		for i, n := range ns {
			if n != uint64(i+1) {
				t.Fatalf("%s: sorted incr results [%d] = %d, want %d", k, i, n, i+1)
			}
		}
		if len(ns) != each {
			t.Fatalf("%s: %d incr results, want %d", k, len(ns), each)
		}
	}
	if st := s.Stats(); st.MaxBatch < 2 {
		t.Logf("MaxBatch = %d: no two writes shared a commit", st.MaxBatch)
	}
}

func TestConcurrentAppend(t *testing.T) {
	s := concurrentStore(t)
	mustSet(t, s, storage.Item{Key: "log", Value: []byte{}, Flags: 3})
	run(t, workers, func(w int) error {
		for i := range perWorker {
			tok := fmt.Sprintf("%02d-%03d;", w, i)
			if err := s.Append(storage.Item{Key: "log", Value: []byte(tok)}); err != nil {
				return err
			}
		}
		return nil
	})
	got := mustGet(t, s, "log")
	if got.Flags != 3 {
		t.Errorf("flags = %d, want 3", got.Flags)
	}
	toks := strings.Split(strings.TrimSuffix(string(got.Value), ";"), ";")
	if len(toks) != workers*perWorker {
		t.Fatalf("log has %d tokens, want %d", len(toks), workers*perWorker)
	}
	next := make([]int, workers) // each worker's tokens appear in its own order
	for _, tok := range toks {
		var w, i int
		if _, err := fmt.Sscanf(tok, "%d-%d", &w, &i); err != nil || w >= workers {
			t.Fatalf("bad token %q", tok)
		}
		if i != next[w] {
			t.Fatalf("worker %d: token %d where %d was due", w, i, next[w])
		}
		next[w]++
	}
}

// TestConcurrentCAS runs the gets/cas retry loop that clients use to update
// a counter: no update may be lost.
func TestConcurrentCAS(t *testing.T) {
	s := concurrentStore(t)
	mustSet(t, s, storage.Item{Key: "n", Value: []byte("0")})
	var retries atomic.Int64
	run(t, workers, func(w int) error {
		for range perWorker {
			for {
				it, err := s.Get("n")
				if err != nil {
					return err
				}
				n, err := strconv.Atoi(string(it.Value))
				if err != nil {
					return err
				}
				err = s.CompareAndSwap(storage.Item{Key: "n", Value: []byte(strconv.Itoa(n + 1)), CAS: it.CAS})
				if err == nil {
					break
				}
				if !errors.Is(err, storage.ErrCASMismatch) {
					return err
				}
				retries.Add(1)
			}
		}
		return nil
	})
	wantItem(t, s, storage.Item{Key: "n", Value: []byte(strconv.Itoa(workers * perWorker))})
	t.Logf("%d CAS retries", retries.Load())
}

// TestReadYourWrites races readers that keep missing the cache against a
// writer of the same key, and checks every read against the writer's
// progress: a Get may return the value of the last write that returned
// before it began, or of a later one, never an older one. A reader that
// missed, read the file, and filled the cache after a newer write had
// updated it would leave a stale value there for the next reads.
func TestReadYourWrites(t *testing.T) {
	const valueLen = 8
	// A cache that holds one item: k and x evict each other.
	entry := int64(storage.CacheEntryOverhead + 1 + valueLen)
	s, _ := openStore(t, storage.Options{Sync: storage.SyncNone, CacheBytes: entry + entry/2})
	const writes, readers = 1000, 3
	// Write i sets k to i, except that every 8th deletes it.
	isDelete := func(i int64) bool { return i%8 == 7 }
	var done atomic.Int64 // writes done (0..done-1 have returned)
	var stop atomic.Bool

	check := func(before, after int64, got storage.Item, err error) error {
		// The result must be that of write j for some j in [before-1, after]:
		// the last write that returned before the Get, or a later one.
		lo := before - 1
		if errors.Is(err, storage.ErrNotFound) {
			for j := max(lo, 0); j <= after; j++ {
				if isDelete(j) {
					return nil
				}
			}
			if lo < 0 {
				return nil
			}
			return fmt.Errorf("Get = not found, but writes %d..%d set it", lo, after)
		}
		if err != nil {
			return err
		}
		j, perr := strconv.ParseInt(string(got.Value), 10, 64)
		if perr != nil || j < lo || j > after || isDelete(j) {
			return fmt.Errorf("Get = %q after write %d returned: stale", got.Value, lo)
		}
		return nil
	}

	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	for r := range readers {
		wg.Go(func() {
			for !stop.Load() {
				before := done.Load()
				got, err := s.Get("k")
				if cerr := check(before, done.Load(), got, err); cerr != nil {
					errs <- fmt.Errorf("reader %d: %w", r, cerr)
					return
				}
				if _, err := s.Get("x"); err != nil && !errors.Is(err, storage.ErrNotFound) {
					errs <- err
					return
				} // evicts k: the next Get of k misses
			}
		})
	}
	wg.Go(func() {
		defer stop.Store(true)
		for i := range int64(writes) {
			var err error
			if isDelete(i) {
				err = s.Delete("k")
			} else {
				err = s.Set(storage.Item{Key: "k", Value: fmt.Appendf(nil, "%0*d", valueLen, i)})
			}
			if err != nil && !(isDelete(i) && errors.Is(err, storage.ErrNotFound)) {
				errs <- err
				return
			}
			done.Store(i + 1)
			if i%2 == 0 {
				if err := s.Set(storage.Item{Key: "x", Value: []byte("12345678")}); err != nil {
					errs <- err
					return
				}
			}
			got, err := s.Get("k")
			if cerr := check(i+1, i+1, got, err); cerr != nil {
				errs <- fmt.Errorf("writer: %w", cerr)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	t.Logf("cache hits %d, misses %d, evictions %d", st.CacheHits, st.CacheMisses, st.CacheEvictions)
}
