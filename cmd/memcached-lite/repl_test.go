package main

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// replExpect runs the client and checks its stdout and status, and that it
// wrote nothing on stderr.
func replExpect(t *testing.T, wantOut string, wantCode int, stdin string, args ...string) {
	t.Helper()
	out, errOut, code := servertest.Run(t, stdin, append([]string{"client"}, args...)...)
	if out != wantOut || errOut != "" || code != wantCode {
		t.Fatalf("client %q with stdin %q:\n got stdout %q, stderr %q, status %d\nwant stdout %q, no stderr, status %d",
			args, stdin, out, errOut, code, wantOut, wantCode)
	}
}

// TestREPLRestartScenario is the two-terminal walk-through as a test: in
// one terminal the server runs on a data file; in the other the REPL sets
// three values, one with ttl=2. The server is stopped with SIGTERM and
// started again on the same file; the REPL gets the two lasting values
// back, and the third once its time has passed is gone.
func TestREPLRestartScenario(t *testing.T) {
	data := newDataFile(t)
	srv := servertest.StartBinary(t, servertest.BinaryOptions{Path: data})
	setAt := time.Now()
	replExpect(t, "STORED\nSTORED\nSTORED\ncity: Lisbon\nmotto: less is more\notp: 123456\n", 0,
		"set city Lisbon\nset motto \"less is more\"\nset otp 123456 ttl=2\nget city motto otp\n", "-s", srv.Addr)

	if code := srv.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("server exited with status %d after SIGTERM, want 0", code)
	}
	srv = servertest.StartBinary(t, servertest.BinaryOptions{Path: data})
	replExpect(t, "city: Lisbon\nmotto: less is more\n", 0, "get city motto\n", "-s", srv.Addr)

	// otp expires about 2 seconds after it was set: ask every 100 ms, for
	// up to 5 seconds, until it is gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, errOut, code := servertest.Run(t, "", "client", "-s", srv.Addr, "get", "otp")
		if out == "(not found)\n" && errOut == "" && code == 0 {
			break
		}
		if out != "123456\n" || errOut != "" || code != 0 {
			t.Fatalf("get otp: stdout %q, stderr %q, status %d; want 123456 or (not found)", out, errOut, code)
		}
		if time.Now().After(deadline) {
			t.Fatalf("otp (ttl=2) still there %v after it was set", time.Since(setAt).Round(time.Millisecond))
		}
		timer := time.NewTimer(100 * time.Millisecond)
		<-timer.C
	}
	if d := time.Since(setAt); d < time.Second {
		t.Errorf("otp (ttl=2) gone after only %v", d)
	}
	replExpect(t, "city: Lisbon\nmotto: less is more\notp: (not found)\n", 0, "get city motto otp\n", "-s", srv.Addr)
}

// TestREPLClientSubcommand checks the subcommand's flags and exit status.
func TestREPLClientSubcommand(t *testing.T) {
	srv := servertest.StartBinary(t, servertest.BinaryOptions{})
	replExpect(t, "STORED\n", 0, "", "-s", srv.Addr, "set", "k", "v")
	replExpect(t, "v\n", 0, "", "--server", srv.Addr, "get", "k")
	replExpect(t, "v\n", 0, "", "-s", srv.Addr, "--timeout", "1s", "get", "k")
	replExpect(t, "NOT_STORED (add stores only new keys, and \"k\" already exists)\n", 1, "", "-s", srv.Addr, "add", "k", "v")
	replExpect(t, "(not found)\n", 0, "get nothing\n", "-s", srv.Addr)

	// The default server is memcached's address (servers sends nothing);
	// -s may be repeated, or come from the environment.
	replExpect(t, "127.0.0.1:11211\n", 0, "", "servers")
	replExpect(t, srv.Addr+"\n127.0.0.1:1\n", 0, "", "-s", srv.Addr, "-s", "127.0.0.1:1", "servers")
	cmd := servertest.Command(t, "client", "get", "k")
	cmd.Env = append(cmd.Env, "MEMCACHED_LITE_SERVERS="+srv.Addr)
	got, err := cmd.Output()
	if err != nil || string(got) != "v\n" {
		t.Errorf("MEMCACHED_LITE_SERVERS=%s client get k: %q, %v; want \"v\\n\"", srv.Addr, got, err)
	}
}

// TestREPLBannerMemcached checks what an interactive session says first:
// against memcached-lite, its data file and sync mode; against memcached,
// a warning that values there do not survive a restart. (On a terminal
// the binary prints the same: client/repl's TestREPLTerminal.)
func TestREPLBannerMemcached(t *testing.T) {
	typeHelp := "Type \"help\" for the commands, \"help set\" for one of them; Ctrl-D or \"quit\" leaves.\n"
	session := func(addrs ...string) string {
		t.Helper()
		var out bytes.Buffer
		r, err := repl.New(repl.Config{Servers: addrs, In: strings.NewReader(""), Out: &out, Interactive: true})
		if err != nil {
			t.Fatal(err)
		}
		if code := r.Run(); code != 0 {
			t.Errorf("Run with no input: status %d", code)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		return out.String()
	}
	data := newDataFile(t)
	lite := servertest.StartBinary(t, servertest.BinaryOptions{Path: data, Args: []string{"--sync", "none"}})
	want := "connected to memcached-lite 0.1.0 at " + lite.Addr + " (data file " + data + ", sync none)\n" + typeHelp +
		"memcached-lite " + lite.Addr + "> \n"
	if got := session(lite.Addr); got != want {
		t.Errorf("session with memcached-lite:\n got %q\nwant %q", got, want)
	}

	mc := servertest.StartMemcached(t)
	version := strings.TrimPrefix(strings.TrimSuffix(dialWire(t, mc.Addr).exchange("version\r\n"), "\r\n"), "VERSION ")
	warning := "warning: this is not memcached-lite: what you store there is lost when that server restarts\n"
	want = "connected to memcached " + version + " at " + mc.Addr + "\n" + warning + typeHelp + "memcached-lite " + mc.Addr + "> \n"
	if got := session(mc.Addr); got != want {
		t.Errorf("session with memcached:\n got %q\nwant %q", got, want)
	}
	// The warning comes once, however many memcached servers there are.
	mc2 := servertest.StartMemcached(t)
	want = "connected to memcached " + version + " at " + mc.Addr + "\n" + warning +
		"connected to memcached " + version + " at " + mc2.Addr + "\n" +
		"connected to memcached-lite 0.1.0 at " + lite.Addr + " (data file " + data + ", sync none)\n" + typeHelp +
		"memcached-lite [3 servers]> \n"
	if got := session(mc.Addr, mc2.Addr, lite.Addr); got != want {
		t.Errorf("session with three servers:\n got %q\nwant %q", got, want)
	}
}

// exchange sends req and returns the one reply line.
func (w *wire) exchange(req string) string {
	w.t.Helper()
	w.send(req)
	return w.line()
}
