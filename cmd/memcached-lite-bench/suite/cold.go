package suite

import (
	"context"
	"path/filepath"
	"strconv"
	"time"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
)

// coldTitles are the titles of the groups measured with Config.ColdKeys keys.
type coldTitles struct {
	load, cold, get, rssLoad, rssGet, startup string
}

func newColdTitles(keys int) coldTitles {
	n := shortCount(keys)
	return coldTitles{
		load:    "load " + n + " x 100 B, 64 conns, pipeline 64",
		cold:    "GET cold after restart, " + n + " keys, -m 64, 64 conns",
		get:     "GET, " + n + " keys all in memory (reference), 64 conns",
		rssLoad: "anon RSS after loading " + n + " x 100 B",
		rssGet:  "anon RSS after restart + a GET pass",
		startup: "start to first reply, " + n + " items",
	}
}

// shortCount formats n as 1M, 10k or 1234.
func shortCount(n int) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return strconv.Itoa(n/1e6) + "M"
	case n >= 1e3 && n%1e3 == 0:
		return strconv.Itoa(n/1e3) + "k"
	}
	return strconv.Itoa(n)
}

// runCold writes Config.ColdKeys keys into memcached-lite (sync none: the
// load is not what is measured), stops it, and then, Config.Repeat times,
// starts it with --sync always -m 64 and reads random keys: most reads miss
// the cache and go to the file. It records start to first reply and anonymous RSS,
// and, for reference, memcached's load rate, RSS and GET rate with the same
// keys.
func (s *suite) runCold(ctx context.Context) {
	if !s.runs("cold") || ctx.Err() != nil {
		return
	}
	keys := s.cfg.ColdKeys
	t := newColdTitles(keys)
	load := func(addr string) (loadgen.Result, error) {
		// Pipelined: the load is not what is measured. (256 connections
		// made memcached-lite's load four times slower than 64.)
		return loadgen.Run(ctx, loadgen.Config{Addr: addr, Conns: 64, Keys: keys, KeyPrefix: "c:", ValueSize: 100,
			GetWeight: 1, Pipeline: 1, LoadOnly: true, ErrOut: s.cfg.Log, Progress: s.cfg.Progress})
	}
	getPass := func(addr string) loadgen.Config {
		return loadgen.Config{Addr: addr, Conns: 64, Keys: keys, KeyPrefix: "c:", ValueSize: 100,
			GetWeight: 1, Pipeline: 1, Duration: s.cfg.Duration}
	}
	liteNone, liteAlways := srvLiteNone+" -m 64", srvLiteAlways+" -m 64"
	if s.uses("ml-always") {
		s.coldLite(ctx, t, load, getPass, liteNone, liteAlways)
	}
	if !s.uses("memcached") || ctx.Err() != nil {
		return
	}
	p, err := s.startMemcached(ctx, "memcached-1m")
	if err != nil {
		s.fail(groupLoad, t.load, srvMemcached, toolLoadgen, err)
		return
	}
	defer s.stop(p)
	res, err := load(p.addr)
	if err != nil {
		s.fail(groupLoad, t.load, srvMemcached, toolLoadgen, err)
		return
	}
	s.rows = append(s.rows, loadRow(t.load, srvMemcached, res))
	s.rssRow(groupRSSLoad, t.rssLoad, srvMemcached+" -m 1024", p.pid())
	s.runLoadgen(ctx, groupGet1M, t.get, srvMemcached, func(int) loadgen.Config { return getPass(p.addr) })
	s.rssRow(groupRSSGet, t.rssGet, srvMemcached+" -m 1024 (no restart)", p.pid())
}

func (s *suite) coldLite(ctx context.Context, t coldTitles, load func(string) (loadgen.Result, error), getPass func(string) loadgen.Config, liteNone, liteAlways string) {
	data := filepath.Join(s.tmp, "cold.db")
	p, err := startLite(ctx, liteNone, s.cfg.Bin, s.logPath("ml-cold-load"), "--data", data, "--sync", "none", "-m", "64")
	if err != nil {
		s.fail(groupLoad, t.load, srvLiteNone, toolLoadgen, err)
		return
	}
	res, err := load(p.addr)
	if err != nil {
		s.stop(p)
		s.fail(groupLoad, t.load, srvLiteNone, toolLoadgen, err)
		return
	}
	s.rows = append(s.rows, loadRow(t.load, srvLiteNone, res))
	s.rssRow(groupRSSLoad, t.rssLoad, liteNone, p.pid())
	stopStart := time.Now()
	s.stop(p)
	s.logf("%s stopped in %v after the load", liteNone, time.Since(stopStart).Round(time.Millisecond))

	var results []loadgen.Result
	var runs, startup, rss []float64
	for rep := range s.cfg.Repeat {
		if ctx.Err() != nil {
			return
		}
		p, err := startLite(ctx, liteAlways, s.cfg.Bin, s.logPath("ml-cold-"+strconv.Itoa(rep+1)), "--data", data, "--sync", "always", "-m", "64")
		if err != nil {
			s.fail(groupColdGet, t.cold, srvLiteAlways, toolLoadgen, err)
			return
		}
		startup = append(startup, float64(p.ready)/float64(time.Millisecond))
		res, err := loadgen.Run(ctx, getPass(p.addr))
		var after int64
		if err == nil {
			after, err = procRSSAnon(p.pid())
		}
		s.stop(p)
		if err != nil {
			s.fail(groupColdGet, t.cold, srvLiteAlways, toolLoadgen, err)
			return
		}
		s.logf("%s / %s: run %d/%d: first reply %v after start, %.0f ops/s, hits %.1f%%, errors %d, RssAnon %.1f MiB",
			t.cold, liteAlways, rep+1, s.cfg.Repeat, p.ready.Round(time.Millisecond), res.OpsPerSec, 100*res.HitRatio, res.Errors, toMiB(after))
		results, runs, rss = append(results, res), append(runs, res.OpsPerSec), append(rss, toMiB(after))
	}
	s.rows = append(s.rows, loadgenRow(groupColdGet, t.cold, srvLiteAlways, results, runs))
	m, _ := medianRun(rss)
	s.rows = append(s.rows, Row{Group: groupRSSGet, Workload: t.rssGet, Server: liteAlways, Tool: "proc", Unit: "MiB", Value: m, Runs: rss})
	m, _ = medianRun(startup)
	s.rows = append(s.rows, Row{Group: groupStartup, Workload: t.startup, Server: liteAlways, Tool: "proc", Unit: "ms", Value: m, Runs: startup})
}

func loadRow(title, server string, res loadgen.Result) Row {
	rate := float64(res.Loaded) / res.LoadSeconds
	return Row{Group: groupLoad, Workload: title, Server: server, Tool: toolLoadgen, Unit: "sets/s",
		Value: rate, Runs: []float64{rate}, Errors: res.Errors}
}

// rssRow adds a row with pid's anonymous RSS now.
func (s *suite) rssRow(group, title, server string, pid int) {
	b, err := procRSSAnon(pid)
	if err != nil {
		s.fail(group, title, server, "proc", err)
		return
	}
	s.logf("%s / %s: %.1f MiB", title, server, toMiB(b))
	s.rows = append(s.rows, Row{Group: group, Workload: title, Server: server, Tool: "proc", Unit: "MiB", Value: toMiB(b), Runs: []float64{toMiB(b)}})
}

func toMiB(b int64) float64 { return float64(b) / (1 << 20) }
