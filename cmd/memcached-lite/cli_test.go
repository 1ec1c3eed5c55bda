package main

// Tests of the command line a newcomer meets first: the version, mistakes
// in subcommands, flags and arguments, a port already taken, and that a
// start that fails leaves no data file behind.

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

const (
	serverUsageLine = "usage: memcached-lite server [-p PORT] [-l ADDRESS] [--data FILE] [flags] (memcached-lite server --help explains)\n"
	rootUsageLine   = "usage: memcached-lite [--version] COMMAND [flags...] (memcached-lite --help explains)\n"
)

func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		out  string
		code int
	}{
		{name: "--version", args: []string{"--version"}, out: "memcached-lite 0.1.0 (the protocol's version command answers 1.6.18-lite)\n"},
		{name: "version", args: []string{"version"}, out: "memcached-lite 0.1.0 (the protocol's version command answers 1.6.18-lite)\n"},
		{name: "unknown command", args: []string{"serve"}, out: "memcached-lite: unknown command serve; did you mean server?\n", code: 2},
		{name: "unknown command, swapped letters", args: []string{"clinet"}, out: "memcached-lite: unknown command clinet; did you mean client?\n", code: 2},
		{name: "unknown command, far off", args: []string{"start"},
			out: "memcached-lite: unknown command start; the commands are server, client, compact, version, backup, check, inspect, dump (memcached-lite --help)\n", code: 2},
		{name: "unknown flag", args: []string{"--bogus"}, out: "memcached-lite: flag provided but not defined: -bogus\n" + rootUsageLine, code: 2},
		{name: "server: unknown flag", args: []string{"server", "--no-such-flag"},
			out: "memcached-lite: flag provided but not defined: -no-such-flag\n" + serverUsageLine, code: 2},
		{name: "server: bad number", args: []string{"server", "-p", "notaport"},
			out: "memcached-lite: invalid value \"notaport\" for flag -p: parse error\n" + serverUsageLine, code: 2},
		{name: "server: bad duration", args: []string{"server", "--idle-timeout", "soon"},
			out: "memcached-lite: invalid value \"soon\" for flag -idle-timeout: want seconds (30, 0.5) or a duration (30s, 500ms, 5m)\n" + serverUsageLine, code: 2},
		{name: "server: extra arguments", args: []string{"server", "--data", "a.db", "extra", "args"},
			out: "memcached-lite: unexpected arguments \"extra args\": the server takes only flags (quote a --data path with spaces)\n" + serverUsageLine, code: 2},
		{name: "server: port out of range", args: []string{"server", "-p", "99999", "--data", "a.db"},
			out: "memcached-lite: -p 99999: want a port from 1 to 65535, or 0 for any free one\n", code: 1},
		{name: "server: -I over half of -m", args: []string{"server", "-m", "64", "-I", "33m", "--data", "a.db"},
			out: "memcached-lite: -I 33m with -m 64: Cannot set item size limit higher than 1/2 of memory max. (with -m 64, -I may be up to 32m; -m 0 turns the read cache off)\n", code: 1},
		{name: "server: default -I over half of -m 1", args: []string{"server", "-m", "1", "--data", "a.db"},
			out: "memcached-lite: -I 1m with -m 1: Cannot set item size limit higher than 1/2 of memory max. (with -m 1, -I may be up to 512k; -m 0 turns the read cache off)\n", code: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			code, out := runBinaryIn(t, dir, tc.args...)
			if out != tc.out || code != tc.code {
				t.Errorf("memcached-lite %q:\n got status %d, output %q\nwant status %d, output %q", tc.args, code, out, tc.code, tc.out)
			}
			// A start that fails creates nothing: no data file.
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("memcached-lite %q left %q behind", tc.args, names)
			}
		})
	}
}

// runBinaryIn runs the binary with args in the directory dir, so that a
// data file created by mistake lands there, and returns its status and its
// standard output then its standard error.
func runBinaryIn(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	servertest.Binary(t) // built from the package's directory, before leaving it
	t.Chdir(dir)         // until the test ends
	out, errOut, code := servertest.Run(t, "", args...)
	return code, out + errOut
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// exchange sends req to the server at addr on a new connection and fails
// the test unless the reply is exactly want.
func exchange(t *testing.T, addr, req, want string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("%q: got %q (%v), want %q", req, got, err, want)
	}
}

// TestPortTaken checks the message for a port in use: which port, that
// another memcached may hold it, and a command with a free port; and that
// the failed start left no data file.
func TestPortTaken(t *testing.T) {
	first := servertest.StartBinary(t, servertest.BinaryOptions{})
	port := strconv.Itoa(first.Port)
	dir := t.TempDir()
	data := filepath.Join(dir, "second.db")
	hintRE := regexp.MustCompile(`To use port (\d+) instead: `)
	for _, tc := range []struct {
		name string
		args []string
		hint string // with {port} for the port suggested
	}{
		{name: "plain", hint: "memcached-lite server -p {port}"},
		{name: "from make run", args: []string{"--port-hint", "make run PORT={port} DATA='a b.db'"}, hint: "make run PORT={port} DATA='a b.db'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"server", "-p", port, "-l", "127.0.0.1", "--data", data}, tc.args...)
			stdout, out, code := servertest.Run(t, "", args...)
			if stdout != "" {
				t.Errorf("memcached-lite %q wrote %q on its standard output", args, stdout)
			}
			m := hintRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("memcached-lite %q: status %d, output %q: no port suggested", args, code, out)
			}
			if m[1] == port {
				t.Errorf("the taken port %s was suggested", port)
			}
			want := "memcached-lite: listen tcp4 127.0.0.1:" + port + ": bind: address already in use\n" +
				"port " + port + " is taken: another memcached may be running there (Debian's memcached package listens on 127.0.0.1:11211), or another memcached-lite.\n" +
				"To use port " + m[1] + " instead: " + strings.ReplaceAll(tc.hint, "{port}", m[1]) + "\n"
			if code != 1 || out != want {
				t.Errorf("memcached-lite %q:\n got status %d, output %q\nwant status 1, output %q", args, code, out, want)
			}
			if names := dirNames(t, dir); len(names) != 0 {
				t.Errorf("a start on a taken port left %q behind", names)
			}
		})
	}
	dialWire(t, first.Addr).expectVersion()
}

// TestIdleTimeoutSeconds checks that --idle-timeout takes memcached's plain
// seconds as well as Go durations, from the flag and from the environment.
func TestIdleTimeoutSeconds(t *testing.T) {
	for _, tc := range []struct {
		args, env []string
		want      string
	}{
		{args: []string{"--idle-timeout", "30"}, want: "30"},
		{args: []string{"--idle-timeout", "30s"}, want: "30"},
		{args: []string{"--idle-timeout=2m"}, want: "120"},
		{env: []string{"MEMCACHED_LITE_IDLE_TIMEOUT=45"}, want: "45"},
		{want: "0"},
	} {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: tc.args, Env: tc.env})
		if got := dialWire(t, p.Addr).stats("settings")["idle_timeout"]; got != tc.want {
			t.Errorf("%q with environment %q: stats settings idle_timeout = %s, want %s", tc.args, tc.env, got, tc.want)
		}
	}
}

// TestItemSizeAndMemory checks memcached's rule that -I may be at most half
// of -m, against memcached itself when it is installed.
func TestItemSizeAndMemory(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // stats settings item_size_max
	}{
		{[]string{"-m", "64", "-I", "32m"}, "33554432"},
		{[]string{"-m", "0", "-I", "33m"}, "34603008"},
		{[]string{"-m", "2"}, "1048576"},
	} {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Args: tc.args})
		if got := dialWire(t, p.Addr).stats("settings")["item_size_max"]; got != tc.want {
			t.Errorf("%q: stats settings item_size_max = %s, want %s", tc.args, got, tc.want)
		}
	}

	t.Run("memcached", func(t *testing.T) {
		bin := servertest.Tool(t, "memcached")
		args := []string{"-p", "0", "-U", "0", "-l", "127.0.0.1", "-m", "64", "-I", "33m"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root")
		}
		code, out := runTool(t, bin, args...)
		if code != 64 || out != itemSizeRule+"\n" {
			t.Errorf("memcached %q: status %d, output %q; want 64 and %q", args, code, out, itemSizeRule+"\n")
		}
		p := servertest.StartMemcached(t, "-m", "64", "-I", "32m")
		if got := dialWire(t, p.Addr).stats("settings")["item_size_max"]; got != "33554432" {
			t.Errorf("memcached -m 64 -I 32m: stats settings item_size_max = %s, want 33554432", got)
		}
	})
}

// runTool runs an external program to completion within 10 seconds and
// returns its status and combined output.
func runTool(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if ctx.Err() != nil || err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %q: %v\n%s", bin, args, err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestListenIPv4Only checks that -l 127.0.0.1 listens on IPv4 alone: the
// same port on IPv6's loopback refuses connections.
func TestListenIPv4Only(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ln.Close()
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	dialWire(t, p.Addr).expectVersion()
	v6 := net.JoinHostPort("::1", strconv.Itoa(p.Port))
	if nc, err := net.DialTimeout("tcp", v6, wireTimeout); err == nil {
		nc.Close()
		t.Errorf("-l 127.0.0.1 accepted a connection on %s", v6)
	}
}

// TestExposedWarning: a server on loopback does not warn that it is exposed.
func TestExposedWarning(t *testing.T) {
	// A real loopback server does not warn.
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	if out := p.Output(); strings.Contains(out, "beyond loopback") {
		t.Errorf("a server on 127.0.0.1 warned:\n%s", out)
	}
}
