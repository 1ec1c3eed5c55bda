package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the load generator.
const (
	loadDepth        = 64               // pipelined sets per connection while loading
	maxPrintedErrors = 5                // errors printed in full; the rest are counted
	ioTimeout        = 10 * time.Second // a reply slower than this is an error
	bufSize          = 64 << 10
)

// Phases of a run, in order.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// reqKind is a request type.
type reqKind uint8

const (
	reqGet reqKind = iota
	reqSet
)

// A keySpace holds the request bytes for every key, built once. Keys have a
// fixed width, so every get line and every set header is the same length
// and key i's bytes start at i times that length: no per-key slices.
type keySpace struct {
	n      int
	keyLen int
	getLen int    // len("get <key>\r\n")
	setLen int    // len("set <key> 0 0 <size>\r\n")
	gets   []byte // n get lines
	sets   []byte // n set headers
	value  []byte // the data block of every set, with its \r\n
}

func newKeySpace(prefix string, n, valueSize int) *keySpace {
	width := len(strconv.Itoa(max(n-1, 0)))
	ks := &keySpace{n: n, keyLen: len(prefix) + width}
	size := strconv.Itoa(valueSize)
	ks.getLen = len("get ") + ks.keyLen + len("\r\n")
	ks.setLen = len("set ") + ks.keyLen + len(" 0 0 ") + len(size) + len("\r\n")
	ks.gets = make([]byte, 0, n*ks.getLen)
	ks.sets = make([]byte, 0, n*ks.setLen)
	key := make([]byte, 0, ks.keyLen)
	for i := range n {
		key = append(key[:0], prefix...)
		d := strconv.AppendInt(nil, int64(i), 10)
		for range width - len(d) {
			key = append(key, '0')
		}
		key = append(key, d...)
		ks.gets = append(append(append(ks.gets, "get "...), key...), "\r\n"...)
		ks.sets = append(append(append(ks.sets, "set "...), key...), " 0 0 "+size+"\r\n"...)
	}
	ks.value = make([]byte, valueSize+2)
	for i := range valueSize {
		ks.value[i] = 'a' + byte(i%26)
	}
	copy(ks.value[valueSize:], "\r\n")
	return ks
}

func (ks *keySpace) getLine(i int) []byte   { return ks.gets[i*ks.getLen : (i+1)*ks.getLen] }
func (ks *keySpace) setHeader(i int) []byte { return ks.sets[i*ks.setLen : (i+1)*ks.setLen] }
func (ks *keySpace) key(i int) []byte       { return ks.gets[i*ks.getLen+4 : i*ks.getLen+4+ks.keyLen] }

// runState is what the workers of one run share.
type runState struct {
	phase   atomic.Int32
	printed atomic.Int32
	errMu   sync.Mutex
	errOut  io.Writer
}

// report counts err against w and prints it if it is one of the first few.
func (st *runState) report(w *worker, err error) {
	w.errors++
	w.errCount.Add(1)
	if st.errOut == nil || st.printed.Add(1) > maxPrintedErrors {
		return
	}
	st.errMu.Lock()
	defer st.errMu.Unlock()
	fmt.Fprintf(st.errOut, "loadgen: conn %d: %v\n", w.id, err)
}

// A pending is a request written and not yet answered.
type pending struct {
	op  reqKind
	key int
}

// A worker drives one connection. Its fields are its own; only done and
// errCount are read by other goroutines (the progress line).
type worker struct {
	id       int
	addr     string
	ks       *keySpace
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	rng      *rand.Rand
	getW     uint64 // a request is a get when rng.Uint64N(totalW) < getW
	totalW   uint64
	pend     []pending
	deadline time.Time // the connection's current I/O deadline

	get, set     Histogram // measured latencies
	hits, misses uint64    // measured gets
	errors       uint64    // all phases, load included
	done         atomic.Uint64
	errCount     atomic.Uint64
}

func newWorker(id int, cfg *Config, ks *keySpace) *worker {
	return &worker{
		id:     id,
		addr:   cfg.Addr,
		ks:     ks,
		rng:    rand.New(rand.NewPCG(uint64(id)+1, uint64(time.Now().UnixNano()))),
		getW:   uint64(cfg.GetWeight),
		totalW: uint64(cfg.GetWeight + cfg.SetWeight),
		pend:   make([]pending, max(cfg.Pipeline, loadDepth)),
	}
}

// dial (re)connects the worker.
func (w *worker) dial() error {
	if w.nc != nil {
		_ = w.nc.Close() // the connection is being replaced after an error
		w.nc = nil
	}
	nc, err := net.DialTimeout("tcp", w.addr, ioTimeout)
	if err != nil {
		return err
	}
	if w.br == nil {
		w.br = bufio.NewReaderSize(nc, bufSize)
		w.bw = bufio.NewWriterSize(nc, bufSize)
	} else {
		w.br.Reset(nc)
		w.bw.Reset(nc)
	}
	w.nc, w.deadline = nc, time.Time{}
	return nil
}

func (w *worker) close() error {
	if w.nc == nil {
		return nil
	}
	err := w.nc.Close()
	w.nc = nil
	return err
}

// extendDeadline moves the I/O deadline ioTimeout past now, at most once
// a second, so a hung server fails the run instead of stalling it.
func (w *worker) extendDeadline(now time.Time) error {
	if now.Add(ioTimeout - time.Second).Before(w.deadline) {
		return nil
	}
	w.deadline = now.Add(ioTimeout)
	return w.nc.SetDeadline(w.deadline)
}

// write buffers the request for key.
func (w *worker) write(op reqKind, key int) {
	// bufio.Writer records a failed write and returns it from Flush.
	if op == reqGet {
		_, _ = w.bw.Write(w.ks.getLine(key))
		return
	}
	_, _ = w.bw.Write(w.ks.setHeader(key))
	_, _ = w.bw.Write(w.ks.value)
}

// check reads and checks the reply to the request for key.
func (w *worker) check(op reqKind, key int) (hit bool, err error) {
	if op == reqGet {
		return checkGetReply(w.br, w.ks.key(key))
	}
	return false, checkSetReply(w.br, w.ks.key(key))
}

// recover counts err and redials; false means the server is gone.
func (w *worker) recover(st *runState, err error) bool {
	st.report(w, err)
	if err := w.dial(); err != nil {
		st.report(w, fmt.Errorf("redial: %w", err))
		return false
	}
	return true
}

// load sets keys first, first+stride, first+2*stride, ..., loadDepth
// at a time. With stride the number of connections, the connections move
// through the key space together, so the sets that reach a server at the
// same moment have neighbouring keys (B+tree stores write fewer pages).
func (w *worker) load(st *runState, first, stride int) {
	for next := first; next < w.ks.n; {
		if st.phase.Load() == phaseStop {
			return
		}
		n := 0
		for k := next; k < w.ks.n && n < loadDepth; k += stride {
			w.write(reqSet, k)
			n++
		}
		err := w.extendDeadline(time.Now())
		if err == nil {
			err = w.bw.Flush()
		}
		for i := 0; err == nil && i < n; i++ {
			_, err = w.check(reqSet, next+i*stride)
		}
		if err != nil {
			if !w.recover(st, err) {
				return
			}
			continue // this batch again
		}
		next += n * stride
		w.done.Add(uint64(n))
	}
}

// run sends random requests, pipeline at a time, until the phase is
// phaseStop or, if quota > 0, quota of them were measured. It records the
// latency of each request answered in phaseMeasure: the time from writing
// its batch to reading its reply.
func (w *worker) run(st *runState, pipeline, quota int) {
	for {
		phase := st.phase.Load()
		if phase == phaseStop {
			return
		}
		measured := phase == phaseMeasure
		depth := pipeline
		if measured && quota > 0 {
			depth = min(depth, quota)
		}
		for i := range depth {
			op := reqGet
			if w.rng.Uint64N(w.totalW) >= w.getW {
				op = reqSet
			}
			p := pending{op: op, key: w.rng.IntN(w.ks.n)}
			w.pend[i] = p
			w.write(p.op, p.key)
		}
		start := time.Now()
		err := w.extendDeadline(start)
		if err == nil {
			err = w.bw.Flush()
		}
		for i := 0; err == nil && i < depth; i++ {
			p := w.pend[i]
			var hit bool
			hit, err = w.check(p.op, p.key)
			if err != nil || !measured {
				continue
			}
			lat := time.Since(start)
			if p.op == reqSet {
				w.set.Record(lat)
				continue
			}
			w.get.Record(lat)
			if hit {
				w.hits++
			} else {
				w.misses++
			}
		}
		if err != nil {
			if measured && quota > 0 { // a wrong reply uses up its request too
				if quota -= depth; quota == 0 {
					st.report(w, err)
					return
				}
			}
			if !w.recover(st, err) {
				return
			}
			continue
		}
		w.done.Add(uint64(depth))
		if measured && quota > 0 {
			if quota -= depth; quota == 0 {
				return
			}
		}
	}
}
