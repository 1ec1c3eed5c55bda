package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// bothCaches runs f with the read cache on and off: every answer must be
// the same either way.
func bothCaches(t *testing.T, f func(t *testing.T, s *storage.Store, c *clock)) {
	for _, tc := range []struct {
		name  string
		bytes int64
	}{{"cache", 64 << 20}, {"nocache", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			opts := testOptions(c)
			opts.CacheBytes = tc.bytes
			s, _ := openStore(t, opts)
			f(t, s, c)
		})
	}
}

func TestGet(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		exp := c.After(time.Minute)
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 42, Expires: exp})
		got := wantItem(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 42, Expires: exp})
		if got.CAS == 0 {
			t.Errorf("Get: CAS 0, want a CAS number")
		}
		wantItem(t, s, got) // a second Get (a cache hit) is identical
		wantMissing(t, s, "absent")
		c.Add(time.Minute)
		wantMissing(t, s, "k")
	})
}

func TestSet(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("one"), Flags: 1, Expires: c.After(time.Hour)})
		first := mustGet(t, s, "k")
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("two"), Flags: 2, CAS: 12345})
		second := wantItem(t, s, storage.Item{Key: "k", Value: []byte("two"), Flags: 2})
		if second.CAS <= first.CAS || second.CAS == 12345 {
			t.Errorf("CAS after overwrite = %d, want a new CAS > %d", second.CAS, first.CAS)
		}
		mustSet(t, s, storage.Item{Key: "empty", Value: nil})
		wantItem(t, s, storage.Item{Key: "empty", Value: []byte{}})
	})
}

func TestSetCopiesValue(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		v := []byte("abc")
		mustSet(t, s, storage.Item{Key: "k", Value: v})
		v[0] = 'X'
		wantItem(t, s, storage.Item{Key: "k", Value: []byte("abc")})
	})
}

func TestAdd(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		if err := s.Add(storage.Item{Key: "k", Value: []byte("first"), Flags: 1}); err != nil {
			t.Fatalf("Add on absent key: %v", err)
		}
		before := wantItem(t, s, storage.Item{Key: "k", Value: []byte("first"), Flags: 1})
		wantErr(t, "Add on present key", s.Add(storage.Item{Key: "k", Value: []byte("second")}), storage.ErrNotStored)
		wantItem(t, s, before)

		mustSet(t, s, storage.Item{Key: "e", Value: []byte("old"), Expires: c.After(time.Second)})
		c.Add(time.Second)
		if err := s.Add(storage.Item{Key: "e", Value: []byte("new"), Flags: 3}); err != nil {
			t.Fatalf("Add on expired key: %v", err)
		}
		wantItem(t, s, storage.Item{Key: "e", Value: []byte("new"), Flags: 3})
	})
}

func TestReplace(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		wantErr(t, "Replace on absent key", s.Replace(storage.Item{Key: "k", Value: []byte("x")}), storage.ErrNotStored)
		wantMissing(t, s, "k")
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("old"), Flags: 1, Expires: c.After(time.Second)})
		old := mustGet(t, s, "k")
		if err := s.Replace(storage.Item{Key: "k", Value: []byte("new"), Flags: 2}); err != nil {
			t.Fatalf("Replace on present key: %v", err)
		}
		got := wantItem(t, s, storage.Item{Key: "k", Value: []byte("new"), Flags: 2})
		if got.CAS <= old.CAS {
			t.Errorf("CAS after Replace = %d, want > %d", got.CAS, old.CAS)
		}
		mustSet(t, s, storage.Item{Key: "e", Value: []byte("old"), Expires: c.After(time.Second)})
		c.Add(time.Second)
		wantErr(t, "Replace on expired key", s.Replace(storage.Item{Key: "e", Value: []byte("x")}), storage.ErrNotStored)
		wantMissing(t, s, "e")
	})
}

func TestAppendPrepend(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		exp := c.After(time.Hour)
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("mid"), Flags: 7, Expires: exp})
		cas := mustGet(t, s, "k").CAS
		steps := []struct {
			op   func(storage.Item) error
			name string
			arg  string
			want string
		}{
			{s.Append, "Append", "-end", "mid-end"},
			{s.Prepend, "Prepend", "start-", "start-mid-end"},
			{s.Append, "Append", "", "start-mid-end"},
		}
		for _, st := range steps {
			// The op's own flags and expiry are ignored: the item's are kept.
			if err := st.op(storage.Item{Key: "k", Value: []byte(st.arg), Flags: 99, Expires: c.After(time.Second)}); err != nil {
				t.Fatalf("%s(%q): %v", st.name, st.arg, err)
			}
			got := wantItem(t, s, storage.Item{Key: "k", Value: []byte(st.want), Flags: 7, Expires: exp})
			if got.CAS <= cas {
				t.Fatalf("%s(%q): CAS %d, want > %d", st.name, st.arg, got.CAS, cas)
			}
			cas = got.CAS
		}
		wantErr(t, "Append on absent key", s.Append(storage.Item{Key: "none", Value: []byte("x")}), storage.ErrNotStored)
		wantErr(t, "Prepend on absent key", s.Prepend(storage.Item{Key: "none", Value: []byte("x")}), storage.ErrNotStored)
		wantMissing(t, s, "none")

		mustSet(t, s, storage.Item{Key: "e", Value: []byte("v"), Expires: c.After(time.Second)})
		c.Add(time.Second)
		wantErr(t, "Append on expired key", s.Append(storage.Item{Key: "e", Value: []byte("x")}), storage.ErrNotStored)
	})
}

func TestAppendTooLarge(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.MaxItemSize = 1024
	s, _ := openStore(t, opts)
	// Key "k" with flags 5 may hold 10 bytes: shrink the limit to that.
	opts.MaxItemSize -= s.MaxValueSize(1, 5) - 10
	s, _ = openStore(t, opts)
	if got := s.MaxValueSize(1, 5); got != 10 {
		t.Fatalf("MaxValueSize(1, 5) = %d, want 10", got)
	}
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("123456"), Flags: 5})
	before := mustGet(t, s, "k")
	wantErr(t, "Append past MaxItemSize", s.Append(storage.Item{Key: "k", Value: []byte("12345")}), storage.ErrTooLarge)
	wantErr(t, "Prepend past MaxItemSize", s.Prepend(storage.Item{Key: "k", Value: []byte("12345")}), storage.ErrTooLarge)
	wantItem(t, s, before)
	if err := s.Append(storage.Item{Key: "k", Value: []byte("7890")}); err != nil {
		t.Fatalf("Append up to MaxItemSize exactly: %v", err)
	}
	wantItem(t, s, storage.Item{Key: "k", Value: []byte("1234567890"), Flags: 5})
	wantErr(t, "Set past MaxItemSize", s.Set(storage.Item{Key: "b", Value: []byte("12345678901"), Flags: 5}), storage.ErrTooLarge)
	wantMissing(t, s, "b")
}

func TestCompareAndSwap(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v1")})
		v1 := mustGet(t, s, "k")
		if err := s.CompareAndSwap(storage.Item{Key: "k", Value: []byte("v2"), Flags: 2, CAS: v1.CAS}); err != nil {
			t.Fatalf("CompareAndSwap with current CAS: %v", err)
		}
		v2 := wantItem(t, s, storage.Item{Key: "k", Value: []byte("v2"), Flags: 2})
		if v2.CAS <= v1.CAS {
			t.Fatalf("CAS after CompareAndSwap = %d, want > %d", v2.CAS, v1.CAS)
		}
		wantErr(t, "CompareAndSwap with stale CAS",
			s.CompareAndSwap(storage.Item{Key: "k", Value: []byte("v3"), CAS: v1.CAS}), storage.ErrCASMismatch)
		wantItem(t, s, v2)
		wantErr(t, "CompareAndSwap on absent key",
			s.CompareAndSwap(storage.Item{Key: "none", Value: []byte("x"), CAS: v1.CAS}), storage.ErrNotFound)
		wantMissing(t, s, "none")

		mustSet(t, s, storage.Item{Key: "e", Value: []byte("v"), Expires: c.After(time.Second)})
		e := mustGet(t, s, "e")
		c.Add(time.Second)
		wantErr(t, "CompareAndSwap on expired key",
			s.CompareAndSwap(storage.Item{Key: "e", Value: []byte("x"), CAS: e.CAS}), storage.ErrNotFound)
	})
}

// TestIncrDecr checks incr and decr: the new number, and the exact value
// stored, which is the number padded with spaces to the old length when it
// is not longer (memcached writes it in place). Every case was run against
// memcached 1.6.18: set, incr or decr, get.
func TestIncrDecr(t *testing.T) {
	tests := []struct {
		name   string
		start  string
		decr   bool
		delta  uint64
		want   uint64
		stored string // the value after; "" for an error
		err    error
	}{
		{name: "incr", start: "10", delta: 5, want: 15, stored: "15"},
		{name: "incr zero", start: "0", delta: 0, want: 0, stored: "0"},
		{name: "incr grows the value", start: "99", delta: 1, want: 100, stored: "100"},
		{name: "incr grows past padding", start: "104", delta: 1000, want: 1104, stored: "1104"},
		{name: "incr wraps", start: "18446744073709551615", delta: 1, want: 0, stored: "0" + strings.Repeat(" ", 19)},
		{name: "incr wraps far", start: "18446744073709551615", delta: 18446744073709551615, want: 18446744073709551614, stored: "18446744073709551614"},
		{name: "incr leading spaces", start: "  41", delta: 1, want: 42, stored: "42  "},
		{name: "incr trailing spaces", start: "41   ", delta: 1, want: 42, stored: "42   "},
		{name: "incr leading zeros", start: "007", delta: 1, want: 8, stored: "8  "},
		{name: "incr 25 digits", start: "0000000000000000000000001", delta: 1, want: 2, stored: "2" + strings.Repeat(" ", 24)},
		{name: "decr", start: "10", decr: true, delta: 3, want: 7, stored: "7 "},
		{name: "decr pads to the old length", start: "100", decr: true, delta: 91, want: 9, stored: "9  "},
		{name: "decr to zero", start: "10", decr: true, delta: 10, want: 0, stored: "0 "},
		{name: "decr stops at zero", start: "10", decr: true, delta: 11, want: 0, stored: "0 "},
		{name: "decr max", start: "18446744073709551615", decr: true, delta: 18446744073709551615, want: 0, stored: "0" + strings.Repeat(" ", 19)},
		{name: "not numeric", start: "abc", delta: 1, err: storage.ErrNotNumeric},
		{name: "empty", start: "", delta: 1, err: storage.ErrNotNumeric},
		{name: "only spaces", start: "   ", delta: 1, err: storage.ErrNotNumeric},
		{name: "negative", start: "-1", delta: 1, err: storage.ErrNotNumeric},
		{name: "only a sign", start: "-", delta: 1, err: storage.ErrNotNumeric},
		{name: "digits then letters", start: "12abc", decr: true, delta: 1, err: storage.ErrNotNumeric},
		{name: "only a NUL", start: "\x00", delta: 1, err: storage.ErrNotNumeric},
		{name: "NUL before the digits", start: "\x001", delta: 1, err: storage.ErrNotNumeric},
		{name: "above 2^64-1", start: "18446744073709551616", delta: 1, err: storage.ErrNotNumeric},
		{name: "decimal point", start: "1.5", delta: 1, err: storage.ErrNotNumeric},
		// memcached reads the value with strtoull: a sign is accepted, and
		// the number ends at white space or at a NUL byte (C's end of
		// string), whatever follows.
		{name: "plus sign", start: "+1", decr: true, delta: 1, want: 0, stored: "0 "},
		{name: "minus zero", start: "-0", delta: 1, want: 1, stored: "1 "},
		{name: "minus wraps to positive", start: "-18446744073709551615", delta: 1, want: 2, stored: "2" + strings.Repeat(" ", 20)},
		{name: "stops at a space", start: "1 2", delta: 1, want: 2, stored: "2  "},
		{name: "stops at a space before letters", start: "12 abc", delta: 1, want: 13, stored: "13    "},
		{name: "tab and newline around", start: "\t7\n", delta: 1, want: 8, stored: "8  "},
		{name: "stops at a NUL", start: "1\x002", delta: 1, want: 2, stored: "2  "},
		{name: "stops at a NUL before a space", start: "1\x00 2", delta: 1, want: 2, stored: "2   "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			s, _ := openStore(t, testOptions(c))
			exp := c.After(time.Hour)
			mustSet(t, s, storage.Item{Key: "n", Value: []byte(tc.start), Flags: 9, Expires: exp})
			before := mustGet(t, s, "n")
			op, f := "Incr", s.Incr
			if tc.decr {
				op, f = "Decr", s.Decr
			}
			got, err := f("n", tc.delta)
			if tc.err != nil {
				wantErr(t, op, err, tc.err)
				wantItem(t, s, before)
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("%s(%q, %d) = %d, %v; want %d, nil", op, tc.start, tc.delta, got, err, tc.want)
			}
			after := wantItem(t, s, storage.Item{Key: "n", Value: []byte(tc.stored), Flags: 9, Expires: exp})
			if after.CAS <= before.CAS {
				t.Errorf("CAS after %s = %d, want > %d", op, after.CAS, before.CAS)
			}
		})
	}
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func TestIncrDecrMissing(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		_, err := s.Incr("none", 1)
		wantErr(t, "Incr on absent key", err, storage.ErrNotFound)
		_, err = s.Decr("none", 1)
		wantErr(t, "Decr on absent key", err, storage.ErrNotFound)
		mustSet(t, s, storage.Item{Key: "e", Value: []byte("5"), Expires: c.After(time.Second)})
		c.Add(time.Second)
		_, err = s.Incr("e", 1)
		wantErr(t, "Incr on expired key", err, storage.ErrNotFound)
		wantMissing(t, s, "none")
	})
}

func TestTouch(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 3, Expires: c.After(time.Second)})
		before := mustGet(t, s, "k")
		newExp := c.After(time.Hour)
		if err := s.Touch("k", newExp); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		want := storage.Item{Key: "k", Value: []byte("v"), Flags: 3, Expires: newExp, CAS: before.CAS}
		wantItem(t, s, want)
		c.Add(time.Second) // the old expiry no longer applies
		wantItem(t, s, want)
		if err := s.Touch("k", time.Time{}); err != nil { // never expires
			t.Fatalf("Touch to never: %v", err)
		}
		c.Add(2 * time.Hour)
		wantItem(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 3, CAS: before.CAS})
		wantErr(t, "Touch on absent key", s.Touch("none", newExp), storage.ErrNotFound)
		wantMissing(t, s, "none")

		mustSet(t, s, storage.Item{Key: "e", Value: []byte("v"), Expires: c.After(time.Second)})
		c.Add(time.Second)
		wantErr(t, "Touch on expired key", s.Touch("e", c.After(time.Hour)), storage.ErrNotFound)
		wantMissing(t, s, "e")
	})
}

func TestGetAndTouch(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v"), Flags: 3, Expires: c.After(time.Second)})
		before := mustGet(t, s, "k")
		newExp := c.After(time.Hour)
		got, err := s.GetAndTouch("k", newExp)
		want := storage.Item{Key: "k", Value: []byte("v"), Flags: 3, Expires: newExp, CAS: before.CAS}
		if err != nil {
			t.Fatalf("GetAndTouch: %v", err)
		}
		if got.CAS != before.CAS || !got.Expires.Equal(newExp) || string(got.Value) != "v" || got.Flags != 3 {
			t.Fatalf("GetAndTouch = %+v, want %+v", got, want)
		}
		c.Add(time.Minute)
		wantItem(t, s, want)
		_, err = s.GetAndTouch("none", newExp)
		wantErr(t, "GetAndTouch on absent key", err, storage.ErrNotFound)
		c.Add(time.Hour)
		_, err = s.GetAndTouch("k", c.After(time.Hour))
		wantErr(t, "GetAndTouch on expired key", err, storage.ErrNotFound)
	})
}

func TestDelete(t *testing.T) {
	bothCaches(t, func(t *testing.T, s *storage.Store, c *clock) {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("v")})
		mustSet(t, s, storage.Item{Key: "e", Value: []byte("v"), Expires: c.After(time.Second)})
		if err := s.Delete("k"); err != nil {
			t.Fatalf("Delete on present key: %v", err)
		}
		wantMissing(t, s, "k")
		wantErr(t, "Delete twice", s.Delete("k"), storage.ErrNotFound)
		wantErr(t, "Delete on absent key", s.Delete("none"), storage.ErrNotFound)
		c.Add(time.Second)
		wantErr(t, "Delete on expired key", s.Delete("e"), storage.ErrNotFound)
		if got := s.Stats().Items; got != 0 {
			t.Errorf("Stats().Items after deleting everything = %d, want 0 (the expired item is removed too)", got)
		}
		if err := s.Add(storage.Item{Key: "k", Value: []byte("again")}); err != nil {
			t.Fatalf("Add after Delete: %v", err)
		}
		wantItem(t, s, storage.Item{Key: "k", Value: []byte("again")})
	})
}

func TestInvalidKey(t *testing.T) {
	c := newClock()
	s, _ := openStore(t, testOptions(c))
	for _, key := range []string{"", strings.Repeat("k", storage.MaxKeySize+1)} {
		it := storage.Item{Key: key, Value: []byte("v")}
		_, getErr := s.Get(key)
		_, incrErr := s.Incr(key, 1)
		_, decrErr := s.Decr(key, 1)
		_, gatErr := s.GetAndTouch(key, time.Time{})
		items, gatKeysErr := s.GetAndTouchKeys([]string{key}, time.Time{}, nil)
		if gatKeysErr != nil || len(items) != 1 || items[0].Key != "" {
			t.Errorf("GetAndTouchKeys with a %d-byte key = %v, %v; want one absent item", len(key), items, gatKeysErr)
		}
		for name, err := range map[string]error{
			"Get": getErr, "Set": s.Set(it), "Add": s.Add(it), "Replace": s.Replace(it),
			"Append": s.Append(it), "Prepend": s.Prepend(it), "CompareAndSwap": s.CompareAndSwap(it),
			"Incr": incrErr, "Decr": decrErr, "Touch": s.Touch(key, time.Time{}),
			"GetAndTouch": gatErr, "Delete": s.Delete(key),
		} {
			wantErr(t, name+" with a "+uitoa(uint64(len(key)))+"-byte key", err, storage.ErrInvalidKey)
		}
	}
	longest := strings.Repeat("k", storage.MaxKeySize)
	mustSet(t, s, storage.Item{Key: longest, Value: []byte("v")})
	wantItem(t, s, storage.Item{Key: longest, Value: []byte("v")})
	if got := s.Stats().Commits; got != 1 {
		t.Errorf("Stats().Commits = %d, want 1: invalid keys must not reach the committer", got)
	}
}

func TestClosed(t *testing.T) {
	c := newClock()
	s, _ := openStore(t, testOptions(c))
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("v")})
	mustGet(t, s, "k") // cached: Get must still refuse after Close
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	it := storage.Item{Key: "k", Value: []byte("v")}
	_, getErr := s.Get("k")
	_, incrErr := s.Incr("k", 1)
	_, decrErr := s.Decr("k", 1)
	_, gatErr := s.GetAndTouch("k", time.Time{})
	for name, err := range map[string]error{
		"Get": getErr, "Set": s.Set(it), "Add": s.Add(it), "Replace": s.Replace(it),
		"Append": s.Append(it), "Prepend": s.Prepend(it), "CompareAndSwap": s.CompareAndSwap(it),
		"Incr": incrErr, "Decr": decrErr, "Touch": s.Touch("k", time.Time{}),
		"GetAndTouch": gatErr, "Delete": s.Delete("k"), "FlushAll": s.FlushAll(time.Time{}),
	} {
		wantErr(t, name+" after Close", err, storage.ErrClosed)
	}
}

// TestCASIncreasing checks that every write hands out a CAS number above all
// earlier ones, in one session and across Close and Open.
func TestCASIncreasing(t *testing.T) {
	c := newClock()
	s, path := openStore(t, testOptions(c))
	var last uint64
	check := func(what string) {
		t.Helper()
		got := mustGet(t, s, "k").CAS
		if got <= last {
			t.Fatalf("CAS after %s = %d, want > %d", what, got, last)
		}
		last = got
	}
	for range 3 {
		mustSet(t, s, storage.Item{Key: "k", Value: []byte("1")})
		check("Set")
		if _, err := s.Incr("k", 1); err != nil {
			t.Fatal(err)
		}
		check("Incr")
		if err := s.Append(storage.Item{Key: "k", Value: []byte("0")}); err != nil {
			t.Fatal(err)
		}
		check("Append")
		mustSet(t, s, storage.Item{Key: "other", Value: []byte("x")}) // uses a CAS too
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s = openPath(t, path, testOptions(c))
		if got := mustGet(t, s, "k").CAS; got != last {
			t.Fatalf("CAS after reopen = %d, want %d (unchanged)", got, last)
		}
	}
	// Distinct keys written concurrently get distinct CAS numbers.
	seen := make(map[uint64]string)
	errs := make(chan error, 64)
	for i := range 64 {
		go func() { errs <- s.Set(storage.Item{Key: "c" + uitoa(uint64(i)), Value: []byte("v")}) }()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range 64 {
		key := "c" + uitoa(uint64(i))
		cas := mustGet(t, s, key).CAS
		if prev, dup := seen[cas]; dup {
			t.Fatalf("CAS %d given to both %q and %q", cas, prev, key)
		}
		if cas <= last {
			t.Fatalf("CAS of %q = %d, want > %d", key, cas, last)
		}
		seen[cas] = key
	}
}

func TestPersistence(t *testing.T) {
	c := newClock()
	s, path := openStore(t, testOptions(c))
	items := []storage.Item{
		{Key: "plain", Value: []byte("value")},
		{Key: "flags", Value: []byte("f"), Flags: 0xdeadbeef},
		{Key: "expiring", Value: []byte("e"), Expires: c.After(time.Hour + 123*time.Nanosecond)},
		{Key: "binary", Value: []byte{0, 1, 2, '\r', '\n', 255}},
		{Key: "empty", Value: []byte{}},
	}
	for i, it := range items {
		mustSet(t, s, it)
		items[i] = mustGet(t, s, it.Key) // with its CAS
	}
	if err := s.Delete("plain"); err != nil {
		t.Fatal(err)
	}
	items = items[1:]
	before := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, cache := range []int64{64 << 20, 0} {
		opts := testOptions(c)
		opts.CacheBytes = cache
		s = openPath(t, path, opts)
		for _, want := range items {
			wantItem(t, s, want)
		}
		wantMissing(t, s, "plain")
		after := s.Stats()
		if after.Items != before.Items || after.Bytes != before.Bytes {
			t.Errorf("after reopen Items, Bytes = %d, %d; want %d, %d", after.Items, after.Bytes, before.Items, before.Bytes)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{storage.ErrNotFound, storage.ErrNotStored, storage.ErrCASMismatch, storage.ErrNotNumeric,
		storage.ErrTooLarge, storage.ErrInvalidKey, storage.ErrClosed, storage.ErrNotOurs}
	for i, a := range errs {
		if !strings.HasPrefix(a.Error(), "storage: ") {
			t.Errorf("%q lacks the package prefix", a)
		}
		for _, b := range errs[i+1:] {
			if errors.Is(a, b) || errors.Is(b, a) {
				t.Errorf("%v and %v match each other", a, b)
			}
		}
	}
}

// TestStart queues several writes before waiting for any: they are applied in
// the order started, each with its own result, and share commits.
func TestStart(t *testing.T) {
	for _, cache := range []int64{64 << 20, 0} {
		opts := testOptions(newClock())
		opts.CacheBytes = cache
		s, _ := openStore(t, opts)
		before := s.Stats().Commits
		ps := []*storage.Pending{
			s.Start(storage.OpSet, storage.Item{Key: "n", Value: []byte("1")}, 0),
			s.Start(storage.OpIncr, storage.Item{Key: "n"}, 4),
			s.Start(storage.OpAdd, storage.Item{Key: "n", Value: []byte("x")}, 0),
			s.Start(storage.OpAppend, storage.Item{Key: "n", Value: []byte("0")}, 0),
			s.Start(storage.OpDelete, storage.Item{Key: "absent"}, 0),
			s.Start(storage.OpSet, storage.Item{Key: ""}, 0),
			s.Start(storage.Op(200), storage.Item{Key: "n"}, 0),
		}
		type result struct {
			n   uint64
			err error
		}
		want := []result{{0, nil}, {5, nil}, {0, storage.ErrNotStored}, {0, nil}, {0, storage.ErrNotFound}, {0, storage.ErrInvalidKey}}
		for i, p := range ps[:len(want)] {
			n, err := p.Wait()
			if n != want[i].n || !errors.Is(err, want[i].err) {
				t.Errorf("cache %v: write %d: Wait() = %d, %v; want %d, %v", cache, i, n, err, want[i].n, want[i].err)
			}
		}
		if _, err := ps[len(ps)-1].Wait(); err == nil {
			t.Errorf("cache %v: Start with an op that is not a write succeeded", cache)
		}
		if it := mustGet(t, s, "n"); string(it.Value) != "50" {
			t.Errorf("cache %v: n = %q, want %q", cache, it.Value, "50")
		}
		if c := s.Stats().Commits - before; c > 4 {
			t.Errorf("cache %v: 5 queued writes took %d commits", cache, c)
		}
	}
}

// TestGetAndTouchKeys checks that a multi-key gat is one commit, answers in
// the order of the keys, and stops once its values pass 1 MiB.
func TestGetAndTouchKeys(t *testing.T) {
	c := newClock()
	s, _ := openStore(t, testOptions(c))
	mustSet(t, s, storage.Item{Key: "a", Value: []byte("A"), Flags: 1})
	mustSet(t, s, storage.Item{Key: "b", Value: []byte("B")})
	before := s.Stats().Commits
	exp := c.After(time.Hour)
	items, err := s.GetAndTouchKeys([]string{"a", "none", "b", "a"}, exp, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Key+"="+string(it.Value))
		if it.Key != "" && !it.Expires.Equal(exp) {
			t.Errorf("item %q expires %v, want %v", it.Key, it.Expires, exp)
		}
	}
	if want := "[a=A = b=B a=A]"; fmt.Sprint(got) != want {
		t.Errorf("GetAndTouchKeys = %v, want %s", got, want)
	}
	if n := s.Stats().Commits - before; n != 1 {
		t.Errorf("GetAndTouchKeys of 4 keys made %d commits, want 1", n)
	}

	big := bytes.Repeat([]byte("x"), 600<<10)
	for _, k := range []string{"x", "y", "z"} {
		mustSet(t, s, storage.Item{Key: k, Value: big})
	}
	items, err = s.GetAndTouchKeys([]string{"x", "y", "z"}, exp, nil)
	if err != nil || len(items) != 2 || items[1].Key != "y" {
		t.Fatalf("GetAndTouchKeys of three 600 KiB values = %d items, %v; want x and y, stopping past 1 MiB", len(items), err)
	}
	c.Add(2 * time.Hour)
	wantMissing(t, s, "a")
}

// TestNoCacheIsZero: CacheBytes 0 means no read cache, as -m 0 does: every
// Get reads the file and nothing is cached.
func TestNoCacheIsZero(t *testing.T) {
	c := newClock()
	opts := testOptions(c)
	opts.CacheBytes = 0
	s, _ := openStore(t, opts)
	mustSet(t, s, storage.Item{Key: "k", Value: []byte("v")})
	mustGet(t, s, "k")
	mustGet(t, s, "k")
	if st := s.Stats(); st.CacheLimit != 0 || st.CacheItems != 0 || st.CacheMisses != 2 {
		t.Errorf("with CacheBytes 0: limit %d, items %d, misses %d; want 0, 0, 2", st.CacheLimit, st.CacheItems, st.CacheMisses)
	}
}
