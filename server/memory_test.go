package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// serveInternal starts a server for a white-box test (servertest imports
// this package, so it cannot serve here).
func serveInternal(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	st, err := storage.Open(filepath.Join(t.TempDir(), "db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(st, opts)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-served
		if err := st.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
	})
	return s, ln.Addr().String()
}

// waitRead waits until the server has read n bytes from its clients.
func waitRead(t *testing.T, s *Server, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.sumStats()[bytesRead] < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the server read %d bytes of %d in 20 s", s.sumStats()[bytesRead], n)
		}
		time.Sleep(5 * time.Millisecond) // polling the server's own count
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func dialN(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns
}

// TestTricklingValuesAreBounded: 200 clients each start a 1 MB set and send
// a quarter of it. The server holds what the read budget allows, not a
// buffer of the whole value each: the old server held 200 MiB here.
func TestTricklingValuesAreBounded(t *testing.T) {
	const limit, clients, sent = 8 << 20, 200, 256 << 10
	s, addr := serveInternal(t, Options{ReadBufferLimit: limit})
	before := heapInUse()
	part := strings.Repeat("v", sent)
	var total uint64
	for i, c := range dialN(t, addr, clients) {
		msg := fmt.Sprintf("set k%d 0 0 %d\r\n%s", i, 1000000, part)
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		total += uint64(len(msg))
	}
	waitRead(t, s, total)
	grew := int64(heapInUse()) - int64(before)
	t.Logf("200 clients a quarter through a 1 MB set: heap +%.1f MiB, budget %d MiB in use %.1f MiB", float64(grew)/(1<<20), limit>>20, float64(s.mem.inUse())/(1<<20))
	// Each connection has 32 KiB of buffers, a small data buffer and its
	// goroutine; the values share the budget.
	if bound := int64(limit + clients*64<<10); grew > bound*3/2 {
		t.Errorf("200 clients each a quarter through a 1 MB set: the heap grew %d MiB, want under %d MiB (%d MiB budget)", grew>>20, bound*3/2>>20, limit>>20)
	}
	if used := s.mem.inUse(); used > limit {
		t.Errorf("the budget holds %d bytes, more than its %d", used, limit)
	}
}

// TestOutOfMemoryReply: a value that does not fit in what the budget has
// left is read, dropped and answered as memcached answers a set it has no
// memory for; the old value is removed, and the budget comes back.
func TestOutOfMemoryReply(t *testing.T) {
	s, addr := serveInternal(t, Options{ReadBufferLimit: 1 << 20})
	conns := dialN(t, addr, 2)
	a, b := conns[0], conns[1]
	first := fmt.Sprintf("set a 0 0 900000\r\n%s", strings.Repeat("a", 800000))
	if _, err := io.WriteString(a, first); err != nil {
		t.Fatal(err)
	}
	waitRead(t, s, uint64(len(first)))
	v := strings.Repeat("b", 500000)
	roundTripInternal(t, b, "set b 0 0 1\r\nx\r\nset b 0 0 500000\r\n"+v+"\r\nget b\r\n",
		"STORED\r\nSERVER_ERROR out of memory storing object\r\nEND\r\n")
	roundTripInternal(t, a, strings.Repeat("a", 100000)+"\r\n", "STORED\r\n")
	roundTripInternal(t, b, "set b 0 0 500000\r\n"+v+"\r\n", "STORED\r\n")
	if n := s.sumStats()[storeNoMemory]; n != 1 {
		t.Errorf("store_no_memory = %d, want 1", n)
	}
}

func roundTripInternal(t *testing.T, c net.Conn, send, want string) {
	t.Helper()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if n, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Errorf("got %q (%v), want %q", got[:n], err, want)
	}
}

// TestLongGetLineIsReleased: after a 1 MiB get line, an idle connection
// keeps none of it: not the line, its keys or a token slice. The old
// server kept several MiB a connection for good.
func TestLongGetLineIsReleased(t *testing.T) {
	const clients = 20
	s, addr := serveInternal(t, Options{})
	conns := dialN(t, addr, clients)
	before := heapInUse()
	key := " " + strings.Repeat("k", 250)
	line := "get" + strings.Repeat(key, (1<<20-4)/len(key)) + "\r\n"
	for _, c := range conns {
		roundTripInternal(t, c, line, "END\r\n")
	}
	perConn := (int64(heapInUse()) - int64(before)) / clients
	t.Logf("after a 1 MiB get line: %.1f KiB more per idle connection", float64(perConn)/(1<<10))
	if perConn > 64<<10 {
		t.Errorf("after a 1 MiB get line each idle connection holds %d KiB more, want under 64 KiB", perConn>>10)
	}
	if used := s.mem.inUse(); used != 0 {
		t.Errorf("the read budget still holds %d bytes with every connection idle", used)
	}
}
