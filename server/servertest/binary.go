package servertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// BinEnv is the environment variable that names the memcached-lite binary
// to test, by absolute path, instead of building one: make test sets it to
// the binary it has just built.
const BinEnv = "MEMCACHED_LITE_BIN"

const (
	binaryPkg    = "github.com/memcached-lite/memcached-lite/cmd/memcached-lite"
	buildTimeout = 5 * time.Minute
	runTimeout   = 20 * time.Second // a whole Run
)

// built is the binary of this test process, found or built once.
var built struct {
	once sync.Once
	path string
	dir  string // the directory go build wrote to; "" when BinEnv named the binary
	err  error
}

// BuildBinary returns the path of the memcached-lite binary under test:
// $MEMCACHED_LITE_BIN if it is set, else one it builds with go build into a
// temporary directory, once per test process, with -race when the test
// binary has it (so a data race in the server fails the test; see
// StartBinary). It is safe for concurrent use. Tests call Binary, TestMain
// may call BuildBinary; Main removes the binary when the tests are done.
func BuildBinary() (string, error) {
	built.once.Do(func() {
		if p := os.Getenv(BinEnv); p != "" {
			if !filepath.IsAbs(p) {
				built.err = fmt.Errorf("servertest: $%s=%s: want an absolute path", BinEnv, p)
				return
			}
			if _, err := os.Stat(p); err != nil {
				built.err = fmt.Errorf("servertest: $%s: %w", BinEnv, err)
				return
			}
			built.path = p
			return
		}
		dir, err := os.MkdirTemp("", "memcached-lite-servertest-")
		if err != nil {
			built.err = fmt.Errorf("servertest: %w", err)
			return
		}
		built.dir, built.path = dir, filepath.Join(dir, "memcached-lite")
		args := []string{"build", "-o", built.path}
		if raceEnabled() {
			args = append(args, "-race")
		}
		args = append(args, binaryPkg)
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("servertest: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	return built.path, built.err
}

// Binary is BuildBinary for a test, which fails when there is no binary.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := BuildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Main is TestMain for a package whose tests use servertest: it runs the
// tests, fails them if they leave goroutines running (goleak), removes the
// binary BuildBinary built for them, if any, and exits.
func Main(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if built.dir != "" {
			if err := os.RemoveAll(built.dir); err != nil {
				fmt.Fprintln(os.Stderr, "servertest:", err)
				code = max(code, 1)
			}
		}
		os.Exit(code)
	}))
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// Env returns the environment for a process a test starts: the test's
// own, without the variables that change what memcached-lite does
// (MEMCACHED_LITE_*, which set server and client flags; TERM, NO_COLOR,
// HOME and XDG_STATE_HOME, which the client reads) and with a race detector
// that waits 100 ms, not 1 s, at exit; then extra, KEY=VALUE, which wins
// over the same key before it.
func Env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "MEMCACHED_LITE_"), name == "GORACE", name == "TERM",
			name == "NO_COLOR", name == "HOME", name == "XDG_STATE_HOME":
		default:
			env = append(env, kv)
		}
	}
	return append(append(env, "GORACE=atexit_sleep_ms=100"), extra...)
}

// Command returns an unstarted command that runs the memcached-lite binary
// with args, in the environment Env returns, killed on Linux when the test
// process dies. The caller may add to its Env, starts it and waits for it.
func Command(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	return command(exec.Command(Binary(t), args...))
}

func command(cmd *exec.Cmd) *exec.Cmd {
	cmd.Env = Env()
	cmd.SysProcAttr = dieWithParent()
	return cmd
}

// Run runs the memcached-lite binary with args to the end, with stdin as
// its standard input (so the client subcommand reads a script), and returns
// its standard output, standard error and exit status. It fails the test
// if the binary does not run or does not exit within 20 seconds, and
// reports a data race it printed.
func Run(t testing.TB, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := command(exec.CommandContext(ctx, Binary(t), args...))
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("memcached-lite %q did not exit within %v\nstdout:\n%s\nstderr:\n%s", args, runTimeout, &out, &errOut)
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("memcached-lite %q: %v", args, err)
	}
	if strings.Contains(errOut.String(), "WARNING: DATA RACE") {
		t.Errorf("data race in memcached-lite %q:\n%s", args, &errOut)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}
