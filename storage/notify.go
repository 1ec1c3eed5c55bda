package storage

import "time"

// Committed describes one write that the committer has applied, for the
// function given to StartNotify. It is valid only during that call.
type Committed struct {
	Kind     Op
	Key      string
	Found    bool   // a live item was under Key before the write
	OldSize  int    // that item's value length, when Found
	OldFlags uint32 // and its client flags
	// Size and Expires are the value length and expiry the write stored;
	// for a write that stored nothing, those it was sent with (OpDelete,
	// OpIncr, OpDecr and OpTouch send no value).
	Size    int
	Expires time.Time
	Err     error // the write's own result, as Pending.Wait returns it
}

// StartNotify is Start, and also has the committer call notify with the
// write's outcome once its transaction has committed, before Wait returns.
// The committer calls the notify functions of all writes in commit order,
// one at a time, on its own goroutine: notify must be quick and must not
// block or call the Store, since every write waits for it. It is not called
// when the commit fails.
func (s *Store) StartNotify(kind Op, it Item, delta uint64, notify func(*Committed)) *Pending {
	if p := s.check(kind, it); p != nil {
		return p
	}
	return s.startNotify(kind, it, delta, notify)
}
