package server_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// authScript is run, one request at a time, against memcached -Y and
// memcached-lite with the same file: every reply is compared with want.
// (memcached answers a pipeline of unauthenticated commands with fewer
// replies than commands, so the script waits for each.)
var authScript = []struct{ send, want string }{
	{"version\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"get k\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"mg k v\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"quit\r\n", "CLIENT_ERROR unauthenticated\r\n"}, // and the connection stays
	{"flush_all\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"set k 0 0\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"add k 0 0 12\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"alice s3cret\r\n", "CLIENT_ERROR unauthenticated\r\n"}, // add's data is just a line
	{"set k 0 0 5 noreply\r\nhello\r\n", "CLIENT_ERROR bad authentication token format\r\n"},
	{"set k 0 0 11\r\nalice wrong\r\n", "CLIENT_ERROR authentication failure\r\n"},
	{"set k 0 0 12\r\nalice s3creT\r\n", "CLIENT_ERROR authentication failure\r\n"},
	{"set k 0 0 10\r\nbob s3cret\r\n", "CLIENT_ERROR authentication failure\r\n"},
	{"get k\r\n", "CLIENT_ERROR unauthenticated\r\n"},
	{"set x 1 2 12\r\nalice s3cret\r\n", "STORED\r\n"},
	{"get k\r\n", "END\r\n"}, // none of the above stored anything
	{"get x\r\n", "END\r\n"},
	{"set k 0 0 2\r\nhi\r\n", "STORED\r\n"},
	{"get k\r\n", "VALUE k 0 2\r\nhi\r\nEND\r\n"},
	{"set x 0 0 9\r\nbob  pw 2\r\n", "STORED\r\n"}, // an ordinary set now
}

func writeAuthFile(t *testing.T, mode os.FileMode, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "auth")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func runAuthScript(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	for _, s := range authScript {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write([]byte(s.send)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(s.want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != s.want {
			t.Fatalf("send %q:\n got %q (%v)\nwant %q", s.send, got, err, s.want)
		}
	}
}

func TestAuthMemcached(t *testing.T) {
	path := writeAuthFile(t, 0o600, "alice:s3cret\nbob:pw2\n")
	runAuthScript(t, servertest.StartMemcached(t, "-Y", path).Addr)
}

func TestAuthLite(t *testing.T) {
	path := writeAuthFile(t, 0o600, "alice:s3cret\nbob:pw2\n")
	auth, err := server.LoadAuth(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := servertest.Start(t, servertest.Options{Server: server.Options{Auth: auth}})

	// Writes of every kind from a connection that has not authenticated:
	// not one operation reaches the store.
	nc, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	before := ts.Store.Stats()
	br := bufio.NewReader(nc)
	for _, req := range []string{"flush_all\r\n", "incr k 1\r\n", "delete k\r\n", "touch k 10\r\n",
		"ms k 1 T0\r\n", "md k\r\n", "ma k N0\r\n", "mg k N30\r\n", "gat 10 k\r\n", "cas k 0 0 1 5\r\n"} {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		if l, err := br.ReadString('\n'); l != "CLIENT_ERROR unauthenticated\r\n" {
			t.Fatalf("send %q unauthenticated: got %q (%v)", req, l, err)
		}
	}
	nc.Close()
	if after := ts.Store.Stats(); after.Ops != before.Ops || after.Items != 0 {
		t.Errorf("unauthenticated writes reached the store: ops %d -> %d, %d items", before.Ops, after.Ops, after.Items)
	}

	runAuthScript(t, ts.Addr)
	if n := ts.Store.Stats().Items; n != 2 {
		t.Errorf("%d items in the store, want the 2 set after authenticating", n)
	}
}

// TestAuthReloadAndWarning checks that Reload takes a new password (and
// keeps the old list when the new file is bad), and that a file others
// can read draws a warning.
func TestAuthReloadAndWarning(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	path := writeAuthFile(t, 0o644, "alice:one\n")
	a, err := server.LoadAuth(path, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "readable by every user") {
		t.Errorf("no warning for a world-readable file; log: %q", logs.String())
	}
	if !a.Check([]byte("alice"), []byte("one")) || a.Check([]byte("alice"), []byte("two")) || a.Check([]byte("alic"), []byte("one")) {
		t.Fatal("Check with the first file")
	}
	if err := os.WriteFile(path, []byte("alice:two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	if a.Check([]byte("alice"), []byte("one")) || !a.Check([]byte("alice"), []byte("two")) {
		t.Error("Check after Reload")
	}
	if err := os.WriteFile(path, []byte("no colon here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(); err == nil || !a.Check([]byte("alice"), []byte("two")) {
		t.Errorf("Reload of a bad file: %v; the old list must stay", err)
	}
}
