// Package loadgen is a load generator for the memcached text protocol. It
// opens connections to one server, sends random gets and sets over a key
// space, checks every reply, and measures throughput and latency
// percentiles. It speaks only the protocol, so it drives memcached and
// memcached-lite alike.
//
// Run does one load test, described by a Config, and returns a Result, which
// prints for a person (Result.WriteText) or as JSON. A Histogram records
// latencies in fixed log-linear buckets without allocating.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
)

// Config describes one load test. Every field must be set as its comment
// says (Check tells which is not); Progress and ErrOut may be nil.
type Config struct {
	Addr      string        // host:port of the server
	Conns     int           // connections, one goroutine each; at least 1
	Keys      int           // key space: keys 0..Keys-1; at least 1
	KeyPrefix string        // keys are KeyPrefix + a zero-padded index; no spaces or control bytes
	ValueSize int           // bytes per set value, 0 to MaxValueSize
	GetWeight int           // a request is a get with probability GetWeight/(GetWeight+SetWeight);
	SetWeight int           // both 0 or more, not both 0
	Pipeline  int           // requests written before their replies are read; at least 1
	Duration  time.Duration // measured time, positive; ignored if Requests > 0 or LoadOnly
	Requests  int           // measured requests over all connections; 0: run for Duration
	Warmup    time.Duration // unmeasured time before measuring; 0 or more
	Load      bool          // set every key once before the warm-up, so gets hit
	LoadOnly  bool          // load, then stop (implies Load)
	Progress  io.Writer     // gets a \r-updated status line once a second; nil: none
	ErrOut    io.Writer     // gets the first few wrong replies; nil: they are only counted
}

// MaxValueSize is the largest value a Config may set, and the largest data
// length a VALUE reply may announce: larger is taken as a broken reply.
const MaxValueSize = 1 << 30

// A ConfigError reports the first Config field that cannot work.
type ConfigError struct {
	Field string // the field, e.g. "Conns"; "GetWeight" for the pair of weights
	Value string // its value as given
	Msg   string // what is wrong with it, e.g. "want at least 1"
}

func (e *ConfigError) Error() string { return "loadgen: " + e.Field + " " + e.Value + ": " + e.Msg }

// Check returns a *ConfigError for the first field of cfg that cannot work,
// or nil.
func (cfg Config) Check() error {
	bad := func(field string, value any, msg string) error {
		return &ConfigError{Field: field, Value: fmt.Sprint(value), Msg: msg}
	}
	switch {
	case cfg.Conns < 1:
		return bad("Conns", cfg.Conns, "want at least 1")
	case cfg.Keys < 1:
		return bad("Keys", cfg.Keys, "want at least 1")
	case cfg.ValueSize < 0 || cfg.ValueSize > MaxValueSize:
		return bad("ValueSize", cfg.ValueSize, fmt.Sprintf("want 0 to %d", MaxValueSize))
	case cfg.GetWeight < 0 || cfg.SetWeight < 0 || cfg.GetWeight+cfg.SetWeight == 0 || cfg.GetWeight+cfg.SetWeight > maxWeight:
		return bad("GetWeight", fmt.Sprintf("%d:%d", cfg.GetWeight, cfg.SetWeight), "want get:set weights such as 90:10")
	case cfg.Pipeline < 1:
		return bad("Pipeline", cfg.Pipeline, "want at least 1")
	case cfg.Requests < 0:
		return bad("Requests", cfg.Requests, "want 0 or more")
	case cfg.Requests == 0 && cfg.Duration <= 0 && !cfg.LoadOnly:
		return bad("Duration", cfg.Duration, "want a positive duration, or a request count")
	case cfg.Warmup < 0:
		return bad("Warmup", cfg.Warmup, "want 0 or more")
	}
	if n := len(cfg.KeyPrefix) + len(strconv.Itoa(cfg.Keys-1)); n > client.MaxKeyLen {
		return bad("KeyPrefix", strconv.Quote(cfg.KeyPrefix), fmt.Sprintf("keys would be %d bytes, over memcached's %d", n, client.MaxKeyLen))
	}
	if strings.ContainsAny(cfg.KeyPrefix, " \t\r\n\x00") {
		return bad("KeyPrefix", strconv.Quote(cfg.KeyPrefix), "keys may not hold spaces or control bytes")
	}
	return nil
}

// maxWeight bounds GetWeight+SetWeight.
const maxWeight = 1 << 30

// ParseRatio parses "get:set", two weights for Config.GetWeight and
// Config.SetWeight: 0 or more, not both 0.
func ParseRatio(s string) (get, set int, err error) {
	g, st, ok := strings.Cut(s, ":")
	if ok {
		get, err = strconv.Atoi(g)
	}
	if ok && err == nil {
		set, err = strconv.Atoi(st)
	}
	if !ok || err != nil || get < 0 || set < 0 || get+set == 0 || get+set > maxWeight {
		return 0, 0, errors.New("want get:set weights such as 90:10")
	}
	return get, set, nil
}

// Run runs one load test: dial, load (if asked), warm up, measure. It
// returns a *ConfigError if cfg does not pass Check, and an error if no
// connection could be made or no request got a right reply; wrong replies
// are counted in the Result. A cancelled ctx stops it early with ctx's
// error and what was measured so far.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := newResult(cfg)
	if err := cfg.Check(); err != nil {
		return res, err
	}
	ks := newKeySpace(cfg.KeyPrefix, cfg.Keys, cfg.ValueSize)
	st := &runState{errOut: cfg.ErrOut}
	workers := make([]*worker, cfg.Conns)
	var dialErr error
	for i := range workers {
		workers[i] = newWorker(i, &cfg, ks)
		if err := workers[i].dial(); err != nil {
			dialErr = fmt.Errorf("connect to %s: %w", cfg.Addr, err)
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
	prog := startProgress(cfg.Progress, workers)
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
	if cfg.Load || cfg.LoadOnly {
		prog.setPhase("load")
		start := time.Now()
		for i, w := range workers {
			wg.Go(func() { w.load(st, i, cfg.Conns) })
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
		res.Loaded, res.LoadSeconds = cfg.Keys, time.Since(start).Seconds()
	}
	if cfg.LoadOnly {
		res.collect(workers, 0)
		return res, nil
	}

	st.phase.Store(phaseWarmup)
	if cfg.Warmup <= 0 {
		st.phase.Store(phaseMeasure)
	}
	for i, w := range workers {
		// With -n each connection sends its share; else it runs until phaseStop.
		quota := 0
		if cfg.Requests > 0 {
			if quota = (i+1)*cfg.Requests/cfg.Conns - i*cfg.Requests/cfg.Conns; quota == 0 {
				continue
			}
		}
		wg.Go(func() { w.run(st, cfg.Pipeline, quota) })
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var err error
	if cfg.Warmup > 0 {
		prog.setPhase("warm-up")
		err = stopOn(cfg.Warmup)
		if err == nil {
			st.phase.Store(phaseMeasure)
		}
	}
	prog.setPhase("measure")
	start := time.Now()
	if err == nil && cfg.Requests == 0 {
		err = stopOn(cfg.Duration)
		st.phase.Store(phaseStop)
	}
	if err == nil && cfg.Requests > 0 {
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
