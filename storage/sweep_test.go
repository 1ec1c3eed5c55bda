package storage

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSweepChunk(t *testing.T) {
	c := newFakeClock()
	s := openTest(t, c, Options{})
	set(t, s, "a", "1", c.After(time.Second))
	set(t, s, "b", "22", time.Time{})
	set(t, s, "c", "333", c.After(time.Minute))

	got := s.sweepChunk(nil)
	if got.next != nil || got.examined != 3 || got.deleted != 0 || got.soonest != c.After(time.Second).UnixNano() {
		t.Fatalf("sweepChunk(nil) = %+v; want no next (one chunk covers the file), 3 examined, none deleted, soonest a's expiry", got)
	}
	if st := s.Stats(); st.Items != 3 || st.Swept != 0 || st.Commits != 3 {
		t.Fatalf("with nothing dead: items, swept, commits = %d, %d, %d; want 3, 0, 3 (no commit)", st.Items, st.Swept, st.Commits)
	}

	c.Add(time.Second)
	got = s.sweepChunk(nil)
	if got.deleted != 1 || got.soonest != c.After(time.Minute-time.Second).UnixNano() {
		t.Fatalf("sweepChunk after a expired = %+v; want 1 deleted, soonest c's expiry", got)
	}
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
	s.sweepChunk(nil)
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
		next = s.sweepChunk(next).next
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
	s.sweepChunk(nil) // not due yet: nothing happens
	if st := s.Stats(); st.Items != 2 || !inFile(t, s, "a") {
		t.Fatalf("before the deadline: items = %d, a in file %v; want 2, true", st.Items, inFile(t, s, "a"))
	}
	c.Add(time.Minute)
	s.sweepChunk(nil)
	if st := s.Stats(); st.Items != 0 || st.Bytes != 0 || inFile(t, s, "a") || inFile(t, s, "b") {
		t.Fatalf("after the deadline: items, bytes = %d, %d; want 0, 0 and nothing in the file", st.Items, st.Bytes)
	}
	if got := s.flushAt.Load(); got != 0 {
		t.Fatalf("pending flush after it was applied = %d, want 0", got)
	}
}

// openStepped opens a store whose sweeper does not run on its own: the
// test runs its steps, which pause for interval after a clean chunk.
func openStepped(t *testing.T, c *fakeClock, opts Options, interval time.Duration) *Store {
	t.Helper()
	opts.SweepInterval = -1
	s := openTest(t, c, opts)
	s.opts.SweepInterval = interval // read only by sweepStep, which the test calls
	return s
}

// stepper drives the sweeper one step at a time, as sweepLoop would, and
// counts the read transactions each step opened (the sweeper's reads).
type stepper struct {
	t   *testing.T
	s   *Store
	pos sweepPos
}

// newStepper returns a stepper for s, as if the sweeper had just looked:
// the writes so far are not counted as written during a pass.
func newStepper(t *testing.T, s *Store) *stepper {
	s.watch.written.Store(0)
	return &stepper{t: t, s: s}
}

// step runs one step and checks that it asks to sleep for wantSleep (0: go
// on at once, <0: until poked) after opening wantReads read transactions.
func (st *stepper) step(what string, wantSleep time.Duration, wantReads int) {
	st.t.Helper()
	before := st.s.db.Stats().TxN
	got := st.s.sweepStep(&st.pos)
	reads := st.s.db.Stats().TxN - before
	if got != wantSleep || reads != wantReads {
		st.t.Fatalf("%s: sweepStep sleeps %v after %d reads; want %v after %d", what, got, reads, wantSleep, wantReads)
	}
}

// poked reports whether the sweeper was woken since the last call.
func poked(s *Store) bool {
	select {
	case <-s.watch.wake:
		return true
	default:
		return false
	}
}

// TestSweepStepIdle checks that the sweeper does nothing, not even a read,
// while nothing in the file can expire, and that it sleeps until the
// earliest expiry or flush_all deadline it knows of (issue 9: it read a
// chunk every 100 ms whatever the file held).
func TestSweepStepIdle(t *testing.T) {
	c := newFakeClock()
	const interval = time.Second
	s := openStepped(t, c, Options{}, interval)
	st := newStepper(t, s)
	st.step("new file", -1, 0)
	set(t, s, "a", "1", time.Time{})
	set(t, s, "b", "2", time.Time{})
	if poked(s) {
		t.Error("a write without an expiry woke the sweeper")
	}
	st.step("items without an expiry", -1, 0)

	set(t, s, "e", "3", c.After(time.Minute))
	if !poked(s) {
		t.Error("a write expiring earlier than anything known did not wake the sweeper")
	}
	st.step("e expires in a minute", time.Minute, 0)
	c.Add(time.Minute)
	st.step("e has expired", interval, 1) // one dead key in three: not mostly dead
	if inFile(t, s, "e") {
		t.Fatal("e is still in the file after the sweep")
	}
	st.step("the pass is over", -1, 0)

	if err := s.FlushAll(c.After(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if !poked(s) {
		t.Error("flush_all with a deadline did not wake the sweeper")
	}
	st.step("flush_all deadline in an hour", time.Hour, 0)
	c.Add(time.Hour)
	st.step("flush_all deadline passed", interval, 1)
	if n := s.Stats().Items; n != 0 {
		t.Fatalf("after the flush deadline: %d items in the file, want 0", n)
	}
	st.step("after the flush", -1, 0)
}

// TestSweepStepReopened checks that a reopened file is swept once, since
// it may hold items that expire, and then never again if none do.
func TestSweepStepReopened(t *testing.T) {
	c := newFakeClock()
	path := filepath.Join(t.TempDir(), "data.db")
	opts := Options{Now: c.Now, SweepInterval: -1, SweepChunk: 2}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "c"} {
		set(t, s, k, "v", time.Time{})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.opts.SweepInterval = time.Second // read only by sweepStep, which the test calls
	st := newStepper(t, s)
	st.step("first chunk after reopening", time.Second, 1)
	st.step("second chunk", time.Second, 1)
	st.step("nothing expires", -1, 0)
}

// TestSweepStepBacklog checks that mostly dead chunks follow one another at
// once, and that a clean chunk waits SweepInterval.
func TestSweepStepBacklog(t *testing.T) {
	c := newFakeClock()
	s := openStepped(t, c, Options{SweepChunk: 10}, time.Second)
	for i := range 50 {
		set(t, s, fmt.Sprintf("d%02d", i), "v", c.After(time.Second))
	}
	for i := range 10 {
		set(t, s, fmt.Sprintf("live%d", i), "v", c.After(time.Hour)) // after the d keys
	}
	st := newStepper(t, s)
	st.step("nothing expired yet", time.Second, 0)
	c.Add(time.Second)
	for i := range 5 {
		st.step("dead chunk "+strconv.Itoa(i), 0, 1)
	}
	st.step("live chunk", time.Second, 1)
	if n := s.Stats().Items; n != 10 {
		t.Fatalf("after the pass: %d items in the file, want the 10 live ones", n)
	}
	st.step("after the pass", time.Hour-time.Second, 0)
}

// TestSweepStepWriteDuringPass checks that an item written during a pass,
// where the pass has already been, still sets when the sweeper next wakes.
func TestSweepStepWriteDuringPass(t *testing.T) {
	c := newFakeClock()
	s := openStepped(t, c, Options{SweepChunk: 1}, time.Second)
	set(t, s, "a", "v", c.After(10*time.Minute))
	set(t, s, "x", "v", c.After(-time.Second)) // dead already: the pass starts
	set(t, s, "z", "v", c.After(20*time.Minute))
	st := newStepper(t, s)
	st.step("chunk a", time.Second, 1)
	set(t, s, "b", "v", c.After(5*time.Minute)) // behind the cursor (at x)
	st.step("chunk x", 0, 1)
	st.step("chunk z, the last (keys owed for b)", 0, 1)
	st.step("after the pass", 5*time.Minute, 0)
}

// TestSweepStepKeepsUpWithWrites checks that items written with an expiry
// during a pass make the sweeper examine examineRatio keys for each of them
// before it pauses.
func TestSweepStepKeepsUpWithWrites(t *testing.T) {
	c := newFakeClock()
	s := openStepped(t, c, Options{SweepChunk: 10}, time.Second)
	set(t, s, "0dead", "v", c.After(-time.Second)) // sorts first
	for i := range 40 {
		set(t, s, fmt.Sprintf("a%02d", i), "v", c.After(time.Hour))
	}
	st := newStepper(t, s)
	st.step("first chunk, one dead in ten", time.Second, 1)
	for i := range 5 {
		set(t, s, fmt.Sprintf("b%d", i), "v", c.After(time.Hour))
	}
	st.step("5 writes: 20 keys owed, 10 examined", 0, 1)
	st.step("10 more examined", time.Second, 1)
	st.step("nothing owed", time.Second, 1)
	st.step("the last chunk", time.Second, 1)
	st.step("after the pass", time.Hour, 0)
}

// TestSweepNudge checks that a quarter of a chunk of items written with an
// expiry wakes the sweeper, so that it does not wait SweepInterval while
// items that may die pile up.
func TestSweepNudge(t *testing.T) {
	c := newFakeClock()
	s := openStepped(t, c, Options{SweepChunk: 8}, time.Second)
	set(t, s, "first", "v", c.After(time.Hour))
	poked(s)
	st := newStepper(t, s)
	st.step("first expires in an hour", time.Hour, 0)
	set(t, s, "k1", "v", c.After(2*time.Hour))
	if poked(s) {
		t.Fatal("one item written with an expiry woke the sweeper")
	}
	set(t, s, "k2", "v", c.After(2*time.Hour))
	if !poked(s) {
		t.Fatal("two items (a quarter of SweepChunk 8) written with an expiry did not wake the sweeper")
	}
}

// TestSweepKeepsUpWithChurn runs the real sweeper while unique keys that
// live one second are written (issue 9: 24,000 a second for 60 s left the
// file with 907k dead items for 24k live ones, as the sweeper examined at
// most 1,000 keys per 100 ms). Here all is ten times smaller, to run fast:
// 2,400 writes a second, chunks of 100 keys. The clock is the test's: it
// moves 10 ms per 24 writes. SweepInterval is an hour, so the sweeper never
// wakes by time here: its pace must come from the writes. The writes are
// durable (SyncAlways), as a server's are by default. After 4 s the file
// must hold at most 1.5 times the live items, and use at most twice the
// pages it used at 1 s, when it held the live items and nothing else
// (bbolt reuses the pages of deleted items; the old sweeper let the file
// grow with every write).
func TestSweepKeepsUpWithChurn(t *testing.T) {
	for _, order := range []string{"ascending", "scattered"} {
		t.Run(order, func(t *testing.T) {
			c := newFakeClock()
			s := openTest(t, c, Options{SweepInterval: time.Hour, SweepChunk: 100, CacheBytes: -1})
			const (
				perStep = 24  // writes per 10 ms: 2,400 a second
				steps   = 400 // 4 s
				ttl     = time.Second
			)
			value := make([]byte, 100)
			pending := make([]*Pending, perStep)
			var liveSize int64 // pages in use at 1 s
			for i := range steps {
				for j := range pending {
					n := uint64(i*perStep + j)
					if order == "scattered" {
						n *= 0x9E3779B97F4A7C15 // odd: a bijection, so still unique
					}
					key := fmt.Sprintf("churn:%016x", n)
					pending[j] = s.Start(OpSet, Item{Key: key, Value: value, Expires: c.After(ttl)}, 0)
				}
				for _, p := range pending {
					if _, err := p.Wait(); err != nil {
						t.Fatal(err)
					}
				}
				c.Add(10 * time.Millisecond)
				if i == int(ttl/(10*time.Millisecond))-1 {
					liveSize = fileUsed(t, s)
				}
			}
			live := int64(ttl/(10*time.Millisecond)) * perStep // the last second's writes
			st, size := s.Stats(), fileUsed(t, s)
			t.Logf("%d writes, %d live: %d items in the file (%d swept), %d KiB of pages used (%d KiB at 1 s)",
				steps*perStep, live, st.Items, st.Swept, size>>10, liveSize>>10)
			if 2*st.Items > 3*live {
				t.Errorf("%d items in the file for %d live ones: want at most 1.5 times as many", st.Items, live)
			}
			if size > 2*liveSize {
				t.Errorf("the file uses %d KiB of pages, %d KiB at 1 s: want at most twice as much", size>>10, liveSize>>10)
			}
		})
	}
}

// fileUsed returns how much of the data file bbolt uses: its high-water
// mark, which the file is never shorter than.
func fileUsed(t *testing.T, s *Store) int64 {
	t.Helper()
	var size int64
	if err := s.db.View(func(tx *bolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return size
}
