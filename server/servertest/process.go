package servertest

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	startTimeout = 10 * time.Second     // from exec to ready
	stopTimeout  = 10 * time.Second     // from a signal to the exit, in Stop
	pollInterval = 5 * time.Millisecond // between two looks for a ready file
)

// A Process is a server a test started as a child process: memcached-lite
// (StartBinary), memcached (StartMemcached) or twemproxy (StartTwemproxy).
// Its standard output and error go to a file, read by Output.
//
// When the test ends, memcached-lite, if it still runs, gets SIGTERM and
// must exit 0 within 10 seconds, and other programs are killed; the test
// fails if the output reports a data race or, from memcached-lite, a
// level=ERROR log line that AllowErrors does not match; and the output is
// logged if the test failed.
type Process struct {
	Cmd  *exec.Cmd // started; Cmd.Process signals it, Cmd.ProcessState is set once Done is closed
	Addr string    // host:port it listens on, on 127.0.0.1
	Port int       // Addr's port
	Path string    // memcached-lite's data file; "" for other programs

	// AllowErrors matches the level=ERROR log lines of memcached-lite that
	// the test provokes on purpose (a full disk); nil means any such line
	// fails the test.
	AllowErrors *regexp.Regexp

	t      testing.TB
	name   string         // for messages
	output string         // the file with the process's output
	done   chan struct{}  // closed once Cmd.Wait has returned
	lite   *BinaryOptions // how StartBinary started it; nil for other programs
}

// BinaryOptions configures StartBinary. The zero value runs
// "memcached-lite server" on a new data file and a port the server picks.
type BinaryOptions struct {
	Path string   // --data; "" means a new file in a temporary directory
	Port int      // -p; 0 means a free port the server picks
	Args []string // more flags for the server subcommand, after -p, -l and --data
	Env  []string // more environment, KEY=VALUE, after what Env returns

	// NoDefaultFlags leaves out -p, -l and --data, for a test of where
	// else the server takes them from (its environment): Args has all
	// the flags.
	NoDefaultFlags bool
}

// StartBinary starts "memcached-lite server" (the binary Binary returns)
// on 127.0.0.1, with the flags opts says and --ready-file, and returns once
// the server has written its address to that file. The process is stopped
// at the end of the test, as Process says. StartBinary fails the test,
// showing the output, if the server exits first or is not ready within 10
// seconds.
func StartBinary(t testing.TB, opts BinaryOptions) *Process {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	if opts.Path == "" && !opts.NoDefaultFlags {
		opts.Path = filepath.Join(dir, "memcached-lite.db")
	}
	ready := filepath.Join(dir, "ready")
	args := []string{"server", "--ready-file", ready}
	if !opts.NoDefaultFlags {
		args = append(args, "-p", strconv.Itoa(opts.Port), "-l", "127.0.0.1", "--data", opts.Path)
	}
	args = append(args, opts.Args...)
	p := launch(t, dir, "memcached-lite", bin, args, Env(opts.Env...))
	p.Path, p.lite = opts.Path, &opts
	if err := p.await(fileReady(ready, parseReadyFile)); err != nil {
		t.Fatalf("servertest: %s", p.describe(err))
	}
	return p
}

// Restart starts memcached-lite again as StartBinary started p, on the same
// data file and the same port, once p has exited (Stop it first). The new
// process keeps p's AllowErrors. If another process took the port meanwhile,
// the server exits and the test fails.
func (p *Process) Restart(t testing.TB) *Process {
	t.Helper()
	if p.lite == nil || p.lite.NoDefaultFlags {
		t.Fatalf("servertest: Restart is for memcached-lite started with its default flags, not %s", p.name)
	}
	if !p.Exited() {
		t.Fatalf("servertest: Restart of %s (pid %d) while it runs: Stop it first", p.Addr, p.Cmd.Process.Pid)
	}
	opts := *p.lite
	opts.Path, opts.Port = p.Path, p.Port
	q := StartBinary(t, opts)
	q.AllowErrors = p.AllowErrors
	return q
}

// fileReady returns a readiness check for await: "" while path does not
// exist, then the address parse reads in it. The server writes the file by
// a rename, so it is whole once it is there.
func fileReady(path string, parse func(b []byte) (string, error)) func() (string, error) {
	return func() (string, error) {
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		if err == nil {
			var addr string
			if addr, err = parse(b); err == nil {
				return addr, nil
			}
		}
		return "", fmt.Errorf("%s: %w", path, err)
	}
}

// parseReadyFile reads memcached-lite's --ready-file: host:port and a newline.
func parseReadyFile(b []byte) (string, error) {
	addr, ok := strings.CutSuffix(string(b), "\n")
	if !ok || strings.ContainsAny(addr, " \n") {
		return "", fmt.Errorf("holds %q, want host:port and a newline", b)
	}
	return addr, nil
}

// launch starts bin with args and env, its output going to a file in dir,
// and registers the cleanup that stops it. It fails the test if bin does
// not start.
func launch(t testing.TB, dir, name, bin string, args, env []string) *Process {
	t.Helper()
	output := filepath.Join(dir, "output")
	f, err := os.Create(output)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f // a file: the child writes it directly
	cmd.SysProcAttr = dieWithParent()
	err = cmd.Start()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if cmd.Process != nil {
			_ = cmd.Process.Kill() // Wait reaps it
			_ = cmd.Wait()
		}
		t.Fatalf("servertest: start %s: %v", name, err)
	}
	p := &Process{Cmd: cmd, t: t, name: name, output: output, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the status is in cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(p.cleanup)
	return p
}

// await polls ready until it returns the address the process listens on,
// and sets Addr and Port. It fails if ready fails, the process exits or
// startTimeout passes first.
func (p *Process) await(ready func() (addr string, err error)) error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		addr, err := ready()
		if err != nil {
			return err
		}
		if addr != "" {
			return p.setAddr(addr)
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready: %v", p.Cmd.ProcessState)
		case <-deadline.C:
			return fmt.Errorf("not ready within %v", startTimeout)
		case <-tick.C:
		}
	}
}

// describe is err, which ended the start of p, with the command and its output.
func (p *Process) describe(err error) string {
	return fmt.Sprintf("%s: %v\noutput:\n%s", strings.Join(p.Cmd.Args, " "), err, p.Output())
}

func (p *Process) setAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if p.Port, err = strconv.Atoi(port); err != nil || p.Port <= 0 {
		return fmt.Errorf("bad port in %q", addr)
	}
	p.Addr = addr
	return nil
}

// Stop sends sig (SIGTERM, SIGKILL, ...) to the process and waits up to 10
// seconds for it to exit, as Wait does. It returns the exit status, -1 if a
// signal ended the process.
func (p *Process) Stop(sig os.Signal) int {
	p.t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Errorf("servertest: signal %v to %s: %v", sig, p.name, err)
	}
	return p.Wait(stopTimeout)
}

// Wait waits up to d for the process to exit, then fails the test and
// kills it. It returns the exit status, -1 if a signal ended the process.
func (p *Process) Wait(d time.Duration) int {
	p.t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.t.Errorf("servertest: %s (pid %d) did not exit within %v; killing it", p.name, p.Cmd.Process.Pid, d)
		_ = p.Cmd.Process.Kill() // fails only if it exited meanwhile
		<-p.done
	}
	return p.Cmd.ProcessState.ExitCode()
}

// Done returns a channel that is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signaled returns the signal that ended the process, or 0 if it runs or
// exited by itself.
func (p *Process) Signaled() syscall.Signal {
	if !p.Exited() {
		return 0
	}
	if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// Output returns what the process has written to its standard output and
// error so far.
func (p *Process) Output() string {
	b, err := os.ReadFile(p.output)
	if err != nil {
		return fmt.Sprintf("(servertest: reading the output: %v)", err)
	}
	return string(b)
}

// cleanup stops the process if it still runs and checks its output.
func (p *Process) cleanup() {
	if !p.Exited() {
		if p.lite == nil {
			_ = p.Cmd.Process.Kill() // Wait reaps it, whatever happened
			<-p.done
		} else if code := p.Stop(syscall.SIGTERM); code != 0 {
			p.t.Errorf("servertest: %s exited with status %d after SIGTERM at the end of the test, want 0", p.name, code)
		}
	}
	out := p.Output()
	if strings.Contains(out, "WARNING: DATA RACE") {
		p.t.Errorf("servertest: the race detector found a data race in %s", p.name)
	}
	// memcached-lite logs at ERROR level only what should not happen: a
	// failed commit, a panic in a connection.
	if p.lite != nil {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "level=ERROR") && (p.AllowErrors == nil || !p.AllowErrors.MatchString(l)) {
				p.t.Errorf("servertest: %s logged errors: %s", p.name, l)
				break
			}
		}
	}
	if p.t.Failed() {
		p.t.Logf("output of %s (pid %d):\n%s", strings.Join(p.Cmd.Args, " "), p.Cmd.Process.Pid, out)
	}
}
