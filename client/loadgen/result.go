package loadgen

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"
)

// A Result is the outcome of one load test; its JSON form is the JSON a
// tool prints. Latencies are in microseconds.
type Result struct {
	Target        string  `json:"target"`
	Conns         int     `json:"conns"`
	Pipeline      int     `json:"pipeline"`
	Keys          int     `json:"keys"`
	ValueSize     int     `json:"value_size"`
	Ratio         string  `json:"ratio"` // get:set
	Cores         int     `json:"cores"` // shared by this load generator and, on loopback, the server
	WarmupSeconds float64 `json:"warmup_seconds"`
	Loaded        int     `json:"loaded"` // keys set before the warm-up (Config.Load)
	LoadSeconds   float64 `json:"load_seconds"`
	Seconds       float64 `json:"seconds"` // measured time
	Ops           uint64  `json:"ops"`     // measured requests answered correctly
	OpsPerSec     float64 `json:"ops_per_sec"`
	Errors        uint64  `json:"errors"`    // wrong or missing replies, in every phase
	HitRatio      float64 `json:"hit_ratio"` // measured gets that found their key; 0 without gets
	Get           OpStats `json:"get"`
	Set           OpStats `json:"set"`
	All           OpStats `json:"all"`
}

// OpStats summarises the measured requests of one kind.
type OpStats struct {
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Hits      uint64  `json:"hits,omitempty"`
	Misses    uint64  `json:"misses,omitempty"`
	MeanUS    float64 `json:"mean_us"`
	P50US     float64 `json:"p50_us"`
	P99US     float64 `json:"p99_us"`
	P999US    float64 `json:"p999_us"`
	MaxUS     float64 `json:"max_us"`
}

func newResult(cfg Config) Result {
	return Result{
		Target:        cfg.Addr,
		Conns:         cfg.Conns,
		Pipeline:      cfg.Pipeline,
		Keys:          cfg.Keys,
		ValueSize:     cfg.ValueSize,
		Ratio:         strconv.Itoa(cfg.GetWeight) + ":" + strconv.Itoa(cfg.SetWeight),
		Cores:         runtime.NumCPU(),
		WarmupSeconds: cfg.Warmup.Seconds(),
	}
}

// collect merges the workers' counts into r; elapsed is the measured time.
// The workers must have stopped.
func (r *Result) collect(workers []*worker, elapsed time.Duration) {
	var get, set, all Histogram
	var hits, misses uint64
	for _, w := range workers {
		get.Merge(&w.get)
		set.Merge(&w.set)
		hits += w.hits
		misses += w.misses
		r.Errors += w.errors
	}
	all.Merge(&get)
	all.Merge(&set)
	r.Seconds = elapsed.Seconds()
	r.Get = summarize(&get, elapsed)
	r.Get.Hits, r.Get.Misses = hits, misses
	r.Set = summarize(&set, elapsed)
	r.All = summarize(&all, elapsed)
	r.Ops, r.OpsPerSec = r.All.Ops, r.All.OpsPerSec
	if hits+misses > 0 {
		r.HitRatio = float64(hits) / float64(hits+misses)
	}
}

func summarize(h *Histogram, elapsed time.Duration) OpStats {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	s := OpStats{
		Ops:    h.n,
		MeanUS: us(h.Mean()),
		P50US:  us(h.Quantile(0.50)),
		P99US:  us(h.Quantile(0.99)),
		P999US: us(h.Quantile(0.999)),
		MaxUS:  us(time.Duration(h.max)),
	}
	if elapsed > 0 {
		s.OpsPerSec = float64(h.n) / elapsed.Seconds()
	}
	return s
}

// WriteText prints r for a person: a summary line and a table of latencies.
func (r *Result) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "target %s, %d conns, pipeline %d, %d keys of %d bytes, get:set %s, %d cores shared with the server\n",
		r.Target, r.Conns, r.Pipeline, r.Keys, r.ValueSize, r.Ratio, r.Cores)
	if r.Loaded > 0 {
		fmt.Fprintf(tw, "loaded %d keys in %.2fs (%.0f sets/s)\n", r.Loaded, r.LoadSeconds, float64(r.Loaded)/r.LoadSeconds)
	}
	if r.Seconds == 0 { // Config.LoadOnly
		fmt.Fprintf(tw, "errors %d\n", r.Errors)
		return tw.Flush()
	}
	fmt.Fprintf(tw, "measured %.2fs after %.1fs warm-up\n", r.Seconds, r.WarmupSeconds)
	fmt.Fprintln(tw, "op\tops\tops/s\tmean\tp50\tp99\tp999\tmax\t")
	for _, row := range []struct {
		name string
		s    OpStats
	}{{"get", r.Get}, {"set", r.Set}, {"all", r.All}} {
		if row.s.Ops == 0 && row.name != "all" {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t\n", row.name, row.s.Ops, row.s.OpsPerSec,
			FormatMicros(row.s.MeanUS), FormatMicros(row.s.P50US), FormatMicros(row.s.P99US), FormatMicros(row.s.P999US), FormatMicros(row.s.MaxUS))
	}
	if r.Get.Ops > 0 {
		fmt.Fprintf(tw, "get hit ratio %.2f%% (%d hits, %d misses)\n", 100*r.HitRatio, r.Get.Hits, r.Get.Misses)
	}
	fmt.Fprintf(tw, "errors %d\n", r.Errors)
	return tw.Flush()
}

// FormatMicros formats a latency in microseconds with a unit that keeps it short.
func FormatMicros(us float64) string {
	switch {
	case us >= 1e6:
		return strconv.FormatFloat(us/1e6, 'f', 2, 64) + "s"
	case us >= 1e3:
		return strconv.FormatFloat(us/1e3, 'f', 2, 64) + "ms"
	default:
		return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
	}
}

// A progress prints a \r-updated status line once a second while a run goes
// on. Its methods are safe for concurrent use; a nil *progress does nothing.
type progress struct {
	out     io.Writer
	workers []*worker
	mu      sync.Mutex
	phase   string
	since   time.Time
	quit    chan struct{}
	done    chan struct{}
}

// startProgress starts the line on out; a nil out means no line.
func startProgress(out io.Writer, workers []*worker) *progress {
	if out == nil {
		return nil
	}
	p := &progress{out: out, workers: workers, phase: "connect", since: time.Now(),
		quit: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

func (p *progress) setPhase(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase, p.since = name, time.Now()
	p.mu.Unlock()
}

func (p *progress) loop() {
	defer close(p.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last uint64
	for {
		select {
		case <-p.quit:
			fmt.Fprintf(p.out, "\r%70s\r", "")
			return
		case <-tick.C:
		}
		var ops, errs uint64
		for _, w := range p.workers {
			ops += w.done.Load()
			errs += w.errCount.Load()
		}
		p.mu.Lock()
		phase, secs := p.phase, time.Since(p.since).Seconds()
		p.mu.Unlock()
		fmt.Fprintf(p.out, "\r%-8s %5.0fs %12.0f req/s %8d errors   ", phase, secs, float64(ops-last), errs)
		last = ops
	}
}

// stop erases the line and waits for its goroutine.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.quit)
	<-p.done
}
