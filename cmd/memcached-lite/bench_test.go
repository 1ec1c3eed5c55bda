package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
)

// benchMemcached starts a memcached on a free loopback port for the test
// and returns its address. Without memcached the test is skipped, or fails
// if CI is set.
func benchMemcached(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("memcached is not installed")
		}
		t.Fatal("memcached is not installed, and CI is set")
	}
	args := func(port string) []string {
		a := []string{"-p", port, "-U", "0", "-l", "127.0.0.1", "-m", "64", "-t", "2"}
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root")
		}
		return a
	}
	p, err := startSuiteDaemon(t.Context(), "memcached", bin, filepath.Join(t.TempDir(), "memcached.log"), args, "version\r\n", "VERSION ")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop memcached: %v", err)
		}
	})
	return p.addr
}

func TestBenchAgainstMemcached(t *testing.T) {
	addr := benchMemcached(t)
	for _, tc := range []struct {
		name string
		cfg  benchConfig
	}{
		{"mix for 1s", benchConfig{conns: 4, keys: 1000, valueSize: 100, getWeight: 90, setWeight: 10, pipeline: 1,
			duration: time.Second, warmup: 200 * time.Millisecond, load: true}},
		{"pipelined gets", benchConfig{conns: 2, keys: 1000, valueSize: 100, getWeight: 1, pipeline: 16,
			duration: 300 * time.Millisecond, load: true}},
		{"large sets by count", benchConfig{conns: 3, keys: 50, valueSize: 64 << 10, setWeight: 1, pipeline: 2,
			requests: 301, warmup: 50 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.addr, cfg.keyPrefix = addr, strings.ReplaceAll(tc.name, " ", "-")+":"
			var errOut bytes.Buffer
			cfg.errOut = &errOut
			res, err := runBench(t.Context(), cfg)
			if err != nil {
				t.Fatalf("runBench: %v\n%s", err, errOut.String())
			}
			if res.Errors != 0 || res.Ops == 0 {
				t.Fatalf("%d errors and %d ops, want 0 errors and some ops; errors:\n%s", res.Errors, res.Ops, errOut.String())
			}
			if res.Get.Ops+res.Set.Ops != res.Ops {
				t.Errorf("get %d + set %d ops != all %d", res.Get.Ops, res.Set.Ops, res.Ops)
			}
			if cfg.requests > 0 && res.Ops != uint64(cfg.requests) {
				t.Errorf("-n %d measured %d requests", cfg.requests, res.Ops)
			}
			if cfg.load && (res.HitRatio != 1 || res.Loaded != cfg.keys) {
				t.Errorf("after loading %d keys: hit ratio %v, %d loaded; want 1 and %d", cfg.keys, res.HitRatio, res.Loaded, cfg.keys)
			}
			if cfg.getWeight == 0 && res.Get.Ops != 0 {
				t.Errorf("ratio 0:1 sent %d gets", res.Get.Ops)
			}
			if p := res.All; !(p.P50US > 0 && p.P50US <= p.P99US && p.P99US <= p.P999US && p.P999US <= p.MaxUS) {
				t.Errorf("percentiles out of order: p50 %v p99 %v p999 %v max %v", p.P50US, p.P99US, p.P999US, p.MaxUS)
			}
		})
	}
}

func TestBenchCommandJSON(t *testing.T) {
	addr := benchMemcached(t)
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(t.Context(), []string{"memcached-lite", "bench", "-s", addr, "-c", "3", "--keys", "100",
		"--ratio", "1:1", "--value-size", "10", "-d", "300ms", "--warmup", "0", "--load", "--json"})
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("bench --json printed %q: %v", out.String(), err)
	}
	if res.Target != addr || res.Conns != 3 || res.Keys != 100 || res.ValueSize != 10 || res.Ratio != "1:1" || res.Loaded != 100 {
		t.Errorf("flags not applied: %+v", res)
	}
	if res.Errors != 0 || res.Get.Ops == 0 || res.Set.Ops == 0 || res.HitRatio != 1 {
		t.Errorf("got %d errors, %d gets, %d sets, hit ratio %v; want 0 errors, both ops, all hits", res.Errors, res.Get.Ops, res.Set.Ops, res.HitRatio)
	}
	if strings.Contains(errOut.String(), "\r") {
		t.Errorf("progress line written when stderr is not a terminal: %q", errOut.String())
	}
}

func TestBenchCountsWrongReplies(t *testing.T) {
	// memcached refuses values over its -I limit with SERVER_ERROR: every
	// set is an error, and the connection is redialed after each.
	addr := benchMemcached(t)
	var errOut bytes.Buffer
	res, err := runBench(t.Context(), benchConfig{addr: addr, conns: 1, keys: 10, keyPrefix: "big:", valueSize: 2 << 20,
		setWeight: 1, pipeline: 1, requests: 3, duration: time.Second, errOut: &errOut})
	if err == nil || res.Errors == 0 || res.Ops != 0 {
		t.Fatalf("2 MiB sets to memcached -I 1m: err %v, %d errors, %d ops; want an error, errors and 0 ops", err, res.Errors, res.Ops)
	}
	if lines := strings.Count(errOut.String(), "\n"); lines == 0 || lines > benchMaxPrintErrors {
		t.Errorf("printed %d error lines, want 1 to %d:\n%s", lines, benchMaxPrintErrors, errOut.String())
	}
}

// benchFlagsFor runs the bench command's flag parsing on args and returns
// what benchFlags made of them.
func benchFlagsFor(t *testing.T, args ...string) (benchConfig, error) {
	t.Helper()
	var cfg benchConfig
	var flagErr error
	cmd := benchCommand()
	cmd.Subcommands = nil
	cmd.Action = func(c *cli.Context) error { cfg, flagErr = benchFlags(c); return nil }
	app := newApp()
	app.Writer, app.ErrWriter = &bytes.Buffer{}, &bytes.Buffer{}
	app.Commands = []*cli.Command{cmd}
	if err := app.Run(append([]string{"memcached-lite", "bench"}, args...)); err != nil {
		t.Fatalf("bench %q: %v", args, err)
	}
	return cfg, flagErr
}

func TestBenchFlags(t *testing.T) {
	cfg, err := benchFlagsFor(t, "-s", "h:1", "-c", "7", "--keys", "20", "--key-prefix", "x:", "--value-size", "5",
		"--ratio", "3:1", "--pipeline", "4", "-d", "2s", "-n", "9", "--warmup", "0", "--load")
	want := benchConfig{addr: "h:1", conns: 7, keys: 20, keyPrefix: "x:", valueSize: 5, getWeight: 3, setWeight: 1,
		pipeline: 4, duration: 2 * time.Second, requests: 9, load: true}
	cfg.errOut = nil
	if err != nil || cfg != want {
		t.Errorf("bench flags:\n got %+v, %v\nwant %+v", cfg, err, want)
	}
	for _, tc := range []struct {
		args    []string
		wantErr string // the flag the error names; "" for none
	}{
		{[]string{"-c", "0"}, "-c"},
		{[]string{"--keys", "0"}, "--keys"},
		{[]string{"--ratio", "9-1"}, "--ratio"},
		{[]string{"--ratio", "0:0"}, "--ratio"},
		{[]string{"--ratio", "-1:2"}, "--ratio"},
		{[]string{"--pipeline", "0"}, "--pipeline"},
		{[]string{"-d", "0s"}, "-d"},
		{[]string{"--key-prefix", "a b"}, "--key-prefix"},
		{[]string{"--key-prefix", strings.Repeat("k", 250)}, "--key-prefix"},
		{[]string{"-d", "0s", "--load-only"}, ""},
		{[]string{"--ratio", "1:0", "-n", "5"}, ""},
	} {
		_, err := benchFlagsFor(t, tc.args...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("bench %q: %v, want no error", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+" ")):
			t.Errorf("bench %q: error %v, want one about %s", tc.args, err, tc.wantErr)
		}
	}
}

func TestParseRatio(t *testing.T) {
	for _, tc := range []struct {
		in       string
		get, set int
		ok       bool
	}{
		{"90:10", 90, 10, true},
		{"1:0", 1, 0, true},
		{"0:1", 0, 1, true},
		{"0:0", 0, 0, false},
		{"90", 0, 0, false},
		{"a:b", 0, 0, false},
		{"1:-1", 0, 0, false},
	} {
		get, set, err := parseRatio(tc.in)
		if (err == nil) != tc.ok || get != tc.get || set != tc.set {
			t.Errorf("parseRatio(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, get, set, err, tc.get, tc.set, tc.ok)
		}
	}
}
