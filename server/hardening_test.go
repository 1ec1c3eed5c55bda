package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// stat returns one figure of the server's stats, read on a new connection.
func stat(t *testing.T, addr, name string) string {
	t.Helper()
	c := dial(t, addr)
	defer c.Close()
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	value := ""
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stats: %v", err)
		}
		if line == "END\r\n" {
			return value
		}
		if f := strings.Fields(line); len(f) == 3 && f[1] == name {
			value = f[2]
		}
	}
}

func statN(t *testing.T, addr, name string) int {
	t.Helper()
	n, err := strconv.Atoi(stat(t, addr, name))
	if err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return n
}

// waitConns waits until the server has n connections open besides the
// one that asks, failing after 10 s.
func waitConns(t *testing.T, addr string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for statN(t, addr, "curr_connections") != n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("curr_connections did not come to %d", n+1)
		}
		time.Sleep(10 * time.Millisecond) // polling the server's own count
	}
}

// TestNoreplyFailureIsNotSilent: a noreply write that the store fails (here
// the file reaches its size limit, as on a full disk) is answered
// SERVER_ERROR in its place, and the connection then closes, so that the
// mn after it never suggests the write was stored. It used to answer MN.
func TestNoreplyFailureIsNotSilent(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Store: storage.Options{MaxSize: 1 << 20}})
	c := dial(t, ts.Addr)
	v := strings.Repeat("v", 100000)
	var sent strings.Builder
	for i := range 40 { // 4 MB into a file that may not pass 1 MiB
		fmt.Fprintf(&sent, "set important%d 0 0 %d noreply\r\n%s\r\n", i, len(v), v)
	}
	sent.WriteString("mn\r\n")
	if _, err := io.WriteString(c, sent.String()); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	want := "SERVER_ERROR storage: commit " + ts.Path + ": "
	if !strings.HasPrefix(string(got), want) || strings.Count(string(got), "\r\n") != 1 || strings.Contains(string(got), "MN") {
		t.Fatalf("noreply sets past the file's limit, then mn:\n got %q\nwant one line %q... and the end of the stream", got, want)
	}
}

// TestGetStopsForDepartedClient: a multi-key get whose client has gone stops
// at the first failed write instead of loading every key. The old server
// loaded all 2,000 (1 MiB each).
func TestGetStopsForDepartedClient(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	if err := ts.Store.Set(storage.Item{Key: "big", Value: make([]byte, 1000000)}); err != nil {
		t.Fatal(err)
	}
	const keys = 2000
	c := dial(t, ts.Addr)
	if _, err := io.WriteString(c, "get"+strings.Repeat(" big", keys)+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).SetLinger(0) // leave with a reset, unread replies and all
	c.Close()
	waitConns(t, ts.Addr, 0)
	if hits := statN(t, ts.Addr, "get_hits"); hits >= keys/2 {
		t.Errorf("get_hits = %d after the client left a get of %d keys; want the server to stop at its first failed write", hits, keys)
	}
}

// TestGatIsOneCommit: the touches of a gat line go through the committer
// together. It used to make one commit (and one fsync) per key.
func TestGatIsOneCommit(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	c := dial(t, ts.Addr)
	roundTrip(t, c, "set a 0 0 1\r\nA\r\n", "STORED\r\n")
	before := statN(t, ts.Addr, "commits")
	roundTrip(t, c, "gat 100"+strings.Repeat(" a nope", 2500)+"\r\n", strings.Repeat("VALUE a 0 1\r\nA\r\n", 2500)+"END\r\n")
	if n := statN(t, ts.Addr, "commits") - before; n != 1 {
		t.Errorf("a gat of 5,000 keys made %d commits, want 1", n)
	}
	if hits, misses := statN(t, ts.Addr, "touch_hits"), statN(t, ts.Addr, "touch_misses"); hits != 2500 || misses != 2500 {
		t.Errorf("touch_hits, touch_misses = %d, %d; want 2500, 2500", hits, misses)
	}
}

// TestShutdownBoundedByContext: Shutdown returns when its context ends even
// while a connection works through a long gat for a client that does not
// read, and the store then closes with the acknowledged writes committed.
func TestShutdownBoundedByContext(t *testing.T) {
	st, err := storage.Open(t.TempDir()+"/db", storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := st.Set(storage.Item{Key: "k" + strconv.Itoa(i), Value: make([]byte, 100000)}); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, server.Options{})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	var line strings.Builder
	line.WriteString("gat 0")
	for i := range 20000 {
		fmt.Fprintf(&line, " k%d", i%100)
	}
	line.WriteString("\r\n")
	if _, err := io.WriteString(c, line.String()); err != nil {
		t.Fatal(err)
	}
	waitCommits(t, st) // the gat is under way
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > 2*time.Second {
		t.Errorf("Shutdown(500ms) = %v after %v; want context.DeadlineExceeded at once", err, took)
	}
	if err := <-served; !errors.Is(err, server.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if err := st.Close(); err != nil {
		t.Errorf("store Close: %v", err)
	}
	st, err = storage.Open(st.Path(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if it, err := st.Get("k99"); err != nil || len(it.Value) != 100000 {
		t.Errorf("after the shutdown, Get(k99) = %d bytes, %v; want the 100000 bytes set", len(it.Value), err)
	}
}

// waitCommits waits until st has made one commit more than it had.
func waitCommits(t *testing.T, st *storage.Store) {
	t.Helper()
	n := st.Stats().Commits
	for deadline := time.Now().Add(10 * time.Second); st.Stats().Commits == n; {
		if time.Now().After(deadline) {
			t.Fatal("no commit in 10 s")
		}
		time.Sleep(time.Millisecond) // polling the store's own count
	}
}

// TestMaxLineLength: a get line of exactly --max-line-length bytes (without
// its \r\n) is answered; one byte more closes the connection, with a FIN,
// not a reset. Lines of 1,099 to 15,999 bytes used to pass a limit of 1000,
// and longer ones got a reset.
func TestMaxLineLength(t *testing.T) {
	addr := startServer(t, server.Options{MaxLineLength: 1000})
	line := func(n int) string { // a get line of n bytes
		return "get " + strings.Repeat("k ", (n-4)/2) + strings.Repeat("k", n-4-(n-4)/2*2)
	}
	for _, n := range []int{999, 1000} {
		c := dial(t, addr)
		roundTrip(t, c, line(n)+"\r\n", "END\r\n")
	}
	for _, n := range []int{1001, 1099, 15999, 200000} {
		c := dial(t, addr)
		if _, err := io.WriteString(c, line(n)+"\r\nversion\r\n"); err != nil {
			t.Fatalf("send a %d-byte get line: %v", n, err)
		}
		got, err := io.ReadAll(c)
		if err != nil || len(got) != 0 {
			t.Errorf("a %d-byte get line with --max-line-length 1000: got %q, %v; want the end of the stream", n, got, err)
		}
	}
}

// TestIdleTimeoutCountsCommands: a client that sends a command one byte at
// a time is closed after the idle timeout, as memcached closes it, and
// idle_kicks counts it. Each byte used to restart the timeout.
func TestIdleTimeoutCountsCommands(t *testing.T) {
	addr := startServer(t, server.Options{IdleTimeout: 300 * time.Millisecond})
	c := dial(t, addr)
	closed := make(chan time.Time, 1)
	go func() {
		io.Copy(io.Discard, c)
		closed <- time.Now()
	}()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	cmd := "get " + strings.Repeat("k", 200) + "\r\n"
	for i := 0; ; i++ {
		select {
		case at := <-closed:
			if took := at.Sub(start); took > 2*time.Second {
				t.Errorf("closed after %v, want about 300ms", took)
			}
			if n := statN(t, addr, "idle_kicks"); n != 1 {
				t.Errorf("idle_kicks = %d, want 1", n)
			}
			return
		case <-tick.C:
			if i == len(cmd) || time.Since(start) > 5*time.Second {
				t.Fatalf("still open after %d bytes a tick for %v", i, time.Since(start))
			}
			c.Write([]byte{cmd[i]})
		}
	}
}

// TestFlushRefusedIsCounted: under -F, cmd_flush counts refused flushes, as
// memcached's does, and the refusal comes before the delay is read.
func TestFlushRefusedIsCounted(t *testing.T) {
	addr := startServer(t, server.Options{DisableFlush: true})
	c := dial(t, addr)
	roundTrip(t, c, "flush_all\r\nflush_all abc\r\nflush_all 1 2 3\r\nflush_all noreply\r\nmn\r\n",
		"CLIENT_ERROR flush_all not allowed\r\nCLIENT_ERROR flush_all not allowed\r\nERROR\r\nMN\r\n")
	if n := statN(t, addr, "cmd_flush"); n != 3 {
		t.Errorf("cmd_flush = %d, want 3 (ERROR is not a flush_all)", n)
	}
}
