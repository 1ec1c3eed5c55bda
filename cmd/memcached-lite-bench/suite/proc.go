package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Time limits for the servers the suite starts.
const (
	startTimeout = 60 * time.Second // to answer the first request
	stopTimeout  = 60 * time.Second // from SIGTERM to exit (memcached-lite commits first)
)

var errExited = errors.New("exited before it answered")

// A proc is a server process the suite started. stop must be called once.
type proc struct {
	name    string
	cmd     *exec.Cmd
	addr    string
	started time.Time     // just before exec
	ready   time.Duration // from start to the first reply
	logPath string
	exited  chan struct{} // closed when Wait returns
	waitErr error         // valid once exited is closed
}

// startProc starts bin with args, its output going to logPath. It does
// not wait for the server to be ready.
func startProc(name, bin string, args []string, logPath string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = dieWithParent()
	p := &proc{name: name, cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", bin, err), logf.Close())
	}
	go func() { // owned by stop, which waits for exited
		p.waitErr = cmd.Wait()
		_ = logf.Close() // the log is only read after this, for messages
		close(p.exited)
	}()
	return p, nil
}

// pid returns the server's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits for the process to exit, killing it after
// stopTimeout. It returns how the process ended if not by that SIGTERM
// cleanly, or if it had exited before.
func (p *proc) stop() error {
	select {
	case <-p.exited:
		return fmt.Errorf("%s exited by itself: %v", p.name, p.waitErr)
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // it may be exiting already; Wait tells
	t := time.NewTimer(stopTimeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.name, stopTimeout)
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) && !ee.Exited() {
		return nil // ended by the signal (memcached, redis): that is a clean stop
	}
	if p.waitErr != nil {
		return fmt.Errorf("%s stopped with %v", p.name, p.waitErr)
	}
	return nil
}

// logTail returns the last lines of the server's output, for an error.
func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath) // best effort: only decorates an error
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(len(lines)-10, 0):], "\n")
}

// procRSSAnon returns the process's resident anonymous memory in bytes
// (RssAnon in /proc/PID/status; Linux only).
func procRSSAnon(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("RssAnon %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no RssAnon in /proc/PID/status")
}

// startLite starts bin (memcached-lite) with server flags on a free
// loopback port and waits until it answers version: the protocol says when
// it is ready, not a line in its log.
func startLite(ctx context.Context, name, bin, logPath string, serverArgs ...string) (*proc, error) {
	return startDaemon(ctx, name, bin, logPath, func(port string) []string {
		return append([]string{"server", "-p", port, "-l", "127.0.0.1"}, serverArgs...)
	}, "version\r\n", "VERSION ")
}

// startDaemon starts bin with args(port) on a free loopback port and waits
// until it answers ping (for example "version\r\n"). If it exits first
// (another process may have taken the port) it tries another port.
func startDaemon(ctx context.Context, name, bin, logPath string, args func(port string) []string, ping, pong string) (*proc, error) {
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := startProc(name, bin, args(port), logPath)
		if err != nil {
			return nil, err
		}
		p.addr = net.JoinHostPort("127.0.0.1", port)
		err = waitReply(ctx, p, ping, pong)
		if err == nil {
			return p, nil
		}
		tail := p.logTail()
		stopErr := p.stop()
		if !errors.Is(err, errExited) || attempt == 3 {
			return nil, errors.Join(fmt.Errorf("start %s: %w\n%s", name, err, tail), stopErr)
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, ln.Close()
}

// waitReply sends ping to p until a reply starts with pong, and sets
// p.ready. The pause between tries grows from 1ms to 10ms: p.ready is the
// start-up figure, so it may overshoot by no more than that.
func waitReply(ctx context.Context, p *proc, ping, pong string) error {
	deadline := p.started.Add(startTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 10*time.Millisecond) {
		err := ask(p.addr, ping, pong)
		if err == nil {
			p.ready = time.Since(p.started)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no reply within %v: %w", p.addr, startTimeout, err)
		}
		t := time.NewTimer(pause)
		select {
		case <-p.exited:
			t.Stop()
			return fmt.Errorf("%w (%v)", errExited, p.waitErr)
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ask sends ping on a new connection and checks the reply line.
func ask(addr, ping, pong string) error {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(nc, ping); err != nil {
		return err
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, pong) {
		return fmt.Errorf("%q answered %q", ping, line)
	}
	return nil
}
