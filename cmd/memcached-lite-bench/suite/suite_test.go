package suite

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

func TestMedianRun(t *testing.T) {
	for _, tc := range []struct {
		in      []float64
		want    float64
		wantIdx int
	}{
		{nil, 0, -1},
		{[]float64{5}, 5, 0},
		{[]float64{3, 9, 1}, 3, 0},
		{[]float64{9, 1, 3}, 3, 2},
		{[]float64{1, 2, 10, 4}, 3, 1}, // mean of 2 and 4; run 2 is the first nearest
	} {
		got, idx := medianRun(tc.in)
		if got != tc.want || idx != tc.wantIdx {
			t.Errorf("medianRun(%v) = %v, %d; want %v, %d", tc.in, got, idx, tc.want, tc.wantIdx)
		}
	}
}

func TestFinishRows(t *testing.T) {
	row := func(group, server string, v float64, errs uint64) Row {
		return Row{Group: group, Server: server, Value: v, Errors: errs}
	}
	rows := []Row{
		row(groupRSSGet, srvLiteAlways+" -m 64", 100, 0),
		row(groupGetHit, srvLiteAlways, 110, 0),
		row(groupGetHit, srvMemcached, 100, 0),
		row(groupGetHit, srvLiteNone, 90, 0),
		row(groupSetDurable, srvLiteAlways, 150, 1), // meets the ratio, but had an error
		row(groupSetDurable, srvRedis, 100, 0),
		row(groupSetNone, srvLiteNone, 95, 0),
		row(groupMix, srvLiteAlways, 50, 0), // no memcached row: no ratio
		row(groupMemaslap, srvLiteAlways, 80, 0),
		row(groupMemaslap, srvMemcached, 100, 0),
		row(groupColdGet, srvLiteAlways, 60, 0),
		row(groupRSSLoad, srvLiteNone+" -m 64", 96, 0),
		row(groupStartup, srvLiteAlways+" -m 64", 1000, 0),
	}
	sortRows(rows)
	finishRows(rows)
	type want struct {
		ratio    float64
		anchor   bool
		target   string
		pass     string // PASS, FAIL or ""
		position int
	}
	wants := map[string]want{
		groupGetHit + "/" + srvLiteAlways:             {1.1, false, ">= 1.0x memcached", "PASS", 0},
		groupGetHit + "/" + srvMemcached:              {0, true, "", "", 1},
		groupGetHit + "/" + srvLiteNone:               {0.9, false, "", "", 2},
		groupSetDurable + "/" + srvLiteAlways:         {1.5, false, ">= 1.0x redis (stretch 1.5x)", "FAIL", 3},
		groupSetDurable + "/" + srvRedis:              {0, true, "", "", 4},
		groupSetNone + "/" + srvLiteNone:              {0, false, ">= 0.6x memcached", "FAIL", 5},
		groupMix + "/" + srvLiteAlways:                {0, false, "", "", 6},
		groupMemaslap + "/" + srvLiteAlways:           {0.8, false, ">= 0.8x memcached", "PASS", 7},
		groupMemaslap + "/" + srvMemcached:            {0, true, "", "", 8},
		groupColdGet + "/" + srvLiteAlways:            {60.0 / 110, false, ">= 0.5x hot GET", "PASS", 9},
		groupRSSLoad + "/" + srvLiteNone + " -m 64":   {0, false, "<= 96 MiB", "PASS", 10},
		groupRSSGet + "/" + srvLiteAlways + " -m 64":  {0, false, "<= 96 MiB", "FAIL", 11},
		groupStartup + "/" + srvLiteAlways + " -m 64": {0, false, "< 1 s", "FAIL", 12},
	}
	for i, r := range rows {
		key := r.Group + "/" + r.Server
		w, ok := wants[key]
		if !ok {
			t.Errorf("unexpected row %s", key)
			continue
		}
		pass := ""
		if r.Pass != nil {
			pass = map[bool]string{true: "PASS", false: "FAIL"}[*r.Pass]
		}
		if diff := r.Ratio - w.ratio; diff > 1e-9 || diff < -1e-9 || r.IsAnchor != w.anchor || r.Target != w.target || pass != w.pass || i != w.position {
			t.Errorf("row %s: ratio %v anchor %v target %q result %q at %d; want %v %v %q %q at %d",
				key, r.Ratio, r.IsAnchor, r.Target, pass, i, w.ratio, w.anchor, w.target, w.pass, w.position)
		}
	}
}

func TestTableCells(t *testing.T) {
	pass := true
	r := Row{Workload: "GET hits", Server: srvLiteAlways, Tool: toolLoadgen, Unit: "ops/s", Value: 1234567.4,
		P50US: 512, P99US: 2500, P999US: 1.5e6, HitRatio: 1, Ratio: 1.234, Anchor: srvMemcached,
		Target: ">= 1.0x memcached", Pass: &pass}
	got := strings.Join(r.cells(), "|")
	want := "GET hits|memcached-lite sync=always|1,234,567 ops/s|512µs|2.50ms|1.50s|100.0%|0|1.23x|>= 1.0x memcached|PASS"
	if got != want {
		t.Errorf("cells:\n got %s\nwant %s", got, want)
	}
	r = Row{Workload: "SET", Server: srvRedis, Tool: "redis-benchmark", Note: "redis not installed", Anchor: srvRedis}
	got = strings.Join(r.cells(), "|")
	want = "SET|redis appendfsync=always [redis-benchmark] (redis not installed)|-|-|-|-|-|0|n/a||"
	if got != want {
		t.Errorf("cells of a skipped row:\n got %s\nwant %s", got, want)
	}
}

func TestParseRedisCSV(t *testing.T) {
	out := []byte(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","34071.55","1.359","0.424","1.311","1.807","2.639","6.103"
`)
	got, err := parseRedisCSV(out, "SET")
	if want := (redisBenchResult{OpsPerSec: 34071.55, P50US: 1311, P99US: 2639}); err != nil || !near(got.OpsPerSec, want.OpsPerSec) ||
		!near(got.P50US, want.P50US) || !near(got.P99US, want.P99US) {
		t.Errorf("parseRedisCSV(SET) = %+v, %v; want %+v", got, err, want)
	}
	if _, err := parseRedisCSV(out, "GET"); err == nil {
		t.Error("parseRedisCSV(GET) of a SET-only output: no error")
	}
	if _, err := parseRedisCSV([]byte("Could not connect to Redis\n"), "SET"); err == nil {
		t.Error("parseRedisCSV of an error message: no error")
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

func TestParseMemaslap(t *testing.T) {
	out := []byte(`servers: 127.0.0.1:22122
threads count: 2
concurrency: 50
get_misses: 7
written_bytes: 8500976

Run time: 3.0s Ops: 257548 TPS: 85823 Net_rate: 12.9M/s
`)
	got, err := parseMemaslap(out)
	if err != nil || got != (memaslapResult{OpsPerSec: 85823, GetMisses: 7}) {
		t.Errorf("parseMemaslap = %+v, %v; want 85823 TPS, 7 misses", got, err)
	}
	if _, err := parseMemaslap([]byte("Please specify the item window size. :-)\n")); err == nil {
		t.Error("parseMemaslap of a usage message: no error")
	}
}

func TestShortCount(t *testing.T) {
	for n, want := range map[int]string{1_000_000: "1M", 2_000_000: "2M", 10_000: "10k", 1234: "1234", 1_500_000: "1500k"} {
		if got := shortCount(n); got != want {
			t.Errorf("shortCount(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSuiteSmoke runs the suite's GET workload for a second against the
// memcached-lite binary under test (servertest.Binary) and against
// memcached, and checks the table and the files it writes.
func TestSuiteSmoke(t *testing.T) {
	if _, err := exec.LookPath("memcached"); err != nil { // where the suite looks for it
		servertest.SkipOrFail(t, "memcached is not installed")
	}
	dir := t.TempDir()
	var log bytes.Buffer
	cfg := Config{Results: dir, Bin: servertest.Binary(t), Duration: time.Second, Repeat: 1, ColdKeys: 1000,
		Only: []string{"get-hit"}, Servers: []string{"ml-always,memcached"}, Log: &log}
	rep, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Rows) != 2 {
		t.Fatalf("got %d rows, want 2 (memcached-lite and memcached GET hits): %+v", len(rep.Rows), rep.Rows)
	}
	lite, mc := rep.Rows[0], rep.Rows[1]
	if lite.Server != srvLiteAlways || mc.Server != srvMemcached || !mc.IsAnchor {
		t.Fatalf("rows %q, %q (anchor %v); want %q then the anchor %q", lite.Server, mc.Server, mc.IsAnchor, srvLiteAlways, srvMemcached)
	}
	for _, r := range rep.Rows {
		if r.Value <= 0 || r.Errors != 0 || r.HitRatio != 1 || len(r.Runs) != 1 {
			t.Errorf("%s: %v ops/s, %d errors, hit ratio %v, %d runs; want ops, no errors, all hits, 1 run", r.Server, r.Value, r.Errors, r.HitRatio, len(r.Runs))
		}
	}
	if lite.Ratio <= 0 || lite.Pass == nil || lite.Target == "" {
		t.Errorf("memcached-lite row: ratio %v, target %q, pass %v; want a ratio and a checked target", lite.Ratio, lite.Target, lite.Pass)
	}
	if err := rep.Save(dir, &log); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "suite.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Rows) != 2 || back.Rows[0].Value != lite.Value {
		t.Errorf("suite.json: %v, %d rows; want the 2 rows back", err, len(back.Rows))
	}
	md, err := os.ReadFile(filepath.Join(dir, "suite.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(md), "\n| "); n != 4 {
		t.Errorf("suite.md has %d table lines, want a header, its rule and 2 rows:\n%s", n, md)
	}
	for _, name := range []string{"ml-always.log", "memcached.log"} {
		if _, err := os.Stat(filepath.Join(dir, "logs", name)); err != nil {
			t.Errorf("server log: %v", err)
		}
	}
}

func TestToolsMissing(t *testing.T) {
	set := func(names ...string) map[string]bool {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	all := tools{memcached: "/m", memaslap: "/ms", redisServer: "/rs", redisBenchmark: "/rb"}
	for _, tc := range []struct {
		name          string
		tools         tools
		only, servers map[string]bool
		want          string // the error; "" for none
	}{
		{"all present", all, nil, nil, ""},
		{"none, memcached-lite only", tools{}, set("get-hit", "cold"), set("ml-always", "ml-none"), ""},
		{"none, all", tools{}, nil, nil, "suite: missing memcached, memcaslap (or memaslap), redis-server, redis-benchmark (Debian packages memcached libmemcached-tools redis-server redis-tools)"},
		{"memaslap against memcached-lite", tools{}, set("memaslap"), set("ml-none"), "suite: missing memcaslap (or memaslap) (Debian packages libmemcached-tools)"},
		{"redis without its workloads", tools{}, set("mix", "cold"), set("redis"), ""},
		{"redis-benchmark only", tools{redisServer: "/rs"}, set("set"), set("redis"), "suite: missing redis-benchmark (Debian packages redis-tools)"},
	} {
		err := tc.tools.missing(selection{only: tc.only, servers: tc.servers})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: missing = %q, want %q", tc.name, got, tc.want)
		}
	}
}
