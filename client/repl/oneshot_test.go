package repl_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

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
		if !strings.Contains(out, "\n  gat gats bget flush_all verbosity mn shutdown\n") {
			t.Errorf("help does not list the protocol commands with no friendly form:\n%s", out)
		}
		// Every command the server accepts has its help.
		for _, verb := range []string{"get", "bget", "gets", "gat", "gats", "set", "add", "replace", "append", "prepend",
			"cas", "delete", "incr", "decr", "touch", "flush_all", "verbosity", "stats", "version", "quit", "shutdown", "mn"} {
			out, errOut, code := servertest.Run(t, "", "client", "help", verb)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, verb) || len(out) < 80 {
				t.Errorf("help %s: stdout %q, stderr %q, status %d; want its usage and text", verb, out, errOut, code)
			}
		}
		out, _, _ = servertest.Run(t, "", "client", "help", "gat")
		if want := "gat EXPTIME KEY...   (sent as typed)\n\nGet and touch: fetches values as get does"; !strings.HasPrefix(out, want) {
			t.Errorf("help gat: %q, want it to start %q", out, want)
		}
	})
}

// TestREPLOutputFormats runs commands with --raw (values only, as
// redis-cli --raw) and --json (an object a line), and -r/-i, which repeat
// a command.
func TestREPLOutputFormats(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	for _, tc := range []struct {
		name string
		args []string
		out  string
		err  string
		code int
	}{
		{name: "set", args: []string{"--raw", "set", "greeting", "hello, world", "flags=3"}, out: "STORED\n"},
		{name: "set bin", args: []string{"--raw", "set", "bin", "\xff\xfe"}, out: "STORED\n"},
		{name: "set n", args: []string{"--raw", "set", "n", "10"}, out: "STORED\n"},
		{name: "raw get", args: []string{"--raw", "get", "greeting"}, out: "hello, world\n"},
		{name: "raw get miss", args: []string{"--raw", "get", "nothing"}, out: "\n"},
		{name: "raw get many", args: []string{"--raw", "get", "greeting", "nothing", "n"}, out: "hello, world\n\n10\n"},
		{name: "raw incr", args: []string{"--raw", "incr", "n", "5"}, out: "15\n"},
		{name: "raw add fails", args: []string{"--raw", "add", "n", "1"}, out: "NOT_STORED\n", code: 1},
		{name: "raw delete miss", args: []string{"--raw", "delete", "nothing"}, out: "NOT_FOUND\n", code: 1},
		{name: "raw version", args: []string{"--raw", "version"}, out: "1.6.18-lite\n"},
		{name: "json get", args: []string{"--json", "get", "greeting", "nothing", "bin"},
			out: `{"key":"greeting","found":true,"value":"hello, world","flags":3}` + "\n" +
				`{"key":"nothing","found":false}` + "\n" +
				`{"key":"bin","found":true,"value_base64":"//4=","flags":0}` + "\n"},
		{name: "json set", args: []string{"--json", "set", "k", "v"}, out: `{"command":"set","key":"k","reply":"STORED"}` + "\n"},
		{name: "json add fails", args: []string{"--json", "add", "k", "v"}, out: `{"command":"add","key":"k","reply":"NOT_STORED"}` + "\n", code: 1},
		{name: "json decr", args: []string{"--json", "decr", "n", "1"}, out: `{"command":"decr","key":"n","value":14}` + "\n"},
		{name: "json touch", args: []string{"--json", "touch", "k", "100"}, out: `{"command":"touch","key":"k","reply":"TOUCHED"}` + "\n"},
		{name: "json version", args: []string{"--json", "version"}, out: `{"server":"` + addr + `","version":"1.6.18-lite"}` + "\n"},
		{name: "json servers", args: []string{"--json", "servers", "k"}, out: `{"key":"k","server":"` + addr + `"}` + "\n"},
		{name: "json raw", args: []string{"--json", "raw", "get", "k"}, out: `{"server":"` + addr + `","reply":"VALUE k 0 1\r\nv\r\nEND\r\n"}` + "\n"},
		{name: "errors stay text", args: []string{"--json", "incr", "k"},
			err: "CLIENT_ERROR cannot increment or decrement non-numeric value\n", code: 1},
		{name: "both", args: []string{"--json", "--raw", "get", "k"}, code: 2,
			err: "memcached-lite: --raw and --json: pick one\nusage: memcached-lite client [-s HOST:PORT] [--raw|--json] [-r N [-i SECONDS]] [command [args...]] (memcached-lite client --help explains)\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-s", addr}, tc.args...)
			out, errOut, code := servertest.Run(t, "", append([]string{"client"}, args...)...)
			if out != tc.out || errOut != tc.err || code != tc.code {
				t.Errorf("client %q:\n got stdout %q, stderr %q, status %d\nwant stdout %q, stderr %q, status %d",
					args, out, errOut, code, tc.out, tc.err, tc.code)
			}
		})
	}

	t.Run("raw gets", func(t *testing.T) {
		out, errOut, code := servertest.Run(t, "", "client", "-s", addr, "--raw", "gets", "greeting")
		if !regexp.MustCompile(`^\d+ hello, world\n$`).MatchString(out) || errOut != "" || code != 0 {
			t.Errorf("--raw gets greeting: stdout %q, stderr %q, status %d; want \"CAS hello, world\\n\"", out, errOut, code)
		}
	})
	t.Run("json stats", func(t *testing.T) {
		out, errOut, code := servertest.Run(t, "", "client", "-s", addr, "--json", "stats")
		var st struct {
			Server string            `json:"server"`
			Stats  map[string]string `json:"stats"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil || errOut != "" || code != 0 ||
			st.Server != addr || st.Stats["version"] != "1.6.18-lite" || !strings.HasSuffix(out, "}\n") || strings.Count(out, "\n") != 1 {
			t.Errorf("--json stats: stdout %q (%v), stderr %q, status %d", out, err, errOut, code)
		}
	})

	t.Run("repeat", func(t *testing.T) {
		servertest.Run(t, "", "client", "-s", addr, "set", "counter", "0")
		start := time.Now()
		out, errOut, code := servertest.Run(t, "", "client", "-s", addr, "-r", "3", "-i", "0.1", "incr", "counter")
		if out != "1\n2\n3\n" || errOut != "" || code != 0 {
			t.Errorf("-r 3 -i 0.1 incr counter: stdout %q, stderr %q, status %d; want \"1\\n2\\n3\\n\"", out, errOut, code)
		}
		if d := time.Since(start); d < 200*time.Millisecond {
			t.Errorf("-r 3 -i 0.1 took %v, want at least two waits of 100ms", d)
		}
		out, errOut, code = servertest.Run(t, "", "client", "-s", addr, "--raw", "-r", "2", "-i", "10ms", "get", "counter")
		if out != "3\n3\n" || errOut != "" || code != 0 {
			t.Errorf("--raw -r 2 -i 10ms get counter: stdout %q, stderr %q, status %d", out, errOut, code)
		}
		// A run that fails makes the status 1; the others still run.
		out, errOut, code = servertest.Run(t, "", "client", "-s", addr, "-r", "2", "add", "counter", "x")
		want := "NOT_STORED (add stores only new keys, and \"counter\" already exists)\n"
		if out != want+want || errOut != "" || code != 1 {
			t.Errorf("-r 2 add counter x: stdout %q, stderr %q, status %d", out, errOut, code)
		}
		usage := "usage: memcached-lite client [-s HOST:PORT] [--raw|--json] [-r N [-i SECONDS]] [command [args...]] (memcached-lite client --help explains)\n"
		for _, c := range []struct {
			args []string
			err  string
		}{
			{[]string{"-r", "3"}, "memcached-lite: -r repeats a command given as arguments, as in: memcached-lite client -r 5 -i 1 incr visits\n" + usage},
			{[]string{"-i", "1", "get", "k"}, "memcached-lite: -i is the wait between the runs of -r N\n" + usage},
			{[]string{"-r", "0", "get", "k"}, "memcached-lite: -r 0: want a number of runs, or -1 to run until interrupted\n" + usage},
			{[]string{"-r", "2", "-i", "soon", "get", "k"}, "memcached-lite: invalid value \"soon\" for flag -i: want seconds (30, 0.5) or a duration (30s, 500ms, 5m)\n" + usage},
		} {
			out, errOut, code := servertest.Run(t, "", append([]string{"client", "-s", addr}, c.args...)...)
			if out != "" || errOut != c.err || code != 2 {
				t.Errorf("client %q: stdout %q, stderr %q, status %d; want stderr %q, status 2", c.args, out, errOut, code, c.err)
			}
		}
	})
}
