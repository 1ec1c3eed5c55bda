package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// formatVersion is the version of the file layout: the buckets and the meta
// keys below. A file with a higher version is refused, not rewritten.
const formatVersion = 1

var (
	itemsBucket = []byte("items")
	metaBucket  = []byte("meta")

	metaVersion = []byte("version") // formatVersion, 8 bytes
	metaCAS     = []byte("cas")     // last CAS handed out, 8 bytes
	metaItems   = []byte("items")   // number of items, 8 bytes
	metaBytes   = []byte("bytes")   // sum of key and value lengths, 8 bytes
	metaFlush   = []byte("flush")   // flush_all deadline, Unix ns, 8 bytes
)

// SyncMode says when a commit reaches the disk.
type SyncMode int

const (
	// SyncAlways fsyncs every commit before any write in it is answered:
	// an acknowledged write survives a crash of the process or the machine.
	SyncAlways SyncMode = iota
	// SyncNone never fsyncs (bbolt's NoSync). It may lose recent writes on a
	// crash, and a machine crash may corrupt the file: for throwaway caches
	// and benchmarks only.
	SyncNone
)

func (m SyncMode) String() string {
	if m == SyncNone {
		return "none"
	}
	return "always"
}

// Options configures a Store. Each zero field takes the default in its comment.
type Options struct {
	CacheBytes    int64            // read cache size in bytes, memcached's -m; 0 (or less) means no cache
	MaxItemSize   int              // largest item, memcached's -I: see MaxValueSize; 0 means 1 MiB
	NoCAS         bool             // memcached's -C: items are 8 bytes smaller in the -I arithmetic
	Sync          SyncMode         // zero value is SyncAlways
	LockTimeout   time.Duration    // wait for another process's file lock; 0 means 1s
	SweepInterval time.Duration    // the sweeper's pause after a chunk that was not mostly dead (sweep.go); 0 means 100ms, <0 no sweeper
	SweepChunk    int              // keys the sweeper examines per read transaction; 0 means 1000
	MaxSize       int              // largest file size in bytes (bbolt MaxSize); 0 means no limit
	Now           func() time.Time // the clock; nil means time.Now
	Logger        *slog.Logger     // nil discards logs
	// OnCommit, when set, is called by the committer after every commit,
	// before the commit's callers are answered, with its figures (for the
	// server's metrics histograms). It must be quick and must not call the
	// Store. nil costs one comparison per commit.
	OnCommit func(CommitInfo)
}

// CommitInfo describes one commit, for Options.OnCommit.
type CommitInfo struct {
	Ops      int           // operations in the transaction: the batch size
	Duration time.Duration // the whole transaction, from begin to durable
	// Write is the part of Duration spent writing the dirty pages and the
	// meta page and fsyncing each (bbolt's TxStats.WriteTime); 0 for a
	// commit that failed before writing.
	Write time.Duration
	Err   error // nil if the commit succeeded
}

func (o Options) withDefaults() Options {
	if o.MaxItemSize == 0 {
		o.MaxItemSize = 1 << 20
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = 100 * time.Millisecond
	}
	if o.SweepChunk == 0 {
		o.SweepChunk = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Item is one stored item. The zero Expires means the item never expires.
//
// An Item returned by the Store shares its Value with the cache: callers must
// not modify it. An Item passed to the Store is copied before it is kept.
type Item struct {
	Key     string
	Value   []byte
	Flags   uint32
	Expires time.Time
	CAS     uint64
	State   State // the meta protocol's marks; Set and the like clear them
}

// Store is a durable item store. It is safe for concurrent use by multiple
// goroutines. Close it to release the file.
type Store struct {
	db    *bolt.DB
	path  string
	opts  Options
	cache *cache // nil when the cache is disabled

	mu     sync.RWMutex // held to send on queue, and by Close to close it
	closed atomic.Bool  // set by Close, under mu; read by Get without it
	queue  chan *op

	fetched fetchedSet            // which items a meta get has read: mg h, me fetch=
	flushAt atomic.Int64          // pending flush_all deadline, Unix ns; 0 if none
	watch   expiryWatch           // when the sweeper has work
	failed  atomic.Pointer[error] // set by failIfApplied: no more writes

	done     chan struct{} // closed when the committer has exited
	stopSwp  chan struct{} // closed to stop the sweeper
	swpDone  chan struct{}
	closeErr error
	once     sync.Once

	stats counters
}

// counters are the figures Stats reports, updated atomically.
type counters struct {
	items, bytes           atomic.Int64
	misses, deadHits       atomic.Uint64 // deadHits: cache lookups that found an expired or flushed item
	commits, ops, maxBatch atomic.Uint64
	commitNanos            atomic.Int64
	swept                  atomic.Uint64
}

var _ io.Closer = (*Store)(nil)

// Open opens the data file at path, creating it (and nothing else) if it does
// not exist. It fails, with an error naming the file, when another process
// holds the file's lock for longer than Options.LockTimeout, when the file is
// not a memcached-lite database or is of a newer format, or when it cannot be
// created. It never writes to a file it could not read as its own.
func Open(path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if err := checkFile(path); err != nil {
		return nil, err
	}
	db, created, err := openLocked(path, &bolt.Options{
		Timeout:         opts.LockTimeout,
		NoSync:          opts.Sync == SyncNone,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true, // one page write less per commit; Open rebuilds it (1M items: ~0.14 s)
		InitialMmapSize: 1 << 30,
		MaxSize:         opts.MaxSize,
	})
	if err != nil {
		return nil, openError(path, opts.LockTimeout, err)
	}
	s := &Store{
		db:      db,
		path:    path,
		opts:    opts,
		queue:   make(chan *op, 4096),
		done:    make(chan struct{}),
		stopSwp: make(chan struct{}),
		swpDone: make(chan struct{}),
	}
	if opts.CacheBytes > 0 {
		s.cache = newCache(opts.CacheBytes, int64(opts.MaxItemSize)+MaxKeySize+entryOverhead)
	}
	var nextCAS uint64
	if err := db.Update(func(tx *bolt.Tx) error {
		var err error
		nextCAS, err = s.init(tx)
		return err
	}); err != nil {
		_ = db.Close()
		if errors.Is(err, ErrNotOurs) {
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
		return nil, openError(path, opts.LockTimeout, err)
	}
	if created && opts.Sync == SyncAlways {
		// The new file's name must survive a power cut too, not only its
		// contents: fsync the directory that holds it.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
	}
	s.watch.init(s.stats.items.Load() == 0, opts.SweepChunk)
	go s.commitLoop(nextCAS)
	if opts.SweepInterval > 0 {
		go s.sweepLoop()
	} else {
		close(s.swpDone)
	}
	return s, nil
}

// openLocked opens the bbolt file at path, and reports whether it created
// it. A file can be replaced while bbolt waits for its lock (Compact renames
// its copy over the original, then lets go of the original's lock): bbolt
// then holds the lock of a file that is no longer at path, and writes would
// be lost. So it checks that the file at path is still the one it opened,
// and opens again if not.
func openLocked(path string, bopts *bolt.Options) (db *bolt.DB, created bool, err error) {
	for range 3 {
		fi, statErr := os.Stat(path)
		created = errors.Is(statErr, os.ErrNotExist)
		if db, err = bolt.Open(path, 0o600, bopts); err != nil {
			return nil, false, err
		}
		if created {
			return db, true, nil
		}
		if now, err := os.Stat(path); statErr == nil && err == nil && os.SameFile(fi, now) {
			return db, false, nil
		}
		if err := db.Close(); err != nil {
			return nil, false, err
		}
	}
	return nil, false, errors.New("the file was replaced while it was being opened, three times")
}

// syncDir fsyncs a directory, so that the entries made in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// openError turns bbolt's errors into ones a person can act on.
func openError(path string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("storage: open %s: %w by %s (waited %v)", path, ErrLocked, lockHolder(path), timeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return fmt.Errorf("storage: open %s: %w: %v", path, ErrNotOurs, err)
	}
	return fmt.Errorf("storage: open %s: %w", path, err)
}

// init checks or creates the buckets and returns the next CAS to hand out.
func (s *Store) init(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return 0, ErrNotOurs
		}
		var err error
		if meta, err = tx.CreateBucket(metaBucket); err != nil {
			return 0, err
		}
		if _, err = tx.CreateBucket(itemsBucket); err != nil {
			return 0, err
		}
		if err = meta.Put(metaVersion, u64(formatVersion)); err != nil {
			return 0, err
		}
	}
	if err := checkFormat(tx); err != nil {
		return 0, err
	}
	s.stats.items.Store(int64(getU64(meta, metaItems)))
	s.stats.bytes.Store(int64(getU64(meta, metaBytes)))
	s.flushAt.Store(int64(getU64(meta, metaFlush)))
	return getU64(meta, metaCAS) + 1, nil
}

// checkFormat reports ErrNotOurs unless tx holds a memcached-lite database
// of the format this build reads.
func checkFormat(tx *bolt.Tx) error {
	meta := tx.Bucket(metaBucket)
	if meta == nil || tx.Bucket(itemsBucket) == nil {
		return ErrNotOurs
	}
	v := meta.Get(metaVersion)
	if len(v) != 8 {
		return ErrNotOurs
	}
	if ver := binary.BigEndian.Uint64(v); ver != formatVersion {
		return fmt.Errorf("%w: format version %d, this build reads %d", ErrNotOurs, ver, formatVersion)
	}
	return nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func getU64(b *bolt.Bucket, key []byte) uint64 {
	if v := b.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// Close answers or finishes every queued write, stops the sweeper and closes
// the file. Later calls return the first call's result.
func (s *Store) Close() error {
	s.once.Do(func() {
		close(s.stopSwp)
		<-s.swpDone
		s.mu.Lock()
		s.closed.Store(true)
		close(s.queue)
		s.mu.Unlock()
		<-s.done
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// Path returns the data file's path.
func (s *Store) Path() string { return s.path }

// dead is the one liveness rule: it says why an item with this expiry and
// last update is invisible at now under the flush_all deadline flushAt (0
// if none): ErrExpired or ErrFlushed, or nil if it is live. All times are
// Unix nanoseconds.
func dead(expires, updated, now, flushAt int64) error {
	if expires != 0 && now >= expires {
		return ErrExpired
	}
	if flushAt != 0 && now >= flushAt && updated <= flushAt {
		return ErrFlushed
	}
	return nil
}

// dead is the liveness rule under the store's present flush deadline.
func (s *Store) dead(expires, updated, now int64) error {
	return dead(expires, updated, now, s.flushAt.Load())
}

// live reports whether a record is visible at now: not expired, not flushed.
func (s *Store) live(r *record, now int64) bool { return s.dead(r.expires, r.updated, now) == nil }

// Get returns the item stored under key, or ErrNotFound if it is absent
// (wrapped as ErrExpired or ErrFlushed when that is why). The returned Value must not be modified. Get does not
// keep key past the call (it copies what it caches), so a caller may pass a
// string that aliases a buffer it reuses; the returned Key may be key itself.
func (s *Store) Get(key string) (Item, error) {
	if !validKey(key) {
		return Item{}, ErrInvalidKey
	}
	if s.closed.Load() {
		return Item{}, ErrClosed
	}
	var gen uint64
	if s.cache != nil {
		if it, updated, ok := s.cache.get(key); ok {
			// Most items neither expire nor wait for a flush: no clock then.
			if !it.Expires.IsZero() || s.flushAt.Load() != 0 {
				if err := s.dead(unixNano(it.Expires), updated, s.opts.Now().UnixNano()); err != nil {
					s.stats.deadHits.Add(1) // the cache counted a hit: a miss after all
					return Item{}, err
				}
			}
			return it, nil
		}
		gen = s.cache.generation(key)
	}
	s.stats.misses.Add(1)
	it, rec, err := s.load(key, s.opts.Now().UnixNano())
	if err != nil {
		return Item{}, err
	}
	if s.cache != nil {
		s.cache.fill(gen, strings.Clone(key), rec)
	}
	return it, nil
}

// load reads the item under key from the file, copied out of the
// transaction, with its last update time: ErrNotFound unless it is live at now.
func (s *Store) load(key string, now int64) (it Item, rec []byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(itemsBucket).Get([]byte(key))
		if raw == nil {
			return ErrNotFound
		}
		r, err := decodeRecord(raw)
		if err != nil {
			return fmt.Errorf("storage: key %q: %w", key, err)
		}
		if err := s.dead(r.expires, r.updated, now); err != nil {
			return err
		}
		rec = append([]byte(nil), raw...) // raw dies with the transaction
		r, _ = decodeRecord(rec)
		it = r.item(key)
		return nil
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = ErrClosed // Close ran between our check and the transaction
	}
	return it, rec, err
}

// validKey reports whether key is a key the store accepts.
func validKey(key string) bool { return key != "" && len(key) <= MaxKeySize }
