package main

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

const externalTimeout = 60 * time.Second

// runExternal runs name with args to completion within externalTimeout and returns
// its exit status and combined output.
func runExternal(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), externalTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = servertest.Env()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within %v\noutput:\n%s", name, strings.Join(args, " "), externalTimeout, out)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("%s: %v", name, err)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

func TestMemccapable(t *testing.T) {
	tool := servertest.Tool(t, "memccapable")
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	code, out := runExternal(t, tool, "-a", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port))
	if code != 0 || !strings.Contains(out, "All tests passed") || strings.Contains(out, "[FAIL]") {
		t.Errorf("memccapable -a: exit status %d, want 0 and \"All tests passed\"; output:\n%s", code, out)
	}
}

// runPythonScript runs one of testdata/python's client scripts against
// the binary and, to show the script expects what memcached does, against
// memcached. Each script prints "OK" and exits 0 when every check passes.
func runPythonScript(t *testing.T, module, script string) {
	t.Helper()
	needPython(t, module)
	run := func(t *testing.T, p *servertest.Process) {
		code, out := runExternal(t, systemPython, "../../testdata/python/"+script, "127.0.0.1", strconv.Itoa(p.Port))
		if code != 0 || out != "OK\n" {
			t.Errorf("%s: exit status %d, output %q; want 0 and \"OK\\n\"", script, code, out)
		}
	}
	t.Run("memcached-lite", func(t *testing.T) { run(t, servertest.StartBinary(t, servertest.BinaryOptions{})) })
	t.Run("memcached", func(t *testing.T) { run(t, servertest.StartMemcached(t)) })
}

func TestPymemcache(t *testing.T) {
	runPythonScript(t, "pymemcache", "pymemcache_test.py")
}

func TestPylibmc(t *testing.T) {
	runPythonScript(t, "pylibmc", "pylibmc_test.py")
}
