package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// benchConfig is what the bench subcommand's flags say, checked. The suite
// builds it directly.
type benchConfig struct {
	addr      string        // host:port of the server
	conns     int           // connections, one goroutine each
	keys      int           // key space: keys 0..keys-1
	keyPrefix string        // keys are keyPrefix + a zero-padded index
	valueSize int           // bytes per set value
	getWeight int           // --ratio get:set
	setWeight int           //
	pipeline  int           // requests written before their replies are read
	duration  time.Duration // measured time; ignored if requests > 0
	requests  int           // measured requests over all connections; 0: run for duration
	warmup    time.Duration // unmeasured time before measuring
	load      bool          // set every key once before the warm-up
	loadOnly  bool          // load, then stop
	progress  io.Writer     // gets a \r-updated line once a second; nil: none
	errOut    io.Writer     // gets the first few errors; nil: discarded
}

// Limits of the load generator.
const (
	benchLoadDepth      = 64               // pipelined sets per connection while loading
	benchMaxPrintErrors = 5                // errors printed in full; the rest are counted
	benchIOTimeout      = 10 * time.Second // a reply slower than this is an error
	benchBufSize        = 64 << 10
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

// A benchKeys holds the request bytes for every key, built once. Keys have a
// fixed width, so every get line and every set header is the same length
// and key i's bytes start at i times that length: no per-key slices.
type benchKeys struct {
	n      int
	keyLen int
	getLen int    // len("get <key>\r\n")
	setLen int    // len("set <key> 0 0 <size>\r\n")
	gets   []byte // n get lines
	sets   []byte // n set headers
	value  []byte // the data block of every set, with its \r\n
}

func newBenchKeys(prefix string, n, valueSize int) *benchKeys {
	width := len(strconv.Itoa(max(n-1, 0)))
	ks := &benchKeys{n: n, keyLen: len(prefix) + width}
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

func (ks *benchKeys) getLine(i int) []byte   { return ks.gets[i*ks.getLen : (i+1)*ks.getLen] }
func (ks *benchKeys) setHeader(i int) []byte { return ks.sets[i*ks.setLen : (i+1)*ks.setLen] }
func (ks *benchKeys) key(i int) []byte       { return ks.gets[i*ks.getLen+4 : i*ks.getLen+4+ks.keyLen] }

// benchState is what the workers of one run share.
type benchState struct {
	phase   atomic.Int32
	printed atomic.Int32
	errMu   sync.Mutex
	errOut  io.Writer
}

// report counts err against w and prints it if it is one of the first few.
func (st *benchState) report(w *benchWorker, err error) {
	w.errors++
	w.errCount.Add(1)
	if st.errOut == nil || st.printed.Add(1) > benchMaxPrintErrors {
		return
	}
	st.errMu.Lock()
	defer st.errMu.Unlock()
	fmt.Fprintf(st.errOut, "bench: conn %d: %v\n", w.id, err)
}

// A benchPending is a request written and not yet answered.
type benchPending struct {
	op  reqKind
	key int
}

// A benchWorker drives one connection. Its fields are its own; only done and
// errCount are read by other goroutines (the progress line).
type benchWorker struct {
	id       int
	addr     string
	ks       *benchKeys
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	rng      *rand.Rand
	getW     uint64 // a request is a get when rng.Uint64N(totalW) < getW
	totalW   uint64
	pend     []benchPending
	deadline time.Time // the connection's current I/O deadline

	get, set     latencyHist // measured latencies
	hits, misses uint64      // measured gets
	errors       uint64      // all phases, load included
	done         atomic.Uint64
	errCount     atomic.Uint64
}

func newBenchWorker(id int, cfg *benchConfig, ks *benchKeys) *benchWorker {
	return &benchWorker{
		id:     id,
		addr:   cfg.addr,
		ks:     ks,
		rng:    rand.New(rand.NewPCG(uint64(id)+1, uint64(time.Now().UnixNano()))),
		getW:   uint64(cfg.getWeight),
		totalW: uint64(cfg.getWeight + cfg.setWeight),
		pend:   make([]benchPending, max(cfg.pipeline, benchLoadDepth)),
	}
}

// dial (re)connects the worker.
func (w *benchWorker) dial() error {
	if w.nc != nil {
		_ = w.nc.Close() // the connection is being replaced after an error
		w.nc = nil
	}
	nc, err := net.DialTimeout("tcp", w.addr, benchIOTimeout)
	if err != nil {
		return err
	}
	if w.br == nil {
		w.br = bufio.NewReaderSize(nc, benchBufSize)
		w.bw = bufio.NewWriterSize(nc, benchBufSize)
	} else {
		w.br.Reset(nc)
		w.bw.Reset(nc)
	}
	w.nc, w.deadline = nc, time.Time{}
	return nil
}

func (w *benchWorker) close() error {
	if w.nc == nil {
		return nil
	}
	err := w.nc.Close()
	w.nc = nil
	return err
}

// extendDeadline moves the I/O deadline benchIOTimeout past now, at most once
// a second, so a hung server fails the run instead of stalling it.
func (w *benchWorker) extendDeadline(now time.Time) error {
	if now.Add(benchIOTimeout - time.Second).Before(w.deadline) {
		return nil
	}
	w.deadline = now.Add(benchIOTimeout)
	return w.nc.SetDeadline(w.deadline)
}

// write buffers the request for key.
func (w *benchWorker) write(op reqKind, key int) {
	// bufio.Writer records a failed write and returns it from Flush.
	if op == reqGet {
		_, _ = w.bw.Write(w.ks.getLine(key))
		return
	}
	_, _ = w.bw.Write(w.ks.setHeader(key))
	_, _ = w.bw.Write(w.ks.value)
}

// check reads and checks the reply to the request for key.
func (w *benchWorker) check(op reqKind, key int) (hit bool, err error) {
	if op == reqGet {
		return checkGetReply(w.br, w.ks.key(key))
	}
	return false, checkSetReply(w.br, w.ks.key(key))
}

// recover counts err and redials; false means the server is gone.
func (w *benchWorker) recover(st *benchState, err error) bool {
	st.report(w, err)
	if err := w.dial(); err != nil {
		st.report(w, fmt.Errorf("redial: %w", err))
		return false
	}
	return true
}

// load sets keys first, first+stride, first+2*stride, ..., benchLoadDepth
// at a time. With stride the number of connections, the connections move
// through the key space together, so the sets that reach a server at the
// same moment have neighbouring keys (B+tree stores write fewer pages).
func (w *benchWorker) load(st *benchState, first, stride int) {
	for next := first; next < w.ks.n; {
		if st.phase.Load() == phaseStop {
			return
		}
		n := 0
		for k := next; k < w.ks.n && n < benchLoadDepth; k += stride {
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
func (w *benchWorker) run(st *benchState, pipeline, quota int) {
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
			p := benchPending{op: op, key: w.rng.IntN(w.ks.n)}
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
				w.set.record(lat)
				continue
			}
			w.get.record(lat)
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

// runBench runs one load test: dial, load (if asked), warm up, measure.
// A cancelled ctx stops it early with ctx's error.
func runBench(ctx context.Context, cfg benchConfig) (benchResult, error) {
	res := newBenchResult(cfg)
	ks := newBenchKeys(cfg.keyPrefix, cfg.keys, cfg.valueSize)
	st := &benchState{errOut: cfg.errOut}
	workers := make([]*benchWorker, cfg.conns)
	var dialErr error
	for i := range workers {
		workers[i] = newBenchWorker(i, &cfg, ks)
		if err := workers[i].dial(); err != nil {
			dialErr = fmt.Errorf("connect to %s: %w", cfg.addr, err)
			break
		}
	}
	defer func() {
		for _, w := range workers {
			if w != nil {
				_ = w.close() // the run is over; a close error changes nothing
			}
		}
	}()
	if dialErr != nil {
		return res, dialErr
	}
	prog := startBenchProgress(cfg.progress, workers)
	defer prog.stop()

	// stopOn ends the phase at the timer or at ctx's end, whichever is first.
	stopOn := func(d time.Duration) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			st.phase.Store(phaseStop)
			return ctx.Err()
		}
	}
	var wg sync.WaitGroup
	if cfg.load && cfg.keys > 0 {
		prog.setPhase("load")
		start := time.Now()
		for i, w := range workers {
			wg.Go(func() { w.load(st, i, cfg.conns) })
		}
		loaded := make(chan struct{})
		go func() { wg.Wait(); close(loaded) }()
		select {
		case <-loaded:
		case <-ctx.Done():
			st.phase.Store(phaseStop)
			<-loaded
			return res, ctx.Err()
		}
		res.Loaded, res.LoadSeconds = cfg.keys, time.Since(start).Seconds()
	}
	if cfg.loadOnly {
		res.collect(workers, 0)
		return res, nil
	}

	st.phase.Store(phaseWarmup)
	if cfg.warmup <= 0 {
		st.phase.Store(phaseMeasure)
	}
	for i, w := range workers {
		// With -n each connection sends its share; else it runs until phaseStop.
		quota := 0
		if cfg.requests > 0 {
			if quota = (i+1)*cfg.requests/cfg.conns - i*cfg.requests/cfg.conns; quota == 0 {
				continue
			}
		}
		wg.Go(func() { w.run(st, cfg.pipeline, quota) })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var err error
	if cfg.warmup > 0 {
		prog.setPhase("warm-up")
		err = stopOn(cfg.warmup)
		if err == nil {
			st.phase.Store(phaseMeasure)
		}
	}
	prog.setPhase("measure")
	start := time.Now()
	if err == nil && cfg.requests == 0 {
		err = stopOn(cfg.duration)
		st.phase.Store(phaseStop)
	}
	if err == nil && cfg.requests > 0 {
		select {
		case <-finished:
		case <-ctx.Done():
			st.phase.Store(phaseStop)
			err = ctx.Err()
		}
	}
	<-finished
	res.collect(workers, time.Since(start))
	if err != nil {
		return res, err
	}
	if res.Ops == 0 && res.Errors > 0 {
		return res, errors.New("no request succeeded")
	}
	return res, nil
}
