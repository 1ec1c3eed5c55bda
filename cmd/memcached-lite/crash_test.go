package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

var crashCycles = flag.Int("crash.cycles", 10, "kill -9 and restart cycles of TestCrash (make crash runs 200)")

// The crash workload: 16 connections write to a few keys of four kinds, each
// kind written only in a way whose outcome can be checked exactly however
// the writes interleave.
const (
	crashWorkers   = 16                     // concurrent client connections
	crashCounters  = 4                      // ctr:N, only incremented by 1
	crashLogs      = 4                      // log:N, only appended to, with unique tokens
	crashRegs      = 8                      // reg:N, set to unique values or deleted
	crashCASKeys   = 2                      // cas:N, counters incremented with gets and cas
	crashTokenLen  = 16                     // bytes of one append token
	crashLogLimit  = 16 << 10               // a longer log is emptied between cycles
	crashMinRun    = 20 * time.Millisecond  // the workload runs at least this long,
	crashMaxRun    = 400 * time.Millisecond // and at most this long, before the kill
	crashBboltTime = time.Minute            // for one bbolt check
)

// TestCrash drives the server with concurrent writes from many connections,
// kills it with SIGKILL at a random moment, restarts it on the same file and
// checks that every acknowledged write is there (or superseded by a later
// acknowledged one), that nothing appears that was not written in full, and
// that the file passes bbolt check. The cycles go on on the same file, so
// every check also covers what earlier restarts recovered. Cycles alternate
// --sync always and --sync none: a process crash loses nothing the process
// wrote, fsynced or not.
func TestCrash(t *testing.T) {
	bbolt := servertest.Tool(t, "bbolt") // go install go.etcd.io/bbolt/cmd/bbolt@v1.5.0
	cycles := *crashCycles
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d cycles", seed, cycles)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := newDataFile(t)

	var m crashModel
	var tally crashTally
	var ops []crashOp // the last cycle's writes, checked after the restart
	for cycle := 0; ; cycle++ {
		p := servertest.StartBinary(t, servertest.BinaryOptions{Path: path, Args: []string{"--sync", crashSync(cycle)}})
		w := dialWire(t, p.Addr)
		if cycle == 0 {
			m.create(w)
		} else {
			m.check(t, w, ops, &tally)
		}
		if t.Failed() || cycle == cycles {
			if code := p.Stop(syscall.SIGTERM); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			break
		}
		ops = crashRun(t, p, cycle+1, rng.Uint64())
		bboltCheck(t, bbolt, path)
		tally.cycles++
	}
	bboltCheck(t, bbolt, path)
	t.Logf("crash: %d cycles, %d acknowledged writes checked, %d lost; %d writes in flight at the kills, %d of them applied",
		tally.cycles, tally.checked, tally.lost, tally.flying, tally.applied)
	if tally.lost > 0 {
		t.Errorf("%d acknowledged writes lost", tally.lost)
	}
	if tally.cycles < cycles {
		t.Errorf("only %d of %d cycles ran", tally.cycles, cycles)
	}
}

func crashSync(cycle int) string {
	if cycle%2 == 1 {
		return "none"
	}
	return "always"
}

// crashRun runs the workload of one cycle against p, kills p at a random
// moment and returns every write that was sent.
func crashRun(t *testing.T, p *servertest.Process, cycle int, seed uint64) []crashOp {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, uint64(cycle)))
	workers := make([]*crashWorker, crashWorkers)
	for i := range workers {
		nc, err := net.DialTimeout("tcp", p.Addr, wireTimeout)
		if err != nil {
			t.Fatalf("cycle %d: dial %s: %v", cycle, p.Addr, err)
		}
		defer nc.Close()
		workers[i] = &crashWorker{id: i, cycle: cycle, rng: rand.New(rand.NewPCG(rng.Uint64(), uint64(i))), nc: nc, r: bufio.NewReader(nc)}
	}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.nc.Close() // on a failure before the kill, this ends the workers
		}
		wg.Wait()
	}()
	for _, w := range workers {
		wg.Go(w.run)
	}

	run := crashMinRun + time.Duration(rng.Int64N(int64(crashMaxRun-crashMinRun)))
	timer := time.NewTimer(run)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-p.Done():
		t.Fatalf("cycle %d: the server exited on its own: %v", cycle, p.Cmd.ProcessState)
	}
	killed := time.Now()
	if code := p.Stop(syscall.SIGKILL); code != -1 || p.Signaled() != syscall.SIGKILL {
		t.Fatalf("cycle %d: exit status %d, signal %v; want killed by SIGKILL", cycle, code, p.Signaled())
	}
	wg.Wait() // the kill ends every connection

	var ops []crashOp
	acked, flying := 0, 0
	for _, w := range workers {
		if w.err != nil {
			t.Errorf("cycle %d: connection %d: %v", cycle, w.id, w.err)
		}
		if w.ended.Before(killed) {
			t.Errorf("cycle %d: connection %d ended %v before the kill", cycle, w.id, killed.Sub(w.ended))
		}
		for _, op := range w.ops {
			if op.acked {
				acked++
			} else {
				flying++
			}
		}
		ops = append(ops, w.ops...)
	}
	t.Logf("cycle %d (sync=%s): killed after %v: %d writes acknowledged, %d in flight",
		cycle, crashSync(cycle-1), run.Round(time.Millisecond), acked, flying)
	return ops
}

type crashKind uint8

const (
	crashIncr   crashKind = iota // incr ctr:N 1
	crashAppend                  // append log:N with a token
	crashSet                     // set reg:N to a unique value
	crashDelete                  // delete reg:N
	crashCAS                     // cas cas:N from the value gets read to one more
)

// A crashOp is one write a worker sent and what came of it.
type crashOp struct {
	kind       crashKind
	key        int       // the key's number in its family
	worker     int       // the connection that sent it
	seq        int       // its position among the connection's writes
	val        string    // set: the value; append: the token
	flags      uint32    // set: the flags
	num        uint64    // incr: the reply; cas: the value stored
	noreply    bool      // sent with noreply
	start, end time.Time // request written, reply (or the next reply) read
	acked      bool      // a complete reply came, or a later one: the write is durable
	stored     bool      // cas: the reply was STORED, not EXISTS
}

// A crashWorker is one connection's goroutine. Its fields are its own until
// run returns.
type crashWorker struct {
	id, cycle int
	rng       *rand.Rand
	nc        net.Conn
	r         *bufio.Reader
	seq       int
	ops       []crashOp
	err       error     // an unexpected reply or a hang: a failure
	ended     time.Time // when the connection failed
}

// run writes until the connection breaks, which the kill does.
func (w *crashWorker) run() {
	for w.step() {
	}
	w.ended = time.Now()
}

// step sends one write, or a pipeline of up to six, some with noreply, and
// records them; false when the connection is over. A noreply write is
// acknowledged by the next reply on its connection: the server answers in
// order, and only after the writes before are durable.
func (w *crashWorker) step() bool {
	if w.rng.IntN(100) < 20 {
		return w.casStep()
	}
	n := 1
	if w.rng.IntN(3) == 0 {
		n = 2 + w.rng.IntN(5)
	}
	batch := make([]crashOp, n)
	var req strings.Builder
	for i := range batch {
		batch[i] = w.newOp()
		req.WriteString(batch[i].request())
	}
	if batch[n-1].noreply {
		req.WriteString("mn\r\n") // its MN acknowledges the noreply writes before it
	}

	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	start := time.Now()
	for i := range batch {
		batch[i].start = start
	}
	_, err := io.WriteString(w.nc, req.String())
	acked := 0 // batch[:acked] are acknowledged
	for i := 0; err == nil && acked < n; i++ {
		var reply string
		if reply, err = w.r.ReadString('\n'); err != nil {
			break
		}
		end := time.Now()
		for acked < n && batch[acked].noreply {
			batch[acked].acked, batch[acked].end = true, end
			acked++
		}
		if acked == n {
			if reply != "MN\r\n" {
				w.err = fmt.Errorf("%q: got %q, want MN", req.String(), reply)
			}
			break
		}
		op := &batch[acked]
		if w.err = op.check(reply); w.err != nil {
			w.err = fmt.Errorf("%.200q: %w", req.String(), w.err)
			break
		}
		op.acked, op.end = true, end
		acked++
	}
	w.ops = append(w.ops, batch...)
	if err != nil {
		w.fail(err)
		return false
	}
	return w.err == nil
}

// newOp makes a write other than cas.
func (w *crashWorker) newOp() crashOp {
	w.seq++
	op := crashOp{worker: w.id, seq: w.seq, noreply: w.rng.IntN(4) == 0}
	switch n := w.rng.IntN(80); {
	case n < 25:
		op.kind, op.key = crashIncr, w.rng.IntN(crashCounters)
	case n < 45:
		op.kind, op.key = crashAppend, w.rng.IntN(crashLogs)
		op.val = fmt.Sprintf("c%04dw%02dn%06d;", w.cycle, w.id, w.seq)
	case n < 72:
		op.kind, op.key = crashSet, w.rng.IntN(crashRegs)
		op.val = fmt.Sprintf("c%04dw%02ds%06d-%s", w.cycle, w.id, w.seq, strings.Repeat("x", w.rng.IntN(300)))
		op.flags = uint32(w.id + 1)
	default:
		op.kind, op.key = crashDelete, w.rng.IntN(crashRegs)
	}
	return op
}

// request is the op's request line, and data block.
func (op *crashOp) request() string {
	noreply := ""
	if op.noreply {
		noreply = " noreply"
	}
	switch op.kind {
	case crashIncr:
		return fmt.Sprintf("incr ctr:%d 1%s\r\n", op.key, noreply)
	case crashAppend:
		return fmt.Sprintf("append log:%d 0 0 %d%s\r\n%s\r\n", op.key, len(op.val), noreply, op.val)
	case crashSet:
		return fmt.Sprintf("set reg:%d %d 0 %d%s\r\n%s\r\n", op.key, op.flags, len(op.val), noreply, op.val)
	case crashDelete:
		return fmt.Sprintf("delete reg:%d%s\r\n", op.key, noreply)
	}
	panic("no request for a cas op")
}

// check checks the reply to op and records what it says.
func (op *crashOp) check(reply string) error {
	var err error
	switch op.kind {
	case crashIncr:
		op.num, err = strconv.ParseUint(strings.TrimSuffix(reply, "\r\n"), 10, 64)
		if err != nil || !strings.HasSuffix(reply, "\r\n") {
			return fmt.Errorf("incr: got %q, want a number", reply)
		}
	case crashAppend, crashSet:
		if reply != "STORED\r\n" {
			return fmt.Errorf("got %q, want STORED", reply)
		}
	case crashDelete:
		if reply != "DELETED\r\n" && reply != "NOT_FOUND\r\n" {
			return fmt.Errorf("delete: got %q, want DELETED or NOT_FOUND", reply)
		}
	}
	return nil
}

// casStep increments a cas counter with gets and cas, once.
func (w *crashWorker) casStep() bool {
	w.seq++
	op := crashOp{kind: crashCAS, key: w.rng.IntN(crashCASKeys), worker: w.id, seq: w.seq}
	v, cas, ok := w.gets(fmt.Sprintf("cas:%d", op.key))
	if !ok {
		return false
	}
	op.num = v + 1
	s := strconv.FormatUint(op.num, 10)
	req := fmt.Sprintf("cas cas:%d 0 0 %d %d\r\n%s\r\n", op.key, len(s), cas, s)
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	op.start = time.Now()
	_, err := io.WriteString(w.nc, req)
	var reply string
	if err == nil {
		reply, err = w.r.ReadString('\n')
	}
	op.end = time.Now()
	if err != nil {
		w.fail(err)
		w.ops = append(w.ops, op) // in flight: it may or may not have been applied
		return false
	}
	op.acked, op.stored = true, reply == "STORED\r\n"
	w.ops = append(w.ops, op)
	if !op.stored && reply != "EXISTS\r\n" {
		w.err = fmt.Errorf("%q: got %q, want STORED or EXISTS", req, reply)
	}
	return w.err == nil
}

// gets reads a cas counter and its CAS value.
func (w *crashWorker) gets(key string) (v, cas uint64, ok bool) {
	w.nc.SetDeadline(time.Now().Add(wireTimeout))
	if _, err := io.WriteString(w.nc, "gets "+key+"\r\n"); err != nil {
		w.fail(err)
		return 0, 0, false
	}
	line, err := w.r.ReadString('\n')
	var n int
	var flags uint32
	if err == nil {
		if _, serr := fmt.Sscanf(line, "VALUE "+key+" %d %d %d\r\n", &flags, &n, &cas); serr != nil || n > 20 {
			w.err = fmt.Errorf("gets %s: got %q", key, line)
			return 0, 0, false
		}
		data := make([]byte, n+len("\r\nEND\r\n"))
		if _, err = io.ReadFull(w.r, data); err == nil {
			v, err = strconv.ParseUint(string(data[:n]), 10, 64)
			if err != nil || string(data[n:]) != "\r\nEND\r\n" {
				w.err = fmt.Errorf("gets %s: got %q%q", key, line, data)
				return 0, 0, false
			}
			return v, cas, true
		}
	}
	w.fail(err)
	return 0, 0, false
}

// fail records why the connection ended. Only a hang is a failure: the
// kill resets connections.
func (w *crashWorker) fail(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		w.err = fmt.Errorf("no reply within %v: %w", wireTimeout, err)
	}
}
