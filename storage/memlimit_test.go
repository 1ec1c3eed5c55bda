package storage

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// heapRoom returns how many bytes may be allocated before the next
// collection: the heap goal less the heap now.
func heapRoom() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64()) - int64(s[1].Value.Uint64())
}

// TestMemoryLimitFollowsHeap holds 64 MiB live in this process, well above
// the soft limit for -m 1 (25 MiB), as a server holding a thousand
// connections does. With the limit fixed there (what the server did
// before), the runtime's heap goal is below the heap: the next allocation
// sets off a collection, and so does every one after it. With the limiter,
// the limit set after a collection leaves megabytes to allocate before the
// next, and it comes back down to the fixed limit when the heap shrinks.
//
// It runs in a process of its own: the heap of the other tests in this
// package (their caches, the race detector's bookkeeping) would count as
// live here and keep the limit up.
func TestMemoryLimitFollowsHeap(t *testing.T) {
	if os.Getenv("MEMLIMIT_TEST_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryLimitFollowsHeap$", "-test.v")
		cmd.Env = append(os.Environ(), "MEMLIMIT_TEST_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("in a process of its own: %v\n%s", err, out)
		}
		t.Logf("in a process of its own:\n%s", out)
		return
	}
	const cacheBytes = 1 << 20
	floor := MemoryLimit(cacheBytes)
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	ballast := make([]byte, 64<<20)
	debug.SetMemoryLimit(floor)
	runtime.GC()
	if room := heapRoom(); room > 1<<20 {
		t.Fatalf("premise: with the heap above a fixed limit, the next collection comes after %d KiB, want at once", room>>10)
	} else {
		t.Logf("fixed limit of %d MiB: the next collection comes after %d KiB", floor>>20, room>>10)
	}

	l := newMemLimiter(cacheBytes)
	set := make(chan int64, 1)
	l.set = set
	l.start()
	t.Cleanup(l.stop)
	// collect runs a collection and returns the limit set after one.
	collect := func() int64 {
		t.Helper()
		select {
		case <-set: // from an earlier collection
		default:
		}
		// A cleanup runs some time after the collection that found its
		// object dead, not always after the first: collect again until
		// one reports.
		for range 50 {
			runtime.GC()
			select {
			case limit := <-set:
				return limit
			case <-time.After(100 * time.Millisecond):
			}
		}
		t.Fatal("no limit was set within 50 collections")
		return 0
	}

	high := collect()
	if want := int64(len(ballast)) + l.room; high < want {
		t.Fatalf("limit after a collection with %d MiB live = %d MiB, want at least %d MiB", len(ballast)>>20, high>>20, want>>20)
	}
	if got := debug.SetMemoryLimit(-1); got != high {
		t.Fatalf("the runtime's limit is %d, the limiter set %d", got, high)
	}
	if room, want := heapRoom(), l.room/2; room < want {
		t.Errorf("with the limiter (limit %d MiB), the next collection comes after %d KiB, want at least %d MiB", high>>20, room>>10, want>>20)
	} else {
		t.Logf("with the limiter (limit %d MiB), the next collection comes after %d MiB", high>>20, room>>20)
	}

	runtime.KeepAlive(ballast)
	ballast = nil
	// A collection the runtime started by itself while the ballast was
	// live may report after ours began: the limit must come down within a
	// few collections.
	low := collect()
	for i := 0; i < 5 && low != floor; i++ {
		low = collect()
	}
	if low != floor {
		t.Errorf("limit after the 64 MiB died = %d MiB (it was %d MiB); want the fixed limit, %d MiB", low>>20, high>>20, floor>>20)
	}

	l.stop()
	if got := debug.SetMemoryLimit(-1); got != floor {
		t.Errorf("after stop the limit is %d, want %d, the limit before start", got, floor)
	}
}
