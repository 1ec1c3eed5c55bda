package repl_test

import (
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestREPLOneShotBinary runs "memcached-lite client COMMAND ARGS..." as a
// script would.
func TestREPLOneShotBinary(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	other := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		out   string
		err   string
		code  int
	}{
		// The shell has split the words: no quotes or escapes are read.
		{name: "set", args: []string{"set", "k", `hello "world"\n`}, out: "STORED\n"},
		{name: "get", args: []string{"get", "k"}, out: `hello "world"\n` + "\n"},
		{name: "miss", args: []string{"get", "nothing"}, out: "(not found)\n"},
		{name: "not found", args: []string{"delete", "nothing"}, out: "NOT_FOUND (there is no \"nothing\")\n", code: 1},
		{name: "usage", args: []string{"incr"}, err: "incr: want a KEY and perhaps a number (usage: incr KEY [N])\n", code: 1},
		{name: "raw set reads its data from stdin", stdin: "hello\n", args: []string{"set", "r", "0", "0", "5"}, out: "STORED\n"},
		{name: "raw get", args: []string{"raw", "get", "r"}, out: "VALUE r 0 5\nhello\nEND\n"},
		{name: "raw set without data", args: []string{"set", "r", "0", "0", "5"},
			err: "set: no data line to send (EOF)\n", code: 1},
		{name: "trace", args: []string{"--trace", "incr", "n"},
			out: ">> incr n 1\\r\\n\n<< NOT_FOUND\\r\\n\nNOT_FOUND (there is no \"n\", and incr does not create one: set it to a number first)\n", code: 1},
		{name: "quit does nothing", args: []string{"quit"}},
		{name: "bad address", args: []string{"-s", "nowhere", "version"},
			err: "memcached-lite: client: server address \"nowhere\": address nowhere: missing port in address\n", code: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if args[0] != "-s" {
				args = append([]string{"-s", addr}, args...)
			}
			out, errOut, code := servertest.Run(t, tc.stdin, append([]string{"client"}, args...)...)
			if out != tc.out || errOut != tc.err || code != tc.code {
				t.Errorf("client %q:\n got stdout %q, stderr %q, status %d\nwant stdout %q, stderr %q, status %d",
					args, out, errOut, code, tc.out, tc.err, tc.code)
			}
		})
	}

	t.Run("two -s flags", func(t *testing.T) {
		out, errOut, code := servertest.Run(t, "", "client", "-s", addr, "-s", other, "servers")
		if want := addr + "\n" + other + "\n"; out != want || errOut != "" || code != 0 {
			t.Errorf("servers: stdout %q, stderr %q, status %d; want %q", out, errOut, code, want)
		}
	})
	t.Run("help", func(t *testing.T) {
		out, errOut, code := servertest.Run(t, "", "client", "help", "set")
		if !strings.HasPrefix(out, "set KEY VALUE [ttl=SECONDS] [flags=N]\n\nStores VALUE under KEY") || errOut != "" || code != 0 {
			t.Errorf("help set: stdout %q, stderr %q, status %d", out, errOut, code)
		}
		out, _, _ = servertest.Run(t, "", "client", "help")
		for _, name := range []string{"set", "get", "gets", "cas", "incr", "touch", "flush", "stats", "servers", "trace", "raw", "quit"} {
			if !strings.Contains(out, "\n  "+name+" ") {
				t.Errorf("help does not list %s:\n%s", name, out)
			}
		}
	})
}
