package storage

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// An Entry is one record of the items bucket, as Scan reads it.
type Entry struct {
	Key     string
	Flags   uint32
	Expires time.Time // zero: never
	CAS     uint64
	Updated time.Time // the last write of the item (set, append, incr, ...)
	Size    int       // the value's length
	Value   []byte    // the value, only when Scan is asked for values
	Raw     []byte    // the whole encoded record, only when asked for values
	Dead    error     // nil for a live item, else ErrExpired or ErrFlushed
}

// ItemSize is the size memcached 1.6 gives this entry in metadump's size
// field and in its memory figures (see MemcachedItemSize).
func (e *Entry) ItemSize(noCAS bool) int {
	return MemcachedItemSize(len(e.Key), e.Size, e.Flags, noCAS)
}

// ScanChunk is how many entries one Scan call reads by default: few enough
// that its read transaction is short and the entries it hands over small.
const ScanChunk = 256

// Scan calls fn with up to n entries (n <= 0: ScanChunk) whose keys sort
// after after ("" for the first), in key order, dead ones included (see
// Entry.Dead), all read in one short read transaction that never waits for
// writers nor holds them up. The Entry and its slices are copies that fn
// may keep. Scan returns the last key it read, to pass as after to the next
// call, and done when the bucket has no more keys. fn returning false stops
// Scan early (done is then false).
//
// A listing of the whole store is a loop of Scan calls: it holds one chunk
// in memory at a time and sees each key that exists throughout; keys
// written meanwhile may or may not appear.
func (s *Store) Scan(after string, n int, values bool, fn func(*Entry) bool) (last string, done bool, err error) {
	if s.closed.Load() {
		return "", false, ErrClosed
	}
	now := s.opts.Now().UnixNano()
	err = s.db.View(func(tx *bolt.Tx) error {
		last, done, err = scanTx(tx, after, n, values, func(r *record) error {
			return deadAt(r, now, s.flushAt.Load())
		}, fn)
		return err
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return last, done, err
}

// deadAt says why a record is dead at now under the flush deadline flushAt
// (ErrExpired, ErrFlushed), or nil: the rule Store.dead applies.
func deadAt(r *record, now, flushAt int64) error {
	if r.expires != 0 && now >= r.expires {
		return ErrExpired
	}
	if flushAt != 0 && now >= flushAt && r.updated <= flushAt {
		return ErrFlushed
	}
	return nil
}

func scanTx(tx *bolt.Tx, after string, n int, values bool, dead func(*record) error, fn func(*Entry) bool) (last string, done bool, err error) {
	if n <= 0 {
		n = ScanChunk
	}
	b := tx.Bucket(itemsBucket)
	if b == nil {
		return "", false, ErrNotOurs
	}
	c := b.Cursor()
	k, v := c.First()
	if after != "" {
		k, v = c.Seek([]byte(after))
		if k != nil && bytes.Equal(k, []byte(after)) {
			k, v = c.Next()
		}
	}
	for i := 0; k != nil && i < n; i++ {
		r, err := decodeRecord(v)
		if err != nil {
			return last, false, fmt.Errorf("storage: key %q: %w", k, err)
		}
		e := Entry{
			Key: string(k), Flags: r.flags, Expires: fromUnixNano(r.expires), CAS: r.cas,
			Updated: fromUnixNano(r.updated), Size: len(r.value), Dead: dead(&r),
		}
		if values {
			e.Raw = bytes.Clone(v)
			e.Value = e.Raw[len(v)-len(r.value):]
		}
		last = e.Key
		if !fn(&e) {
			return last, false, nil
		}
		k, v = c.Next()
	}
	return last, k == nil, nil
}
