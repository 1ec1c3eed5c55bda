package storage

import (
	"fmt"
	"os"
	"time"
)

// Stats are a Store's figures since Open, for the server's stats command.
type Stats struct {
	Items int64 // items in the file, including expired ones not yet swept
	Bytes int64 // sum of key and value lengths of those items

	CacheItems     int64  // items in the read cache
	CacheBytes     int64  // bytes charged to the read cache
	CacheLimit     int64  // the read cache's bound in bytes
	CacheHits      uint64 // Gets answered from the cache
	CacheMisses    uint64 // Gets that went to the file
	CacheEvictions uint64 // items evicted from the cache to make room

	Commits    uint64        // write transactions
	Ops        uint64        // operations committed
	MaxBatch   uint64        // most operations in one commit
	CommitTime time.Duration // total time spent in commits, fsync included
	Swept      uint64        // dead items deleted by the sweeper
	FileSize   int64         // size of the data file in bytes
	FreePages  int           // pages of the file free for reuse, or waiting for readers to finish
	FreeBytes  int64         // the bytes of those pages
	Pending    int           // writes queued for the committer, not yet in a transaction
	Path       string        // the data file
	Sync       SyncMode
}

// AvgBatch returns the mean number of operations per commit.
func (st Stats) AvgBatch() float64 {
	if st.Commits == 0 {
		return 0
	}
	return float64(st.Ops) / float64(st.Commits)
}

// Stats returns the store's current figures. It is safe to call at any time.
func (s *Store) Stats() Stats {
	st := Stats{
		Items:       s.stats.items.Load(),
		Bytes:       s.stats.bytes.Load(),
		CacheMisses: s.stats.misses.Load(),
		Commits:     s.stats.commits.Load(),
		Ops:         s.stats.ops.Load(),
		MaxBatch:    s.stats.maxBatch.Load(),
		CommitTime:  time.Duration(s.stats.commitNanos.Load()),
		Swept:       s.stats.swept.Load(),
		Path:        s.path,
		Sync:        s.opts.Sync,
	}
	if s.cache != nil {
		cs := s.cache.stats()
		st.CacheItems, st.CacheBytes, st.CacheLimit, st.CacheEvictions = cs.items, cs.bytes, cs.limit, cs.evictions
		dead := s.stats.deadHits.Load()
		st.CacheHits, st.CacheMisses = cs.hits-min(dead, cs.hits), st.CacheMisses+dead
	}
	db := s.db.Stats()
	st.FreePages = db.FreePageN + db.PendingPageN
	st.FreeBytes = int64(db.FreeAlloc)
	st.Pending = len(s.queue)
	if fi, err := os.Stat(s.path); err == nil {
		st.FileSize = fi.Size()
	}
	return st
}

// Err returns nil while the store takes writes, ErrFailed (wrapping the
// cause) after a commit failed once it had reached the file (see
// ErrFailed), and ErrClosed once it is closed: what a health check reports.
func (s *Store) Err() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if cause := s.failed.Load(); cause != nil {
		return fmt.Errorf("%w: %w", ErrFailed, *cause)
	}
	return nil
}

// ResetStats zeroes the counters that memcached's "stats reset" zeroes:
// hits, misses, evictions and commit figures. Items and bytes are kept.
func (s *Store) ResetStats() {
	s.stats.misses.Store(0)
	s.stats.deadHits.Store(0)
	s.stats.commits.Store(0)
	s.stats.ops.Store(0)
	s.stats.maxBatch.Store(0)
	s.stats.commitNanos.Store(0)
	s.stats.swept.Store(0)
	if s.cache != nil {
		s.cache.resetStats()
	}
}
