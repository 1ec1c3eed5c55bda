package server_test

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// traceSession is sent to both servers; quit ends it.
const traceSession = "set k 0 0 5\r\nhello\r\nget k nope\r\ngets k\r\nincr x 1\r\nbogus\r\n" +
	"set n 0 0 1\r\n1\r\nincr n 1 noreply\r\ndecr n 1\r\nset big 0 0 40\r\n" + "0123456789012345678901234567890123456789\r\n" +
	"delete k noreply\r\ndelete k\r\ntouch n 10\r\nflush_all\r\nversion\r\nquit\r\n"

// TestTraceLikeMemcached: -vv lines for a session are memcached's, with the
// connection's descriptor masked.
func TestTraceLikeMemcached(t *testing.T) {
	mc := servertest.StartMemcached(t, "-vv")
	var lite syncBuffer
	addr := startServer(t, server.Options{Trace: &lite})

	run := func(addr string, out func() string) string {
		c := dial(t, addr)
		if _, err := io.WriteString(c, traceSession); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out(), "connection closed."); {
			if time.Now().After(deadline) {
				t.Fatalf("no 'connection closed.' line in:\n%s", out())
			}
			time.Sleep(5 * time.Millisecond) // the server writes it as the connection ends
		}
		return sessionLines(out())
	}
	want := run(mc.Addr, mc.Output)
	got := run(addr, lite.String)
	if got != want {
		t.Errorf("-vv lines:\n got:\n%s\nwant (memcached):\n%s", got, want)
	}
}

var fdRE = regexp.MustCompile(`^([<>]?)\d+`)

// sessionLines keeps a -vv log's lines about connections, from the first
// "new auto-negotiating client connection" on, with descriptors masked.
func sessionLines(log string) string {
	var b strings.Builder
	on := false
	for _, l := range strings.Split(log, "\n") {
		on = on || strings.HasSuffix(l, "new auto-negotiating client connection")
		if on && l != "" {
			if strings.HasSuffix(l, "connection closed.") {
				on = false // what follows is not the session's (memcached's LRU crawler, say)
			}
			l = strings.Replace(fdRE.ReplaceAllString(l, "${1}FD"), server.Version, "1.6.18", 1)
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
