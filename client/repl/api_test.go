package repl_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

const waitLimit = 10 * time.Second // for one reply of an interactive session

// oneShot is a REPL whose commands a test runs with RunArgs, reading what
// each printed.
type oneShot struct {
	t        *testing.T
	r        *repl.REPL
	out, err bytes.Buffer
}

func newOneShot(t *testing.T, cfg repl.Config) *oneShot {
	t.Helper()
	o := &oneShot{t: t}
	cfg.Out, cfg.Err = &o.out, &o.err
	r, err := repl.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	o.r = r
	return o
}

// run runs one command and returns its stdout, stderr and status.
func (o *oneShot) run(args ...string) (string, string, int) {
	o.out.Reset()
	o.err.Reset()
	code := o.r.RunArgs(args)
	return o.out.String(), o.err.String(), code
}

// expect runs one command and checks its stdout and status, and that
// stderr is empty.
func (o *oneShot) expect(want string, wantCode int, args ...string) {
	o.t.Helper()
	out, errOut, code := o.run(args...)
	if out != want || errOut != "" || code != wantCode {
		o.t.Fatalf("%q:\n got %q, stderr %q, status %d\nwant %q, no stderr, status %d", args, out, errOut, code, want, wantCode)
	}
}

func TestREPLCompareAndSwap(t *testing.T) {
	o := newOneShot(t, repl.Config{Servers: []string{servertest.StartBinary(t, servertest.BinaryOptions{}).Addr}})
	o.expect("STORED\n", 0, "set", "k", "v1")
	out, _, _ := o.run("gets", "k")
	m := regexp.MustCompile(`^v1 \(cas=(\d+)\)\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("gets k: %q, want v1 (cas=N)", out)
	}
	o.expect("STORED\n", 0, "cas", "k", "v2", m[1], "flags=3")
	o.expect("EXISTS (\"k\" has changed since your gets: its CAS is no longer "+m[1]+")\n", 1, "cas", "k", "v3", m[1])
	o.expect("v2 (flags=3)\n", 0, "get", "k")
}

func TestREPLStatsAndVersion(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	o := newOneShot(t, repl.Config{Servers: []string{addr}})
	c := client.New(addr)
	defer c.Close()

	vers, err := c.Version()
	if err != nil {
		t.Fatal(err)
	}
	o.expect(vers[addr]+"\n", 0, "version")

	// The table keeps the server's order, with the values in one column.
	reply, err := c.Do(addr, []byte("stats settings\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(string(reply), "END\r\n"), "\r\n") {
		if name, ok := strings.CutPrefix(line, "STAT "); ok {
			name, _, _ = strings.Cut(name, " ")
			names = append(names, name)
		}
	}
	out, errOut, code := o.run("stats", "settings")
	if errOut != "" || code != 0 {
		t.Fatalf("stats settings: stderr %q, status %d", errOut, code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(names) || len(names) < 5 {
		t.Fatalf("stats settings printed %d lines for %d statistics:\n%s", len(lines), len(names), out)
	}
	column := -1
	for i, line := range lines {
		m := regexp.MustCompile(`^(\S+)( +)(\S.*)?$`).FindStringSubmatchIndex(line)
		if m == nil || line[m[2]:m[3]] != names[i] {
			t.Fatalf("line %d is %q, want statistic %q, spaces, value", i+1, line, names[i])
		}
		if column == -1 {
			column = m[5]
		}
		if m[5] != column || m[5]-m[4] < 2 {
			t.Fatalf("stats settings: values not in one column:\n%s", out)
		}
	}
}

func TestREPLTwoServers(t *testing.T) {
	addrs := []string{servertest.StartBinary(t, servertest.BinaryOptions{}).Addr, servertest.StartBinary(t, servertest.BinaryOptions{}).Addr}
	o := newOneShot(t, repl.Config{Servers: addrs})
	ring := client.New(addrs...)
	defer ring.Close()

	keys := make([]string, 20)
	var wantServers strings.Builder
	used := map[string]bool{}
	for i := range keys {
		keys[i] = fmt.Sprintf("key:%d", i)
		owner, err := ring.ServerFor(keys[i])
		if err != nil {
			t.Fatal(err)
		}
		used[owner] = true
		fmt.Fprintf(&wantServers, "%s -> %s\n", keys[i], owner)
		o.expect("STORED\n", 0, "set", keys[i], fmt.Sprint(i))
	}
	if len(used) != 2 {
		t.Fatalf("20 keys all on one server: %v", used)
	}
	o.expect(wantServers.String(), 0, append([]string{"servers"}, keys...)...)
	o.expect(strings.Join(addrs, "\n")+"\n", 0, "servers")
	o.expect("key:3: 3\nkey:4: 4\nnone: (not found)\n", 0, "get", "key:3", "key:4", "none")

	// Each key is on the server ketama picks: ask each server directly.
	for _, k := range keys {
		owner, _ := ring.ServerFor(k)
		for _, a := range addrs {
			direct := client.New(a)
			_, err := direct.Get(k)
			direct.Close()
			if (err == nil) != (a == owner) {
				t.Fatalf("%s on %s: Get error %v; ketama picks %s", k, a, err, owner)
			}
		}
	}

	// A raw command goes to its key's server, the trace names it; one
	// without a key goes to each server.
	o.r.RunArgs([]string{"trace", "on"})
	owner, _ := ring.ServerFor("key:7")
	o.expect(owner+" >> get key:7\\r\\n\n"+owner+" << VALUE key:7 0 1\\r\\n\n"+owner+" << 7\\r\\n\n"+owner+" << END\\r\\n\n",
		0, "raw", "get", "key:7")
	// version asks both servers at once: their trace lines may interleave,
	// but each is whole.
	out, errOut, code := o.run("version")
	if errOut != "" || code != 0 {
		t.Fatalf("version with trace on: stderr %q, status %d", errOut, code)
	}
	lines := strings.Split(out, "\n")
	slices.Sort(lines[:4])
	want := []string{addrs[0] + " << VERSION ", addrs[0] + " >> version\\r\\n", addrs[1] + " << VERSION ", addrs[1] + " >> version\\r\\n"}
	slices.Sort(want)
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Fatalf("version with trace on:\n%s\nwant lines starting %q", out, want)
		}
	}
	o.r.RunArgs([]string{"trace", "off"})
	o.expect("-- "+addrs[0]+"\nOK\n-- "+addrs[1]+"\nOK\n", 0, "verbosity", "0")
	out, _, code = o.run("stats")
	if code != 0 || !strings.HasPrefix(out, "-- "+addrs[0]+"\n") || !strings.Contains(out, "\n-- "+addrs[1]+"\n") {
		t.Errorf("stats with two servers, status %d:\n%s", code, out)
	}
}

// TestREPLServerDown checks the message for a server that is not there, in
// a script (status 1) and in one-shot use of the binary, then that an
// interactive session goes on, and is served once a server starts on the
// address, and again after that server restarts.
func TestREPLServerDown(t *testing.T) {
	addr := servertest.FreeAddr(t)
	refused := "cannot connect to " + addr + ": connection refused\n"

	var out, errOut bytes.Buffer
	r, err := repl.New(repl.Config{Servers: []string{addr}, In: strings.NewReader("get k\nset k v\n"), Out: &out, Err: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	if code := r.Run(); code != 1 || out.String() != "" || errOut.String() != refused+refused {
		t.Errorf("script against no server: status %d, stdout %q, stderr %q; want 1, nothing, %q twice", code, &out, &errOut, refused)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}

	stdout, stderr, code := servertest.Run(t, "", "client", "-s", addr, "get", "k")
	if code != 1 || stdout != "" || stderr != refused {
		t.Errorf("client get k against no server: status %d, stdout %q, stderr %q; want 1, nothing, %q", code, stdout, stderr, refused)
	}

	// An interactive session says at once that there is no server, and
	// says so again for each command until one starts. Then it tells each
	// new connection: the first, and the one after a restart.
	hint := "(is a server running there? \"make run\" or \"memcached-lite server\" starts one; the next command tries again)\n"
	s := startSession(t, repl.Config{Servers: []string{addr}, Interactive: true})
	if want := refused + hint + typeHelp; s.banner != want {
		t.Fatalf("banner with no server:\n got %q\nwant %q", s.banner, want)
	}
	s.command("get k", refused+hint)
	_, portText, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.StartBinary(t, servertest.BinaryOptions{Port: port})
	s.command("set k v", "(connected to "+addr+")\nSTORED\n")
	s.command("get k", "v\n")
	if code := srv.Stop(syscall.SIGTERM); code != 0 { // the connection the REPL keeps is closed
		t.Errorf("server exited with status %d after SIGTERM, want 0", code)
	}
	s.command("get k", refused+hint)
	srv.Restart(t) // on the same data file and address
	s.command("get k", "(reconnected to "+addr+")\nv\n")
	s.command("delete k", "DELETED\n")
	// An error reply makes the client close its connection itself: the
	// next one is no news.
	s.command("incr k", "NOT_FOUND (there is no \"k\", and incr does not create one: set it to a number first)\n")
	s.command("set k v", "STORED\n")
	s.command("incr k", "CLIENT_ERROR cannot increment or decrement non-numeric value\n")
	s.command("get k", "v\n")
	s.end()
}

// typeHelp ends the banner of an interactive session.
const typeHelp = "Type \"help\" for the commands, \"help set\" for one of them; Ctrl-D or \"quit\" leaves.\n"

// TestREPLBanner checks what an interactive session says first about a
// memcached-lite server: its version, address, data file and sync mode.
func TestREPLBanner(t *testing.T) {
	data := filepath.Join(t.TempDir(), "banner.db")
	addr := servertest.StartBinary(t, servertest.BinaryOptions{Path: data}).Addr
	s := startSession(t, repl.Config{Servers: []string{addr}, Interactive: true})
	want := "connected to memcached-lite 0.1.0 at " + addr + " (data file " + data + ", sync always)\n" + typeHelp
	if s.banner != want {
		t.Fatalf("banner:\n got %q\nwant %q", s.banner, want)
	}
	s.end()

	// Two servers, one of them down: a line for each.
	down := servertest.FreeAddr(t)
	s = startSession(t, repl.Config{Servers: []string{addr, down}, Interactive: true})
	want = "connected to memcached-lite 0.1.0 at " + addr + " (data file " + data + ", sync always)\n" +
		"cannot connect to " + down + ": connection refused\n" +
		"(is a server running there? \"make run\" or \"memcached-lite server\" starts one; the next command tries again)\n" + typeHelp
	if s.banner != want {
		t.Fatalf("banner for two servers:\n got %q\nwant %q", s.banner, want)
	}
	s.end()
}

// TestREPLRawData checks that an explicit raw storage command sends what
// is typed: after a data line too short, the session says how many bytes
// the server still waits for and sends the next line too, so that the
// server's own reply shows.
func TestREPLRawData(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	s := startSession(t, repl.Config{Servers: []string{addr}, Interactive: true})
	s.command("raw set k 0 0 5\nhi\nthere",
		"data> (4 of the 7 bytes the server waits for: the 5-byte value and its \\r\\n; the next line is sent too, with its \\r\\n)\n"+
			"data> CLIENT_ERROR bad data chunk\nERROR\n")
	s.command("raw set k 0 0 1\nhi", "data> CLIENT_ERROR bad data chunk\nERROR\n")
	// Without raw, a data line of the wrong length is not sent.
	s.command("set k 0 0 5\nhi", "data> set: the data line has 2 bytes, but the command announces 5: nothing sent (\"raw set ...\" sends it anyway, to see what the server does)\n")
	s.command("get k", "(not found)\n")
	s.command("raw set k 0 0 5\nhello", "data> STORED\n")
	s.command("get k", "hello\n")
	s.end()
}

// session is an interactive REPL run through the API, fed by a pipe.
type session struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *syncBuffer
	prompt string
	banner string // what came before the first prompt
	code   chan int
	done   chan struct{}
}

func startSession(t *testing.T, cfg repl.Config) *session {
	t.Helper()
	pr, pw := io.Pipe()
	s := &session{t: t, in: pw, out: newSyncBuffer(), code: make(chan int, 1), done: make(chan struct{}),
		prompt: "memcached-lite " + cfg.Servers[0] + "> "}
	cfg.In, cfg.Out = pr, s.out
	r, err := repl.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		s.code <- r.Run()
		pr.Close()
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	t.Cleanup(func() {
		pw.Close()
		<-s.done
	})
	if len(cfg.Servers) > 1 {
		s.prompt = fmt.Sprintf("memcached-lite [%d servers]> ", len(cfg.Servers))
	}
	banner, err := s.out.waitFor(s.prompt, s.done, waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	s.banner = banner
	return s
}

// command types line and checks that exactly want comes before the next
// prompt.
func (s *session) command(line, want string) {
	s.t.Helper()
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(s.in, line+"\n")
		written <- err
	}()
	got, err := s.out.waitFor(s.prompt, s.done, waitLimit)
	if err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	if werr := <-written; werr != nil {
		s.t.Fatalf("%s: %v", line, werr)
	}
	if got != want {
		s.t.Fatalf("%s:\n got %q\nwant %q", line, got, want)
	}
}

// end closes the input, as Ctrl-D does, and checks the status is 0.
func (s *session) end() {
	s.t.Helper()
	s.in.Close()
	select {
	case code := <-s.code:
		if code != 0 {
			s.t.Errorf("interactive Run returned %d, want 0", code)
		}
	case <-time.After(waitLimit):
		s.t.Fatal("Run did not return after the end of input")
	}
}
