package storage

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

// stalledStore opens a store whose committer is stalled inside commit, with
// one op in hand, until release is called: ops queued meanwhile make up the
// next batch, whole. It works by holding bbolt's writer lock and by watching
// the injected clock, which, with no Gets running, only commit reads.
func stalledStore(t *testing.T, opts Options) (s *Store, release func()) {
	t.Helper()
	c := newFakeClock()
	called := make(chan struct{}, 1)
	opts.Now = func() time.Time {
		select {
		case called <- struct{}{}:
		default:
		}
		return c.Now()
	}
	s = openTest(t, c, opts)
	tx, err := s.db.Begin(true)
	if err != nil {
		t.Fatal(err)
	}
	first := queueOp(s, &op{kind: OpSet, it: Item{Key: "first", Value: []byte("first")}})
	<-called // the committer took first and is past draining the queue
	return s, func() {
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		<-first.done
		if first.err != nil {
			t.Fatal(first.err)
		}
	}
}

func queueOp(s *Store, o *op) *op {
	o.done = make(chan struct{}, 1)
	s.queue <- o
	return o
}

// TestGroupCommit checks that ops queued during a commit are applied in the
// next one, all together, in arrival order.
func TestGroupCommit(t *testing.T) {
	s, release := stalledStore(t, Options{})
	const n = 10
	ops := make([]*op, n)
	for i := range ops {
		key := "k" + strconv.Itoa(i)
		ops[i] = queueOp(s, &op{kind: OpSet, it: Item{Key: key, Value: []byte(key)}})
	}
	release()
	for i, o := range ops {
		<-o.done
		if o.err != nil {
			t.Fatalf("op %d: %v", i, o.err)
		}
	}
	st := s.Stats()
	if st.Commits != 2 || st.Ops != n+1 || st.MaxBatch != n || st.AvgBatch() != float64(n+1)/2 {
		t.Fatalf("commits, ops, max batch, avg = %d, %d, %d, %v; want 2, %d, %d, %v",
			st.Commits, st.Ops, st.MaxBatch, st.AvgBatch(), n+1, n, float64(n+1)/2)
	}
	base := mustGetItem(t, s, "first").CAS
	for i := range n {
		key := "k" + strconv.Itoa(i)
		if got := mustGetItem(t, s, key).CAS; got != base+1+uint64(i) {
			t.Errorf("CAS of %q = %d, want %d (arrival order)", key, got, base+1+uint64(i))
		}
	}
}

// TestBatchResults checks that ops in one batch see each other's effects in
// order and each get their own result.
func TestBatchResults(t *testing.T) {
	// Values of key "n" (flags 0) may be 12 bytes long.
	s, release := stalledStore(t, Options{MaxItemSize: itemHeader + casSize + len("n") + 12})
	steps := []struct {
		o    *op
		want error
		num  uint64
	}{
		{o: &op{kind: OpAdd, it: Item{Key: "n", Value: []byte("1")}}},
		{o: &op{kind: OpAdd, it: Item{Key: "n", Value: []byte("2")}}, want: ErrNotStored},
		{o: &op{kind: OpIncr, it: Item{Key: "n"}, delta: 9}, num: 10},
		{o: &op{kind: OpAppend, it: Item{Key: "n", Value: []byte("00000000000")}}, want: ErrTooLarge},
		{o: &op{kind: OpAppend, it: Item{Key: "n", Value: []byte("0")}}},
		{o: &op{kind: OpDecr, it: Item{Key: "n"}, delta: 1}, num: 99},
		{o: &op{kind: OpCAS, it: Item{Key: "n", Value: []byte("c"), CAS: 1}}, want: ErrCASMismatch}, // 1 is first's
		{o: &op{kind: OpDelete, it: Item{Key: "n"}}},
		{o: &op{kind: OpDelete, it: Item{Key: "n"}}, want: ErrNotFound},
		{o: &op{kind: OpReplace, it: Item{Key: "n", Value: []byte("r")}}, want: ErrNotStored},
		{o: &op{kind: OpSet, it: Item{Key: "n", Value: []byte("last")}}},
	}
	for _, st := range steps {
		queueOp(s, st.o)
	}
	release()
	for i, st := range steps {
		<-st.o.done
		if !errors.Is(st.o.err, st.want) || (st.want == nil && st.o.err != nil) || st.o.num != st.num {
			t.Errorf("step %d (kind %d): err, num = %v, %d; want %v, %d", i, st.o.kind, st.o.err, st.o.num, st.want, st.num)
		}
	}
	if got := s.Stats().MaxBatch; got != uint64(len(steps)) {
		t.Errorf("MaxBatch = %d, want %d", got, len(steps))
	}
	wantValue(t, s, "n", "last")
	if got := s.Stats().Items; got != 2 {
		t.Errorf("Items = %d, want 2", got)
	}
}

func mustGetItem(t *testing.T, s *Store, key string) Item {
	t.Helper()
	it, err := s.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return it
}
