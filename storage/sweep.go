package storage

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The sweeper deletes dead items (expired, or hidden by a flush_all
// deadline that has passed) from the file, so that they do not pile up on
// disk. It walks the keys in passes, SweepChunk keys per read transaction,
// and hands the dead ones of each chunk to the committer as one op, so that
// no commit grows without bound. Its pace follows the expiry rate:
//
//   - Between passes it sleeps until an item may have died: the earliest
//     expiry the last pass saw or that was written since, or a flush_all
//     deadline. A store with nothing that can expire never wakes it.
//   - Within a pass, a chunk that was mostly dead is followed at once by the
//     next: a backlog is cleared at full speed.
//   - Otherwise it examines, at once, examineRatio keys for each item
//     written with an expiry during the pass, so that the dead stay a
//     fraction of the file. Then it waits SweepInterval, or until enough
//     such items have been written to owe a chunk.

// expiryWatch is what the committer tells the sweeper: when the earliest
// item it wrote expires, and how many items with an expiry it wrote.
type expiryWatch struct {
	mu      sync.Mutex
	soonest int64 // no item in the file expires before this, Unix ns; math.MaxInt64: none may
	pass    int64 // the earliest expiry written since the current pass began

	written atomic.Int64  // items with an expiry written since the sweeper reset it
	nudge   int64         // the count of written that wakes the sweeper
	wake    chan struct{} // buffered: the sweeper should look again
}

func (w *expiryWatch) init(empty bool, chunk int) {
	w.soonest, w.pass = math.MinInt64, math.MaxInt64 // unknown: sweep the file once
	if empty {
		w.soonest = math.MaxInt64
	}
	w.nudge = int64(max(chunk/examineRatio, 1))
	w.wake = make(chan struct{}, 1)
}

// poke wakes the sweeper if it sleeps, or makes its next sleep return at once.
func (w *expiryWatch) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// wrote records a commit that wrote n items with an expiry, the earliest
// at soonest.
func (w *expiryWatch) wrote(n, soonest int64) {
	if n == 0 {
		return
	}
	w.mu.Lock()
	earlier := soonest < w.soonest
	w.soonest = min(w.soonest, soonest)
	w.pass = min(w.pass, soonest)
	w.mu.Unlock()
	if c := w.written.Add(n); earlier || (c >= w.nudge && c-n < w.nudge) {
		w.poke()
	}
}

// due returns when the sweeper has work: the earliest expiry, or the flush
// deadline flushAt if one is pending and earlier.
func (w *expiryWatch) due(flushAt int64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if flushAt != 0 {
		return min(w.soonest, flushAt)
	}
	return w.soonest
}

func (w *expiryWatch) beginPass() {
	w.mu.Lock()
	w.pass = math.MaxInt64
	w.mu.Unlock()
}

// endPass records that a pass over the whole file found no live item
// expiring before soonest: nothing expires before that or the earliest
// expiry written during the pass.
func (w *expiryWatch) endPass(soonest int64) {
	w.mu.Lock()
	w.soonest = min(soonest, w.pass)
	w.mu.Unlock()
}

// sweepLoop runs the sweeper until Close.
func (s *Store) sweepLoop() {
	defer close(s.swpDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var pos sweepPos
	for {
		d := s.sweepStep(&pos)
		if d == 0 {
			select {
			case <-s.stopSwp:
				return
			default:
				continue
			}
		}
		var fired <-chan time.Time
		if d > 0 {
			timer.Reset(d)
			fired = timer.C
		}
		select {
		case <-s.stopSwp:
			return
		case <-s.watch.wake:
		case <-fired:
		}
		timer.Stop()
	}
}

// sweepPos is where the sweeper is in its pass.
type sweepPos struct {
	next    []byte // the key the pass goes on at; nil between passes
	soonest int64  // the earliest expiry of the live items the pass saw
	owed    int64  // keys to examine before the next pause
}

// examineRatio is how many keys the sweeper examines, at least, for each
// item written with an expiry during a pass: with keys written in order, a
// pass chases the newest, so it ends after live/(ratio-1) writes, and as
// many items may die behind it.
const examineRatio = 4

// sweepStep does the sweeper's next piece of work, if any, and returns how
// long it may sleep before the next step: 0 not at all, <0 until poked
// (which also ends any sleep early).
func (s *Store) sweepStep(p *sweepPos) time.Duration {
	w := &s.watch
	p.owed = min(p.owed+examineRatio*w.written.Swap(0), max(s.stats.items.Load(), 1))
	if p.next == nil {
		now := s.opts.Now().UnixNano()
		if due := w.due(s.flushAt.Load()); due > now {
			p.owed = 0
			if due == math.MaxInt64 {
				return -1 // nothing can expire
			}
			return time.Duration(due - now)
		}
		w.beginPass()
		p.soonest = math.MaxInt64
	}
	c := s.sweepChunk(p.next)
	p.next, p.soonest = c.next, min(p.soonest, c.soonest)
	if p.next == nil {
		w.endPass(p.soonest)
	}
	p.owed = max(p.owed-int64(c.examined), 0)
	if c.deleted > 0 && 2*c.deleted >= c.examined {
		return 0 // mostly dead: there may be more
	}
	if p.owed > 0 && c.examined > 0 {
		return 0 // items that can expire were written meanwhile: keep up
	}
	return s.opts.SweepInterval
}

// chunk is what sweepChunk did.
type chunk struct {
	next     []byte // the key the next chunk starts at; nil: the pass is over
	examined int    // keys looked at
	deleted  int    // dead items deleted
	soonest  int64  // the earliest expiry of the live items examined (now if dead ones were left)
}

// sweepChunk examines up to SweepChunk keys from start (nil: the first
// key), and has the committer delete the dead ones, and apply a pending
// flush_all deadline that has passed.
func (s *Store) sweepChunk(start []byte) chunk {
	now := s.opts.Now().UnixNano()
	c := chunk{soonest: math.MaxInt64}
	var dead []string
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(itemsBucket).Cursor()
		k, v := cur.First()
		if start != nil {
			k, v = cur.Seek(start)
		}
		for ; k != nil && c.examined < s.opts.SweepChunk; c.examined++ {
			if r, err := decodeRecord(v); err == nil {
				if !s.live(&r, now) {
					dead = append(dead, string(k))
				} else if r.expires != 0 {
					c.soonest = min(c.soonest, r.expires)
				}
			}
			k, v = cur.Next()
		}
		if k != nil {
			c.next = append([]byte(nil), k...)
		}
		return nil
	})
	if err != nil { // the store is closing: look again at the same place
		return chunk{next: start, soonest: now}
	}
	if f := s.flushAt.Load(); len(dead) > 0 || (f != 0 && now >= f) {
		o := &op{kind: opSweep, keys: dead, done: make(chan struct{}, 1)}
		if err := s.do(o); err != nil {
			c.soonest = now // they are still there: look again
		} else {
			s.stats.swept.Add(o.num)
			c.deleted = int(o.num)
		}
	}
	return c
}
