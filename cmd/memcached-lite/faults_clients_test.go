package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// faultsLatency bounds one request of a well-behaved client while another
// client misbehaves.
const faultsLatency = time.Second

// raiseNoFile raises this process's soft limit on open files to at least n,
// within the hard limit. The server it starts inherits the limit.
func raiseNoFile(t testing.TB, n uint64) {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur >= n {
		return
	}
	if rl.Max < n {
		servertest.SkipOrFail(t, fmt.Sprintf("the hard limit on open files is %d, want %d", rl.Max, n))
	}
	rl.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
}

// TestFaultsManyConnections holds 1,000 connections open at once, all
// served; the next one is refused as memcached refuses it, and a closed
// connection frees its place.
func TestFaultsManyConnections(t *testing.T) {
	const n = 1000
	raiseNoFile(t, 2*n+100)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-c", strconv.Itoa(n)}})
	conns := make([]*wire, n)
	for i := range conns {
		conns[i] = dialWire(t, p.Addr)
	}
	// Every connection has a request in flight, then every one is answered.
	for _, w := range conns {
		w.send("version\r\n")
	}
	for i, w := range conns {
		if l := w.line(); !strings.HasPrefix(l, "VERSION ") {
			t.Fatalf("connection %d: version: got %q", i+1, l)
		}
	}

	over := dialWire(t, p.Addr)
	if l := over.line(); l != "ERROR Too many open connections\r\n" {
		t.Errorf("connection %d: got %q, want %q", n+1, l, "ERROR Too many open connections\r\n")
	}
	over.expectEOF()
	st := conns[0].stats("")
	if st["curr_connections"] != strconv.Itoa(n) || st["rejected_connections"] != "1" {
		t.Errorf("stats curr_connections %s, rejected_connections %s; want %d and 1", st["curr_connections"], st["rejected_connections"], n)
	}

	// A closed connection frees its place: the server notices the close
	// a moment after the client does, so a few attempts may be refused.
	// (A refused one is reset, not closed: the server did not read the
	// version request.)
	conns[n-1].nc.Close()
	for attempt := 1; ; attempt++ {
		w := dialWire(t, p.Addr)
		w.send("version\r\n")
		l := w.line()
		if strings.HasPrefix(l, "VERSION ") {
			break
		}
		if l != "ERROR Too many open connections\r\n" || attempt == 100 {
			t.Fatalf("attempt %d after closing a connection: got %q, want VERSION", attempt, l)
		}
		w.nc.Close()
	}
	conns[0].expectVersion()
}

// TestFaultsStalledClient checks that clients that send half a command and
// stop do not slow others down, and that their command completes when the
// rest comes.
func TestFaultsStalledClient(t *testing.T) {
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	halfData := dialWire(t, p.Addr)
	halfData.send("set half 0 0 10\r\nabc")
	halfLine := dialWire(t, p.Addr)
	halfLine.send("get ha")
	halfValue := dialWire(t, p.Addr)
	halfValue.send("set big 0 0 100000\r\n" + strings.Repeat("b", 50000))

	const workers, requests = 8, 100
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs <- faultsRoundTrips(p.Addr, i, requests) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	// The stalled commands were kept, not dropped.
	halfData.expect("defghij\r\n", "STORED\r\n")
	halfLine.expect("lf\r\n", "VALUE half 0 10\r\nabcdefghij\r\nEND\r\n")
	halfValue.expect(strings.Repeat("b", 50000)+"\r\n", "STORED\r\n")
	halfValue.expect("get half\r\n", "VALUE half 0 10\r\nabcdefghij\r\nEND\r\n")
}

// faultsRoundTrips does n set and get round trips on a connection of its
// own, each within faultsLatency.
func faultsRoundTrips(addr string, id, n int) error {
	nc, err := net.DialTimeout("tcp", addr, wireTimeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	for i := range n {
		k, v := fmt.Sprintf("rt%d-%d", id, i), fmt.Sprintf("value %d of %d", i, id)
		req := fmt.Sprintf("set %s 0 0 %d\r\n%s\r\nget %s\r\n", k, len(v), v, k)
		want := fmt.Sprintf("STORED\r\nVALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(v), v)
		start := time.Now()
		nc.SetDeadline(start.Add(wireTimeout))
		if _, err := io.WriteString(nc, req); err != nil {
			return fmt.Errorf("connection %d: %q: %v", id, req, err)
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
			return fmt.Errorf("connection %d: %q: got %q, %v; want %q", id, req, got, err, want)
		}
		if d := time.Since(start); d > faultsLatency {
			return fmt.Errorf("connection %d: %q took %v, want under %v", id, req, d, faultsLatency)
		}
	}
	return nil
}

// TestFaultsIdleTimeout checks --idle-timeout: an idle connection, or one
// stalled in the middle of a command, is closed after the timeout; one in
// use is not; and a client that sends but never reads is disconnected.
func TestFaultsIdleTimeout(t *testing.T) {
	const idle = 500 * time.Millisecond
	p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"--idle-timeout", idle.String()}})

	t.Run("idle", func(t *testing.T) {
		w := dialWire(t, p.Addr)
		w.expectVersion()
		start := time.Now()
		w.expectEOF()
		if d := time.Since(start); d < idle-100*time.Millisecond || d > idle+2*time.Second {
			t.Errorf("closed %v after the last reply, want about %v", d, idle)
		}
	})

	t.Run("half a command", func(t *testing.T) {
		w := dialWire(t, p.Addr)
		w.send("set half 0 0 10\r\nabc")
		start := time.Now()
		w.expectEOF()
		if d := time.Since(start); d < idle-100*time.Millisecond || d > idle+2*time.Second {
			t.Errorf("closed %v after the half command, want about %v", d, idle)
		}
		dialWire(t, p.Addr).expect("get half\r\n", "END\r\n")
	})

	t.Run("in use", func(t *testing.T) {
		w := dialWire(t, p.Addr)
		tick := time.NewTicker(idle / 5)
		defer tick.Stop()
		for end := time.Now().Add(3 * idle); time.Now().Before(end); <-tick.C {
			w.expectVersion()
		}
		w.expectVersion()
	})

	t.Run("never reads", func(t *testing.T) {
		w := dialWire(t, p.Addr)
		v := strings.Repeat("v", 100<<10)
		w.expect(fmt.Sprintf("set v 0 0 %d\r\n%s\r\n", len(v), v), "STORED\r\n")
		_, err := faultsFlood(w.nc, 200<<20, 10*time.Second)
		if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("flooding a server with --idle-timeout %v without reading: %v, want the connection reset", idle, err)
		}
		dialWire(t, p.Addr).expectVersion()
	})
}

// faultsFlood writes get requests for the key v, up to total bytes or for
// at most d, without reading the replies, and returns why it stopped.
func faultsFlood(nc net.Conn, total int, d time.Duration) (sent int, err error) {
	chunk := []byte(strings.Repeat("get v\r\n", (64<<10)/len("get v\r\n")))
	nc.SetWriteDeadline(time.Now().Add(d))
	for sent < total {
		n, err := nc.Write(chunk)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// procMemory returns a process's resident memory and its peak, in bytes.
func procMemory(t testing.TB, pid int) (rss, peak int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	if rss == 0 || peak == 0 {
		t.Fatalf("/proc/%d/status has no VmRSS or VmHWM:\n%s", pid, b)
	}
	return rss, peak
}

// TestFaultsFloodWithoutReading sends 200 MB of get requests for a 100 KB
// value and reads no reply: the server must stop reading (the writer
// blocks) rather than buffer replies, so its memory stays bounded, and it
// serves other clients meanwhile.
func TestFaultsFloodWithoutReading(t *testing.T) {
	const total, bound = 200 << 20, 64 << 20
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	w := dialWire(t, p.Addr)
	v := strings.Repeat("v", 100<<10)
	w.expect(fmt.Sprintf("set v 0 0 %d\r\n%s\r\nget v\r\n", len(v), v), fmt.Sprintf("STORED\r\nVALUE v 0 %d\r\n%s\r\nEND\r\n", len(v), v))
	_, before := procMemory(t, p.Cmd.Process.Pid)

	flood := dialWire(t, p.Addr)
	sent, err := faultsFlood(flood.nc, total, 3*time.Second)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("sent %d MB of gets without reading: %v, want the write to block until its deadline", sent>>20, err)
	}
	rss, peak := procMemory(t, p.Cmd.Process.Pid)
	t.Logf("sent %.1f MB of gets before the write blocked; server RSS %d MB, peak %d MB (%d MB before)", float64(sent)/(1<<20), rss>>20, peak>>20, before>>20)
	if sent > bound {
		t.Errorf("the server took %d MB of requests from a client that reads nothing, want at most %d MB", sent>>20, bound>>20)
	}
	if peak > before+bound {
		t.Errorf("server peak RSS grew from %d MB to %d MB, want at most %d MB more", before>>20, peak>>20, bound>>20)
	}
	w.expectVersion() // others are served meanwhile
	flood.nc.Close()
	w.expect("get v\r\nversion\r\n", fmt.Sprintf("VALUE v 0 %d\r\n%s\r\nEND\r\nVERSION ", len(v), v))
	w.line()
}

// TestFaultsShutdownUnderLoad sends SIGTERM while 50 connections write:
// the server exits 0 within a few seconds, and every write that got a reply
// is in the file.
func TestFaultsShutdownUnderLoad(t *testing.T) {
	const conns, before = 50, 2000 // writes acknowledged before the signal
	path := newDataFile(t)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	dialWire(t, p.Addr).expect("set shared 0 0 1\r\n0\r\n", "STORED\r\n")

	var acked atomic.Int64
	loaded := make(chan struct{})
	var once sync.Once
	workers := make([]*loadWorker, conns)
	var wg sync.WaitGroup
	for i := range workers {
		nc, err := net.DialTimeout("tcp", p.Addr, wireTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		workers[i] = &loadWorker{id: i, nc: nc, r: bufio.NewReader(nc), progress: func() {
			if acked.Add(1) == before {
				once.Do(func() { close(loaded) })
			}
		}}
	}
	defer func() {
		for _, w := range workers {
			w.nc.Close()
		}
		wg.Wait()
	}()
	for _, w := range workers {
		wg.Go(w.run)
	}
	select {
	case <-loaded:
	case <-time.After(30 * time.Second):
		t.Fatalf("only %d writes acknowledged in 30s", acked.Load())
	}
	signaled := time.Now()
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM under load, want 0", code)
	}
	if d := time.Since(signaled); d > 3*time.Second {
		t.Errorf("the server took %v to exit after SIGTERM, want under 3s", d)
	}
	wg.Wait()

	var sets []string
	incrs, flying := 0, 0
	for _, w := range workers {
		if w.err != nil {
			t.Errorf("connection %d: %v", w.id, w.err)
		}
		if w.ended.Before(signaled) {
			t.Errorf("connection %d ended before the signal", w.id)
		}
		sets = append(sets, w.sets...)
		incrs += w.incrs
		flying += w.flying
	}
	t.Logf("%d sets and %d incrs acknowledged, %d requests unanswered at the exit", len(sets), incrs, flying)

	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w := dialWire(t, p.Addr)
	for _, k := range sets {
		w.expect("get "+k+"\r\n", fmt.Sprintf("VALUE %s 0 %d\r\n%s\r\nEND\r\n", k, len(k), k))
	}
	w.send("get shared\r\n")
	var size int
	if _, err := fmt.Sscanf(w.line(), "VALUE shared 0 %d\r\n", &size); err != nil {
		t.Fatalf("get shared: %v", err)
	}
	n, err := strconv.Atoi(strings.TrimSuffix(w.line(), "\r\n"))
	if err != nil || n < incrs || n > incrs+flying {
		t.Errorf("shared = %d (%v), want between %d acknowledged incrs and %d", n, err, incrs, incrs+flying)
	}
}

// loadWorker is one connection of TestFaultsShutdownUnderLoad: it sets keys
// of its own and increments a shared counter until the server goes away.
type loadWorker struct {
	id       int
	nc       net.Conn
	r        *bufio.Reader
	progress func()   // called after each acknowledged write
	sets     []string // keys acknowledged, each holding its own name
	incrs    int      // acknowledged incrs of shared
	flying   int      // requests sent without a reply (at most one)
	err      error
	ended    time.Time
}

func (w *loadWorker) run() {
	defer func() { w.ended = time.Now() }()
	for i := 0; ; i++ {
		k := fmt.Sprintf("w%d-%d", w.id, i)
		req, want := fmt.Sprintf("set %s 0 0 %d\r\n%s\r\n", k, len(k), k), "STORED\r\n"
		if i%2 == 1 {
			req, want = "incr shared 1\r\n", ""
		}
		w.nc.SetDeadline(time.Now().Add(wireTimeout))
		_, err := io.WriteString(w.nc, req)
		var l string
		if err == nil {
			l, err = w.r.ReadString('\n')
		}
		if err != nil {
			w.flying++
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				w.err = fmt.Errorf("%q: no reply within %v", req, wireTimeout)
			}
			return
		}
		switch {
		case want != "" && l == want:
			w.sets = append(w.sets, k)
		case want == "" && isNumberLine(l):
			w.incrs++
		default:
			w.err = fmt.Errorf("%q: got %q", req, l)
			return
		}
		w.progress()
	}
}

// isNumberLine reports whether l is a decimal number and "\r\n": an incr reply.
func isNumberLine(l string) bool {
	n, ok := strings.CutSuffix(l, "\r\n")
	_, err := strconv.ParseUint(n, 10, 64)
	return ok && err == nil
}

// TestFaultsShutdownBadClients sends SIGTERM while one client is stalled in
// the middle of a command and another floods requests without reading: the
// server still exits 0 within a few seconds, and the half command is not
// applied.
func TestFaultsShutdownBadClients(t *testing.T) {
	path := newDataFile(t)
	p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	w := dialWire(t, p.Addr)
	v := strings.Repeat("v", 100<<10)
	w.expect(fmt.Sprintf("set v 0 0 %d\r\n%s\r\n", len(v), v), "STORED\r\n")
	half := dialWire(t, p.Addr)
	half.send("set half 0 0 10\r\nabc")
	flood := dialWire(t, p.Addr)
	if _, err := faultsFlood(flood.nc, 200<<20, time.Second); err == nil {
		t.Fatal("the flood was not blocked")
	}
	w.expectVersion()

	signaled := time.Now()
	if code := p.Stop(syscall.SIGTERM); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	if d := time.Since(signaled); d > 3*time.Second {
		t.Errorf("the server took %v to exit after SIGTERM, want under 3s", d)
	}
	half.expectEOF()
	p = servertest.StartBinary(t, servertest.BinaryOptions{Path: path})
	dialWire(t, p.Addr).expect("get half\r\n", "END\r\n")
}
