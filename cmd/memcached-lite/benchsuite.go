package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func benchSuiteCommand() *cli.Command {
	return &cli.Command{
		Name:  "suite",
		Usage: "compare memcached-lite with memcached and Redis on this machine",
		UsageText: "memcached-lite bench suite [--results results] [-d 5s] [--warmup 1s] [--repeat 3]\n" +
			"                           [--only get-hit,set,mix,large,memaslap,cold] [--servers ml-always,ml-none,memcached,redis]",
		Description: "Starts each server on a free loopback port, one at a time: memcached-lite --sync always,\n" +
			"memcached-lite --sync none, memcached (-m 1024 -t <cores>) and redis-server (appendfsync always);\n" +
			"runs the same workloads against each, and prints one table with every figure (the median\n" +
			"of --repeat runs), its ratio to the workload's anchor and the targets. Also writes\n" +
			"the table as suite.json and suite.md under --results, with the servers' logs in logs/.\n" +
			"Workloads: get-hit (64 conns), set (50), mix 90/10 (50), large 64 KiB set and get (8),\n" +
			"memaslap 90/10 mix (cross-check with another tool), cold (1M keys: load, restart with\n" +
			"-m 64, random GETs from the file; anonymous RSS; start to first reply).\n" +
			"Needs memcached, memaslap (libmemcached-tools), redis-server and redis-benchmark on PATH\n" +
			"for the servers and workloads it runs (make bench-tools installs them). Stops every\n" +
			"server it started, also on Ctrl-C.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "results", Value: "results", EnvVars: env("SUITE_RESULTS"), Usage: "directory for suite.json, suite.md and logs/"},
			&cli.StringFlag{Name: "bin", EnvVars: env("SUITE_BIN"), Usage: "memcached-lite binary to test (default: this one)"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 5 * time.Second, EnvVars: env("SUITE_DURATION"), Usage: "measured time of each run"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, EnvVars: env("SUITE_WARMUP"), Usage: "unmeasured time before each run"},
			&cli.IntFlag{Name: "repeat", Value: 3, EnvVars: env("SUITE_REPEAT"), Usage: "runs per figure; the table shows their median"},
			&cli.IntFlag{Name: "cold-keys", Value: 1_000_000, EnvVars: env("SUITE_COLD_KEYS"), Usage: "keys written for the cold-read and memory figures"},
			&cli.StringSliceFlag{Name: "only", EnvVars: env("SUITE_ONLY"), Usage: "workloads to run: get-hit, set, mix, large, memaslap, cold (default: all)"},
			&cli.StringSliceFlag{Name: "servers", EnvVars: env("SUITE_SERVERS"), Usage: "servers to run: ml-always, ml-none, memcached, redis (default: all)"},
			&cli.BoolFlag{Name: "strict", EnvVars: env("SUITE_STRICT"), Usage: "exit 1 if a target is missed"},
		},
		Action: runSuiteCommand,
	}
}

// suiteConfig is what the suite's flags say, checked.
type suiteConfig struct {
	results  string
	bin      string
	duration time.Duration
	warmup   time.Duration
	repeat   int
	coldKeys int
	only     map[string]bool // workloads; empty: all
	servers  map[string]bool // servers; empty: all
	log      io.Writer       // progress and the servers' complaints
	progress io.Writer       // the bench progress line; nil: none
}

// suiteWorkloads and suiteServers are the names --only and --servers take.
func suiteWorkloads() []string { return []string{"get-hit", "set", "mix", "large", "memaslap", "cold"} }
func suiteServers() []string   { return []string{"ml-always", "ml-none", "memcached", "redis"} }

func suiteFlags(c *cli.Context) (suiteConfig, error) {
	cfg := suiteConfig{
		results:  c.String("results"),
		bin:      c.String("bin"),
		duration: c.Duration("duration"),
		warmup:   c.Duration("warmup"),
		repeat:   c.Int("repeat"),
		coldKeys: c.Int("cold-keys"),
		log:      c.App.ErrWriter,
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.progress = f
	}
	var err error
	if cfg.only, err = nameSet("--only", c.StringSlice("only"), suiteWorkloads()); err != nil {
		return cfg, err
	}
	if cfg.servers, err = nameSet("--servers", c.StringSlice("servers"), suiteServers()); err != nil {
		return cfg, err
	}
	if cfg.bin == "" {
		if cfg.bin, err = os.Executable(); err != nil {
			return cfg, fmt.Errorf("find this binary (use --bin): %w", err)
		}
	}
	switch {
	case cfg.duration < time.Second:
		return cfg, fmt.Errorf("-d %v: want at least 1s", cfg.duration)
	case cfg.warmup < 0:
		return cfg, fmt.Errorf("--warmup %v: want 0 or more", cfg.warmup)
	case cfg.repeat < 1:
		return cfg, fmt.Errorf("--repeat %d: want at least 1", cfg.repeat)
	case cfg.coldKeys < 1:
		return cfg, fmt.Errorf("--cold-keys %d: want at least 1", cfg.coldKeys)
	}
	return cfg, nil
}

// nameSet checks names (comma lists allowed) against known.
func nameSet(flag string, names, known []string) (map[string]bool, error) {
	set := map[string]bool{}
	for _, n := range names {
		for _, part := range strings.Split(n, ",") {
			part = strings.TrimSpace(part)
			if !slices.Contains(known, part) {
				return nil, fmt.Errorf("%s %q: want some of %s", flag, part, strings.Join(known, ", "))
			}
			set[part] = true
		}
	}
	return set, nil
}

func (cfg *suiteConfig) runs(workload string) bool { return len(cfg.only) == 0 || cfg.only[workload] }
func (cfg *suiteConfig) uses(server string) bool   { return len(cfg.servers) == 0 || cfg.servers[server] }

func runSuiteCommand(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected argument %q", c.Args().First())
	}
	cfg, err := suiteFlags(c)
	if err != nil {
		return err
	}
	rep, err := runSuite(c.Context, cfg)
	if _, ok := errors.AsType[*missingToolsError](err); ok {
		return fmt.Errorf("%w: make bench-tools installs them; or leave out what needs them with --servers and --only", err)
	}
	if rep.Rows != nil {
		fmt.Fprintln(c.App.Writer)
		for _, h := range rep.Header {
			fmt.Fprintln(c.App.Writer, h)
		}
		fmt.Fprintln(c.App.Writer)
		err = errors.Join(err, writeSuiteTable(c.App.Writer, rep.Rows), saveSuiteReport(cfg.results, rep, c.App.ErrWriter))
	}
	if err != nil {
		return err
	}
	var missed []string
	for _, r := range rep.Rows {
		if r.Pass != nil && !*r.Pass {
			missed = append(missed, r.Workload+" / "+r.Server)
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(c.App.Writer, "\ntargets missed: %s\n", strings.Join(missed, "; "))
		if c.Bool("strict") {
			return fmt.Errorf("%d targets missed", len(missed))
		}
	}
	return nil
}

// saveSuiteReport writes suite.json and suite.md under dir.
func saveSuiteReport(dir string, rep suiteReport, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, suiteReport) error
	}{{"suite.json", writeSuiteJSON}, {"suite.md", writeSuiteMarkdown}} {
		path := filepath.Join(dir, f.name)
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := errors.Join(f.write(out, rep), out.Close()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		fmt.Fprintf(log, "suite: wrote %s\n", path)
	}
	return nil
}

// A suite is one run of the suite: its settings, tools and the rows so far.
type suite struct {
	cfg    suiteConfig
	tools  suiteTools
	tmp    string // data files, removed at the end
	logs   string // servers' output, kept
	rows   []suiteRow
	failed []error
	load   string    // the load average when the suite started
	start  time.Time // when the suite started
	// versions are memcached's and redis-server's, asked before the runs.
	versions [2]string
}

// runSuite runs every selected workload against every selected server and
// returns the report. Measurements that fail are rows with a note, and
// their errors are joined into the returned error; a cancelled ctx stops
// the suite early.
func runSuite(ctx context.Context, cfg suiteConfig) (suiteReport, error) {
	start := time.Now()
	s := &suite{cfg: cfg, logs: filepath.Join(cfg.results, "logs"), load: loadAverage(), start: start}
	if err := os.MkdirAll(s.logs, 0o755); err != nil {
		return suiteReport{}, err
	}
	tmp, err := os.MkdirTemp("", "memcached-lite-suite-")
	if err != nil {
		return suiteReport{}, err
	}
	s.tmp = tmp
	defer os.RemoveAll(tmp) // best effort: it is under the temp dir
	s.tools = findSuiteTools()
	if err := s.tools.missing(&cfg); err != nil {
		return suiteReport{}, err
	}
	s.versions = [2]string{suiteToolVersion(ctx, s.tools.memcached, "-V"), suiteToolVersion(ctx, s.tools.redisServer, "--version")}

	s.runHot(ctx, srvLiteAlways, "ml-always", func() (*suiteProc, error) {
		return startSuiteLite(ctx, srvLiteAlways, cfg.bin, s.logPath("ml-always"),
			"--data", filepath.Join(tmp, "always.db"), "--sync", "always", "-m", "1024")
	})
	s.runHot(ctx, srvLiteNone, "ml-none", func() (*suiteProc, error) {
		return startSuiteLite(ctx, srvLiteNone, cfg.bin, s.logPath("ml-none"),
			"--data", filepath.Join(tmp, "none.db"), "--sync", "none", "-m", "1024")
	})
	s.runHot(ctx, srvMemcached, "memcached", func() (*suiteProc, error) {
		return s.startMemcached(ctx, "memcached")
	})
	s.runRedis(ctx)
	s.runCold(ctx)

	sortSuiteRows(s.rows)
	finishSuiteRows(s.rows)
	rep := suiteReport{Header: s.header(time.Since(start)), Rows: s.rows}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	return rep, errors.Join(s.failed...)
}

func (s *suite) logPath(name string) string { return filepath.Join(s.logs, name+".log") }

func (s *suite) logf(format string, args ...any) {
	fmt.Fprintf(s.cfg.log, "suite: [%v] "+format+"\n", append([]any{time.Since(s.start).Round(time.Second)}, args...)...)
}

// fail records a measurement that could not be made as a row with a note.
func (s *suite) fail(group, workload, server, tool string, err error) {
	s.logf("%s / %s: %v", workload, server, err)
	s.failed = append(s.failed, fmt.Errorf("%s / %s: %w", workload, server, err))
	s.rows = append(s.rows, suiteRow{Group: group, Workload: workload, Server: server, Tool: tool, Note: "failed, see log"})
}

func (s *suite) startMemcached(ctx context.Context, logName string) (*suiteProc, error) {
	return startSuiteDaemon(ctx, srvMemcached, s.tools.memcached, s.logPath(logName), func(port string) []string {
		args := []string{"-p", port, "-U", "0", "-l", "127.0.0.1", "-m", "1024", "-t", strconv.Itoa(runtime.NumCPU())}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		return args
	}, "version\r\n", "VERSION ")
}

// stop stops p and records a failure to stop cleanly.
func (s *suite) stop(p *suiteProc) {
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
		fmt.Sprintf("memcached-lite bench suite, %s, %s/%s, %d cores, %s; suite took %v",
			time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.GOOS, runtime.GOARCH, cores, runtime.Version(), took.Round(time.Second)),
		fmt.Sprintf("Each figure is the median of %d run(s) of %v measured after %v of warm-up; every reply is checked (errors column).",
			s.cfg.repeat, s.cfg.duration, s.cfg.warmup),
		fmt.Sprintf("The load generator and the server share the same %d cores on loopback; that is the same for every server, so the ratios are fair (absolute figures are lower than on separate machines). Load average when the suite started: %s (other work on the machine skews every figure).", cores, s.load),
		"memcached-lite: --sync always (fsync before every reply) or --sync none; -m 1024 for the hot workloads, -m 64 for the " + shortCount(s.cfg.coldKeys) + "-key ones.",
		fmt.Sprintf("memcached (%s): -m 1024 -t %d (one worker thread per core, same cache headroom as memcached-lite), other settings default (-c 1024, -I 1m).",
			s.versions[0], cores),
		fmt.Sprintf("redis (%s): --appendonly yes --appendfsync always --save '' (durable per write, like --sync always); driven by redis-benchmark (single-threaded C client, no p99.9) at the same connections, value size and key space, so its ratio also compares load generators.",
			s.versions[1]),
		"memaslap (libmemcached-tools): its own 90/10 mix with 16-byte keys and 100-byte values, -T <cores> -c 50; a cross-check of bench's mix figures.",
		"Cold GET: " + shortCount(s.cfg.coldKeys) + " keys loaded through memcached-lite --sync none, SIGTERM, restart with --sync always -m 64 per run, uniform random GETs; the data file stays in the OS page cache (caches are not dropped on a shared machine), so misses read bbolt pages through mmap rather than the device.",
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
