package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
)

// runSuite runs the conformance suite against the memcached-protocol servers
// at addrs (one or more), which it flushes first. To run it against another
// server, start that server on a loopback port and call runSuite with its
// address from a Test function.
func runSuite(t *testing.T, addrs ...string) {
	t.Helper()
	servers := make([]client.Server, len(addrs))
	for i, a := range addrs {
		servers[i] = client.Server{Addr: a}
	}
	c, err := client.NewWithOptions(client.Options{Timeout: 5 * time.Second}, servers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	testWithClient(t, c)
}

// testWithClient checks every Client method against the servers of c, with
// exact expected results. It flushes the servers first.
func testWithClient(t *testing.T, c *client.Client) {
	if err := c.FlushAll(0); err != nil {
		t.Fatalf("FlushAll: %v", err)
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *client.Client)
	}{
		{"SetGet", testSetGet},
		{"Values", testValues},
		{"Flags", testFlags},
		{"Miss", testMiss},
		{"AddReplace", testAddReplace},
		{"AppendPrepend", testAppendPrepend},
		{"CAS", testCAS},
		{"Delete", testDelete},
		{"IncrDecr", testIncrDecr},
		{"Touch", testTouch},
		{"Expiration", testExpiration},
		{"GetAndTouch", testGetAndTouch},
		{"GetMulti", testGetMulti},
		{"MalformedKeys", testMalformedKeys},
		{"NoReply", testNoReply},
		{"FlushAll", testFlushAll},
		{"StatsVersion", testStatsVersion},
		{"Raw", testRaw},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, c) })
	}
}

// mustSet stores key=value with flags, failing the test on error.
func mustSet(t *testing.T, c *client.Client, key, value string, flags uint32) {
	t.Helper()
	if err := c.Set(&client.Item{Key: key, Value: []byte(value), Flags: flags}); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

// wantValue checks that key holds value with flags.
func wantValue(t *testing.T, c *client.Client, key, value string, flags uint32) {
	t.Helper()
	it, err := c.Get(key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if it.Key != key || string(it.Value) != value || it.Flags != flags || it.CAS != 0 {
		t.Fatalf("Get(%q) = {%q %q flags %d cas %d}, want {%q %q flags %d cas 0}",
			key, it.Key, it.Value, it.Flags, it.CAS, key, value, flags)
	}
}

// wantMiss checks that key is absent.
func wantMiss(t *testing.T, c *client.Client, key string) {
	t.Helper()
	if it, err := c.Get(key); !errors.Is(err, client.ErrCacheMiss) || it != nil {
		t.Fatalf("Get(%q) = %v, %v; want nil, ErrCacheMiss", key, it, err)
	}
}

// wantErr checks that err matches target (errors.Is).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func testSetGet(t *testing.T, c *client.Client) {
	mustSet(t, c, "sg:a", "hello", 42)
	wantValue(t, c, "sg:a", "hello", 42)
	mustSet(t, c, "sg:a", "world", 7)
	wantValue(t, c, "sg:a", "world", 7)
	long := strings.Repeat("k", 250)
	mustSet(t, c, long, "250-byte key", 0)
	wantValue(t, c, long, "250-byte key", 0)
	mustSet(t, c, "sg:ключ", "utf-8 key", 0)
	wantValue(t, c, "sg:ключ", "utf-8 key", 0)
}

func testValues(t *testing.T, c *client.Client) {
	big := bytes.Repeat([]byte("0123456789abcdef\r\n"), 512<<10/18)
	for _, v := range []string{"", "\x00", "\r\n", "a\r\nEND\r\nVALUE x 0 1\r\n", "\xff\xfe", string(big)} {
		mustSet(t, c, "val:k", v, 0)
		it, err := c.Get("val:k")
		if err != nil || string(it.Value) != v {
			t.Fatalf("Get after Set of %d bytes %.20q: %v, %d bytes", len(v), v, err, len(it.Value))
		}
	}
}

func testFlags(t *testing.T, c *client.Client) {
	for _, f := range []uint32{0, 1, 123, 65535, 1 << 31, 1<<32 - 1} {
		mustSet(t, c, "flags:k", "v", f)
		wantValue(t, c, "flags:k", "v", f)
	}
}

func testMiss(t *testing.T, c *client.Client) {
	wantMiss(t, c, "miss:none")
	_, err := c.Gets("miss:none")
	wantErr(t, "Gets", err, client.ErrCacheMiss)
	_, err = c.GetAndTouch("miss:none", 100)
	wantErr(t, "GetAndTouch", err, client.ErrCacheMiss)
}

func testAddReplace(t *testing.T, c *client.Client) {
	wantErr(t, "Replace absent", c.Replace(&client.Item{Key: "ar:k", Value: []byte("r")}), client.ErrNotStored)
	wantMiss(t, c, "ar:k")
	if err := c.Add(&client.Item{Key: "ar:k", Value: []byte("first"), Flags: 1}); err != nil {
		t.Fatalf("Add absent: %v", err)
	}
	wantErr(t, "Add present", c.Add(&client.Item{Key: "ar:k", Value: []byte("second")}), client.ErrNotStored)
	wantValue(t, c, "ar:k", "first", 1)
	if err := c.Replace(&client.Item{Key: "ar:k", Value: []byte("third"), Flags: 3}); err != nil {
		t.Fatalf("Replace present: %v", err)
	}
	wantValue(t, c, "ar:k", "third", 3)
}

func testAppendPrepend(t *testing.T, c *client.Client) {
	wantErr(t, "Append absent", c.Append(&client.Item{Key: "ap:k", Value: []byte("x")}), client.ErrNotStored)
	wantErr(t, "Prepend absent", c.Prepend(&client.Item{Key: "ap:k", Value: []byte("x")}), client.ErrNotStored)
	wantMiss(t, c, "ap:k")
	mustSet(t, c, "ap:k", "mid", 7)
	if err := c.Append(&client.Item{Key: "ap:k", Value: []byte("-end"), Flags: 99}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := c.Prepend(&client.Item{Key: "ap:k", Value: []byte("start-"), Flags: 98}); err != nil {
		t.Fatalf("Prepend: %v", err)
	}
	wantValue(t, c, "ap:k", "start-mid-end", 7) // the stored flags are kept
}

func testCAS(t *testing.T, c *client.Client) {
	mustSet(t, c, "cas:k", "v1", 5)
	it, err := c.Gets("cas:k")
	if err != nil || string(it.Value) != "v1" || it.Flags != 5 || it.CAS == 0 {
		t.Fatalf("Gets = %+v, %v; want v1, flags 5, CAS != 0", it, err)
	}
	first := it.CAS
	if again, err := c.Gets("cas:k"); err != nil || again.CAS != first {
		t.Fatalf("second Gets: CAS %v, %v; want %d (reads keep the CAS)", again, err, first)
	}
	if err := c.CompareAndSwap(&client.Item{Key: "cas:k", Value: []byte("v2"), Flags: 6, CAS: first}); err != nil {
		t.Fatalf("CompareAndSwap with current CAS: %v", err)
	}
	wantValue(t, c, "cas:k", "v2", 6)
	it, err = c.Gets("cas:k")
	if err != nil || it.CAS == first || it.CAS == 0 {
		t.Fatalf("Gets after cas = %+v, %v; want a new CAS", it, err)
	}
	wantErr(t, "CompareAndSwap with old CAS",
		c.CompareAndSwap(&client.Item{Key: "cas:k", Value: []byte("v3"), CAS: first}), client.ErrCASConflict)
	wantErr(t, "CompareAndSwap with CAS 0",
		c.CompareAndSwap(&client.Item{Key: "cas:k", Value: []byte("v3")}), client.ErrCASConflict)
	wantValue(t, c, "cas:k", "v2", 6)
	wantErr(t, "CompareAndSwap absent",
		c.CompareAndSwap(&client.Item{Key: "cas:none", Value: []byte("v"), CAS: first}), client.ErrCacheMiss)
	mustSet(t, c, "cas:k", "v4", 0)
	wantErr(t, "CompareAndSwap after set",
		c.CompareAndSwap(&client.Item{Key: "cas:k", Value: []byte("v5"), CAS: it.CAS}), client.ErrCASConflict)
}

func testDelete(t *testing.T, c *client.Client) {
	mustSet(t, c, "del:k", "v", 0)
	if err := c.Delete("del:k"); err != nil {
		t.Fatalf("Delete present: %v", err)
	}
	wantMiss(t, c, "del:k")
	wantErr(t, "Delete absent", c.Delete("del:k"), client.ErrCacheMiss)
}

func testIncrDecr(t *testing.T, c *client.Client) {
	step := func(what string, got uint64, err error, want uint64) {
		t.Helper()
		if err != nil || got != want {
			t.Fatalf("%s = %d, %v; want %d", what, got, err, want)
		}
	}
	mustSet(t, c, "num:k", "10", 5)
	n, err := c.Increment("num:k", 5)
	step("Increment 10+5", n, err, 15)
	wantValue(t, c, "num:k", "15", 5) // flags kept
	n, err = c.Decrement("num:k", 3)
	step("Decrement 15-3", n, err, 12)
	n, err = c.Decrement("num:k", 100)
	step("Decrement 12-100", n, err, 0)
	n, err = c.Increment("num:k", 0)
	step("Increment 0+0", n, err, 0)
	mustSet(t, c, "num:k", "18446744073709551615", 0)
	n, err = c.Increment("num:k", 1)
	step("Increment max+1", n, err, 0)
	mustSet(t, c, "num:k", "18446744073709551615", 0)
	n, err = c.Increment("num:k", 2)
	step("Increment max+2", n, err, 1)
	n, err = c.Increment("num:k", 18446744073709551615)
	step("Increment 1+max", n, err, 0)

	_, err = c.Increment("num:none", 1)
	wantErr(t, "Increment absent", err, client.ErrCacheMiss)
	_, err = c.Decrement("num:none", 1)
	wantErr(t, "Decrement absent", err, client.ErrCacheMiss)

	mustSet(t, c, "num:text", "abc", 0)
	for _, op := range []func(string, uint64) (uint64, error){c.Increment, c.Decrement} {
		_, err = op("num:text", 1)
		var ce *client.ClientError
		if !errors.As(err, &ce) || ce.Msg != "cannot increment or decrement non-numeric value" {
			t.Fatalf("incr/decr on %q: err = %v, want *ClientError %q", "abc", err,
				"cannot increment or decrement non-numeric value")
		}
	}
	wantValue(t, c, "num:text", "abc", 0) // the connection was replaced; the item is unchanged
}

func testTouch(t *testing.T, c *client.Client) {
	mustSet(t, c, "touch:k", "v", 2)
	before, err := c.Gets("touch:k")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Touch("touch:k", 3600); err != nil {
		t.Fatalf("Touch present: %v", err)
	}
	after, err := c.Gets("touch:k")
	if err != nil || after.CAS != before.CAS || string(after.Value) != "v" || after.Flags != 2 {
		t.Fatalf("Gets after Touch = %+v, %v; want v, flags 2, CAS %d (touch keeps the CAS)", after, err, before.CAS)
	}
	wantErr(t, "Touch absent", c.Touch("touch:none", 3600), client.ErrCacheMiss)
	if err := c.Touch("touch:k", -1); err != nil {
		t.Fatalf("Touch -1: %v", err)
	}
	wantMiss(t, c, "touch:k") // a negative exptime expires the item at once
}

func testExpiration(t *testing.T, c *client.Client) {
	for _, tc := range []struct {
		exp     int32
		present bool
	}{
		{0, true},
		{3600, true},
		{2592000, true}, // 30 days: still relative
		{int32(time.Now().Add(time.Hour).Unix()), true}, // absolute, in the future
		{2592001, false}, // absolute: 1970-01-31, long past
		{-1, false},      // negative: expired at once
	} {
		key := fmt.Sprintf("exp:%d", tc.exp)
		if err := c.Set(&client.Item{Key: key, Value: []byte("v"), Expiration: tc.exp}); err != nil {
			t.Fatalf("Set with Expiration %d: %v", tc.exp, err)
		}
		if it, err := c.Get(key); (err == nil) != tc.present || (err != nil && !errors.Is(err, client.ErrCacheMiss)) {
			t.Errorf("Get after Set with Expiration %d = %v, %v; want present=%v", tc.exp, it, err, tc.present)
		}
	}
}

func testGetAndTouch(t *testing.T, c *client.Client) {
	mustSet(t, c, "gat:k", "v", 3)
	gets, err := c.Gets("gat:k")
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.GetAndTouch("gat:k", 3600)
	if err != nil || it.Key != "gat:k" || string(it.Value) != "v" || it.Flags != 3 || it.CAS != 0 {
		t.Fatalf("GetAndTouch = %+v, %v; want v, flags 3, CAS 0", it, err)
	}
	it, err = c.GetsAndTouch("gat:k", 3600)
	if err != nil || string(it.Value) != "v" || it.Flags != 3 || it.CAS != gets.CAS {
		t.Fatalf("GetsAndTouch = %+v, %v; want v, flags 3, CAS %d", it, err, gets.CAS)
	}
	_, err = c.GetsAndTouch("gat:none", 3600)
	wantErr(t, "GetsAndTouch absent", err, client.ErrCacheMiss)
	it, err = c.GetAndTouch("gat:k", -1)
	if err != nil || string(it.Value) != "v" {
		t.Fatalf("GetAndTouch -1 = %+v, %v; want the value as before the touch", it, err)
	}
	wantMiss(t, c, "gat:k")
}

func testGetMulti(t *testing.T, c *client.Client) {
	var keys []string
	owners := map[string]bool{}
	for i := range 60 {
		key := fmt.Sprintf("multi:%d", i)
		mustSet(t, c, key, "value-"+key, uint32(i))
		keys = append(keys, key)
		owner, err := c.ServerFor(key)
		if err != nil {
			t.Fatal(err)
		}
		owners[owner] = true
	}
	if n := len(c.Servers()); len(owners) != n {
		t.Fatalf("60 keys landed on %d of %d servers", len(owners), n)
	}
	ask := append(append([]string{}, keys...), "multi:none1", keys[0], "multi:none2", keys[1])
	for _, gets := range []bool{false, true} {
		get := c.GetMulti
		if gets {
			get = c.GetsMulti
		}
		items, err := get(ask)
		if err != nil || len(items) != len(keys) {
			t.Fatalf("gets=%v: %d items, %v; want %d", gets, len(items), err, len(keys))
		}
		for i, key := range keys {
			it := items[key]
			if it == nil || it.Key != key || string(it.Value) != "value-"+key || it.Flags != uint32(i) ||
				(it.CAS != 0) != gets {
				t.Fatalf("gets=%v: items[%q] = %+v", gets, key, it)
			}
		}
	}
	// Each key is where ServerFor says: ask its server alone.
	for _, key := range keys[:10] {
		owner, _ := c.ServerFor(key)
		reply, err := c.Do(owner, []byte("get "+key+"\r\n"))
		want := fmt.Sprintf("VALUE %s %s %d\r\nvalue-%s\r\nEND\r\n", key, key[len("multi:"):], len("value-"+key), key)
		if err != nil || string(reply) != want {
			t.Fatalf("raw get %s from %s = %q, %v; want %q", key, owner, reply, err, want)
		}
	}
	if items, err := c.GetMulti(nil); err != nil || len(items) != 0 {
		t.Fatalf("GetMulti(nil) = %v, %v; want empty", items, err)
	}
}

// badKeys are keys the client must refuse before any I/O.
var badKeys = []string{"", strings.Repeat("k", 251), "a b", "a\nb", "a\r", "a\x00", "a\x7f", "tab\t", "\x01"}

func testMalformedKeys(t *testing.T, c *client.Client) {
	for _, key := range badKeys {
		for _, err := range callsWithKey(c, key) {
			if !errors.Is(err, client.ErrMalformedKey) {
				t.Errorf("key %q: err = %v, want ErrMalformedKey", key, err)
			}
		}
	}
}

// callsWithKey calls every method that takes a key with key and returns the
// errors.
func callsWithKey(c *client.Client, key string) []error {
	it := &client.Item{Key: key, Value: []byte("v")}
	nr := c.NoReply()
	errs := []error{
		c.Set(it), c.Add(it), c.Replace(it), c.Append(it), c.Prepend(it), c.CompareAndSwap(it),
		c.Delete(key), c.Touch(key, 1),
		nr.Set(it), nr.Add(it), nr.Replace(it), nr.Append(it), nr.Prepend(it), nr.CompareAndSwap(it),
		nr.Delete(key), nr.Touch(key, 1), nr.Increment(key, 1), nr.Decrement(key, 1),
	}
	collect := func(_ any, err error) { errs = append(errs, err) }
	collect(c.Get(key))
	collect(c.Gets(key))
	collect(c.GetAndTouch(key, 1))
	collect(c.GetsAndTouch(key, 1))
	collect(c.GetMulti([]string{"fine", key}))
	collect(c.GetsMulti([]string{key}))
	collect(c.Increment(key, 1))
	collect(c.Decrement(key, 1))
	collect(c.ServerFor(key))
	return errs
}

func testNoReply(t *testing.T, c *client.Client) {
	nr := c.NoReply()
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("NoReply %s: %v", what, err)
		}
	}
	check("Set", nr.Set(&client.Item{Key: "nr:k", Value: []byte("v1"), Flags: 4}))
	wantValue(t, c, "nr:k", "v1", 4)
	check("Add present", nr.Add(&client.Item{Key: "nr:k", Value: []byte("no")})) // NOT_STORED, unseen
	wantValue(t, c, "nr:k", "v1", 4)
	check("Add absent", nr.Add(&client.Item{Key: "nr:a", Value: []byte("added")}))
	wantValue(t, c, "nr:a", "added", 0)
	check("Replace", nr.Replace(&client.Item{Key: "nr:k", Value: []byte("v2"), Flags: 8}))
	wantValue(t, c, "nr:k", "v2", 8)
	check("Append", nr.Append(&client.Item{Key: "nr:k", Value: []byte(">")}))
	check("Prepend", nr.Prepend(&client.Item{Key: "nr:k", Value: []byte("<")}))
	wantValue(t, c, "nr:k", "<v2>", 8)
	it, err := c.Gets("nr:k")
	if err != nil {
		t.Fatal(err)
	}
	check("CompareAndSwap", nr.CompareAndSwap(&client.Item{Key: "nr:k", Value: []byte("v3"), CAS: it.CAS}))
	wantValue(t, c, "nr:k", "v3", 0)
	check("CompareAndSwap stale", nr.CompareAndSwap(&client.Item{Key: "nr:k", Value: []byte("no"), CAS: it.CAS}))
	wantValue(t, c, "nr:k", "v3", 0)
	mustSet(t, c, "nr:n", "10", 0)
	check("Increment", nr.Increment("nr:n", 5))
	check("Decrement", nr.Decrement("nr:n", 2))
	wantValue(t, c, "nr:n", "13", 0)
	check("Touch", nr.Touch("nr:a", -1))
	wantMiss(t, c, "nr:a")
	check("Delete", nr.Delete("nr:k"))
	wantMiss(t, c, "nr:k")
	check("Delete absent", nr.Delete("nr:k")) // NOT_FOUND, unseen
	check("Verbosity", nr.Verbosity(0))
	if _, err := c.Version(); err != nil {
		t.Fatalf("Version after noreply verbosity: %v", err)
	}
	check("FlushAll", nr.FlushAll(0))
	wantMiss(t, c, "nr:n")
}
