package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// expectVersion checks that the connection answers version.
func (w *wire) expectVersion() {
	w.t.Helper()
	w.send("version\r\n")
	if l := w.line(); !strings.HasPrefix(l, "VERSION 1.") {
		w.t.Fatalf("version: got %q, want VERSION 1.x", l)
	}
}

func TestGracefulShutdown(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT"}[sig], func(t *testing.T) {
			path := newDataFile(t)
			p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
			w := dialWire(t, p.Addr)
			w.expect("set k 0 0 5\r\nvalue\r\n", "STORED\r\n")
			w.expectVersion() // the connection is served, and now idle

			start := time.Now()
			if err := p.Cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// The server closes the idle connection itself...
			w.expectEOF()
			// ...and exits 0, within a few seconds.
			if code := p.Wait(5 * time.Second); code != 0 {
				t.Fatalf("exit status %d after %v, want 0", code, sig)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("exit took %v after %v, want under 5s", d, sig)
			}
			if out := p.Output(); !strings.Contains(out, `msg=stopped`) {
				t.Errorf("no \"stopped\" log line after %v", sig)
			}

			p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
			dialWire(t, p.Addr).expect("get k\r\n", "VALUE k 0 5\r\nvalue\r\nEND\r\n")
		})
	}

	t.Run("SIGTERM during a pipelined batch", func(t *testing.T) {
		path := newDataFile(t)
		p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
		w := dialWire(t, p.Addr)
		w.expectVersion()
		// 3 MB of sets: more than the socket buffers hold, so the server is
		// still reading them when the signal comes.
		const n = 3000
		value := strings.Repeat("v", 1000)
		var batch strings.Builder
		for i := range n {
			fmt.Fprintf(&batch, "set k%d 0 0 %d\r\n%s\r\n", i, len(value), value)
		}
		w.nc.SetDeadline(time.Now().Add(wireTimeout))
		sent := make(chan error, 1)
		go func() {
			_, err := io.WriteString(w.nc, batch.String())
			sent <- err // fails when the server closes the connection first
		}()
		if l, err := w.r.ReadString('\n'); err != nil || l != "STORED\r\n" {
			t.Fatalf("first reply: %q, %v; want STORED", l, err)
		}
		if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// The server answers the requests it has read, in full, then closes
		// the connection: STORED lines and nothing else. (Closing with
		// unread input makes the kernel send a reset.)
		got, err := io.ReadAll(w.r)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("reading the replies: %v (got %q)", err, got)
		}
		stored := 1 + strings.Count(string(got), "STORED\r\n")
		if string(got) != strings.Repeat("STORED\r\n", stored-1) || stored > n {
			t.Fatalf("replies to %d pipelined sets and SIGTERM: %.200q, want up to %d STORED lines and EOF", n, got, n)
		}
		<-sent
		if code := p.Wait(5 * time.Second); code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0", code)
		}
		t.Logf("%d of %d pipelined sets acknowledged before the shutdown", stored, n)

		// Every acknowledged set is in the file.
		p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
		w = dialWire(t, p.Addr)
		for i := range stored {
			k := "k" + strconv.Itoa(i)
			w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(value), value))
		}
	})

	t.Run("shutdown disabled", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{})
		w := dialWire(t, p.Addr)
		w.expect("shutdown\r\n", "ERROR: shutdown not enabled\r\n")
		w.expect("shutdown graceful\r\n", "ERROR: shutdown not enabled\r\n")
		w.expectVersion() // the connection and the server go on
		if v := w.stats("settings")["shutdown_command"]; v != "no" {
			t.Errorf("stats settings shutdown_command = %q, want no", v)
		}
		if p.Exited() {
			t.Fatal("the server exited")
		}
	})

	t.Run("shutdown enabled", func(t *testing.T) {
		path := newDataFile(t)
		p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path, Args: []string{"-A"}})
		w := dialWire(t, p.Addr)
		w.expect("set k 0 0 1\r\nx\r\n", "STORED\r\n")
		w.expect("shutdown foo\r\n", "CLIENT_ERROR invalid shutdown mode\r\n")
		if v := w.stats("settings")["shutdown_command"]; v != "yes" {
			t.Errorf("stats settings shutdown_command = %q, want yes", v)
		}
		idle := dialWire(t, p.Addr)
		idle.expectVersion()
		w.send("shutdown\r\n")
		w.expectEOF() // no reply, as memcached
		idle.expectEOF()
		if code := p.Wait(5 * time.Second); code != 0 {
			t.Fatalf("exit status %d after shutdown, want 0", code)
		}
		p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
		dialWire(t, p.Addr).expect("get k\r\n", "VALUE k 0 1\r\nx\r\nEND\r\n")
	})
}

func TestFlagsAndEnv(t *testing.T) {
	t.Run("port and data file from the environment", func(t *testing.T) {
		path := newDataFile(t)
		p := servertest.StartBinary(t, servertest.BinaryOptions{NoDefaultFlags: true, Args: []string{"-l", "127.0.0.1"},
			Env: []string{"MEMCACHED_LITE_PORT=0", "MEMCACHED_LITE_DATA=" + path}})
		if p.Port == 11211 {
			t.Errorf("MEMCACHED_LITE_PORT=0 listened on the default port %d", p.Port)
		}
		if l := listeningLine(t, p); !strings.Contains(l, " data="+path+" ") {
			t.Errorf("listening line %q: want data=%s", l, path)
		}
		w := dialWire(t, p.Addr)
		w.expectVersion()
		if got := w.stats("settings")["tcpport"]; got != strconv.Itoa(p.Port) {
			t.Errorf("stats settings tcpport = %s, want %d", got, p.Port)
		}
	})

	t.Run("sync mode from the environment", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Env: []string{"MEMCACHED_LITE_SYNC=none"}})
		if l := listeningLine(t, p); !strings.Contains(l, " sync=none ") {
			t.Errorf("listening line %q: want sync=none", l)
		}
		if got := dialWire(t, p.Addr).stats("settings")["sync_mode"]; got != "none" {
			t.Errorf("stats settings sync_mode = %q, want none", got)
		}
	})

	t.Run("port in use", func(t *testing.T) {
		first := servertest.StartBinary(t, servertest.BinaryOptions{})
		port := strconv.Itoa(first.Port)
		stdout, stderr, code := servertest.Run(t, "", "server", "-p", port, "-l", "127.0.0.1", "--data", newDataFile(t))
		out := stdout + stderr
		if code == 0 || !strings.Contains(out, "address already in use") {
			t.Errorf("a second server on port %s: exit status %d, output:\n%s\nwant non-zero and \"address already in use\"", port, code, out)
		}
		dialWire(t, first.Addr).expectVersion()
	})

	t.Run("-I 2k", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-I", "2k"}})
		w := dialWire(t, p.Addr)
		if got := w.stats("settings")["item_size_max"]; got != "2048" {
			t.Errorf("stats settings item_size_max = %s, want 2048", got)
		}
		small := strings.Repeat("s", 1000)
		w.expect("set k 0 0 1000\r\n"+small+"\r\n", "STORED\r\n")
		big := strings.Repeat("b", 3000)
		// The 3000 bytes are swallowed: the get after them is answered,
		// and the set removed the old value.
		w.expect("set k 0 0 3000\r\n"+big+"\r\nget k\r\n", "SERVER_ERROR object too large for cache\r\nEND\r\n")
		w.expect("set k 0 0 3000 noreply\r\n"+big+"\r\nget k\r\n", "END\r\n")
		w.expect("set k 0 0 1000\r\n"+small+"\r\nappend k 0 0 3000\r\n"+big+"\r\nget k\r\n",
			"STORED\r\nSERVER_ERROR object too large for cache\r\nVALUE k 0 1000\r\n"+small+"\r\nEND\r\n")
	})

	t.Run("memcached flags accepted", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-U", "0", "-u", "nobody", "-t", "4", "-o", "modern,idle_timeout=600", "-m", "32", "-c", "100"}})
		w := dialWire(t, p.Addr)
		w.expect("set k 0 0 1\r\nx\r\nget k\r\n", "STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n")
		settings := w.stats("settings")
		for name, want := range map[string]string{
			"idle_timeout": "600",
			"num_threads":  "4",
			"maxbytes":     strconv.Itoa(32 << 20),
			"maxconns":     "100",
			"udpport":      "0",
		} {
			if got := settings[name]; got != want {
				t.Errorf("stats settings %s = %q, want %q", name, got, want)
			}
		}
		if got := w.stats("")["threads"]; got != "4" {
			t.Errorf("stats threads = %q, want 4", got)
		}
	})

	t.Run("-o idle_timeout=1", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-o", "idle_timeout=1"}})
		w := dialWire(t, p.Addr)
		w.expectVersion()
		start := time.Now()
		w.expectEOF() // within wireTimeout
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("idle connection closed after %v, want about 1s", d)
		}
	})

	t.Run("-c 2", func(t *testing.T) {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-c", "2"}})
		a, b := dialWire(t, p.Addr), dialWire(t, p.Addr)
		a.expectVersion()
		b.expectVersion()
		c := dialWire(t, p.Addr)
		if l := c.line(); l != "ERROR Too many open connections\r\n" {
			t.Errorf("third connection: got %q, want %q", l, "ERROR Too many open connections\r\n")
		}
		c.expectEOF()
		a.expectVersion()
		b.expectVersion()
		if got := a.stats("")["rejected_connections"]; got != "1" {
			t.Errorf("stats rejected_connections = %s, want 1", got)
		}
	})

	t.Run("bad flag values", func(t *testing.T) {
		dir := t.TempDir()
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--sync", "maybe"}, `--sync "maybe": want always or none`},
			{[]string{"-I", "512"}, `-I "512"`},
			{[]string{"-I", "2g"}, `-I "2g"`},
			{[]string{"-c", "0"}, `-c 0`},
			{[]string{"-m", "-1"}, `-m -1`},
			{[]string{"-o", "idle_timeout=soon"}, `idle_timeout=soon`},
			{[]string{"-p", "notaport"}, `"notaport"`},
			{[]string{"--no-such-flag"}, `no-such-flag`},
		} {
			args := append([]string{"server", "-p", "0", "-l", "127.0.0.1", "--data", filepath.Join(dir, "bad.db")}, c.args...)
			stdout, stderr, code := servertest.Run(t, "", args...)
			out := stdout + stderr
			if code == 0 || !strings.Contains(out, c.want) {
				t.Errorf("memcached-lite %s: exit status %d, output:\n%s\nwant non-zero and %q", strings.Join(args, " "), code, out, c.want)
			}
		}
	})

	// Every StartBinary waits for --ready-file; a server that cannot
	// write it stops rather than leave its starter waiting.
	t.Run("--ready-file in a missing directory", func(t *testing.T) {
		ready := filepath.Join(t.TempDir(), "missing", "ready")
		stdout, stderr, code := servertest.Run(t, "", "server", "-p", "0", "-l", "127.0.0.1", "--data", newDataFile(t), "--ready-file", ready)
		if want := "memcached-lite: --ready-file " + ready + ": "; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit status %d, stdout %q, stderr:\n%s\nwant 1 and %q", code, stdout, stderr, want)
		}
	})
}
