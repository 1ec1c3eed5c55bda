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

	"github.com/memcached-lite/memcached-lite/client/loadgen"
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
	var res loadgen.Result
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

// benchFlagsFor runs the bench command's flag parsing on args and returns
// what benchFlags made of them.
func benchFlagsFor(t *testing.T, args ...string) (loadgen.Config, error) {
	t.Helper()
	var cfg loadgen.Config
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
	want := loadgen.Config{Addr: "h:1", Conns: 7, Keys: 20, KeyPrefix: "x:", ValueSize: 5, GetWeight: 3, SetWeight: 1,
		Pipeline: 4, Duration: 2 * time.Second, Requests: 9, Load: true}
	cfg.ErrOut = nil
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
