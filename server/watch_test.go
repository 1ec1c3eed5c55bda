package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/storage"
)

// startWatch opens a connection that watches what and returns its reader,
// after the OK.
func startWatch(t testing.TB, addr, what string, d net.Dialer) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "watch "+what+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if l, err := br.ReadString('\n'); l != "OK\r\n" {
		t.Fatalf("watch %s: got %q (%v), want OK", what, l, err)
	}
	return c, br
}

// field returns the value of name=value in an event line.
func field(line, name string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestWatchThreeClients: one watcher, two writers. Every write appears in
// the watch stream exactly once, in commit order (the order of the CAS
// values the store gave the writes).
func TestWatchThreeClients(t *testing.T) {
	addr := startServer(t, server.Options{})
	_, wr := startWatch(t, addr, "mutations", net.Dialer{})
	const perWriter = 300
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		c := dial(t, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Pipelined in batches, so that the two writers' writes share commits.
			br := bufio.NewReader(c)
			for i := 0; i < perWriter; i += 30 {
				var b strings.Builder
				for j := i; j < i+30; j++ {
					fmt.Fprintf(&b, "set %s:%d 0 0 1\r\nx\r\n", name, j)
				}
				if _, err := io.WriteString(c, b.String()); err != nil {
					t.Error(err)
					return
				}
				for range 30 {
					if l, err := br.ReadString('\n'); l != "STORED\r\n" {
						t.Errorf("writer %s: got %q (%v)", name, l, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	var stream []string
	for len(stream) < 2*perWriter {
		l, err := wr.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", len(stream), err)
		}
		if field(l, "type") != "item_store" || field(l, "status") != "stored" {
			t.Fatalf("unexpected event %q", l)
		}
		stream = append(stream, field(l, "key"))
	}
	// The commit order, from the CAS of each key (each was written once).
	c := dial(t, addr)
	type kc struct {
		key string
		cas uint64
	}
	var order []kc
	br := bufio.NewReader(c)
	for _, name := range []string{"a", "b"} {
		for i := range perWriter {
			k := fmt.Sprintf("%s:%d", name, i)
			fmt.Fprintf(c, "gets %s\r\n", k)
			l, _ := br.ReadString('\n')
			f := strings.Fields(l)
			if len(f) != 5 {
				t.Fatalf("gets %s: %q", k, l)
			}
			cas, _ := strconv.ParseUint(f[4], 10, 64)
			br.ReadString('\n')
			br.ReadString('\n')
			order = append(order, kc{k, cas})
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].cas < order[j].cas })
	for i := range order {
		if want := strings.ReplaceAll(order[i].key, ":", "%3A"); stream[i] != want {
			t.Fatalf("event %d is for %s, but the write committed %d-th is %s", i, stream[i], i, want)
		}
	}
}

// TestWatchStalledWatcher: a watcher that never reads does not hold up
// the writers; its buffer stays bounded, what it loses is counted, and
// when it reads again it gets a skipped=N line: the lines it got plus N
// are every event.
func TestWatchStalledWatcher(t *testing.T) {
	const buf = 4096
	addr, _ := startServerStore(t, server.Options{WatchBuffer: buf}, storage.Options{Sync: storage.SyncNone})
	// A small receive buffer on the watcher's side, so that the kernel
	// holds few of the lines the server writes.
	small := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	_, wr := startWatch(t, addr, "mutations", small)
	const perWriter, batch = 20000, 1000
	start := time.Now()
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b"} {
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(60 * time.Second))
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := bufio.NewReader(c)
			for i := 0; i < perWriter; i += batch {
				var b strings.Builder
				for j := i; j < i+batch; j++ {
					fmt.Fprintf(&b, "set %s%d 0 0 1 noreply\r\nx\r\n", name, j)
				}
				b.WriteString("mn\r\n")
				if _, err := io.WriteString(c, b.String()); err != nil {
					t.Error(err)
					return
				}
				if l, err := br.ReadString('\n'); l != "MN\r\n" {
					t.Errorf("writer %s: got %q (%v)", name, l, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	t.Logf("%d writes with a stalled watcher took %v", 2*perWriter, took)
	// More writes, last0, last1, ..., until one reaches the watcher: those
	// made while its buffer is still full are dropped too, and the first
	// that gets in carries the skipped line.
	stop := make(chan struct{})
	produced := make(chan error, 1)
	c := dial(t, addr)
	go func() {
		br := bufio.NewReader(c)
		for i := 0; ; i++ {
			select {
			case <-stop:
				produced <- nil
				return
			default:
			}
			fmt.Fprintf(c, "set last%d 0 0 1\r\nx\r\n", i)
			if l, err := br.ReadString('\n'); l != "STORED\r\n" {
				produced <- fmt.Errorf("set last%d: %q (%v)", i, l, err)
				return
			}
		}
	}()
	var got, skipped, k int
	for {
		l, err := wr.ReadString('\n')
		if err != nil {
			t.Fatalf("after %d events: %v", got, err)
		}
		if n, ok := strings.CutPrefix(l, "skipped="); ok {
			v, err := strconv.Atoi(strings.TrimSuffix(n, "\n"))
			if err != nil {
				t.Fatalf("bad skipped line %q", l)
			}
			skipped += v
			continue
		}
		if key, ok := strings.CutPrefix(field(l, "key"), "last"); ok {
			k, _ = strconv.Atoi(key)
			break
		}
		got++
	}
	close(stop)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if skipped == 0 {
		t.Fatalf("no skipped line; got %d of %d events", got, 2*perWriter)
	}
	// Every write before last<k> was either sent or counted as skipped.
	if got+skipped != 2*perWriter+k {
		t.Errorf("got %d events and skipped=%d in all before last%d: %d, want %d", got, skipped, k, got+skipped, 2*perWriter+k)
	}
}

// BenchmarkSetWatched measures a set round trip with no watcher and with
// one that reads every event, side by side: a watcher should cost the
// writers nothing measurable.
func BenchmarkSetWatched(b *testing.B) {
	for _, watched := range []bool{false, true} {
		b.Run(map[bool]string{false: "none", true: "watcher"}[watched], func(b *testing.B) {
			addr, _ := startServerStore(b, server.Options{}, storage.Options{Sync: storage.SyncNone})
			if watched {
				c, wr := startWatch(b, addr, "fetchers mutations", net.Dialer{})
				c.SetDeadline(time.Time{})
				done := make(chan struct{})
				go func() { io.Copy(io.Discard, wr); close(done) }()
				b.Cleanup(func() { c.Close(); <-done })
			}
			c := dial(b, addr)
			c.SetDeadline(time.Time{})
			br := bufio.NewReader(c)
			b.ReportAllocs()
			for b.Loop() {
				io.WriteString(c, "set k 0 0 2\r\nhi\r\n")
				if l, err := br.ReadString('\n'); l != "STORED\r\n" {
					b.Fatalf("got %q (%v)", l, err)
				}
			}
		})
	}
}
