package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// newGomemcache returns a gomemcache client for addr with a timeout generous
// enough for a race-enabled server on a busy machine.
func newGomemcache(t *testing.T, addr string) *memcache.Client {
	t.Helper()
	mc := memcache.New(addr)
	mc.Timeout = wireTimeout
	mc.MaxIdleConns = 8
	t.Cleanup(func() {
		if err := mc.Close(); err != nil {
			t.Errorf("gomemcache Close: %v", err)
		}
	})
	return mc
}

// gmGet gets key and checks its value and flags.
func gmGet(t *testing.T, mc *memcache.Client, key string, value []byte, flags uint32) *memcache.Item {
	t.Helper()
	it, err := mc.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v, want value %.60q", key, err, value)
	}
	if it.Key != key || !bytes.Equal(it.Value, value) || it.Flags != flags {
		t.Fatalf("Get(%q) = key %q value %.60q flags %d, want key %q value %.60q flags %d",
			key, it.Key, it.Value, it.Flags, key, value, flags)
	}
	if it.CasID == 0 {
		t.Errorf("Get(%q): CasID 0; gomemcache sends gets, so the server must return a CAS", key)
	}
	return it
}

func gmMiss(t *testing.T, mc *memcache.Client, key string) {
	t.Helper()
	if it, err := mc.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get(%q) = %+v, %v; want ErrCacheMiss", key, it, err)
	}
}

func gmWantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

// TestGomemcache drives every method of github.com/bradfitz/gomemcache's
// Client against the binary and checks exact results and errors. The same
// checks run against memcached, to show they expect what memcached does.
func TestGomemcache(t *testing.T) {
	t.Run("memcached-lite", func(t *testing.T) {
		testGomemcache(t, servertest.StartBinary(t, servertest.BinaryOptions{}).Addr)
	})
	t.Run("memcached", func(t *testing.T) {
		testGomemcache(t, servertest.StartMemcached(t).Addr)
	})
}

func testGomemcache(t *testing.T, addr string) {
	mc := newGomemcache(t, addr)

	if err := mc.Ping(); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := mc.FlushAll(); err != nil {
		t.Fatalf("FlushAll: %v", err)
	}

	t.Run("SetGet", func(t *testing.T) {
		gmMiss(t, mc, "foo")
		if err := mc.Set(&memcache.Item{Key: "foo", Value: []byte("fooval"), Flags: 123}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		first := gmGet(t, mc, "foo", []byte("fooval"), 123)
		if err := mc.Set(&memcache.Item{Key: "foo", Value: []byte("v2"), Flags: 4294967295}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		second := gmGet(t, mc, "foo", []byte("v2"), 4294967295)
		if second.CasID <= first.CasID {
			t.Errorf("CAS after a second Set = %d, want more than %d", second.CasID, first.CasID)
		}
		again := gmGet(t, mc, "foo", []byte("v2"), 4294967295)
		if again.CasID != second.CasID {
			t.Errorf("CAS changed from %d to %d by a Get", second.CasID, again.CasID)
		}

		for _, v := range [][]byte{
			{},
			[]byte("\r\nEND\r\nVALUE x 0 1\r\n"),
			append(bytes.Repeat([]byte{0, '\r', '\n', 0xff}, 1000), 0),
			bytes.Repeat([]byte("0123456789abcdef"), 62500), // 1,000,000 bytes
		} {
			if err := mc.Set(&memcache.Item{Key: "bin", Value: v, Flags: 7}); err != nil {
				t.Fatalf("Set %d bytes: %v", len(v), err)
			}
			gmGet(t, mc, "bin", v, 7)
		}

		long := strings.Repeat("k", 250)
		if err := mc.Set(&memcache.Item{Key: long, Value: []byte("long")}); err != nil {
			t.Fatalf("Set with a 250-byte key: %v", err)
		}
		gmGet(t, mc, long, []byte("long"), 0)
	})

	t.Run("TooLarge", func(t *testing.T) {
		if err := mc.Set(&memcache.Item{Key: "big", Value: []byte("small")}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		err := mc.Set(&memcache.Item{Key: "big", Value: make([]byte, 2<<20)})
		want := `memcache: unexpected response line from "set": "SERVER_ERROR object too large for cache\r\n"`
		if err == nil || err.Error() != want {
			t.Fatalf("Set 2 MiB: %v, want %s", err, want)
		}
		// As memcached: a set too large removes the old value.
		gmMiss(t, mc, "big")
	})

	t.Run("MalformedKeys", func(t *testing.T) {
		item := func(k string) *memcache.Item { return &memcache.Item{Key: k, Value: []byte("x")} }
		for _, key := range []string{"has space", "tab\tkey", "new\nline", "del\x7f", strings.Repeat("k", 251)} {
			_, err := mc.Get(key)
			gmWantErr(t, fmt.Sprintf("Get(%q)", key), err, memcache.ErrMalformedKey)
			gmWantErr(t, fmt.Sprintf("Set(%q)", key), mc.Set(item(key)), memcache.ErrMalformedKey)
			gmWantErr(t, fmt.Sprintf("Add(%q)", key), mc.Add(item(key)), memcache.ErrMalformedKey)
			gmWantErr(t, fmt.Sprintf("Delete(%q)", key), mc.Delete(key), memcache.ErrMalformedKey)
			gmWantErr(t, fmt.Sprintf("Touch(%q)", key), mc.Touch(key, 10), memcache.ErrMalformedKey)
			_, err = mc.Increment(key, 1)
			gmWantErr(t, fmt.Sprintf("Increment(%q)", key), err, memcache.ErrMalformedKey)
			_, err = mc.GetAndTouch(key, 10)
			gmWantErr(t, fmt.Sprintf("GetAndTouch(%q)", key), err, memcache.ErrMalformedKey)
			_, err = mc.GetMulti([]string{"ok", key})
			gmWantErr(t, fmt.Sprintf("GetMulti(ok, %q)", key), err, memcache.ErrMalformedKey)
		}
		// The client still works: malformed keys never reach the server.
		if err := mc.Ping(); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("AddReplace", func(t *testing.T) {
		gmWantErr(t, "Replace missing", mc.Replace(&memcache.Item{Key: "ar", Value: []byte("r")}), memcache.ErrNotStored)
		gmMiss(t, mc, "ar")
		if err := mc.Add(&memcache.Item{Key: "ar", Value: []byte("added"), Flags: 1}); err != nil {
			t.Fatalf("Add new: %v", err)
		}
		gmWantErr(t, "Add existing", mc.Add(&memcache.Item{Key: "ar", Value: []byte("again"), Flags: 2}), memcache.ErrNotStored)
		gmGet(t, mc, "ar", []byte("added"), 1)
		if err := mc.Replace(&memcache.Item{Key: "ar", Value: []byte("replaced"), Flags: 3}); err != nil {
			t.Fatalf("Replace existing: %v", err)
		}
		gmGet(t, mc, "ar", []byte("replaced"), 3)
	})

	t.Run("AppendPrepend", func(t *testing.T) {
		gmWantErr(t, "Append missing", mc.Append(&memcache.Item{Key: "ap", Value: []byte("x")}), memcache.ErrNotStored)
		gmWantErr(t, "Prepend missing", mc.Prepend(&memcache.Item{Key: "ap", Value: []byte("x")}), memcache.ErrNotStored)
		gmMiss(t, mc, "ap")
		if err := mc.Set(&memcache.Item{Key: "ap", Value: []byte("mid"), Flags: 5}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		before := gmGet(t, mc, "ap", []byte("mid"), 5)
		// The flags (and exptime) of append and prepend are ignored.
		if err := mc.Append(&memcache.Item{Key: "ap", Value: []byte(">>"), Flags: 99, Expiration: -1}); err != nil {
			t.Fatalf("Append: %v", err)
		}
		if err := mc.Prepend(&memcache.Item{Key: "ap", Value: []byte("<<"), Flags: 98, Expiration: -1}); err != nil {
			t.Fatalf("Prepend: %v", err)
		}
		after := gmGet(t, mc, "ap", []byte("<<mid>>"), 5)
		if after.CasID <= before.CasID {
			t.Errorf("CAS after Append and Prepend = %d, want more than %d", after.CasID, before.CasID)
		}
	})

	t.Run("CompareAndSwap", func(t *testing.T) {
		if err := mc.Set(&memcache.Item{Key: "cas", Value: []byte("v1"), Flags: 1}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		it := gmGet(t, mc, "cas", []byte("v1"), 1)
		stale := *it
		it.Value, it.Flags = []byte("v2"), 2
		if err := mc.CompareAndSwap(it); err != nil {
			t.Fatalf("CompareAndSwap with the current CAS: %v", err)
		}
		cur := gmGet(t, mc, "cas", []byte("v2"), 2)
		if cur.CasID <= stale.CasID {
			t.Errorf("CAS after CompareAndSwap = %d, want more than %d", cur.CasID, stale.CasID)
		}
		stale.Value = []byte("lost")
		gmWantErr(t, "CompareAndSwap with a stale CAS", mc.CompareAndSwap(&stale), memcache.ErrCASConflict)
		zero := &memcache.Item{Key: "cas", Value: []byte("zero")}
		gmWantErr(t, "CompareAndSwap with CAS 0", mc.CompareAndSwap(zero), memcache.ErrCASConflict)
		gmGet(t, mc, "cas", []byte("v2"), 2)
		if err := mc.Delete("cas"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		// gomemcache maps NOT_FOUND to ErrCacheMiss (its doc says ErrNotStored).
		gmWantErr(t, "CompareAndSwap on a deleted key", mc.CompareAndSwap(cur), memcache.ErrCacheMiss)
		gmMiss(t, mc, "cas")
	})

	t.Run("Delete", func(t *testing.T) {
		if err := mc.Set(&memcache.Item{Key: "del", Value: []byte("x")}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		if err := mc.Delete("del"); err != nil {
			t.Fatalf("Delete existing: %v", err)
		}
		gmMiss(t, mc, "del")
		gmWantErr(t, "Delete missing", mc.Delete("del"), memcache.ErrCacheMiss)
	})

	t.Run("IncrementDecrement", func(t *testing.T) {
		_, err := mc.Increment("n", 1)
		gmWantErr(t, "Increment missing", err, memcache.ErrCacheMiss)
		_, err = mc.Decrement("n", 1)
		gmWantErr(t, "Decrement missing", err, memcache.ErrCacheMiss)
		gmMiss(t, mc, "n")
		if err := mc.Set(&memcache.Item{Key: "n", Value: []byte("42"), Flags: 9}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		before := gmGet(t, mc, "n", []byte("42"), 9)
		for i, step := range []struct {
			incr  bool
			delta uint64
			want  uint64
		}{
			{true, 1, 43},
			{true, 1000, 1043},
			{false, 43, 1000},
			{false, 5000, 0}, // decr stops at 0
			{false, 1, 0},
			{true, 18446744073709551615, 18446744073709551615},
			{true, 2, 1}, // incr wraps at 2^64
		} {
			name, f := "Increment", mc.Increment
			if !step.incr {
				name, f = "Decrement", mc.Decrement
			}
			got, err := f("n", step.delta)
			if err != nil || got != step.want {
				t.Fatalf("%s(n, %d) = %d, %v; want %d", name, step.delta, got, err, step.want)
			}
			if i == 1 {
				// incr keeps the flags and changes the CAS. (After a
				// shrinking decr memcached pads the stored digits with
				// spaces, so the value is only checked here.)
				after := gmGet(t, mc, "n", []byte("1043"), 9)
				if after.CasID <= before.CasID {
					t.Errorf("CAS after Increment = %d, want more than %d", after.CasID, before.CasID)
				}
			}
		}

		for _, v := range []string{"abc", "12abc", "-5", ""} {
			if err := mc.Set(&memcache.Item{Key: "text", Value: []byte(v)}); err != nil {
				t.Fatalf("Set: %v", err)
			}
			const want = "memcache: client error: cannot increment or decrement non-numeric value"
			if _, err := mc.Increment("text", 1); err == nil || err.Error() != want {
				t.Errorf("Increment on %q: %v, want %s", v, err, want)
			}
			if _, err := mc.Decrement("text", 1); err == nil || err.Error() != want {
				t.Errorf("Decrement on %q: %v, want %s", v, err, want)
			}
			it, err := mc.Get("text")
			if err != nil || string(it.Value) != v {
				t.Errorf("Get(text) after a failed Increment = %+v, %v; want %q unchanged", it, err, v)
			}
		}
	})

	t.Run("TouchAndExpiry", func(t *testing.T) {
		gmWantErr(t, "Touch missing", mc.Touch("tch", 100), memcache.ErrCacheMiss)
		if err := mc.Set(&memcache.Item{Key: "tch", Value: []byte("t"), Flags: 4}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		before := gmGet(t, mc, "tch", []byte("t"), 4)
		if err := mc.Touch("tch", 3600); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		if after := gmGet(t, mc, "tch", []byte("t"), 4); after.CasID != before.CasID {
			t.Errorf("Touch changed the CAS from %d to %d", before.CasID, after.CasID)
		}
		// A negative exptime expires the item at once; so does an absolute
		// time in the past (anything above 30 days is a Unix time).
		if err := mc.Touch("tch", -1); err != nil {
			t.Fatalf("Touch -1: %v", err)
		}
		gmMiss(t, mc, "tch")
		gmWantErr(t, "Touch an expired item", mc.Touch("tch", 100), memcache.ErrCacheMiss)

		future := int32(time.Now().Add(24 * time.Hour).Unix())
		for _, c := range []struct {
			exp  int32
			live bool
		}{
			{-1, false},
			{2592001, false}, // 1970-01-31: absolute, past
			{int32(time.Now().Add(-time.Hour).Unix()), false},
			{3600, true},
			{2592000, true}, // exactly 30 days is still relative
			{future, true},
		} {
			key := "exp" + strconv.Itoa(int(c.exp))
			if err := mc.Set(&memcache.Item{Key: key, Value: []byte("e"), Expiration: c.exp}); err != nil {
				t.Fatalf("Set with Expiration %d: %v", c.exp, err)
			}
			if c.live {
				gmGet(t, mc, key, []byte("e"), 0)
			} else {
				gmMiss(t, mc, key)
				// An expired item is absent for add as well.
				if err := mc.Add(&memcache.Item{Key: key, Value: []byte("added")}); err != nil {
					t.Errorf("Add over an item set with Expiration %d: %v", c.exp, err)
				}
			}
		}
	})

	t.Run("GetAndTouch", func(t *testing.T) {
		_, err := mc.GetAndTouch("gat", 100)
		gmWantErr(t, "GetAndTouch missing", err, memcache.ErrCacheMiss)
		if err := mc.Set(&memcache.Item{Key: "gat", Value: []byte("g"), Flags: 8}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		for _, exp := range []int32{3600, 0} {
			it, err := mc.GetAndTouch("gat", exp)
			if err != nil || it.Key != "gat" || string(it.Value) != "g" || it.Flags != 8 || it.CasID != 0 {
				t.Fatalf("GetAndTouch(gat, %d) = %+v, %v; want value g, flags 8, no CAS (gat)", exp, it, err)
			}
		}
		// The item is returned, then expires.
		it, err := mc.GetAndTouch("gat", -1)
		if err != nil || string(it.Value) != "g" {
			t.Fatalf("GetAndTouch(gat, -1) = %+v, %v; want value g", it, err)
		}
		gmMiss(t, mc, "gat")
	})

	t.Run("GetMulti", func(t *testing.T) {
		var keys []string
		want := make(map[string]string)
		for i := range 300 {
			k := fmt.Sprintf("multi-%03d-%s", i, strings.Repeat("x", i%50))
			keys = append(keys, k)
			if i%3 == 0 {
				continue // a miss
			}
			want[k] = strconv.Itoa(i * i)
			if err := mc.Set(&memcache.Item{Key: k, Value: []byte(want[k]), Flags: uint32(i)}); err != nil {
				t.Fatalf("Set(%s): %v", k, err)
			}
		}
		got, err := mc.GetMulti(keys)
		if err != nil {
			t.Fatalf("GetMulti of %d keys: %v", len(keys), err)
		}
		if len(got) != len(want) {
			t.Errorf("GetMulti returned %d items, want %d", len(got), len(want))
		}
		for i, k := range keys {
			it, ok := got[k]
			w, hit := want[k]
			switch {
			case ok != hit:
				t.Errorf("GetMulti: key %s present %v, want %v", k, ok, hit)
			case ok && (string(it.Value) != w || it.Flags != uint32(i) || it.CasID == 0):
				t.Errorf("GetMulti: %s = %q flags %d cas %d, want %q flags %d and a CAS", k, it.Value, it.Flags, it.CasID, w, i)
			}
		}
		empty, err := mc.GetMulti([]string{"none1", "none2"})
		if err != nil || len(empty) != 0 {
			t.Errorf("GetMulti of misses = %v, %v; want an empty map", empty, err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const workers, ops = 8, 50
		if err := mc.Set(&memcache.Item{Key: "shared", Value: []byte("0")}); err != nil {
			t.Fatalf("Set(shared): %v", err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range ops {
					k := fmt.Sprintf("w%d-%d", w, i)
					v := []byte(strings.Repeat(k, i+1))
					if err := mc.Set(&memcache.Item{Key: k, Value: v, Flags: uint32(w)}); err != nil {
						errs <- fmt.Errorf("Set(%s): %v", k, err)
						return
					}
					it, err := mc.Get(k)
					if err != nil || !bytes.Equal(it.Value, v) || it.Flags != uint32(w) {
						errs <- fmt.Errorf("Get(%s) = %+v, %v; want %q flags %d", k, it, err, v, w)
						return
					}
					if n, err := mc.Increment("shared", 1); err != nil || n == 0 || n > workers*ops {
						errs <- fmt.Errorf("Increment(shared) = %d, %v; want 1..%d", n, err, workers*ops)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		// Each increment counted exactly once.
		if n, err := mc.Increment("shared", 0); err != nil || n != workers*ops {
			t.Errorf("Increment(shared, 0) = %d, %v; want %d", n, err, workers*ops)
		}
	})

	t.Run("DeleteAllFlushAll", func(t *testing.T) {
		for _, flush := range []struct {
			name string
			f    func() error
		}{{"DeleteAll", mc.DeleteAll}, {"FlushAll", mc.FlushAll}} {
			if err := mc.Set(&memcache.Item{Key: "f1", Value: []byte("1")}); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := mc.Set(&memcache.Item{Key: "f2", Value: []byte("2")}); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := flush.f(); err != nil {
				t.Fatalf("%s: %v", flush.name, err)
			}
			got, err := mc.GetMulti([]string{"f1", "f2", "foo", "ar"})
			if err != nil || len(got) != 0 {
				t.Errorf("GetMulti after %s = %v, %v; want nothing", flush.name, got, err)
			}
			// A set right after the flush, in the same second, survives it.
			if err := mc.Set(&memcache.Item{Key: "f1", Value: []byte("new")}); err != nil {
				t.Fatalf("Set: %v", err)
			}
			gmGet(t, mc, "f1", []byte("new"), 0)
		}
	})

	if err := mc.Ping(); err != nil {
		t.Errorf("Ping at the end: %v", err)
	}
}
