//go:build unix

package repl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestREPLPasswordPrompt runs "client --user" on a terminal against a
// server with -Y: the password is asked for, typed without echo, and is
// neither on the screen nor in the history file afterwards.
func TestREPLPasswordPrompt(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("alice:Sekr1t-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-Y", auth}}).Addr
	home, state := t.TempDir(), t.TempDir()
	p := startPtyArgs(t, []string{"client", "-s", addr, "--user", "alice"}, home, state, "NO_COLOR=1")
	p.expect("Password for alice: ")
	p.typ("Sekr1t-pw\r")
	prompt := "memcached-lite " + addr + "> "
	p.expect(prompt)
	p.typ("set k v\r")
	p.expect("STORED")
	p.expect(prompt)
	p.typ("get k\r")
	p.expect("\r\nv\r\n")
	p.expect(prompt)
	p.typ("\x04") // Ctrl-D
	if code := p.exitStatus(); code != 0 {
		t.Errorf("exit status %d", code)
	}
	if strings.Contains(p.out.String(), "Sekr1t") {
		t.Errorf("the password was echoed:\n%q", p.out.String())
	}
	hist, err := os.ReadFile(filepath.Join(state, "memcached-lite", "history"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(hist), "Sekr1t") || !strings.Contains(string(hist), "set k v") {
		t.Errorf("history file: %q", hist)
	}
}
