package storage

import (
	"testing"
	"time"
)

func TestSweepOnce(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "a", "1", c.After(time.Second))
	set(t, s, "b", "22", time.Time{})
	set(t, s, "c", "333", c.After(time.Minute))

	if next := s.sweepOnce(nil); next != nil {
		t.Fatalf("sweepOnce(nil) = %q, want nil (one chunk covers the file)", next)
	}
	if st := s.Stats(); st.Items != 3 || st.Swept != 0 || st.Commits != 3 {
		t.Fatalf("with nothing dead: items, swept, commits = %d, %d, %d; want 3, 0, 3 (no commit)", st.Items, st.Swept, st.Commits)
	}

	c.Add(time.Second)
	s.sweepOnce(nil)
	if st := s.Stats(); st.Items != 2 || st.Bytes != 3+4 || st.Swept != 1 {
		t.Fatalf("after sweeping a: items, bytes, swept = %d, %d, %d; want 2, 7, 1", st.Items, st.Bytes, st.Swept)
	}
	for key, want := range map[string]bool{"a": false, "b": true, "c": true} {
		if got := inFile(t, s, key); got != want {
			t.Errorf("after the sweep, %q in the file = %v, want %v", key, got, want)
		}
	}
	wantNotFound(t, s, "a")
	wantValue(t, s, "c", "333")

	c.Add(time.Minute)
	s.sweepOnce(nil)
	if st := s.Stats(); st.Items != 1 || st.Swept != 2 || inFile(t, s, "c") {
		t.Fatalf("after sweeping c: items, swept = %d, %d, c in file %v; want 1, 2, false", st.Items, st.Swept, inFile(t, s, "c"))
	}
	wantValue(t, s, "b", "22")
}

func TestSweepChunks(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{SweepChunk: 2})
	for _, k := range []string{"k0", "k1", "k2", "k3", "k4"} {
		set(t, s, k, "v", c.After(time.Second))
	}
	set(t, s, "live", "v", time.Time{}) // sorts after the k keys
	c.Add(time.Second)
	var next []byte
	for i, want := range []string{"k2", "k4", "", ""} {
		next = s.sweepOnce(next)
		if string(next) != want {
			t.Fatalf("sweep %d: next = %q, want %q", i, next, want)
		}
	}
	if st := s.Stats(); st.Items != 1 || st.Swept != 5 {
		t.Fatalf("items, swept = %d, %d; want 1, 5", st.Items, st.Swept)
	}
	wantValue(t, s, "live", "v")
}

func TestSweepAppliesDueFlush(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "a", "1", time.Time{})
	set(t, s, "b", "2", time.Time{})
	if err := s.FlushAll(c.After(time.Minute)); err != nil {
		t.Fatal(err)
	}
	s.sweepOnce(nil) // not due yet: nothing happens
	if st := s.Stats(); st.Items != 2 || !inFile(t, s, "a") {
		t.Fatalf("before the deadline: items = %d, a in file %v; want 2, true", st.Items, inFile(t, s, "a"))
	}
	c.Add(time.Minute)
	s.sweepOnce(nil)
	if st := s.Stats(); st.Items != 0 || st.Bytes != 0 || inFile(t, s, "a") || inFile(t, s, "b") {
		t.Fatalf("after the deadline: items, bytes = %d, %d; want 0, 0 and nothing in the file", st.Items, st.Bytes)
	}
	if got := s.flushAt.Load(); got != 0 {
		t.Fatalf("pending flush after it was applied = %d, want 0", got)
	}
}
