package server_test

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer starts a server on a fresh store and a loopback port and
// returns its address (servertest.Start, which shuts it down at cleanup).
func startServer(t testing.TB, opts server.Options) string {
	t.Helper()
	return servertest.Start(t, servertest.Options{Server: opts}).Addr
}

// startServerStore is startServer with store options; it also returns the store.
func startServerStore(t testing.TB, opts server.Options, sopts storage.Options) (string, *storage.Store) {
	t.Helper()
	ts := servertest.Start(t, servertest.Options{Server: opts, Store: sopts})
	return ts.Addr, ts.Store
}

// dial connects to addr with a 5 s deadline on everything.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends send and reads exactly len(want) bytes.
func roundTrip(t *testing.T, c net.Conn, send, want string) {
	t.Helper()
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatalf("send %q: %v", send, err)
	}
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	if err != nil || string(got) != want {
		t.Errorf("send %q:\n got %q (err %v)\nwant %q", send, got[:n], err, want)
	}
}

func TestProtocol(t *testing.T) {
	addr, _ := startServerStore(t, server.Options{}, storage.Options{MaxItemSize: 1024})
	long := strings.Repeat("k", 251)
	tests := []struct{ name, send, want string }{
		{"set then get", "set k 7 0 2\r\nhi\r\nget k\r\n", "STORED\r\nVALUE k 7 2\r\nhi\r\nEND\r\n"},
		{"multi get with a miss and a duplicate", "set a 0 0 1\r\nA\r\nget a nope a\r\n", "STORED\r\nVALUE a 0 1\r\nA\r\nVALUE a 0 1\r\nA\r\nEND\r\n"},
		{"bare newline ends a command", "set n 0 0 1\nx\r\nget n\n", "STORED\r\nVALUE n 0 1\r\nx\r\nEND\r\n"},
		{"add on present", "set p 0 0 1\r\nx\r\nadd p 0 0 1\r\ny\r\n", "STORED\r\nNOT_STORED\r\n"},
		{"replace on absent", "replace absent 0 0 1\r\nx\r\n", "NOT_STORED\r\n"},
		{"append keeps flags", "set ap 9 0 2\r\nab\r\nappend ap 1 0 2\r\ncd\r\nget ap\r\n", "STORED\r\nSTORED\r\nVALUE ap 9 4\r\nabcd\r\nEND\r\n"},
		{"prepend", "set pp 0 0 2\r\nab\r\nprepend pp 0 0 2\r\ncd\r\nget pp\r\n", "STORED\r\nSTORED\r\nVALUE pp 0 4\r\ncdab\r\nEND\r\n"},
		{"cas on missing", "cas nokey 0 0 1 5\r\nx\r\n", "NOT_FOUND\r\n"},
		{"cas zero on present", "set c0 0 0 1\r\nx\r\ncas c0 0 0 1 0\r\ny\r\n", "STORED\r\nEXISTS\r\n"},
		{"incr and decr", "set n1 0 0 2\r\n10\r\nincr n1 5\r\ndecr n1 100\r\n", "STORED\r\n15\r\n0\r\n"},
		{"incr wraps", "set w 0 0 20\r\n18446744073709551615\r\nincr w 2\r\n", "STORED\r\n1\r\n"},
		{"incr non numeric", "set nn 0 0 2\r\nab\r\nincr nn 1\r\n", "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"},
		{"incr bad delta", "incr x abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n"},
		{"incr missing", "incr missing 1\r\n", "NOT_FOUND\r\n"},
		{"delete", "set d 0 0 1\r\nx\r\ndelete d\r\ndelete d\r\n", "STORED\r\nDELETED\r\nNOT_FOUND\r\n"},
		{"delete legacy zero", "set d0 0 0 1\r\nx\r\ndelete d0 0\r\n", "STORED\r\nDELETED\r\n"},
		{"delete usage", "delete d 10\r\n", "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n"},
		{"touch", "set t 0 0 1\r\nx\r\ntouch t 100\r\ntouch nope 100\r\n", "STORED\r\nTOUCHED\r\nNOT_FOUND\r\n"},
		{"negative exptime expires at once", "set neg 0 -1 1\r\nx\r\nget neg\r\n", "STORED\r\nEND\r\n"},
		{"gat returns the value", "set g 3 0 1\r\nx\r\ngat 100 g nope\r\n", "STORED\r\nVALUE g 3 1\r\nx\r\nEND\r\n"},
		{"noreply is silent", "set q 0 0 1 noreply\r\nx\r\nadd q 0 0 1 noreply\r\ny\r\nincr q 1 noreply\r\ndelete q noreply\r\nget q\r\n", "END\r\n"},
		{"noreply silences errors", "set " + long + " 0 0 1 noreply\r\n", ""},
		{"unknown command", "bogus\r\n", "ERROR\r\n"},
		{"empty line", "\r\n", "ERROR\r\n"},
		{"uppercase", "GET k\r\n", "ERROR\r\n"},
		{"get without key", "get\r\n", "ERROR\r\n"},
		{"key too long", "get " + long + "\r\n", "CLIENT_ERROR bad command line format\r\n"},
		{"too many tokens", "set k 0 0 1 noreply extra\r\n", "ERROR\r\n"},
		{"bad flags", "set k abc 0 1\r\nx\r\n", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
		{"negative bytes", "set k 0 0 -1\r\n", "CLIENT_ERROR bad command line format\r\n"},
		{"bad data chunk", "set k 0 0 3\r\nabcde\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n"},
		{"too large is swallowed and set deletes", "set big 0 0 1\r\nx\r\nset big 0 0 2000\r\n" + strings.Repeat("set x 0 0 1\r\n", 153) + "12345678901\r\nget big\r\n", "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n"},
		{"flush_all bad delay", "flush_all abc\r\n", "CLIENT_ERROR invalid exptime argument\r\n"},
		{"verbosity", "verbosity 1\r\nverbosity\r\nverbosity abc\r\n", "OK\r\nERROR\r\nCLIENT_ERROR bad command line format\r\n"},
		{"stats unknown", "stats nope\r\nstats reset\r\n", "ERROR\r\nRESET\r\n"},
		{"shutdown disabled", "shutdown\r\n", "ERROR: shutdown not enabled\r\n"},
		{"zero length value", "set z 0 0 0\r\n\r\nget z\r\n", "STORED\r\nVALUE z 0 0\r\n\r\nEND\r\n"},
		{"value with crlf inside", "set b 0 0 4\r\n\r\n\r\n\r\nget b\r\n", "STORED\r\nVALUE b 0 4\r\n\r\n\r\n\r\nEND\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, addr)
			roundTrip(t, c, tt.send+"mn\r\n", tt.want+"MN\r\n")
		})
	}
}

// TestSplitWrites sends each request a byte at a time: a command line and its
// data block arriving in separate reads must still be parsed as sent.
func TestSplitWrites(t *testing.T) {
	addr := startServer(t, server.Options{})
	c := dial(t, addr)
	send := "set split 5 0 5\r\nvalue\r\nget split\r\n"
	for i := range len(send) {
		if _, err := c.Write([]byte{send[i]}); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip(t, c, "", "STORED\r\nVALUE split 5 5\r\nvalue\r\nEND\r\n")
}

func TestQuitClosesAfterReplies(t *testing.T) {
	addr := startServer(t, server.Options{})
	c := dial(t, addr)
	roundTrip(t, c, "version\r\nquit\r\nversion\r\n", "VERSION "+server.Version+"\r\n")
	if n, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after quit: read %d bytes, err %v; want EOF", n, err)
	}
}

// TestPipelined10k writes 10,000 requests in one go and reads 10,000 replies
// in order.
func TestPipelined10k(t *testing.T) {
	addr := startServer(t, server.Options{})
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // 6,667 durable writes, one after another
	const n = 10000
	var req strings.Builder
	for i := range n {
		switch i % 3 {
		case 0:
			req.WriteString("set k" + itoa(i) + " 0 0 " + itoa(len(itoa(i))) + " \r\n" + itoa(i) + "\r\n")
		case 1:
			req.WriteString("get k" + itoa(i-1) + "\r\n")
		case 2:
			req.WriteString("incr k" + itoa(i-2) + " 1\r\n")
		}
	}
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, req.String())
		errc <- err
	}()
	br := bufio.NewReader(c)
	for i := range n {
		var want []string
		switch i % 3 {
		case 0:
			want = []string{"STORED"}
		case 1:
			v := itoa(i - 1)
			want = []string{"VALUE k" + v + " 0 " + itoa(len(v)), v, "END"}
		case 2:
			want = []string{itoa(i - 2 + 1)}
		}
		for _, w := range want {
			line, err := br.ReadString('\n')
			if err != nil || line != w+"\r\n" {
				t.Fatalf("reply %d: got %q (err %v), want %q", i, line, err, w+"\r\n")
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestPipelinedWritesShareCommits sends 200 noreply sets in one write, as
// pymemcache does by default: the connection queues them with the store and
// they share commits, instead of one fsync each; every one is durable before
// the get that follows them is answered.
func TestPipelinedWritesShareCommits(t *testing.T) {
	addr, st := startServerStore(t, server.Options{}, storage.Options{})
	c := dial(t, addr)
	const n = 200
	var req strings.Builder
	for i := range n {
		req.WriteString("set k" + itoa(i) + " 0 0 " + itoa(len(itoa(i))) + " noreply\r\n" + itoa(i) + "\r\n")
	}
	req.WriteString("incr k7 1\r\nget k0 k199\r\n")
	before := st.Stats().Commits
	roundTrip(t, c, req.String(), "8\r\nVALUE k0 0 1\r\n0\r\nVALUE k199 0 3\r\n199\r\nEND\r\n")
	if commits := st.Stats().Commits - before; commits > n/4 {
		t.Errorf("%d pipelined writes took %d commits, want at most %d", n+1, commits, n/4)
	}
	for i := range n {
		it, err := st.Get("k" + itoa(i))
		if err != nil || string(it.Value) != itoa(i) && i != 7 {
			t.Fatalf("k%d = %q, %v after the replies", i, it.Value, err)
		}
	}
}

// TestStatsLinesHaveNoSpaceInValues checks every stats line has exactly
// three space-separated fields, even with a data file whose path has a space.
func TestStatsLinesHaveNoSpaceInValues(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Path: filepath.Join(t.TempDir(), "my data.db")})
	c := dial(t, ts.Addr)
	for _, cmd := range []string{"stats\r\n", "stats settings\r\n"} {
		if _, err := io.WriteString(c, cmd); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		sawFile := false
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			if line == "END\r\n" {
				break
			}
			f := strings.Split(strings.TrimSuffix(line, "\r\n"), " ")
			if len(f) != 3 || f[0] != "STAT" || f[2] == "" {
				t.Errorf("%q: line %q is not STAT <name> <value>", cmd, line)
			}
			if f[1] == "data_file" {
				sawFile = true
				if !strings.HasSuffix(f[2], "/my%20data.db") {
					t.Errorf("data_file = %q, want the path with the space as %%20", f[2])
				}
			}
		}
		if !sawFile {
			t.Errorf("%q: no data_file line", cmd)
		}
	}
}
