package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// writeFile runs an in-process server on a new data file whose clock is
// at, sends script (checking the replies are want), and closes the server
// and the file. The sweeper is kept from running, so that the dead items
// stay in the file.
func writeFile(t *testing.T, at time.Time, script, want string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.db")
	var now atomic.Int64
	now.Store(at.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	st, err := storage.Open(path, storage.Options{Now: clock, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(st, server.Options{Now: clock})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, script)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("script replies: got %q (%v), want %q", got, err, want)
	}
	c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-served
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := servertest.Run(t, "", args...)
	if code != 0 {
		t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
	}
	return out
}

// unchanged runs f and checks that the file at path has the same bytes
// after it as before.
func unchanged(t *testing.T, path string, f func()) {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the data file changed: %d bytes before, %d after", len(before), len(after))
	}
}

// TestDumpExpired: dump lists the live items of a file a server wrote;
// --expired adds the expired one, marked; --json and --raw write the same
// items as JSON and as record bytes. None of them changes the file.
func TestDumpExpired(t *testing.T) {
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	path := writeFile(t, base,
		"set a 1 0 2\r\nhi\r\nset bin 0 0 2\r\n\xff\x00\r\nset e 0 10 1\r\nx\r\nset later 0 7200 3\r\nabc\r\n",
		"STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\n")
	exp := func(d time.Duration) int64 { return base.Add(d).Unix() }
	unchanged(t, path, func() {
		live := "key=\"a\" flags=1 exptime=0 cas=1 size=2 value=\"hi\"\n" +
			"key=\"bin\" flags=0 exptime=0 cas=2 size=2 value=\"\\xff\\x00\"\n"
		later := fmt.Sprintf("key=\"later\" flags=0 exptime=%d cas=4 size=3 value=\"abc\"\n", exp(2*time.Hour))
		if got, want := runOK(t, "dump", "--data", path), live+later; got != want {
			t.Errorf("dump:\n got %q\nwant %q", got, want)
		}
		dead := fmt.Sprintf("key=\"e\" flags=0 exptime=%d cas=3 size=1 state=expired value=\"x\"\n", exp(10*time.Second))
		if got, want := runOK(t, "dump", "--data", path, "--expired"), live+dead+later; got != want {
			t.Errorf("dump --expired:\n got %q\nwant %q", got, want)
		}
		wantJSON := `{"key":"a","flags":1,"exptime":0,"cas":1,"value":"hi"}` + "\n" +
			`{"key":"bin","flags":0,"exptime":0,"cas":2,"value_base64":"/wA="}` + "\n" +
			fmt.Sprintf(`{"key":"later","flags":0,"exptime":%d,"cas":4,"value":"abc"}`, exp(2*time.Hour)) + "\n"
		if got := runOK(t, "dump", "--data", path, "--json"); got != wantJSON {
			t.Errorf("dump --json:\n got %q\nwant %q", got, wantJSON)
		}
		upd := strconv.FormatInt(base.UnixNano(), 16)
		wantRaw := "key \"a\": 31 bytes\n" +
			"  00 version  01\n" +
			"  01 flags    00000001  = 1\n" +
			"  05 expires  0000000000000000  = 0 (never)\n" +
			"  13 cas      0000000000000001  = 1\n" +
			"  21 updated  " + strings.Repeat("0", 16-len(upd)) + upd + "  = " + strconv.FormatInt(base.UnixNano(), 10) + " ns (" + base.UTC().Format(time.RFC3339Nano) + ")\n" +
			"  29 value    6869  = \"hi\"\n"
		if got := runOK(t, "dump", "--data", path, "--raw"); !strings.HasPrefix(got, wantRaw) {
			t.Errorf("dump --raw: got\n%s\nwant it to start with\n%s", got, wantRaw)
		}
		in := runOK(t, "inspect", "--data", path)
		for _, want := range []string{
			"format version  1 (records: version 1)\n",
			"items           4 (live 3, expired 1, flushed 0: dead ones wait for the sweeper)\n",
			"bytes           18 (keys and values)\n",
			"next cas        5\n",
			"pending flush   none\n",
		} {
			if !strings.Contains(in, want) {
				t.Errorf("inspect: no line %q in\n%s", want, in)
			}
		}
	})
}

// TestDumpFlushed: a flush_all deadline that passed while the server was
// stopped hides the items written before it: dump shows none, --expired
// shows them as flushed, and inspect shows the deadline.
func TestDumpFlushed(t *testing.T) {
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	path := writeFile(t, base, "set f 0 0 1\r\nx\r\nflush_all 3\r\n", "STORED\r\nOK\r\n")
	unchanged(t, path, func() {
		if got := runOK(t, "dump", "--data", path); got != "" {
			t.Errorf("dump of a flushed file: got %q, want nothing", got)
		}
		want := "key=\"f\" flags=0 exptime=0 cas=1 size=1 state=flushed value=\"x\"\n"
		if got := runOK(t, "dump", "--data", path, "--expired"); got != want {
			t.Errorf("dump --expired:\n got %q\nwant %q", got, want)
		}
		in := runOK(t, "inspect", "--data", path)
		for _, want := range []string{
			"items           1 (live 0, expired 0, flushed 1: dead ones wait for the sweeper)\n",
			"pending flush   " + base.Add(2*time.Second).UTC().Format(time.RFC3339Nano) + "\n",
		} {
			if !strings.Contains(in, want) {
				t.Errorf("inspect: no line %q in\n%s", want, in)
			}
		}
	})
}

// TestInspectLocked: on the file of a running server, inspect and dump
// fail in well under a second, naming the server's pid and what to run
// instead, and leave the file as it was.
func TestInspectLocked(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	exchange(t, p.Addr, "set k 0 0 1\r\nx\r\n", "STORED\r\n")
	unchanged(t, p.Path, func() {
		for _, cmd := range [][]string{{"inspect", "--data", p.Path}, {"dump", "--data", p.Path}} {
			start := time.Now()
			_, errOut, code := servertest.Run(t, "", cmd...)
			took := time.Since(start)
			want := fmt.Sprintf("memcached-lite: storage: open %s: the file is locked by process %d (waited 300ms)\n"+
				"a server is running on it: ask it instead, e.g. memcached-lite client -s HOST:PORT keys\n", p.Path, p.Cmd.Process.Pid)
			if code != 1 || errOut != want {
				t.Errorf("%s: exit %d, stderr\n%q\nwant exit 1 and\n%q", cmd[0], code, errOut, want)
			}
			if took > time.Second {
				t.Errorf("%s took %v on a locked file, want under 1s", cmd[0], took)
			}
		}
	})
}

// TestDumpRawState: a record of an item in a meta protocol state (here
// stale, after md with I) is version 2, with a state byte before the
// value; dump --raw shows it as such and dump reads the value after it.
func TestDumpRawState(t *testing.T) {
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	path := writeFile(t, base, "set s 0 0 2\r\nxy\r\nmd s I\r\n", "STORED\r\nHD\r\n")
	unchanged(t, path, func() {
		raw := runOK(t, "dump", "--data", path, "--raw")
		for _, want := range []string{"key \"s\": 32 bytes\n", "  00 version  02\n", "  29 state    ", "  30 value    7879  = \"xy\"\n"} {
			if !strings.Contains(raw, want) {
				t.Errorf("dump --raw: no %q in\n%s", want, raw)
			}
		}
		if got, want := runOK(t, "dump", "--data", path), "key=\"s\" flags=0 exptime=0 cas=2 size=2 value=\"xy\"\n"; got != want {
			t.Errorf("dump:\n got %q\nwant %q", got, want)
		}
	})
}
