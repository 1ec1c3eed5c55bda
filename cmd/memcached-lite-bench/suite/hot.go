package suite

import (
	"context"
	"os"
	"path/filepath"
	"runtime"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
)

// A hotWorkload is a loadgen run against a memcached-protocol server.
type hotWorkload struct {
	name   string // for Config.Only
	group  func(durable bool) string
	conns  int
	keys   int
	size   int
	get    int
	set    int
	load   bool
	prefix string
}

func hotWorkloads() []hotWorkload {
	fixed := func(g string) func(bool) string { return func(bool) string { return g } }
	split := func(dur, none string) func(bool) string {
		return func(d bool) string {
			if d {
				return dur
			}
			return none
		}
	}
	return []hotWorkload{
		{"get-hit", fixed(groupGetHit), 64, 10_000, 100, 1, 0, true, "g:"},
		{"set", split(groupSetDurable, groupSetNone), 50, 10_000, 100, 0, 1, false, "s:"},
		{"mix", fixed(groupMix), 50, 10_000, 100, 9, 1, true, "m:"},
		{"large", split(groupLargeSetDur, groupLargeSetNone), 8, 1000, 64 << 10, 0, 1, false, "L:"},
		{"large", fixed(groupLargeGet), 8, 1000, 64 << 10, 1, 0, true, "L:"},
	}
}

// hotTitle returns the title of a group of hot workloads, in the table.
func hotTitle(group string) string {
	switch group {
	case groupGetHit:
		return "GET hits, 64 conns, 100 B, 10k keys"
	case groupSetDurable:
		return "durable SET, 50 conns, 100 B, 10k keys"
	case groupSetNone:
		return "SET without fsync, 50 conns, 100 B, 10k keys"
	case groupMix:
		return "90/10 GET/SET, 50 conns, 100 B, 10k keys"
	case groupLargeSetDur:
		return "durable SET 64 KiB, 8 conns, 1k keys"
	case groupLargeSetNone:
		return "SET 64 KiB without fsync, 8 conns, 1k keys"
	case groupLargeGet:
		return "GET 64 KiB hits, 8 conns, 1k keys"
	}
	return group
}

// Titles of the groups measured with other tools or other servers.
const (
	titleMemaslap = "90/10 GET/SET by memaslap, 64 conns, 100 B"
)

// runHot starts one memcached-protocol server and runs the loadgen workloads
// and memaslap against it, then stops it.
func (s *suite) runHot(ctx context.Context, server, key string, start func() (*proc, error)) {
	if !s.uses(key) || ctx.Err() != nil {
		return
	}
	var todo []hotWorkload
	for _, w := range hotWorkloads() {
		if s.runs(w.name) {
			todo = append(todo, w)
		}
	}
	memaslapToo := s.runs("memaslap")
	if len(todo) == 0 && !memaslapToo {
		return
	}
	durable := server == srvLiteAlways
	p, err := start()
	if err != nil {
		for _, w := range todo {
			s.fail(w.group(durable), hotTitle(w.group(durable)), server, toolLoadgen, err)
		}
		return
	}
	defer s.stop(p)
	s.logf("%s listening on %s (pid %d)", server, p.addr, p.pid())
	for _, w := range todo {
		if ctx.Err() != nil {
			return
		}
		s.runLoadgen(ctx, w.group(durable), hotTitle(w.group(durable)), server, func(rep int) loadgen.Config {
			return loadgen.Config{
				Addr: p.addr, Conns: w.conns, Keys: w.keys, KeyPrefix: w.prefix, ValueSize: w.size,
				GetWeight: w.get, SetWeight: w.set, Pipeline: 1,
				Duration: s.cfg.Duration, Warmup: s.cfg.Warmup, Load: w.load && rep == 0,
			}
		})
	}
	if memaslapToo && ctx.Err() == nil {
		s.runMemaslap(ctx, server, p.addr)
	}
}

// runLoadgen runs loadgen with cfg(rep) Config.Repeat times and adds the row.
func (s *suite) runLoadgen(ctx context.Context, group, title, server string, cfg func(rep int) loadgen.Config) {
	var results []loadgen.Result
	var runs []float64
	for rep := range s.cfg.Repeat {
		c := cfg(rep)
		c.ErrOut, c.Progress = s.cfg.Log, s.cfg.Progress
		res, err := loadgen.Run(ctx, c)
		if err != nil {
			s.fail(group, title, server, toolLoadgen, err)
			return
		}
		s.logf("%s / %s: run %d/%d: %.0f ops/s, p99 %s, hits %.1f%%, errors %d",
			title, server, rep+1, s.cfg.Repeat, res.OpsPerSec, loadgen.FormatMicros(res.All.P99US), 100*res.HitRatio, res.Errors)
		results = append(results, res)
		runs = append(runs, res.OpsPerSec)
	}
	s.rows = append(s.rows, loadgenRow(group, title, server, results, runs))
}

// loadgenRow is the row of runs of loadgen: the median ops/s, and the
// latencies and hit ratio of the run nearest to it.
func loadgenRow(group, title, server string, results []loadgen.Result, runs []float64) Row {
	m, i := medianRun(runs)
	mid := results[i]
	row := Row{Group: group, Workload: title, Server: server, Tool: toolLoadgen, Unit: "ops/s",
		Value: m, Runs: runs, P50US: mid.All.P50US, P99US: mid.All.P99US, P999US: mid.All.P999US,
		HitRatio: mid.HitRatio}
	for _, r := range results {
		row.Errors += r.Errors
	}
	return row
}

// memaslapConns is memaslap's concurrency (-c), split over its threads.
const memaslapConns = 64

// runMemaslap runs memaslap's 90/10 mix against addr.
func (s *suite) runMemaslap(ctx context.Context, server, addr string) {
	cfgPath := filepath.Join(s.tmp, "memaslap.cfg")
	if err := os.WriteFile(cfgPath, []byte(memaslapConfig), 0o644); err != nil {
		s.fail(groupMemaslap, titleMemaslap, server, "memaslap", err)
		return
	}
	var runs []float64
	for rep := range s.cfg.Repeat {
		r, err := memaslap(ctx, s.tools.memaslap, addr, cfgPath, memaslapConns, runtime.NumCPU(), s.cfg.Duration)
		if err != nil {
			s.fail(groupMemaslap, titleMemaslap, server, "memaslap", err)
			return
		}
		s.logf("%s / %s: run %d/%d: %.0f ops/s (memaslap, %d get misses)", titleMemaslap, server, rep+1, s.cfg.Repeat, r.OpsPerSec, r.GetMisses)
		runs = append(runs, r.OpsPerSec)
	}
	m, _ := medianRun(runs)
	s.rows = append(s.rows, Row{Group: groupMemaslap, Workload: titleMemaslap, Server: server,
		Tool: "memaslap", Unit: "ops/s", Value: m, Runs: runs})
}

// runRedis runs redis-benchmark's SET and GET at the bench workloads'
// connections, value sizes and key spaces against Redis with a durable AOF.
func (s *suite) runRedis(ctx context.Context) {
	type redisWorkload struct {
		name, group, test string
		conns, size, keys int
	}
	var todo []redisWorkload
	for _, w := range []redisWorkload{
		{"set", groupSetDurable, "SET", 50, 100, 10_000},
		{"get-hit", groupGetHit, "GET", 64, 100, 10_000},
		{"large", groupLargeSetDur, "SET", 8, 64 << 10, 1000},
	} {
		if s.runs(w.name) {
			todo = append(todo, w)
		}
	}
	if !s.uses("redis") || len(todo) == 0 || ctx.Err() != nil {
		return
	}
	dir := filepath.Join(s.tmp, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.fail(todo[0].group, hotTitle(todo[0].group), srvRedis, "redis-benchmark", err)
		return
	}
	p, err := startDaemon(ctx, srvRedis, s.tools.redisServer, s.logPath("redis"), func(port string) []string {
		return []string{"--port", port, "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always",
			"--save", "", "--dir", dir, "--daemonize", "no"}
	}, "PING\r\n", "+PONG")
	if err != nil {
		for _, w := range todo {
			s.fail(w.group, hotTitle(w.group), srvRedis, "redis-benchmark", err)
		}
		return
	}
	defer s.stop(p)
	s.logf("%s listening on %s (pid %d)", srvRedis, p.addr, p.pid())
	for _, w := range todo {
		if ctx.Err() != nil {
			return
		}
		// redis-benchmark runs a request count, not a time: a short run
		// (also the warm-up, and for GET the fill) sizes the measured ones.
		cal, err := redisBench(ctx, s.tools.redisBenchmark, p.addr, w.test, w.conns, w.size, w.keys, max(5*w.keys, 2000))
		if err != nil {
			s.fail(w.group, hotTitle(w.group), srvRedis, "redis-benchmark", err)
			continue
		}
		n := max(int(cal.OpsPerSec*s.cfg.Duration.Seconds()), 1000)
		var results []redisBenchResult
		var runs []float64
		for rep := range s.cfg.Repeat {
			r, err := redisBench(ctx, s.tools.redisBenchmark, p.addr, w.test, w.conns, w.size, w.keys, n)
			if err != nil {
				s.fail(w.group, hotTitle(w.group), srvRedis, "redis-benchmark", err)
				results = nil
				break
			}
			s.logf("%s / %s: run %d/%d: %.0f ops/s, p99 %s (redis-benchmark -n %d)", hotTitle(w.group), srvRedis, rep+1, s.cfg.Repeat, r.OpsPerSec, loadgen.FormatMicros(r.P99US), n)
			results, runs = append(results, r), append(runs, r.OpsPerSec)
		}
		if results == nil {
			continue
		}
		m, i := medianRun(runs)
		s.rows = append(s.rows, Row{Group: w.group, Workload: hotTitle(w.group), Server: srvRedis, Tool: "redis-benchmark",
			Unit: "ops/s", Value: m, Runs: runs, P50US: results[i].P50US, P99US: results[i].P99US})
	}
}
