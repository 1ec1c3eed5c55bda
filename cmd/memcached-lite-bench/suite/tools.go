package suite

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// tools are the other programs the suite runs, by path; "" if absent.
type tools struct {
	memcached      string
	memaslap       string // libmemcached-tools calls it memcaslap on Debian
	redisServer    string
	redisBenchmark string
}

// findTools looks the tools up on PATH. It installs nothing.
func findTools() tools {
	look := func(names ...string) string {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p
			}
		}
		return ""
	}
	return tools{
		memcached:      look("memcached"),
		memaslap:       look("memcaslap", "memaslap"),
		redisServer:    look("redis-server"),
		redisBenchmark: look("redis-benchmark"),
	}
}

// missing returns a *MissingToolsError naming the tools that the workloads
// and servers of sel need and t lacks, or nil.
func (t tools) missing(sel selection) error {
	var e MissingToolsError
	need := func(path, program, pkg string) {
		if path == "" {
			e.Programs = append(e.Programs, program)
			if !slices.Contains(e.Packages, pkg) {
				e.Packages = append(e.Packages, pkg)
			}
		}
	}
	if sel.uses("memcached") { // every workload runs against it
		need(t.memcached, "memcached", "memcached")
	}
	if sel.runs("memaslap") && slices.ContainsFunc([]string{"ml-always", "ml-none", "memcached"}, sel.uses) {
		need(t.memaslap, "memcaslap (or memaslap)", "libmemcached-tools")
	}
	if sel.uses("redis") && slices.ContainsFunc([]string{"get-hit", "set", "large"}, sel.runs) {
		need(t.redisServer, "redis-server", "redis-server")
		need(t.redisBenchmark, "redis-benchmark", "redis-tools")
	}
	if len(e.Programs) == 0 {
		return nil
	}
	return &e
}

// A MissingToolsError names the programs a suite run needs and could not
// find on PATH, and the Debian packages that hold them.
type MissingToolsError struct {
	Programs []string // e.g. "memcached", "redis-benchmark"
	Packages []string // e.g. "memcached", "redis-tools"
}

func (e *MissingToolsError) Error() string {
	return fmt.Sprintf("suite: missing %s (Debian packages %s)", strings.Join(e.Programs, ", "), strings.Join(e.Packages, " "))
}

// toolVersion returns the first line a program prints for its version flag.
func toolVersion(ctx context.Context, bin string, arg string) string {
	if bin == "" {
		return "not installed"
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, arg).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// runTool runs a load tool for at most limit and returns its output.
func runTool(ctx context.Context, limit time.Duration, bin string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, lastLines(out.String(), 10))
	}
	return out.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// redisBenchResult is one test's row of redis-benchmark --csv; latencies
// are in microseconds (redis-benchmark prints no p99.9).
type redisBenchResult struct {
	OpsPerSec float64
	P50US     float64
	P99US     float64
}

// parseRedisCSV reads redis-benchmark --csv output and returns the row of
// test (SET, GET). Its header is
// "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms".
func parseRedisCSV(out []byte, test string) (redisBenchResult, error) {
	var r redisBenchResult
	rd := csv.NewReader(bytes.NewReader(out))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		return r, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	if len(recs) < 2 {
		return r, fmt.Errorf("redis-benchmark csv: no rows in %q", out)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	field := func(rec []string, name string) (float64, error) {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return 0, fmt.Errorf("redis-benchmark csv: no %s column", name)
		}
		return strconv.ParseFloat(rec[i], 64)
	}
	for _, rec := range recs[1:] {
		if len(rec) == 0 || rec[0] != test {
			continue
		}
		var errs [3]error
		r.OpsPerSec, errs[0] = field(rec, "rps")
		p50, e1 := field(rec, "p50_latency_ms")
		p99, e2 := field(rec, "p99_latency_ms")
		errs[1], errs[2] = e1, e2
		r.P50US, r.P99US = p50*1000, p99*1000
		return r, errors.Join(errs[:]...)
	}
	return r, fmt.Errorf("redis-benchmark csv: no %s row in %q", test, out)
}

// redisBench runs redis-benchmark for one test at conns connections, n
// requests of size-byte values over keys random keys.
func redisBench(ctx context.Context, bin, addr, test string, conns, size, keys, n int) (redisBenchResult, error) {
	host, port, _ := strings.Cut(addr, ":")
	out, err := runTool(ctx, 5*time.Minute, bin, "-h", host, "-p", port, "-c", strconv.Itoa(conns),
		"-d", strconv.Itoa(size), "-r", strconv.Itoa(keys), "-n", strconv.Itoa(n),
		"-t", strings.ToLower(test), "--csv")
	if err != nil {
		return redisBenchResult{}, err
	}
	return parseRedisCSV(out, test)
}

// memaslapConfig is memaslap's -F file for a 90/10 get/set mix of 100-byte
// values (cmd 0 is set, 1 is get).
const memaslapConfig = "key\n16 16 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n"

// memaslapResult is what the suite takes from memaslap's report.
type memaslapResult struct {
	OpsPerSec float64
	GetMisses int64
}

// parseMemaslap reads memaslap's closing report:
// "cmd_get: ...", "get_misses: N" and "Run time: 5.0s Ops: 1234 TPS: 246 Net_rate: ...".
func parseMemaslap(out []byte) (memaslapResult, error) {
	var r memaslapResult
	found := false
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if v, ok := strings.CutPrefix(line, "get_misses:"); ok {
			r.GetMisses, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64) // only a note
		}
		for i := 0; i+1 < len(fields); i++ {
			if fields[0] == "Run" && fields[i] == "TPS:" {
				tps, err := strconv.ParseFloat(fields[i+1], 64)
				if err != nil {
					return r, fmt.Errorf("memaslap TPS %q: %w", fields[i+1], err)
				}
				r.OpsPerSec, found = tps, true
			}
		}
	}
	if !found {
		return r, fmt.Errorf("memaslap: no TPS in its output:\n%s", lastLines(string(out), 10))
	}
	return r, nil
}

// memaslap runs the 90/10 mix for d (whole seconds) at conns concurrency
// over threads threads; cfgPath holds memaslapConfig. memaslap picks its own
// keys (each set a new one, each get one it set) with its default window.
func memaslap(ctx context.Context, bin, addr, cfgPath string, conns, threads int, d time.Duration) (memaslapResult, error) {
	out, err := runTool(ctx, d+time.Minute, bin, "-s", addr, "-F", cfgPath, "-T", strconv.Itoa(threads),
		"-c", strconv.Itoa(conns), "-t", strconv.Itoa(max(int(d.Seconds()), 1))+"s")
	if err != nil {
		return memaslapResult{}, err
	}
	return parseMemaslap(out)
}
