//go:build unix

package repl_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// ptyClient is "memcached-lite client" running on a pseudo-terminal.
type ptyClient struct {
	t      *testing.T
	cmd    *exec.Cmd
	tty    *os.File // the terminal's master side
	out    *syncBuffer
	read   chan struct{} // closed when the master side reads no more
	exited chan struct{} // closed when the process has exited
}

// startPty runs the client for addr on a new 120x40 xterm, with HOME and
// XDG_STATE_HOME set to home and state, and the extra environment env.
func startPty(t *testing.T, addr, home, state string, env ...string) *ptyClient {
	t.Helper()
	return startPtyArgs(t, []string{"client", "-s", addr}, home, state, env...)
}

// startPtyArgs is startPty for the binary's arguments args.
func startPtyArgs(t *testing.T, args []string, home, state string, env ...string) *ptyClient {
	t.Helper()
	p := &ptyClient{t: t, out: newSyncBuffer(), read: make(chan struct{}), exited: make(chan struct{})}
	p.cmd = servertest.Command(t, args...)
	p.cmd.Env = append(append(p.cmd.Env, "TERM=xterm", "HOME="+home, "XDG_STATE_HOME="+state), env...)
	tty, err := pty.StartWithSize(p.cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	p.tty = tty
	go func() {
		defer close(p.read)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			if n > 0 {
				_, _ = p.out.Write(buf[:n]) // a syncBuffer never fails
			}
			if err != nil {
				return // EIO once the client has exited and closed the terminal
			}
		}
	}()
	go func() {
		_ = p.cmd.Wait() // the status is read from ProcessState
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		tty.Close()
		<-p.read
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("data race in the client:\n%s", p.out)
		}
		if t.Failed() {
			t.Logf("terminal output:\n%q", p.out)
		}
	})
	return p
}

// typ types s on the terminal.
func (p *ptyClient) typ(s string) {
	p.t.Helper()
	if _, err := p.tty.WriteString(s); err != nil {
		p.t.Fatalf("type %q: %v", s, err)
	}
}

// expect waits until want appears on the terminal, after what earlier
// calls saw.
func (p *ptyClient) expect(want string) {
	p.t.Helper()
	if _, err := p.out.waitFor(want, p.read, waitLimit); err != nil {
		p.t.Fatal(err)
	}
}

// exitStatus waits for the client to exit and returns its status.
func (p *ptyClient) exitStatus() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitLimit):
		p.t.Fatalf("the client did not exit within %v", waitLimit)
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestREPLTerminal drives the client on a real pseudo-terminal: the banner
// naming the server and its data file, tab
// completion of a command name and of a key set earlier, Ctrl-C cancelling
// a half-typed line, Ctrl-D leaving with status 0, and the history file
// carrying a command to the next session, where Up and Enter run it again.
func TestREPLTerminal(t *testing.T) {
	dataFile := filepath.Join(t.TempDir(), "data.db")
	addr := servertest.StartBinary(t, servertest.BinaryOptions{Path: dataFile}).Addr
	home, state := t.TempDir(), t.TempDir()
	c := client.New(addr)
	defer c.Close()
	vers, err := c.Version()
	if err != nil {
		t.Fatal(err)
	}
	prompt := "memcached-lite " + addr + "> "

	p := startPty(t, addr, home, state, "NO_COLOR=1")
	p.expect("connected to memcached-lite " + server.Release + " at " + addr + " (data file " + dataFile + ", sync always)\r\n" +
		`Type "help" for the commands, "help set" for one of them; Ctrl-D or "quit" leaves.` + "\r\n" + prompt)

	// Completion of a command name: "ver" and Tab make "version ".
	p.typ("ver\t")
	p.expect("version ")
	p.typ("\r")
	p.expect("\r\n" + vers[addr] + "\r\n")
	p.expect(prompt)

	// Completion of a key seen in the session.
	p.typ("set counter-with-a-long-name 41\r")
	p.expect("STORED")
	p.expect(prompt)
	p.typ("incr counter-w\t")
	p.expect("counter-with-a-long-name ")
	p.typ("\r")
	p.expect("\r\n42\r\n")
	p.expect(prompt)

	// A raw storage command asks for its data line; Ctrl-C there sends
	// nothing.
	p.typ("set raw-key 0 0 2\r")
	p.expect("data> ")
	p.typ("hi\r")
	p.expect("\r\nSTORED\r\n")
	p.expect(prompt)
	p.typ("append raw-key 0 0 1\r")
	p.expect("data> ")
	// Ctrl-C only once the echo shows the line editor reads: between two
	// prompts the terminal turns it into SIGINT, which an interactive
	// client ignores (and the terminal drops what was typed).
	p.typ("!")
	p.expect("!")
	p.typ("\x03")
	p.expect("^C\r\nappend: cancelled, nothing sent\r\n")
	p.expect(prompt)
	p.typ("get raw-key\r")
	p.expect("\r\nhi\r\n")
	p.expect(prompt)

	// Ctrl-C cancels the line being typed; the REPL goes on.
	p.typ("delete counter-with-a-long")
	p.expect("delete counter-with-a-long")
	p.typ("\x03")
	p.expect("^C")
	p.expect(prompt)
	p.typ("incr counter-with-a-long-name\r")
	p.expect("\r\n43\r\n")
	p.expect(prompt)

	// Ctrl-D leaves with status 0.
	p.typ("\x04")
	if code := p.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after Ctrl-D, want 0", code)
	}

	hist := filepath.Join(state, "memcached-lite", "history")
	checkMode(t, filepath.Dir(hist), 0o700|os.ModeDir)
	checkMode(t, hist, 0o600)
	data, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	// The cancelled line is not there, nor the data lines.
	want := "version\nset counter-with-a-long-name 41\nincr counter-with-a-long-name\n" +
		"set raw-key 0 0 2\nappend raw-key 0 0 1\nget raw-key\nincr counter-with-a-long-name\n"
	if string(data) != want {
		t.Errorf("history file:\n%q\nwant\n%q", data, want)
	}

	// A second session: Up brings back the last command, Enter runs it.
	p = startPty(t, addr, home, state, "NO_COLOR=1")
	p.expect(prompt)
	p.typ("\x1b[A")
	p.expect("incr counter-with-a-long-name")
	p.typ("\r")
	p.expect("\r\n44\r\n")
	p.expect(prompt)
	p.typ("quit\r")
	if code := p.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after quit, want 0", code)
	}
}

// TestREPLTerminalColours checks that replies on a terminal are coloured,
// unless NO_COLOR is set.
func TestREPLTerminalColours(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	prompt := "memcached-lite " + addr + "> "
	for _, tc := range []struct {
		env              []string
		stored, notFound string
	}{
		{stored: "\x1b[32mSTORED\x1b[0m\r\n", notFound: "\x1b[33mNOT_FOUND\x1b[0m \x1b[2m(there is no \"nothing\")\x1b[0m\r\n"},
		{env: []string{"NO_COLOR=1"}, stored: "\r\nSTORED\r\n", notFound: "\r\nNOT_FOUND (there is no \"nothing\")\r\n"},
	} {
		p := startPty(t, addr, t.TempDir(), t.TempDir(), tc.env...)
		p.expect(prompt)
		p.typ("set colour red\r")
		p.expect(tc.stored)
		p.expect(prompt)
		p.typ("delete nothing\r")
		p.expect(tc.notFound)
		p.expect(prompt)
		p.typ("\x04")
		if code := p.exitStatus(); code != 0 {
			t.Fatalf("exit status %d after Ctrl-D, want 0", code)
		}
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
	}
}

// TestREPLTerminalHistoryInHome checks the history file's place without
// XDG_STATE_HOME: ~/.local/state/memcached-lite/history.
func TestREPLTerminalHistoryInHome(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	home := t.TempDir()
	p := startPty(t, addr, home, "", "NO_COLOR=1")
	prompt := "memcached-lite " + addr + "> "
	p.expect(prompt)
	p.typ("get nothing\r")
	p.expect("\r\n(not found)\r\n")
	p.expect(prompt)
	p.typ("exit\r")
	if code := p.exitStatus(); code != 0 {
		t.Fatalf("exit status %d after exit, want 0", code)
	}
	hist := filepath.Join(home, ".local", "state", "memcached-lite", "history")
	checkMode(t, hist, 0o600)
	if data, err := os.ReadFile(hist); err != nil || string(data) != "get nothing\nexit\n" {
		t.Errorf("%s: %q, %v; want \"get nothing\\nexit\\n\"", hist, data, err)
	}
}
