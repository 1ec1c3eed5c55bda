package server

import "sync/atomic"

// A budget bounds the bytes that the unfinished commands of all
// connections hold: long get lines and large values still arriving. A nil
// budget refuses nothing.
type budget struct {
	limit int64
	used  atomic.Int64
}

func newBudget(limit int64) *budget {
	if limit <= 0 {
		return nil
	}
	return &budget{limit: limit}
}

// reserve takes n bytes from the budget, or reports false and takes
// nothing if that would pass its limit.
func (b *budget) reserve(n int) bool {
	if b == nil {
		return true
	}
	if b.used.Add(int64(n)) > b.limit {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

// release gives back n bytes taken by reserve.
func (b *budget) release(n int) {
	if b != nil && n != 0 {
		b.used.Add(-int64(n))
	}
}

// inUse returns the bytes reserved now.
func (b *budget) inUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}
