package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestMetaSurvivesKill stores items with the meta commands (T ttl, F
// flags, md I invalidation and the win token mg hands out, a base64 key,
// an ma counter made by N), kills the server with SIGKILL and restarts it
// on the same file: every mg reply, CAS, flags, X and Z marks and k's
// base64 included, is byte for byte what it was before the kill, and the
// TTL is the same within the second that may have ticked.
func TestMetaSurvivesKill(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	w := dialWire(t, p.Addr)
	w.expect("ms a 5 T1000 F42\r\nhello\r\n", "HD\r\n")
	w.expect("ms b 3 F7 MS\r\nbcd\r\n", "HD\r\n")
	w.expect("ms c 1 T1000\r\nx\r\n", "HD\r\n")
	w.expect("md c I T500\r\n", "HD\r\n")
	w.expect("mg c\r\n", "HD X W\r\n") // this read wins the token
	w.expect("ms Zm9v 3 b\r\nbar\r\n", "HD\r\n")
	w.expect("ma n N0 J10 v\r\n", "VA 2\r\n10\r\n")
	w.expect("ma n D5 MD v\r\n", "VA 1\r\n5\r\n")

	reads := []string{"mg a v c f s k", "mg b v c f s k", "mg c v c f s k", "mg Zm9v b v c f k", "mg n v c f k"}
	before := make([]string, len(reads))
	ttls := make([]int, len(reads))
	for i, r := range reads {
		before[i], ttls[i] = metaRead(w, r)
	}
	for i, want := range []string{"VA 5 c\\d+ f42 s5 ka\r\nhello\r\n", "VA 3 c\\d+ f7 s3 kb\r\nbcd\r\n",
		"VA 1 c\\d+ f0 s1 kc Z X\r\nx\r\n", "VA 3 c\\d+ f0 kZm9v b\r\nbar\r\n", "VA 2 c\\d+ f0 kn\r\n5 \r\n"} {
		if !regexp.MustCompile("^" + want + "$").MatchString(before[i]) {
			t.Fatalf("%s before the kill: got %q, want %q", reads[i], before[i], want)
		}
	}
	if ttls[0] < 999 || ttls[2] < 499 || ttls[2] > 500 || ttls[1] != -1 {
		t.Fatalf("TTLs before the kill: %v", ttls)
	}

	p.Stop(syscall.SIGKILL)
	p = p.Restart(t)
	w = dialWire(t, p.Addr)
	for i, r := range reads {
		got, ttl := metaRead(w, r)
		if got != before[i] {
			t.Errorf("%s after the kill:\n got %q\nwant %q", r, got, before[i])
		}
		if ttl != ttls[i] && ttl != ttls[i]-1 {
			t.Errorf("%s t after the kill: %d, before %d", r, ttl, ttls[i])
		}
	}
	// The token stays handed out, and the item stale, until a set.
	w.expect("ms c 1\r\ny\r\n", "HD\r\n")
	w.expect("mg c v\r\n", "VA 1\r\ny\r\n")
}

// metaRead sends an mg with v (and no t) and returns the whole reply, and
// the item's TTL read with a second mg.
func metaRead(w *wire, req string) (string, int) {
	w.t.Helper()
	w.send(req + "\r\n")
	head := w.line()
	reply := head
	if strings.HasPrefix(head, "VA ") {
		reply += w.line()
	}
	f := strings.Fields(req)
	key, extra := f[1], ""
	if slices.Contains(f[2:], "b") {
		extra = " b"
	}
	w.send("mg " + key + extra + " t\r\n")
	l := w.line()
	ttl, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(strings.Fields(l)[1], "t"), "\r\n"))
	if err != nil {
		w.t.Fatalf("mg %s t: %q", key, l)
	}
	return reply, ttl
}
