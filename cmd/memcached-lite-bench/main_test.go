package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

func TestLoadCommandJSON(t *testing.T) {
	addr := servertest.Start(t, servertest.Options{Store: storage.Options{Sync: storage.SyncNone}}).Addr
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(t.Context(), []string{"memcached-lite-bench", "-s", addr, "-c", "3", "--keys", "100",
		"--ratio", "1:1", "--value-size", "10", "-d", "300ms", "--warmup", "0", "--load", "--json"})
	if err != nil {
		t.Fatalf("memcached-lite-bench: %v\n%s", err, errOut.String())
	}
	var res loadgen.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("memcached-lite-bench --json printed %q: %v", out.String(), err)
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

// loadConfigFor runs the load generator's flag parsing on args and returns
// what loadConfig made of them.
func loadConfigFor(t *testing.T, args ...string) (loadgen.Config, error) {
	t.Helper()
	var cfg loadgen.Config
	var flagErr error
	app := newApp()
	app.Commands = nil
	app.Action = func(c *cli.Context) error { cfg, flagErr = loadConfig(c); return nil }
	app.Writer, app.ErrWriter = &bytes.Buffer{}, &bytes.Buffer{}
	if err := app.Run(append([]string{"memcached-lite-bench"}, args...)); err != nil {
		t.Fatalf("memcached-lite-bench %q: %v", args, err)
	}
	return cfg, flagErr
}

func TestLoadFlags(t *testing.T) {
	cfg, err := loadConfigFor(t, "-s", "h:1", "-c", "7", "--keys", "20", "--key-prefix", "x:", "--value-size", "5",
		"--ratio", "3:1", "--pipeline", "4", "-d", "2s", "-n", "9", "--warmup", "0", "--load")
	want := loadgen.Config{Addr: "h:1", Conns: 7, Keys: 20, KeyPrefix: "x:", ValueSize: 5, GetWeight: 3, SetWeight: 1,
		Pipeline: 4, Duration: 2 * time.Second, Requests: 9, Load: true}
	cfg.ErrOut = nil
	if err != nil || cfg != want {
		t.Errorf("flags:\n got %+v, %v\nwant %+v", cfg, err, want)
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
		_, err := loadConfigFor(t, tc.args...)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("memcached-lite-bench %q: %v, want no error", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr+" ")):
			t.Errorf("memcached-lite-bench %q: error %v, want one about %s", tc.args, err, tc.wantErr)
		}
	}
}

func TestSuiteNamesMissingTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server, no redis-benchmark
	results := filepath.Join(t.TempDir(), "results")
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.RunContext(t.Context(), []string{"memcached-lite-bench", "suite", "--bin", os.Args[0],
		"--servers", "redis", "--only", "set", "--results", results})
	want := "suite: missing redis-server, redis-benchmark (Debian packages redis-server redis-tools): make bench-tools installs them"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("suite without redis: error %v, want one starting %q", err, want)
	}
	if _, err := os.Stat(results); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("suite without its tools created %s (%v); want it to stop before starting anything", results, err)
	}
}
