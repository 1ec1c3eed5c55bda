package storage

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// sweepLoop deletes dead items from the file, one chunk of keys per
// SweepInterval, so that expired items do not pile up on disk.
func (s *Store) sweepLoop() {
	defer close(s.swpDone)
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	var next []byte
	for {
		select {
		case <-s.stopSwp:
			return
		case <-t.C:
			next = s.sweepOnce(next)
		}
	}
}

// sweepOnce examines up to SweepChunk keys from start (nil: the first key),
// hands the dead ones to the committer and returns where the next sweep
// starts. A pending flush_all deadline that has passed is applied too.
func (s *Store) sweepOnce(start []byte) []byte {
	now := s.opts.Now().UnixNano()
	var dead []string
	var next []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(itemsBucket).Cursor()
		k, v := c.First()
		if start != nil {
			k, v = c.Seek(start)
		}
		for n := 0; k != nil && n < s.opts.SweepChunk; n++ {
			if r, err := decodeRecord(v); err == nil && !s.live(&r, now) {
				dead = append(dead, string(k))
			}
			k, v = c.Next()
		}
		if k != nil {
			next = append([]byte(nil), k...)
		}
		return nil
	})
	if f := s.flushAt.Load(); len(dead) > 0 || (f != 0 && now >= f) {
		o := &op{kind: opSweep, keys: dead, done: make(chan struct{}, 1)}
		if err := s.do(o); err == nil {
			s.stats.swept.Add(o.num)
		}
	}
	return next
}
