package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestTwemproxyScaleOut puts two memcached-lite servers behind twemproxy and
// runs a workload through it with the client package, with exact results.
// Then it asks each server directly which keys it holds: both hold some,
// and each key is on the server the client package's ketama picks for the
// two-server list, so clients that hash for themselves and clients that go
// through the proxy share the servers.
func TestTwemproxyScaleOut(t *testing.T) {
	a, b := servertest.StartBinary(t, servertest.BinaryOptions{}), servertest.StartBinary(t, servertest.BinaryOptions{})
	proxy := servertest.StartTwemproxy(t, servertest.TwemproxyServer{Addr: a.Addr}, servertest.TwemproxyServer{Addr: b.Addr}).Addr
	c, err := client.NewWithOptions(client.Options{Timeout: 5 * time.Second}, client.Server{Addr: proxy})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	keys := make([]string, 60)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
		if err := c.Set(&client.Item{Key: keys[i], Value: []byte("v" + fmt.Sprint(i)), Flags: uint32(i)}); err != nil {
			t.Fatalf("Set %s through twemproxy: %v", keys[i], err)
		}
	}
	for i, k := range keys {
		it, err := c.Get(k)
		if err != nil || string(it.Value) != "v"+fmt.Sprint(i) || it.Flags != uint32(i) {
			t.Fatalf("Get %s through twemproxy: %+v, %v", k, it, err)
		}
	}
	items, err := c.GetMulti(keys) // twemproxy splits it between the servers
	if err != nil || len(items) != len(keys) {
		t.Fatalf("GetMulti of %d keys through twemproxy: %d items, %v", len(keys), len(items), err)
	}
	for i, k := range keys {
		if it := items[k]; it == nil || string(it.Value) != "v"+fmt.Sprint(i) {
			t.Fatalf("GetMulti: %s = %+v", k, it)
		}
	}

	wantErr := func(what string, got, want error) {
		t.Helper()
		if !errors.Is(got, want) {
			t.Fatalf("%s through twemproxy: %v, want %v", what, got, want)
		}
	}
	wantErr("Add of an existing key", c.Add(&client.Item{Key: "user:0", Value: []byte("x")}), client.ErrNotStored)
	wantErr("Add of a new key", c.Add(&client.Item{Key: "new:0", Value: []byte("x")}), nil)
	wantErr("Replace of a missing key", c.Replace(&client.Item{Key: "missing", Value: []byte("x")}), client.ErrNotStored)
	wantErr("Append", c.Append(&client.Item{Key: "user:1", Value: []byte("+")}), nil)
	wantErr("Prepend", c.Prepend(&client.Item{Key: "user:1", Value: []byte("-")}), nil)
	if it, err := c.Get("user:1"); err != nil || string(it.Value) != "-v1+" {
		t.Fatalf("Get user:1 after append and prepend: %+v, %v", it, err)
	}
	it, err := c.Gets("user:2")
	if err != nil {
		t.Fatal(err)
	}
	it.Value = []byte("swapped")
	wantErr("CompareAndSwap", c.CompareAndSwap(it), nil)
	wantErr("a second CompareAndSwap", c.CompareAndSwap(it), client.ErrCASConflict)
	wantErr("Touch", c.Touch("user:3", 100), nil)
	wantErr("Touch of a missing key", c.Touch("missing", 100), client.ErrCacheMiss)

	for i := range 10 {
		k := fmt.Sprintf("counter:%d", i)
		wantErr("Set "+k, c.Set(&client.Item{Key: k, Value: []byte("10")}), nil)
		if n, err := c.Increment(k, uint64(i)); err != nil || n != uint64(10+i) {
			t.Fatalf("Increment %s by %d: %d, %v; want %d", k, i, n, err, 10+i)
		}
		if n, err := c.Decrement(k, 15); err != nil || n != uint64(max(0, 10+i-15)) {
			t.Fatalf("Decrement %s by 15: %d, %v; want %d", k, n, err, max(0, 10+i-15))
		}
		keys = append(keys, k)
	}
	_, err = c.Increment("missing", 1)
	wantErr("Increment of a missing key", err, client.ErrCacheMiss)

	var deleted []string
	for i := 0; i < 60; i += 6 {
		k := keys[i]
		wantErr("Delete "+k, c.Delete(k), nil)
		wantErr("Delete "+k+" again", c.Delete(k), client.ErrCacheMiss)
		_, err := c.Get(k)
		wantErr("Get "+k+" after Delete", err, client.ErrCacheMiss)
		deleted = append(deleted, k)
	}
	// noreply works through the proxy, and so does the version request the
	// client sends after it.
	wantErr("NoReply().Set", c.NoReply().Set(&client.Item{Key: "quiet", Value: []byte("q")}), nil)
	if it, err := c.Get("quiet"); err != nil || string(it.Value) != "q" {
		t.Fatalf("Get quiet after a noreply set: %+v, %v", it, err)
	}
	keys = append(keys, "new:0", "quiet")

	// Where did twemproxy put each key?
	ring := client.New(a.Addr, b.Addr)
	defer ring.Close()
	perServer := map[string]int{}
	for _, addr := range []string{a.Addr, b.Addr} {
		direct := client.New(addr)
		items, err := direct.GetMulti(append(slices.Clone(keys), deleted...))
		direct.Close()
		if err != nil {
			t.Fatalf("GetMulti from %s: %v", addr, err)
		}
		for k := range items {
			if slices.Contains(deleted, k) {
				t.Errorf("deleted key %s is on %s", k, addr)
			}
			owner, err := ring.ServerFor(k)
			if err != nil {
				t.Fatal(err)
			}
			if owner != addr {
				t.Errorf("%s is on %s; the client package's ketama picks %s", k, addr, owner)
			}
			perServer[addr]++
		}
	}
	if perServer[a.Addr]+perServer[b.Addr] != len(keys)-len(deleted) {
		t.Errorf("found %d keys on the servers, want %d", perServer[a.Addr]+perServer[b.Addr], len(keys)-len(deleted))
	}
	if perServer[a.Addr] == 0 || perServer[b.Addr] == 0 {
		t.Errorf("keys per server %v: want keys on both", perServer)
	}
	t.Logf("keys per server: %v", perServer)

	// The REPL works through the proxy too.
	replExpect(t, "STORED\nhello world\nSTORED\n42\nuser:1: -v1+ (flags=1)\nuser:2: swapped (flags=2)\n", 0,
		"set greeting \"hello world\"\nget greeting\nset n 41\nincr n\nget user:1 user:2\n", "-s", proxy)
	// twemproxy does not forward stats: it closes the connection.
	out, errOut, code := servertest.Run(t, "stats\n", "client", "-s", proxy)
	wantStderr := "client: raw " + proxy + ": unexpected EOF\n(the server closed the connection without a reply: " +
		"it may have stopped, or it is twemproxy, which does that for commands it does not forward, such as stats and flush_all)\n"
	if out != "" || errOut != wantStderr || code != 1 {
		t.Errorf("client stats through twemproxy: stdout %q, stderr %q, status %d; want nothing, %q, 1", out, errOut, code, wantStderr)
	}
}

// TestTwemproxyCommands records which commands twemproxy 0.5 forwards to
// memcached-lite and which it refuses: for those it closes the connection
// without a reply.
func TestTwemproxyCommands(t *testing.T) {
	a, b := servertest.StartBinary(t, servertest.BinaryOptions{}), servertest.StartBinary(t, servertest.BinaryOptions{})
	proxy := servertest.StartTwemproxy(t, servertest.TwemproxyServer{Addr: a.Addr}, servertest.TwemproxyServer{Addr: b.Addr}).Addr
	for _, tc := range []struct {
		send string
		want string // "" means: the proxy closes the connection, sending nothing
	}{
		{"set k 0 0 1\r\n5\r\n", "STORED\r\n"},
		{"get k\r\n", "VALUE k 0 1\r\n5\r\nEND\r\n"},
		{"get k missing\r\n", "VALUE k 0 1\r\n5\r\nEND\r\n"},
		{"add k 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"replace k 0 0 1\r\n6\r\n", "STORED\r\n"},
		{"append k 0 0 1\r\n0\r\n", "STORED\r\n"},
		{"prepend k 0 0 1\r\n1\r\n", "STORED\r\n"},
		{"incr k 4\r\n", "164\r\n"},
		{"decr k 100\r\n", "64\r\n"},
		{"touch k 100\r\n", "TOUCHED\r\n"},
		{"cas k 0 0 1 1\r\nx\r\n", "EXISTS\r\n"},
		{"delete k\r\n", "DELETED\r\n"},
		{"delete k noreply\r\nget k\r\n", "END\r\n"},
		{"set q 0 0 1 noreply\r\nq\r\nget q\r\n", "VALUE q 0 1\r\nq\r\nEND\r\n"},
		{"version\r\n", "VERSION "}, // a prefix: the backend's version follows
		{"gat 100 k\r\n", ""},
		{"gats 100 k\r\n", ""},
		{"stats\r\n", ""},
		{"stats settings\r\n", ""},
		{"flush_all\r\n", ""},
		{"verbosity 1\r\n", ""},
		{"mn\r\n", ""},
		{"mg q v\r\n", ""},
		{"quit\r\n", ""},
		{"shutdown\r\n", ""},
		{"bogus\r\n", ""},
	} {
		nc, err := net.DialTimeout("tcp", proxy, wireTimeout)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.SetDeadline(time.Now().Add(wireTimeout)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(nc, tc.send); err != nil {
			t.Fatal(err)
		}
		var got []byte
		if tc.want == "" {
			got, err = io.ReadAll(nc)
			if err != nil || len(got) > 0 {
				t.Errorf("send %q: got %q, %v; want the connection closed with no reply", tc.send, got, err)
			}
		} else {
			got = make([]byte, len(tc.want))
			if _, err := io.ReadFull(nc, got); err != nil || string(got) != tc.want {
				t.Errorf("send %q:\n got %q (%v)\nwant %q", tc.send, got, err, tc.want)
			}
		}
		nc.Close()
	}
}
