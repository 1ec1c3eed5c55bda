package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// listeningItems returns the items= figure of the listening line.
func listeningItems(t *testing.T, p *servertest.Process) int {
	t.Helper()
	line := listeningLine(t, p)
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "items="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("listening line %q: bad items=", line)
			}
			return n
		}
	}
	t.Fatalf("no items= in the listening line %q", line)
	return 0
}

// TestRestartKeepsValues stores items, stops the server with SIGTERM and
// starts it again on the same file: values, flags, CAS values and expiry
// survive, and new CAS values are larger than every old one.
func TestRestartKeepsValues(t *testing.T) {
	path := newDataFile(t)
	items := []*memcache.Item{
		{Key: "plain", Value: []byte("hello")},
		{Key: "flags", Value: []byte("with flags"), Flags: 4294967295},
		{Key: "long-expiry", Value: []byte("expires in a day"), Flags: 3, Expiration: int32(time.Now().Add(24 * time.Hour).Unix())},
		{Key: "relative-expiry", Value: []byte("expires in an hour"), Expiration: 3600},
		{Key: "binary", Value: []byte("\x00\r\nEND\r\n\xff"), Flags: 1},
		{Key: "empty", Value: []byte{}},
		{Key: "large", Value: bytes.Repeat([]byte("0123456789"), 90000)},
		{Key: strings.Repeat("k", 250), Value: []byte("long key")},
	}

	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	if n := listeningItems(t, p); n != 0 {
		t.Fatalf("a new file reports items=%d, want 0", n)
	}
	mc := newGomemcache(t, p.Addr)
	for _, it := range items {
		if err := mc.Set(it); err != nil {
			t.Fatalf("Set(%.20s): %v", it.Key, err)
		}
	}
	// Writes other than set, and items that must not come back.
	if err := mc.Set(&memcache.Item{Key: "counter", Value: []byte("41"), Flags: 2}); err != nil {
		t.Fatal(err)
	}
	if n, err := mc.Increment("counter", 1000); err != nil || n != 1041 {
		t.Fatalf("Increment = %d, %v; want 1041", n, err)
	}
	if err := mc.Set(&memcache.Item{Key: "affixed", Value: []byte("mid")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Append(&memcache.Item{Key: "affixed", Value: []byte(">")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Prepend(&memcache.Item{Key: "affixed", Value: []byte("<")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Set(&memcache.Item{Key: "deleted", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Delete("deleted"); err != nil {
		t.Fatal(err)
	}
	if err := mc.Set(&memcache.Item{Key: "expired", Value: []byte("x"), Expiration: -1}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Set(&memcache.Item{Key: "touched-away", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := mc.Touch("touched-away", -1); err != nil {
		t.Fatal(err)
	}
	items = append(items,
		&memcache.Item{Key: "counter", Value: []byte("1041"), Flags: 2},
		&memcache.Item{Key: "affixed", Value: []byte("<mid>")})
	gone := []string{"deleted", "expired", "touched-away"}

	before := make(map[string]*memcache.Item)
	var maxCAS uint64
	for _, it := range items {
		got := gmGet(t, mc, it.Key, it.Value, it.Flags)
		before[it.Key] = got
		maxCAS = max(maxCAS, got.CasID)
	}
	if err := mc.Close(); err != nil {
		t.Fatal(err)
	}
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}

	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	// Expired items may still be in the file until they are swept, so
	// items= is between the live items and the live and expired ones.
	if n := listeningItems(t, p); n < len(items) || n > len(items)+2 {
		t.Errorf("after restart items=%d, want %d live items (+2 expired at most)", n, len(items))
	}
	mc = newGomemcache(t, p.Addr)
	for _, it := range items {
		got := gmGet(t, mc, it.Key, it.Value, it.Flags)
		if b := before[it.Key]; got.CasID != b.CasID {
			t.Errorf("CAS of %.20s changed over the restart from %d to %d", it.Key, b.CasID, got.CasID)
		}
	}
	for _, k := range gone {
		gmMiss(t, mc, k)
	}

	// A client may hold a CAS across the restart.
	old := before["plain"]
	old.Value = []byte("swapped after restart")
	if err := mc.CompareAndSwap(old); err != nil {
		t.Errorf("CompareAndSwap with the CAS read before the restart: %v", err)
	}
	// New CAS values are above every one handed out before.
	if err := mc.Set(&memcache.Item{Key: "new", Value: []byte("n")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"new", "plain"} {
		it, err := mc.Get(k)
		if err != nil {
			t.Fatalf("Get(%s): %v", k, err)
		}
		if it.CasID <= maxCAS {
			t.Errorf("CAS of %s written after the restart = %d, want more than %d (the largest before)", k, it.CasID, maxCAS)
		}
	}
}

// TestKillNineAfterStored writes over a raw connection and SIGKILLs the
// server right after a STORED reply, at a random point, a few times: after
// each restart every acknowledged write is there. A second connection keeps
// a pipeline of writes in flight at the moment of the kill: those
// acknowledged must be there, the others may or may not be.
//
// A SIGKILL loses no data the process has written to the file, fsynced or
// not, so this holds for --sync none too. (What --sync always adds, surviving
// a machine crash, cannot be tested this way.)
func TestKillNineAfterStored(t *testing.T) {
	for _, sync := range []string{"always", "none"} {
		t.Run("sync="+sync, func(t *testing.T) { testKillNineAfterStored(t, "--sync", sync) })
	}
}

func testKillNineAfterStored(t *testing.T, args ...string) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	path := newDataFile(t)

	const keys = 50 // sequential writes cycle over these keys
	last := make(map[string]string)
	var flying []string // pipelined keys: present if acknowledged, else absent or complete
	acked := make(map[string]bool)
	seq := 0

	for round := 1; round <= 3; round++ {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path, Args: args})

		// Check everything acknowledged before the last kill.
		w := dialWire(t, p.Addr)
		for k, v := range last {
			w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 7 %d\r\n%s\r\nEND\r\n", k, len(v), v))
		}
		for _, k := range flying {
			want := fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(k), k)
			w.send("get " + k + "\r\n")
			switch l := w.line(); {
			case acked[k] && l == "END\r\n":
				t.Fatalf("round %d: acknowledged pipelined write %s lost", round, k)
			case l == "END\r\n":
			default:
				rest := l + w.line() + w.line()
				if rest != want {
					t.Fatalf("round %d: get %s:\n got %q\nwant %q", round, k, rest, want)
				}
			}
		}

		// A second connection pipelines writes to its own keys, and
		// records which it has seen acknowledged.
		pipe := dialWire(t, p.Addr)
		pipeDone := make(chan []string, 1)
		prefix := fmt.Sprintf("pipe%d-", round)
		go func() {
			// Runs until the kill breaks the connection; it must not use
			// t.Fatal, so it reports through the channel.
			var ok []string
			defer func() { pipeDone <- ok }()
			for i := 0; ; i += 8 {
				var b strings.Builder
				for j := i; j < i+8; j++ {
					k := prefix + strconv.Itoa(j)
					fmt.Fprintf(&b, "set %s 0 0 %d\r\n%s\r\n", k, len(k), k)
				}
				pipe.nc.SetDeadline(time.Now().Add(wireTimeout))
				if _, err := pipe.nc.Write([]byte(b.String())); err != nil {
					return
				}
				for j := i; j < i+8; j++ {
					l, err := pipe.r.ReadString('\n')
					if err != nil || l != "STORED\r\n" {
						return
					}
					ok = append(ok, prefix+strconv.Itoa(j))
				}
			}
		}()

		killAt := 100 + rng.IntN(200)
		for i := 0; i < killAt; i++ {
			seq++
			k := "seq" + strconv.Itoa(seq%keys)
			v := fmt.Sprintf("value-%d-%s", seq, strings.Repeat("x", rng.IntN(100)))
			w.expect(fmt.Sprintf("set %s 7 0 %d\r\n%s\r\n", k, len(v), v), "STORED\r\n")
			last[k] = v
		}
		if code := p.Stop(syscall.SIGKILL); code != -1 || p.Signaled() != syscall.SIGKILL {
			t.Fatalf("round %d: exit status %d, signal %v; want killed by SIGKILL", round, code, p.Signaled())
		}
		var ok []string
		select {
		case ok = <-pipeDone:
		case <-time.After(wireTimeout):
			t.Fatalf("round %d: the pipelining connection did not end after the kill", round)
		}
		t.Logf("round %d: killed after %d sequential and %d pipelined acknowledged writes", round, killAt, len(ok))
		for _, k := range ok {
			acked[k] = true
		}
		// The acknowledged keys and the next ones, which may have been
		// in flight.
		flying = append(flying, ok...)
		for j := len(ok); j < len(ok)+16; j++ {
			flying = append(flying, prefix+strconv.Itoa(j))
		}
	}

	// A final clean restart: everything is still there.
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path, Args: args})
	w := dialWire(t, p.Addr)
	for k, v := range last {
		w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 7 %d\r\n%s\r\nEND\r\n", k, len(v), v))
	}
	for k := range acked {
		w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(k), k))
	}
	if n := listeningItems(t, p); n < len(last)+len(acked) {
		t.Errorf("items=%d after the kills, want at least %d", n, len(last)+len(acked))
	}
}
