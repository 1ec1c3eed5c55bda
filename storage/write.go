package storage

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxBatch bounds how many operations one commit takes, so that one
// transaction's dirty pages stay small and a long queue is answered in steps.
const maxBatch = 1024

// An Op is a kind of write, for Start.
type Op uint8

// The writes Start takes; each does what the method of the same name does.
const (
	OpSet Op = iota + 1
	OpAdd
	OpReplace
	OpAppend
	OpPrepend
	OpCAS
	OpIncr
	OpDecr
	OpTouch
	OpDelete

	opGAT   // GetAndTouch
	opFlush // FlushAll
	opSweep // the sweeper's deletes
)

// An op is one write handed to the committer. The caller fills the inputs,
// the committer the results, and done is signalled once the op's transaction
// is durable (or failed).
type op struct {
	kind  Op
	it    Item     // input: key, value, flags, expiry, cas
	delta uint64   // input: incr/decr
	keys  []string // input: sweep candidates

	res Item   // result: gat's item
	num uint64 // result: incr/decr's new value
	err error

	done chan struct{}
}

var opPool = sync.Pool{New: func() any { return &op{done: make(chan struct{}, 1)} }}

// do queues o for the committer and waits for its result.
func (s *Store) do(o *op) error {
	if err := s.enqueue(o); err != nil {
		return err
	}
	<-o.done
	return o.err
}

// enqueue hands o to the committer.
func (s *Store) enqueue(o *op) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	s.queue <- o
	return nil
}

// A Pending is a write queued by Start. Its zero value is not usable.
type Pending struct {
	o   *op   // nil if the write was refused before it was queued
	err error // why it was refused
}

// Start queues a write of the given kind and returns without waiting for it:
// a connection with several requests in hand can queue them all, so that
// they share one commit, and then wait for each. Writes are committed in the
// order they are started. it, Value included, must not be modified until
// Wait returns. delta is for OpIncr and OpDecr.
func (s *Store) Start(kind Op, it Item, delta uint64) *Pending {
	switch {
	case kind < OpSet || kind > OpDelete:
		return &Pending{err: fmt.Errorf("storage: Start: unknown op %d", kind)}
	case !validKey(it.Key):
		return &Pending{err: ErrInvalidKey}
	case len(it.Value) > s.opts.MaxItemSize:
		return &Pending{err: ErrTooLarge}
	}
	return s.start(kind, it, delta)
}

func (s *Store) start(kind Op, it Item, delta uint64) *Pending {
	o := opPool.Get().(*op)
	o.kind, o.it, o.delta = kind, it, delta
	if err := s.enqueue(o); err != nil {
		release(o)
		return &Pending{err: err}
	}
	return &Pending{o: o}
}

// Wait waits until the write is durable, or has failed, and returns the new
// value (for OpIncr and OpDecr) and the write's error, as the method of the
// same name would. Call it once.
func (p *Pending) Wait() (uint64, error) {
	_, n, err := p.wait()
	return n, err
}

func (p *Pending) wait() (Item, uint64, error) {
	if p.o == nil {
		return Item{}, 0, p.err
	}
	o := p.o
	p.o, p.err = nil, errWaited
	<-o.done
	res, num, err := o.res, o.num, o.err
	release(o)
	return res, num, err
}

var errWaited = errors.New("storage: Pending.Wait called twice")

func release(o *op) {
	*o = op{done: o.done}
	opPool.Put(o)
}

// write runs one op and waits for it.
func (s *Store) write(kind Op, it Item, delta uint64) (Item, uint64, error) {
	if kind != opFlush && !validKey(it.Key) {
		return Item{}, 0, ErrInvalidKey
	}
	if len(it.Value) > s.opts.MaxItemSize {
		return Item{}, 0, ErrTooLarge
	}
	return s.start(kind, it, delta).wait()
}

// Set stores it unconditionally. it.CAS is ignored.
func (s *Store) Set(it Item) error { _, _, err := s.write(OpSet, it, 0); return err }

// Add stores it only if its key is absent: ErrNotStored otherwise.
func (s *Store) Add(it Item) error { _, _, err := s.write(OpAdd, it, 0); return err }

// Replace stores it only if its key is present: ErrNotStored otherwise.
func (s *Store) Replace(it Item) error { _, _, err := s.write(OpReplace, it, 0); return err }

// Append adds it.Value after the present value, keeping the item's flags and
// expiry: ErrNotStored if the key is absent, ErrTooLarge if the result would
// exceed Options.MaxItemSize (the item is then unchanged).
func (s *Store) Append(it Item) error { _, _, err := s.write(OpAppend, it, 0); return err }

// Prepend is Append, with it.Value put before the present value.
func (s *Store) Prepend(it Item) error { _, _, err := s.write(OpPrepend, it, 0); return err }

// CompareAndSwap stores it only if the present item's CAS equals it.CAS:
// ErrCASMismatch if it differs, ErrNotFound if the key is absent.
func (s *Store) CompareAndSwap(it Item) error { _, _, err := s.write(OpCAS, it, 0); return err }

// Incr adds delta to the decimal uint64 stored under key, wrapping at 2^64,
// and returns the new value: ErrNotFound if absent, ErrNotNumeric if the
// value is not a decimal uint64.
func (s *Store) Incr(key string, delta uint64) (uint64, error) {
	_, n, err := s.write(OpIncr, Item{Key: key}, delta)
	return n, err
}

// Decr subtracts delta from the value under key, stopping at 0; otherwise as Incr.
func (s *Store) Decr(key string, delta uint64) (uint64, error) {
	_, n, err := s.write(OpDecr, Item{Key: key}, delta)
	return n, err
}

// Touch sets the expiry of the item under key: ErrNotFound if absent.
// The CAS is unchanged.
func (s *Store) Touch(key string, expires time.Time) error {
	_, _, err := s.write(OpTouch, Item{Key: key, Expires: expires}, 0)
	return err
}

// GetAndTouch sets the expiry of the item under key and returns the item
// (with its new expiry): ErrNotFound if absent.
func (s *Store) GetAndTouch(key string, expires time.Time) (Item, error) {
	it, _, err := s.write(opGAT, Item{Key: key, Expires: expires}, 0)
	return it, err
}

// Delete removes the item under key: ErrNotFound if absent.
func (s *Store) Delete(key string) error {
	_, _, err := s.write(OpDelete, Item{Key: key}, 0)
	return err
}

// FlushAll invalidates every item last updated at or before at. A zero or
// past at flushes now; a future at leaves the items visible until then
// (memcached's flush_all <delay>), and replaces any earlier pending flush.
func (s *Store) FlushAll(at time.Time) error {
	_, _, err := s.write(opFlush, Item{Expires: at}, 0)
	return err
}

// change is a cache update that the committer applies after a commit.
type change struct {
	key   string
	rec   []byte // the new record, unless del or clear
	del   bool
	clear bool
}

// batch is the state of one transaction being built by the committer.
type batch struct {
	s       *Store
	b       *bolt.Bucket
	now     int64
	cas     uint64 // next CAS to hand out
	items   int64  // change in the number of items
	bytes   int64  // change in key+value bytes
	reset   bool   // the bucket was emptied: items and bytes are absolute
	flushAt int64  // pending flush deadline after this batch
	changes []change
}

func (s *Store) commitLoop(nextCAS uint64) {
	defer close(s.done)
	ops := make([]*op, 0, maxBatch)
	for {
		o, ok := <-s.queue
		if !ok {
			return
		}
		ops = append(ops[:0], o)
	more:
		for len(ops) < maxBatch {
			select {
			case o, ok := <-s.queue:
				if !ok {
					break more
				}
				ops = append(ops, o)
			default:
				break more
			}
		}
		nextCAS = s.commit(ops, nextCAS)
		for i := range ops {
			ops[i] = nil
		}
	}
}

// commit applies ops in one transaction, then updates the cache, then
// answers every op. It returns the next CAS to hand out.
func (s *Store) commit(ops []*op, nextCAS uint64) uint64 {
	bt := batch{s: s, now: s.opts.Now().UnixNano(), cas: nextCAS, flushAt: s.flushAt.Load()}
	start := time.Now()
	err := s.db.Update(func(tx *bolt.Tx) error {
		bt.b = tx.Bucket(itemsBucket)
		if bt.flushAt != 0 && bt.now >= bt.flushAt {
			if err := bt.flushDue(); err != nil {
				return err
			}
		}
		for _, o := range ops {
			var err error
			o.err, err = bt.apply(tx, o)
			if err != nil {
				return err
			}
		}
		meta := tx.Bucket(metaBucket)
		items, bytes := s.stats.items.Load()+bt.items, s.stats.bytes.Load()+bt.bytes
		if bt.reset {
			items, bytes = bt.items, bt.bytes
		}
		for _, kv := range [...]struct {
			k []byte
			v uint64
		}{{metaCAS, bt.cas - 1}, {metaItems, uint64(items)}, {metaBytes, uint64(bytes)}, {metaFlush, uint64(bt.flushAt)}} {
			if err := meta.Put(kv.k, u64(kv.v)); err != nil {
				return err
			}
		}
		return nil
	})
	s.stats.commits.Add(1)
	s.stats.commitNanos.Add(int64(time.Since(start)))
	s.stats.ops.Add(uint64(len(ops)))
	if n := uint64(len(ops)); n > s.stats.maxBatch.Load() {
		s.stats.maxBatch.Store(n)
	}
	if err != nil {
		err = fmt.Errorf("storage: commit %s: %w", s.path, err)
		s.opts.Logger.Error("commit failed", "file", s.path, "ops", len(ops), "err", err)
		for _, o := range ops {
			o.err, o.res = err, Item{}
		}
	} else {
		if bt.reset {
			s.stats.items.Store(bt.items)
			s.stats.bytes.Store(bt.bytes)
		} else {
			s.stats.items.Add(bt.items)
			s.stats.bytes.Add(bt.bytes)
		}
		s.flushAt.Store(bt.flushAt)
		if s.cache != nil {
			for _, c := range bt.changes {
				switch {
				case c.clear:
					s.cache.clear()
				case c.del:
					s.cache.remove(c.key)
				default:
					s.cache.put(c.key, c.rec)
				}
			}
		}
	}
	for _, o := range ops {
		o.done <- struct{}{}
	}
	return bt.cas
}

// current returns the record under key, whether it is live, and the size
// charged for what is physically stored (0 if nothing is: keys are never empty).
func (bt *batch) current(key []byte) (r record, live bool, size int64, err error) {
	raw := bt.b.Get(key)
	if raw == nil {
		return record{}, false, 0, nil
	}
	r, err = decodeRecord(raw)
	if err != nil {
		return record{}, false, 0, fmt.Errorf("key %q: %w", key, err)
	}
	size = int64(len(key) + len(r.value))
	return r, bt.live(&r), size, nil
}

func (bt *batch) live(r *record) bool {
	if r.expires != 0 && bt.now >= r.expires {
		return false
	}
	f := bt.flushAt
	return f == 0 || bt.now < f || r.updated > f
}

// put writes r under key, replacing what took oldSize bytes.
func (bt *batch) put(key []byte, r record, oldSize int64, physical bool) (Item, error) {
	buf := appendRecord(make([]byte, 0, recordHeaderSize+len(r.value)), r)
	if err := bt.b.Put(key, buf); err != nil {
		return Item{}, err
	}
	if !physical {
		bt.items++
	}
	bt.bytes += int64(len(key)+len(r.value)) - oldSize
	it := Item{Key: string(key), Value: buf[recordHeaderSize:], Flags: r.flags, Expires: fromUnixNano(r.expires), CAS: r.cas}
	bt.changes = append(bt.changes, change{key: it.Key, rec: buf})
	return it, nil
}

func (bt *batch) del(key []byte, size int64) error {
	if err := bt.b.Delete(key); err != nil {
		return err
	}
	bt.items--
	bt.bytes -= size
	bt.changes = append(bt.changes, change{key: string(key), del: true})
	return nil
}

func (bt *batch) nextCAS() uint64 {
	c := bt.cas
	bt.cas++
	return c
}

// apply evaluates one op against the transaction's view. It returns the op's
// own result (ErrNotStored, ...) and, separately, an error that must abort
// the whole transaction (a failed Put).
func (bt *batch) apply(tx *bolt.Tx, o *op) (result, fatal error) {
	if o.kind == opFlush {
		return nil, bt.flush(tx, unixNano(o.it.Expires))
	}
	if o.kind == opSweep {
		n, err := bt.sweep(o.keys)
		o.num = uint64(n)
		return nil, err
	}
	key := []byte(o.it.Key)
	cur, live, size, err := bt.current(key)
	if err != nil {
		return err, nil
	}
	physical := size > 0
	newRec := record{flags: o.it.Flags, expires: unixNano(o.it.Expires), updated: bt.now, value: o.it.Value}
	switch o.kind {
	case OpSet, OpAdd, OpReplace, OpCAS:
		switch {
		case len(o.it.Value) > bt.s.opts.MaxItemSize:
			return ErrTooLarge, nil
		case o.kind == OpAdd && live:
			return ErrNotStored, nil
		case o.kind == OpReplace && !live:
			return ErrNotStored, nil
		case o.kind == OpCAS && !live:
			return ErrNotFound, nil
		case o.kind == OpCAS && cur.cas != o.it.CAS:
			return ErrCASMismatch, nil
		}
	case OpAppend, OpPrepend:
		if !live {
			return ErrNotStored, nil
		}
		if len(cur.value)+len(o.it.Value) > bt.s.opts.MaxItemSize {
			return ErrTooLarge, nil
		}
		v := make([]byte, 0, len(cur.value)+len(o.it.Value))
		if o.kind == OpAppend {
			v = append(append(v, cur.value...), o.it.Value...)
		} else {
			v = append(append(v, o.it.Value...), cur.value...)
		}
		newRec = record{flags: cur.flags, expires: cur.expires, updated: bt.now, value: v}
	case OpIncr, OpDecr:
		if !live {
			return ErrNotFound, nil
		}
		n, ok := parseCounter(cur.value)
		if !ok {
			return ErrNotNumeric, nil
		}
		switch {
		case o.kind == OpIncr:
			n += o.delta // wraps at 2^64, as memcached does
		case o.delta > n:
			n = 0
		default:
			n -= o.delta
		}
		o.num = n
		newRec = record{flags: cur.flags, expires: cur.expires, updated: bt.now, value: strconv.AppendUint(nil, n, 10)}
	case OpTouch, opGAT:
		if !live {
			return ErrNotFound, nil
		}
		newRec = record{flags: cur.flags, expires: newRec.expires, cas: cur.cas, updated: cur.updated, value: cur.value}
		it, err := bt.put(key, newRec, size, physical)
		o.res = it
		return nil, err
	case OpDelete:
		if physical {
			if err := bt.del(key, size); err != nil {
				return nil, err
			}
		}
		if !live {
			return ErrNotFound, nil
		}
		return nil, nil
	}
	newRec.cas = bt.nextCAS()
	_, err = bt.put(key, newRec, size, physical)
	return nil, err
}

// parseCounter parses a value as memcached's incr does (safe_strtoull, that
// is C's strtoull): leading white space, an optional sign, decimal digits
// below 2^64, then the end or white space. A "-" is accepted only where the
// result read as a signed number is not negative, so "-0" is 0.
func parseCounter(v []byte) (uint64, bool) {
	i := 0
	for i < len(v) && isSpace(v[i]) {
		i++
	}
	neg := false
	if i < len(v) && (v[i] == '+' || v[i] == '-') {
		neg = v[i] == '-'
		i++
	}
	start := i
	var n uint64
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		d := uint64(v[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if i == start || (i < len(v) && !isSpace(v[i])) {
		return 0, false
	}
	if neg {
		n = -n
		if int64(n) < 0 {
			return 0, false
		}
	}
	return n, true
}

func isSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// flush handles flush_all: at or before now it empties the bucket at once;
// later it records the deadline, which hides older items once it passes.
func (bt *batch) flush(tx *bolt.Tx, at int64) error {
	if at != 0 && at > bt.now {
		bt.flushAt = at
		return nil
	}
	if err := tx.DeleteBucket(itemsBucket); err != nil {
		return err
	}
	b, err := tx.CreateBucket(itemsBucket)
	if err != nil {
		return err
	}
	bt.b = b
	bt.reset, bt.items, bt.bytes, bt.flushAt = true, 0, 0, 0
	bt.changes = append(bt.changes[:0], change{clear: true})
	return nil
}

// flushDue deletes the items a passed flush deadline hid and forgets the
// deadline, so that a later flush_all cannot bring them back.
func (bt *batch) flushDue() error {
	var dead [][]byte
	c := bt.b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if r, err := decodeRecord(v); err == nil && r.updated <= bt.flushAt {
			dead = append(dead, append([]byte(nil), k...))
		}
	}
	for _, k := range dead {
		_, _, size, err := bt.current(k)
		if err != nil {
			return err
		}
		if err := bt.del(k, size); err != nil {
			return err
		}
	}
	bt.flushAt = 0
	return nil
}

// sweep deletes those of keys that are still dead in this transaction and
// returns how many it deleted.
func (bt *batch) sweep(keys []string) (int, error) {
	n := 0
	for _, k := range keys {
		key := []byte(k)
		_, live, size, err := bt.current(key)
		if err != nil || live || size == 0 {
			continue
		}
		if err := bt.del(key, size); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
