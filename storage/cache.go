package storage

import (
	"hash/maphash"
	"sync"
)

// entryOverhead is the fixed number of bytes charged to each cached item on
// top of its key and record: the entry struct (64 bytes), its map slot (about
// 40 at the map's usual load) and the rounding of the key's and record's
// allocations to Go's size classes. Measured with 100-byte values, items
// take 0.9 of what they are charged (TestCacheChargesRealMemory): -m bounds
// the memory the cache really uses.
const entryOverhead = 128

// maxCacheShards bounds how many independently locked LRUs the cache is
// spread over, so that readers on many connections do not queue on one mutex.
const maxCacheShards = 16

// lru is a least-recently-used list of items bounded in bytes. It is not safe
// for concurrent use: the cache that owns it holds its mutex.
type lru struct {
	maxBytes  int64
	bytes     int64
	items     map[string]*entry
	head      entry // sentinel: head.next is the most recently used
	evictions uint64
}

// entry is one cached item: its key and its encoded record (record.go), the
// form the file holds, so that an entry costs two allocations and 64 bytes.
type entry struct {
	key        string
	rec        []byte
	prev, next *entry
}

// item decodes the entry. The Value aliases the entry's record.
func (e *entry) item() (Item, int64) {
	r, _ := decodeRecord(e.rec) // records are checked before they are cached
	return r.item(e.key), r.updated
}

func newLRU(maxBytes int64) *lru {
	l := &lru{maxBytes: maxBytes, items: make(map[string]*entry)}
	l.head.prev, l.head.next = &l.head, &l.head
	return l
}

func entrySize(key string, rec []byte) int64 {
	return int64(len(key)+len(rec)) + entryOverhead
}

func (l *lru) unlink(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
}

func (l *lru) pushFront(e *entry) {
	e.prev, e.next = &l.head, l.head.next
	e.prev.next, e.next.prev = e, e
}

// get returns the entry for key and marks it most recently used.
func (l *lru) get(key string) (*entry, bool) {
	e, ok := l.items[key]
	if ok && l.head.next != e {
		l.unlink(e)
		l.pushFront(e)
	}
	return e, ok
}

// add inserts or replaces the item, evicting from the cold end until the
// bytes fit. An item larger than maxBytes is not kept (and the old one is
// dropped).
func (l *lru) add(key string, rec []byte) {
	l.remove(key)
	size := entrySize(key, rec)
	if size > l.maxBytes {
		return
	}
	for l.bytes+size > l.maxBytes {
		l.remove(l.head.prev.key)
		l.evictions++
	}
	e := &entry{key: key, rec: rec}
	l.items[key] = e
	l.pushFront(e)
	l.bytes += size
}

func (l *lru) remove(key string) {
	if e, ok := l.items[key]; ok {
		l.unlink(e)
		delete(l.items, key)
		l.bytes -= entrySize(e.key, e.rec)
	}
}

// cache is the store's read cache: sharded LRUs, each with a generation
// counter that keeps a reader which missed from putting back a stale value.
//
// The committer calls put, remove or clear after a commit reaches the file;
// each bumps the generation of the shard it changes, under the shard's lock.
// A reader notes its key's generation before it reads the file and fills
// only if that shard has not changed since (fill). A fill may be skipped
// needlessly when another key of the shard was written meanwhile, but it can
// never overwrite a newer value or bring back a deleted one.
//
// The number of shards is a power of two, at most maxCacheShards, chosen so
// that each shard can hold the largest item the store accepts: an item is
// not cached only if it is bigger than the whole cache.
type cache struct {
	seed   maphash.Seed
	mask   uint64 // number of shards in use, minus one
	shards [maxCacheShards]cacheShard
}

type cacheShard struct {
	mu   sync.Mutex
	gen  uint64 // bumped by every change; guarded by mu
	lru  *lru
	hits uint64   // lookups that found the key; guarded by mu
	_    [32]byte // pad to 64 bytes: keep shards on separate cache lines
}

// newCache returns a cache of maxBytes in all whose shards can each hold an
// entry of maxEntry bytes (when maxBytes allows it).
func newCache(maxBytes, maxEntry int64) *cache {
	n := int64(maxCacheShards)
	for n > 1 && maxBytes/n < maxEntry {
		n /= 2
	}
	c := &cache{seed: maphash.MakeSeed(), mask: uint64(n - 1)}
	for i := range c.shards[:n] {
		c.shards[i].lru = newLRU(maxBytes / n)
	}
	return c
}

func (c *cache) shard(key string) *cacheShard {
	return &c.shards[maphash.String(c.seed, key)&c.mask]
}

func (c *cache) used() []cacheShard { return c.shards[:c.mask+1] }

// get returns the cached item for key and its last update time.
func (c *cache) get(key string) (it Item, updated int64, ok bool) {
	s := c.shard(key)
	s.mu.Lock()
	e, ok := s.lru.get(key)
	var rec []byte
	if ok {
		rec = e.rec
		s.hits++ // counted here, under the lock, rather than on a shared atomic
	}
	s.mu.Unlock()
	if ok {
		it, updated = (&entry{key: key, rec: rec}).item()
	}
	return it, updated, ok
}

// generation returns the generation of key's shard, for a later fill.
func (c *cache) generation(key string) uint64 {
	s := c.shard(key)
	s.mu.Lock()
	g := s.gen
	s.mu.Unlock()
	return g
}

// fill caches rec, the record of key read from the file after
// generation(key) returned gen, unless its shard changed since. The cache
// keeps rec: the caller must not modify it.
func (c *cache) fill(gen uint64, key string, rec []byte) {
	s := c.shard(key)
	s.mu.Lock()
	if s.gen == gen {
		s.lru.add(key, rec)
	}
	s.mu.Unlock()
}

// put caches rec, the record of key just committed. The cache keeps rec.
func (c *cache) put(key string, rec []byte) {
	s := c.shard(key)
	s.mu.Lock()
	s.gen++
	s.lru.add(key, rec)
	s.mu.Unlock()
}

// remove drops key, just deleted from the file, from the cache.
func (c *cache) remove(key string) {
	s := c.shard(key)
	s.mu.Lock()
	s.gen++
	s.lru.remove(key)
	s.mu.Unlock()
}

// clear drops every item, after the file was emptied.
func (c *cache) clear() {
	for i := range c.used() {
		s := &c.shards[i]
		s.mu.Lock()
		s.gen++
		ev := s.lru.evictions
		s.lru = newLRU(s.lru.maxBytes)
		s.lru.evictions = ev
		s.mu.Unlock()
	}
}

type cacheStats struct {
	items, bytes, limit int64
	evictions, hits     uint64
}

func (c *cache) stats() cacheStats {
	var st cacheStats
	for i := range c.used() {
		s := &c.shards[i]
		s.mu.Lock()
		st.items += int64(len(s.lru.items))
		st.bytes += s.lru.bytes
		st.limit += s.lru.maxBytes
		st.evictions += s.lru.evictions
		st.hits += s.hits
		s.mu.Unlock()
	}
	return st
}

// resetStats zeroes the eviction and hit counts, for Store.ResetStats.
func (c *cache) resetStats() {
	for i := range c.used() {
		s := &c.shards[i]
		s.mu.Lock()
		s.lru.evictions, s.hits = 0, 0
		s.mu.Unlock()
	}
}
