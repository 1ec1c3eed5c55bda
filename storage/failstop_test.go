package storage

import (
	"errors"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestFailIfApplied checks what the committer does after a commit that
// returned an error: if the transaction did not reach the file (a full disk:
// bbolt rolled it back) the store goes on; if it did (an fsync that failed
// after bbolt wrote the meta page) the store refuses writes and reads what
// the file holds. A real failing fsync cannot be provoked here, so the test
// hands failIfApplied the transaction ids each case would see.
func TestFailIfApplied(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "k", "v1", time.Time{})
	var last int
	if err := s.db.View(func(tx *bolt.Tx) error { last = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("fdatasync: input/output error")

	// Rolled back: the failed transaction's id is past the last one on file.
	s.failIfApplied(last+1, cause)
	if err := s.Err(); err != nil {
		t.Fatalf("Err after a failed commit was rolled back: %v, want nil", err)
	}
	set(t, s, "k", "v2", time.Time{})
	wantValue(t, s, "k", "v2")

	// Reached the file: the id is on file.
	if err := s.db.View(func(tx *bolt.Tx) error { last = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	s.failIfApplied(last, cause)
	err := s.Set(Item{Key: "k", Value: []byte("v3")})
	if !errors.Is(err, ErrFailed) || !errors.Is(err, cause) {
		t.Fatalf("Set after a failed commit reached the file: %v, want ErrFailed wrapping %v", err, cause)
	}
	if err := s.Err(); !errors.Is(err, ErrFailed) || !errors.Is(err, cause) {
		t.Fatalf("Err after a failed commit reached the file: %v, want ErrFailed wrapping %v", err, cause)
	}
	if _, err := s.Incr("n", 1); !errors.Is(err, ErrFailed) {
		t.Fatalf("Incr: %v, want ErrFailed", err)
	}
	if st := s.Stats(); st.CacheItems != 0 {
		t.Errorf("cache holds %d items after the failure, want 0: it may be out of step with the file", st.CacheItems)
	}
	wantValue(t, s, "k", "v2") // reads go on, from the file
}
