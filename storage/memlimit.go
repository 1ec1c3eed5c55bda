package storage

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The read cache is bounded by -m, and the Go heap around it by a soft
// memory limit (debug.SetMemoryLimit), so that the process stays near -m
// (memcached's promise) instead of growing to twice its live heap between
// collections.
//
// A fixed limit fails when what the process rightly holds passes it: the
// cache and a thousand connections' buffers, or a fragmented heap. The
// collector then runs at every allocation that finds the heap above its
// goal, and each run marks the whole heap: with the sweeper allocating
// every 100 ms, an idle server spent 7.4 s of CPU per 10 s. So the
// limit follows the heap: after each collection it is raised, if need be,
// to leave half the headroom free above what is in use then, and lowered
// back to the fixed limit as the heap shrinks.

// MemoryLimit returns the soft memory limit for a read cache of cacheBytes
// while the heap is small: the cache and room for garbage.
func MemoryLimit(cacheBytes int64) int64 { return cacheBytes + memoryHeadroom(cacheBytes) }

// memoryHeadroom is the room for garbage above what is in use.
func memoryHeadroom(cacheBytes int64) int64 { return max(24<<20, cacheBytes/4) }

// A memLimiter keeps the soft memory limit at least room above the memory
// in use after the last collection, and at least floor. It runs in the
// runtime's cleanup goroutine after each collection until stopped.
type memLimiter struct {
	floor, room int64

	mu      sync.Mutex
	stopped bool
	prev    int64 // the limit before start, restored by stop
	samples []metrics.Sample
	set     chan<- int64 // if not nil, gets each limit set after a collection (tests)
}

// newMemLimiter returns a limiter for a read cache of cacheBytes; start it.
func newMemLimiter(cacheBytes int64) *memLimiter {
	l := &memLimiter{floor: MemoryLimit(cacheBytes), room: memoryHeadroom(cacheBytes) / 2}
	for _, name := range []string{
		"/memory/classes/total:bytes",         // all the runtime has mapped
		"/memory/classes/heap/released:bytes", // returned to the system
		"/memory/classes/heap/free:bytes",     // free, could be returned
		"/memory/classes/heap/objects:bytes",  // objects, live or not yet swept
		"/gc/heap/live:bytes",                 // live at the last collection
	} {
		l.samples = append(l.samples, metrics.Sample{Name: name})
	}
	return l
}

// LimitMemory sets the process's soft memory limit for a read cache of
// cacheBytes (Options.CacheBytes) and keeps it above the heap until the
// returned function is called, which restores the limit in force before.
// It is for a program's main: the limit is the whole process's.
func LimitMemory(cacheBytes int64) (stop func()) {
	l := newMemLimiter(cacheBytes)
	l.start()
	return l.stop
}

func (l *memLimiter) start() {
	l.prev = debug.SetMemoryLimit(l.floor)
	l.arm()
}

func (l *memLimiter) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.stopped = true
		debug.SetMemoryLimit(l.prev)
	}
}

// gcSentinel is allocated only to be collected. It holds a pointer so that
// it is not a tiny allocation, whose cleanup might never run.
type gcSentinel struct{ _ *gcSentinel }

// arm has collected run after the next collection.
func (l *memLimiter) arm() {
	runtime.AddCleanup(new(gcSentinel), (*memLimiter).collected, l)
}

// collected sets the limit from the memory in use after a collection and
// arms itself again.
func (l *memLimiter) collected() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return
	}
	metrics.Read(l.samples)
	v := func(i int) int64 { return int64(l.samples[i].Value.Uint64()) }
	total, released, free, objects, live := v(0), v(1), v(2), v(3), v(4)
	// What the limit counts (all mapped but released), less the free heap,
	// and less what the collection found dead but has not swept yet.
	inUse := total - released - free - max(objects-live, 0)
	limit := max(l.floor, inUse+l.room)
	if debug.SetMemoryLimit(-1) != limit {
		debug.SetMemoryLimit(limit)
	}
	if l.set != nil {
		select {
		case l.set <- limit:
		default:
		}
	}
	l.arm()
}
