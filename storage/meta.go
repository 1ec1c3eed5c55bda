package storage

import (
	"errors"
	"strconv"
	"sync"
	"time"
)

// The meta protocol's writes (memcached 1.6's ms, md, ma and the mg that
// touch, vivify or hand out a recache token). Each is one op for the
// committer, evaluated against the transaction's view like cas and incr,
// so it is atomic, ordered with every other write, and durable before
// WaitMeta returns.

// State is an item's state in the meta protocol. It is kept in the item's
// record (record.go), so it survives a restart with the item.
type State uint8

// The states.
const (
	StateStale     State = 1 << iota // invalidated (md I, ms I): mg reports X
	StateWon                         // a client won the right to recache (mg W); others get Z
	StateBinaryKey                   // stored by ms with b: mg's k flag shows the key in base64

	stateMask = StateStale | StateWon | StateBinaryKey
)

// OpMetaGet is the kind of a MetaOp for an mg that writes: one with T, N
// or R, or one that reads a stale item and so hands out its token.
const OpMetaGet Op = opSweep + 1

// A MetaOp is one meta command's write, for StartMeta.
type MetaOp struct {
	// Kind is OpSet, OpAdd, OpReplace, OpAppend or OpPrepend for ms,
	// OpDelete for md, OpIncr or OpDecr for ma, OpMetaGet for mg.
	Kind Op
	Item Item // Key; for ms also Value, Flags and Expires

	CAS    uint64 // C: compare with the item's CAS
	HasCAS bool
	// Invalidate is I. With ms in cas mode a CAS lower than the item's
	// still stores, but marks the item stale and keeps its expiry; md marks
	// the item stale, with a new CAS, instead of deleting it.
	Invalidate bool

	Touch   bool      // T: set the expiry to Expires (mg, ma; md with I)
	Expires time.Time // T's expiry

	Vivify        bool      // N: create the item on a miss (mg: empty; ma: Initial)
	VivifyExpires time.Time // N's expiry

	RecacheBefore time.Time // R: mg wins the token if the item expires before this; zero: no R

	Delta, Initial uint64 // ma: D and J

	BinaryKey bool // ms: the key came in base64 (b), and mg's k shows it so

	MarkFetched bool // mg: mark the item fetched (mg without u); see Store.Fetched

	// Notify, if set, is called by the committer once the write has
	// committed, in commit order, as StartNotify's notify is.
	Notify func(*Committed)
}

// MetaResult is what a meta write did.
type MetaResult struct {
	Item      Item      // the item after the write; its Value aliases the cache's: do not modify
	PrevState State     // mg: the item's state before this request (Z, X)
	PrevExp   time.Time // mg, ma: the expiry before T
	Created   bool      // N made the item
	Won       bool      // mg: this request won the recache token (W)
	Num       uint64    // ma: the new value
	Updated   time.Time // mg: when the value was last stored (mg l, me la=)
	Fetched   bool      // mg: the item had been fetched before this request (mg h)
}

// StartMeta queues a meta write, as Start does. m.Item, Value included,
// must not be modified until WaitMeta returns.
func (s *Store) StartMeta(m MetaOp) *Pending {
	switch {
	case !validKey(m.Item.Key):
		return &Pending{err: ErrInvalidKey}
	case len(m.Item.Value) > s.MaxValueSize(len(m.Item.Key), m.Item.Flags):
		return &Pending{err: ErrTooLarge}
	}
	o := opPool.Get().(*op)
	o.kind, o.it, o.meta, o.note = m.Kind, m.Item, &m, m.Notify
	if err := s.enqueue(o); err != nil {
		release(o)
		return &Pending{err: err}
	}
	return &Pending{o: o}
}

// WaitMeta waits for a write queued by StartMeta and returns its result:
// ErrNotFound (a miss: mg, md, ma, ms in cas mode), ErrNotStored,
// ErrCASMismatch, ErrNotNumeric, ErrTooLarge, or the store's own failure.
// Call it once.
func (p *Pending) WaitMeta() (MetaResult, error) {
	if p.o == nil {
		return MetaResult{}, p.err
	}
	o := p.o
	p.o, p.err = nil, errWaited
	<-o.done
	res, err := o.mres, o.err
	release(o)
	return res, err
}

// applyMeta runs a MetaOp in the batch's transaction.
func (bt *batch) applyMeta(o *op) (result, fatal error) {
	m, res := o.meta, &o.mres
	key := []byte(m.Item.Key)
	cur, live, size, err := bt.current(key)
	if err != nil {
		return err, nil
	}
	physical := size > 0
	res.PrevState, res.PrevExp, res.Updated = cur.state, fromUnixNano(cur.expires), time.Unix(0, cur.updated)
	if !live {
		res.PrevState, res.PrevExp = 0, time.Time{}
	}
	newRec := record{flags: m.Item.Flags, expires: unixNano(m.Item.Expires), updated: bt.now, value: m.Item.Value}
	if o.note != nil {
		o.seen.Found, o.seen.OldSize, o.seen.OldFlags = live, len(cur.value), cur.flags
		o.seen.Size, o.seen.Expires = len(m.Item.Value), m.Item.Expires
		defer func() {
			if result == nil && fatal == nil && m.Kind >= OpSet && m.Kind <= OpPrepend {
				o.seen.Size, o.seen.Expires = len(newRec.value), fromUnixNano(newRec.expires)
			}
		}()
	}
	if m.BinaryKey {
		newRec.state = StateBinaryKey
	}
	inPlace := false
	switch m.Kind {
	case OpMetaGet:
		if !live {
			if !m.Vivify {
				return ErrNotFound, nil
			}
			newRec = record{expires: unixNano(m.VivifyExpires), updated: bt.now, state: StateWon}
			res.Updated = time.Unix(0, bt.now)
			if m.Touch {
				newRec.expires = unixNano(m.Expires)
			}
			res.Created, res.Won = true, true
			break
		}
		res.Fetched = bt.fetchedNow(m.Item.Key)
		bt.markFetched(m)
		won := !m.RecacheBefore.IsZero() && cur.state&StateWon == 0 && cur.expires != 0 && cur.expires < unixNano(m.RecacheBefore)
		won = won || cur.state&StateStale != 0 && cur.state&StateWon == 0
		r := cur
		if m.Touch {
			r.expires = unixNano(m.Expires)
		}
		if won {
			r.state |= StateWon
			res.Won = true
		}
		if !won && !m.Touch {
			res.Item = cur.item(m.Item.Key)
			res.Item.Value = append([]byte(nil), cur.value...) // cur dies with the transaction
			return nil, nil
		}
		bt.keepFetched = true
		res.Item, err = bt.put(key, r, size, true)
		bt.keepFetched = false
		return nil, err
	case OpSet, OpAdd, OpReplace, OpAppend, OpPrepend:
		casMode := m.HasCAS && (m.Kind == OpSet || m.Kind == OpReplace)
		switch {
		case len(m.Item.Value) > bt.s.MaxValueSize(len(key), m.Item.Flags):
			return ErrTooLarge, nil
		case casMode && !live:
			return ErrNotFound, nil
		case casMode && cur.cas != m.CAS:
			if !m.Invalidate || m.CAS >= cur.cas {
				return ErrCASMismatch, nil
			}
			newRec.expires = cur.expires
			newRec.state |= StateStale | cur.state&StateWon
		case m.Kind == OpAdd && live, m.Kind == OpReplace && !live:
			return ErrNotStored, nil
		case m.Kind == OpAppend || m.Kind == OpPrepend:
			if !live {
				return ErrNotStored, nil
			}
			if m.HasCAS && m.CAS != 0 && m.CAS != cur.cas {
				return ErrCASMismatch, nil
			}
			if len(cur.value)+len(m.Item.Value) > bt.s.MaxValueSize(len(key), cur.flags) {
				return ErrTooLarge, nil
			}
			v := make([]byte, 0, len(cur.value)+len(m.Item.Value))
			if m.Kind == OpAppend {
				v = append(append(v, cur.value...), m.Item.Value...)
			} else {
				v = append(append(v, m.Item.Value...), cur.value...)
			}
			newRec = record{flags: cur.flags, expires: cur.expires, updated: bt.now, value: v}
		}
	case OpDelete:
		switch {
		case !live:
			if physical {
				if err := bt.del(key, size); err != nil {
					return nil, err
				}
			}
			return ErrNotFound, nil
		case m.HasCAS && cur.cas != m.CAS:
			return ErrCASMismatch, nil
		case !m.Invalidate:
			return nil, bt.del(key, size)
		}
		newRec = cur
		newRec.state = StateStale | cur.state&StateBinaryKey
		if m.Touch {
			newRec.expires = unixNano(m.Expires)
		}
		inPlace = true
	case OpIncr, OpDecr:
		if !live {
			if !m.Vivify {
				return ErrNotFound, nil
			}
			res.Created, res.Num = true, m.Initial
			newRec = record{expires: unixNano(m.VivifyExpires), updated: bt.now, value: strconv.AppendUint(nil, m.Initial, 10)}
			if m.Touch {
				newRec.expires = unixNano(m.Expires)
			}
			break
		}
		if m.CAS != 0 && cur.cas != m.CAS {
			return ErrCASMismatch, nil
		}
		n, ok := ParseUint(cur.value)
		if !ok {
			return ErrNotNumeric, nil
		}
		switch {
		case m.Kind == OpIncr:
			n += m.Delta
		case m.Delta > n:
			n = 0
		default:
			n -= m.Delta
		}
		res.Num = n
		v := counterValue(n, len(cur.value))
		// As memcached's do_add_delta: a number that fits is written in
		// place (the same item: still fetched, same age), a longer one
		// makes a new item.
		inPlace = len(v) == len(cur.value)
		newRec = record{flags: cur.flags, expires: cur.expires, updated: bt.now, value: v}
		if inPlace {
			newRec.updated, newRec.state = cur.updated, cur.state
		}
		if m.Touch {
			newRec.expires = unixNano(m.Expires)
		}
	default:
		return errUnknownMeta, nil
	}
	newRec.cas = bt.nextCAS()
	bt.keepFetched = inPlace
	res.Item, err = bt.put(key, newRec, size, physical)
	bt.keepFetched = false
	if res.Created && m.Kind == OpMetaGet {
		bt.markFetched(m) // memcached bumps the item mg made, as one it found
	}
	return nil, err
}

// markFetched records that an mg fetched its item, unless it had u.
func (bt *batch) markFetched(m *MetaOp) {
	if !m.MarkFetched {
		return
	}
	if bt.fetched == nil {
		bt.fetched = make(map[string]bool)
	}
	bt.fetched[m.Item.Key] = true
}

// fetchedNow reports whether the item under key is fetched as of this point
// of the batch: marked earlier in it, else fetched before it unless a
// change earlier in it replaced the item.
func (bt *batch) fetchedNow(key string) bool {
	if v, ok := bt.fetched[key]; ok {
		return v
	}
	for i := len(bt.changes) - 1; i >= 0; i-- {
		if c := &bt.changes[i]; c.clear || c.key == key && !c.keepFetched {
			return false
		}
	}
	return bt.s.fetched.mark(key, false)
}

// maxFetched bounds the fetched set, and so its memory (at most some 20
// MiB with 250-byte keys), which -m does not count: when it is full it
// starts again empty, and mg h reads 0 for the items it forgot.
const maxFetched = 1 << 16

// fetchedSet remembers which items a meta get has read since they were
// stored: memcached's ITEM_FETCHED, which mg's h flag and me's fetch=
// report. It lives in memory only (reading an item does not write the
// file), so after a restart every item reads as not yet fetched, as in a
// memcached that has just loaded it. Only meta gets mark items.
type fetchedSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

// mark reports whether key was fetched, and marks it fetched if set.
func (f *fetchedSet) mark(key string, set bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, was := f.m[key]
	if set && !was {
		f.markLocked(key)
	}
	return was
}

func (f *fetchedSet) markLocked(key string) {
	if f.m == nil || len(f.m) >= maxFetched {
		f.m = make(map[string]struct{})
	}
	f.m[key] = struct{}{}
}

// apply forgets the items that a commit replaced or deleted, then marks
// those its meta gets fetched after their last change in the batch.
func (f *fetchedSet) apply(changes []change, marked map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, v := range marked {
		if v {
			defer f.markLocked(k)
		}
	}
	if len(f.m) == 0 {
		return
	}
	for _, c := range changes {
		switch {
		case c.clear:
			clear(f.m)
		case !c.keepFetched:
			delete(f.m, c.key)
		}
	}
}

// Fetched reports whether the item under key has been read by a meta get
// since it was stored, and, if mark, records that it now has been (mg
// without u). The record is kept in memory only: see fetchedSet.
func (s *Store) Fetched(key string, mark bool) bool { return s.fetched.mark(key, mark) }

var errUnknownMeta = errors.New("storage: StartMeta: unknown kind")
