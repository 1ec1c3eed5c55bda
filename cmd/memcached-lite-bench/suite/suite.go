// Package suite compares memcached-lite with memcached and Redis on this
// machine. It starts each server on a free loopback port, one at a time,
// runs the same workloads against each (with loadgen, and with memaslap and
// redis-benchmark as cross-checks), and reports every figure as the median
// of repeated runs with its ratio to the workload's anchor and, where the
// project set one, its target.
//
// Run does it all and returns a Report, which prints as a text table, as
// Markdown and as JSON. The suite installs nothing: it finds memcached,
// memaslap, redis-server and redis-benchmark on PATH and returns a
// *MissingToolsError if the servers and workloads it was asked for need one
// that is not there.
package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config describes one run of the suite.
type Config struct {
	Results  string        // directory for suite.json, suite.md and logs/; created if missing
	Bin      string        // the memcached-lite binary to test; required
	Duration time.Duration // measured time of each run; at least 1s
	Warmup   time.Duration // unmeasured time before each run; 0 or more
	Repeat   int           // runs per figure, at least 1; the table shows their median
	ColdKeys int           // keys written for the cold-read and memory figures; at least 1
	Only     []string      // workloads to run, from Workloads; empty: all
	Servers  []string      // servers to run, from Servers; empty: all
	Log      io.Writer     // progress and the servers' complaints; nil discards them
	Progress io.Writer     // loadgen's status line; nil: none
}

// Workloads returns the names Config.Only takes.
func Workloads() []string { return []string{"get-hit", "set", "mix", "large", "memaslap", "cold"} }

// Servers returns the names Config.Servers takes.
func Servers() []string { return []string{"ml-always", "ml-none", "memcached", "redis"} }

// check returns the first setting that cannot work, and the selection.
func (cfg *Config) check() (selection, error) {
	var sel selection
	var err error
	if sel.only, err = nameSet("only", cfg.Only, Workloads()); err != nil {
		return sel, err
	}
	if sel.servers, err = nameSet("servers", cfg.Servers, Servers()); err != nil {
		return sel, err
	}
	switch {
	case cfg.Bin == "":
		return sel, errors.New("suite: no memcached-lite binary given")
	case cfg.Duration < time.Second:
		return sel, fmt.Errorf("suite: duration %v: want at least 1s", cfg.Duration)
	case cfg.Warmup < 0:
		return sel, fmt.Errorf("suite: warmup %v: want 0 or more", cfg.Warmup)
	case cfg.Repeat < 1:
		return sel, fmt.Errorf("suite: repeat %d: want at least 1", cfg.Repeat)
	case cfg.ColdKeys < 1:
		return sel, fmt.Errorf("suite: cold keys %d: want at least 1", cfg.ColdKeys)
	}
	return sel, nil
}

// nameSet checks names (comma lists allowed) against known.
func nameSet(what string, names, known []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, n := range names {
		for part := range strings.SplitSeq(n, ",") {
			part = strings.TrimSpace(part)
			if !slices.Contains(known, part) {
				return nil, fmt.Errorf("suite: %s %q: want some of %s", what, part, strings.Join(known, ", "))
			}
			set[part] = true
		}
	}
	return set, nil
}

// A selection is the workloads and servers a run covers.
type selection struct {
	only    map[string]bool // workloads; empty: all
	servers map[string]bool // servers; empty: all
}

func (sel selection) runs(workload string) bool { return len(sel.only) == 0 || sel.only[workload] }
func (sel selection) uses(server string) bool   { return len(sel.servers) == 0 || sel.servers[server] }

// A suite is one run of the suite: its settings, tools and the rows so far.
type suite struct {
	cfg Config
	selection
	tools  tools
	tmp    string // data files, removed at the end
	logs   string // servers' output, kept
	rows   []Row
	failed []error
	load   string    // the load average when the suite started
	start  time.Time // when the suite started
	// versions are memcached's and redis-server's, asked before the runs.
	versions [2]string
}

// Run runs every selected workload against every selected server and
// returns the report. It first checks cfg and its tools, and returns a
// *MissingToolsError if a program the selection needs is not on PATH.
// Measurements that fail are rows with a note, and their errors are joined
// into the returned error; a cancelled ctx stops the suite early.
func Run(ctx context.Context, cfg Config) (Report, error) {
	start := time.Now()
	sel, err := cfg.check()
	if err != nil {
		return Report{}, err
	}
	if _, err := exec.LookPath(cfg.Bin); err != nil {
		return Report{}, fmt.Errorf("suite: memcached-lite binary: %w", err)
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	s := &suite{cfg: cfg, selection: sel, tools: findTools(), logs: filepath.Join(cfg.Results, "logs"), load: loadAverage(), start: start}
	if err := s.tools.missing(sel); err != nil {
		return Report{}, err
	}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		return Report{}, err
	}
	tmp, err := os.MkdirTemp("", "memcached-lite-suite-")
	if err != nil {
		return Report{}, err
	}
	s.tmp = tmp
	defer os.RemoveAll(tmp) // best effort: it is under the temp dir
	s.versions = [2]string{toolVersion(ctx, s.tools.memcached, "-V"), toolVersion(ctx, s.tools.redisServer, "--version")}

	s.runHot(ctx, srvLiteAlways, "ml-always", func() (*proc, error) {
		return startLite(ctx, srvLiteAlways, cfg.Bin, s.logPath("ml-always"),
			"--data", filepath.Join(tmp, "always.db"), "--sync", "always", "-m", "1024")
	})
	s.runHot(ctx, srvLiteNone, "ml-none", func() (*proc, error) {
		return startLite(ctx, srvLiteNone, cfg.Bin, s.logPath("ml-none"),
			"--data", filepath.Join(tmp, "none.db"), "--sync", "none", "-m", "1024")
	})
	s.runHot(ctx, srvMemcached, "memcached", func() (*proc, error) {
		return s.startMemcached(ctx, "memcached")
	})
	s.runRedis(ctx)
	s.runCold(ctx)

	sortRows(s.rows)
	finishRows(s.rows)
	rep := Report{Header: s.header(time.Since(start)), Rows: s.rows}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, errors.Join(s.failed...)
}

func (s *suite) logPath(name string) string { return filepath.Join(s.logs, name+".log") }

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Log, "suite: [%v] "+format+"\n", append([]any{time.Since(s.start).Round(time.Second)}, args...)...)
}

// fail records a measurement that could not be made as a row with a note.
func (s *suite) fail(group, workload, server, tool string, err error) {
	s.logf("%s / %s: %v", workload, server, err)
	s.failed = append(s.failed, fmt.Errorf("%s / %s: %w", workload, server, err))
	s.rows = append(s.rows, Row{Group: group, Workload: workload, Server: server, Tool: tool, Note: "failed, see log"})
}

func (s *suite) startMemcached(ctx context.Context, logName string) (*proc, error) {
	return startDaemon(ctx, srvMemcached, s.tools.memcached, s.logPath(logName), func(port string) []string {
		args := []string{"-p", port, "-U", "0", "-l", "127.0.0.1", "-m", "1024", "-t", strconv.Itoa(runtime.NumCPU())}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		return args
	}, "version\r\n", "VERSION ")
}

// stop stops p and records a failure to stop cleanly.
func (s *suite) stop(p *proc) {
	if err := p.stop(); err != nil {
		s.logf("%v", err)
		s.failed = append(s.failed, err)
	}
}

// header describes the run: machine, versions, settings and why the
// comparison is fair.
func (s *suite) header(took time.Duration) []string {
	cores := runtime.NumCPU()
	return []string{
		fmt.Sprintf("memcached-lite-bench suite, %s, %s/%s, %d cores, %s; suite took %v",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, cores, runtime.Version(), took.Round(time.Second)),
		fmt.Sprintf("Each figure is the median of %d run(s) of %v measured after %v of warm-up; every reply is checked (errors column).",
			s.cfg.Repeat, s.cfg.Duration, s.cfg.Warmup),
		fmt.Sprintf("The load generator and the server share the same %d cores on loopback; that is the same for every server, so the ratios are fair (absolute figures are lower than on separate machines). Load average when the suite started: %s (other work on the machine skews every figure).", cores, s.load),
		"memcached-lite: --sync always (fsync before every reply) or --sync none; -m 1024 for the hot workloads, -m 64 for the " + shortCount(s.cfg.ColdKeys) + "-key ones.",
		fmt.Sprintf("memcached (%s): -m 1024 -t %d (one worker thread per core, same cache headroom as memcached-lite), other settings default (-c 1024, -I 1m).",
			s.versions[0], cores),
		fmt.Sprintf("redis (%s): --appendonly yes --appendfsync always --save '' (durable per write, like --sync always); driven by redis-benchmark (single-threaded C client, no p99.9) at the same connections, value size and key space, so its ratio also compares load generators.",
			s.versions[1]),
		"memaslap (libmemcached-tools): its own 90/10 mix with 16-byte keys and 100-byte values, -T <cores> -c 64; a cross-check of loadgen's mix figures.",
		"Cold GET: " + shortCount(s.cfg.ColdKeys) + " keys loaded through memcached-lite --sync none, SIGTERM, restart with --sync always -m 64 per run, uniform random GETs; the data file stays in the OS page cache (caches are not dropped on a shared machine), so misses read bbolt pages through mmap rather than the device.",
		"Anchors: memcached for GET, SET with --sync none, the mixes and large values; redis appendfsync=always for durable SET; memcached-lite's hot GET for the cold GET.",
	}
}

// loadAverage returns the 1, 5 and 15-minute load averages (Linux), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
