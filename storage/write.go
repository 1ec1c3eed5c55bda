package storage

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

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

	opGAT     // GetAndTouchKeys
	opFlush   // FlushAll
	opUnflush // CancelFlush
	opSweep   // the sweeper's deletes
)

// An op is one write handed to the committer. The caller fills the inputs,
// the committer the results, and done is signalled once the op's transaction
// is durable (or failed).
type op struct {
	kind  Op
	it    Item     // input: key, value, flags, expiry, cas
	delta uint64   // input: incr/decr
	keys  []string // input: sweep candidates, gat's keys
	meta  *MetaOp  // input: a meta command's write (meta.go)

	items []Item // result: gat's items, one per key it got to
	num   uint64 // result: incr/decr's new value
	mres  MetaResult
	err   error

	note func(*Committed) // StartNotify's callback, run by the committer
	seen Committed        // what note is told: filled by apply

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
	if cause := s.failed.Load(); cause != nil {
		return fmt.Errorf("%w: %w", ErrFailed, *cause)
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
	if p := s.check(kind, it); p != nil {
		return p
	}
	return s.start(kind, it, delta)
}

// check refuses, before it is queued, a write that Start cannot take.
func (s *Store) check(kind Op, it Item) *Pending {
	switch {
	case kind < OpSet || kind > OpDelete:
		return &Pending{err: fmt.Errorf("storage: Start: unknown op %d", kind)}
	case !validKey(it.Key):
		return &Pending{err: ErrInvalidKey}
	case len(it.Value) > s.MaxValueSize(len(it.Key), it.Flags):
		return &Pending{err: ErrTooLarge}
	}
	return nil
}

func (s *Store) start(kind Op, it Item, delta uint64) *Pending {
	return s.startNotify(kind, it, delta, nil)
}

func (s *Store) startNotify(kind Op, it Item, delta uint64, note func(*Committed)) *Pending {
	o := opPool.Get().(*op)
	o.kind, o.it, o.delta, o.note = kind, it, delta, note
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
	num, err := o.num, o.err
	release(o)
	return Item{}, num, err
}

var errWaited = errors.New("storage: Pending.Wait called twice")

func release(o *op) {
	*o = op{done: o.done}
	opPool.Put(o)
}

// write runs one op and waits for it.
func (s *Store) write(kind Op, it Item, delta uint64) (Item, uint64, error) {
	if kind != opFlush && kind != opUnflush && !validKey(it.Key) {
		return Item{}, 0, ErrInvalidKey
	}
	if len(it.Value) > s.MaxValueSize(len(it.Key), it.Flags) {
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
// exceed MaxValueSize for the item's key and flags (the item is then unchanged).
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
	if !validKey(key) {
		return Item{}, ErrInvalidKey
	}
	items, err := s.GetAndTouchKeys([]string{key}, expires, nil)
	if err != nil {
		return Item{}, err
	}
	if items[0].Key == "" {
		return Item{}, ErrNotFound
	}
	return items[0], nil
}

// gatBytes bounds the values one GetAndTouchKeys call returns, and so the
// memory one multi-key gat holds: a transaction keeps every record it
// writes until it commits.
const gatBytes = 1 << 20

// GetAndTouchKeys sets the expiry of each live item among keys, all in one
// commit, and appends the items (with their new expiry) to dst in the order
// of keys: a zero Item (empty Key) for a key that is absent. To bound memory
// it stops after the key whose value takes the values past about 1 MiB, so
// it may return fewer items than keys: call it again with the rest. A key
// that is not valid counts as absent.
func (s *Store) GetAndTouchKeys(keys []string, expires time.Time, dst []Item) ([]Item, error) {
	if !slices.ContainsFunc(keys, validKey) {
		for range keys {
			dst = append(dst, Item{})
		}
		return dst, nil
	}
	o := opPool.Get().(*op)
	o.kind, o.keys, o.it.Expires, o.items = opGAT, keys, expires, dst
	if err := s.enqueue(o); err != nil {
		release(o)
		return dst, err
	}
	<-o.done
	items, err := o.items, o.err
	release(o)
	if err != nil {
		return dst, err
	}
	return items, nil
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

// CancelFlush forgets a pending FlushAll deadline and flushes nothing: what
// memcached's flush_all does with an absolute time from before it started.
func (s *Store) CancelFlush() error {
	_, _, err := s.write(opUnflush, Item{}, 0)
	return err
}
