package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startMemcached starts a memcached on a free loopback port for the test
// and returns its address once it answers version. Without memcached the
// test is skipped, or fails if CI is set. The process is killed at cleanup.
func startMemcached(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("memcached is not installed")
		}
		t.Fatal("memcached is not installed, and CI is set")
	}
	for attempt := 1; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		args := []string{"-p", port, "-U", "0", "-l", "127.0.0.1", "-m", "64", "-t", "2"}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = dieWithParent()
		if err := cmd.Start(); err != nil {
			t.Fatalf("start memcached: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		err = waitVersion(addr, exited, filepath.Base(bin))
		if err == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill() // it may have died already; the wait tells
				<-exited
			})
			return addr
		}
		if !errors.Is(err, errExited) {
			_ = cmd.Process.Kill()
			<-exited
		}
		if !errors.Is(err, errExited) || attempt == 3 {
			t.Fatalf("memcached %v: %v\noutput:\n%s", args, err, out.String())
		}
		t.Logf("memcached on %s %v; retrying on another port", addr, err)
	}
}

var errExited = errors.New("exited before it answered")

// waitVersion sends version to addr until it answers, the process exits, or
// 10s pass. The pause between tries grows from 1ms to 50ms.
func waitVersion(addr string, exited <-chan error, name string) error {
	deadline := time.Now().Add(10 * time.Second)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		err := askVersion(addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s: no version reply after 10s: %w", name, addr, err)
		}
		timer := time.NewTimer(pause)
		select {
		case werr := <-exited:
			timer.Stop()
			return fmt.Errorf("%w (%v)", errExited, werr)
		case <-timer.C:
		}
	}
}

func askVersion(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.WriteString(nc, "version\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version answered %q", line)
	}
	return nil
}

func TestRunAgainstMemcached(t *testing.T) {
	addr := startMemcached(t)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"mix for 1s", Config{Conns: 4, Keys: 1000, ValueSize: 100, GetWeight: 90, SetWeight: 10, Pipeline: 1,
			Duration: time.Second, Warmup: 200 * time.Millisecond, Load: true}},
		{"pipelined gets", Config{Conns: 2, Keys: 1000, ValueSize: 100, GetWeight: 1, Pipeline: 16,
			Duration: 300 * time.Millisecond, Load: true}},
		{"large sets by count", Config{Conns: 3, Keys: 50, ValueSize: 64 << 10, SetWeight: 1, Pipeline: 2,
			Requests: 301, Warmup: 50 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Addr, cfg.KeyPrefix = addr, strings.ReplaceAll(tc.name, " ", "-")+":"
			var errOut bytes.Buffer
			cfg.ErrOut = &errOut
			res, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, errOut.String())
			}
			if res.Errors != 0 || res.Ops == 0 {
				t.Fatalf("%d errors and %d ops, want 0 errors and some ops; errors:\n%s", res.Errors, res.Ops, errOut.String())
			}
			if res.Get.Ops+res.Set.Ops != res.Ops {
				t.Errorf("get %d + set %d ops != all %d", res.Get.Ops, res.Set.Ops, res.Ops)
			}
			if cfg.Requests > 0 && res.Ops != uint64(cfg.Requests) {
				t.Errorf("Requests %d: measured %d requests", cfg.Requests, res.Ops)
			}
			if cfg.Load && (res.HitRatio != 1 || res.Loaded != cfg.Keys) {
				t.Errorf("after loading %d keys: hit ratio %v, %d loaded; want 1 and %d", cfg.Keys, res.HitRatio, res.Loaded, cfg.Keys)
			}
			if cfg.GetWeight == 0 && res.Get.Ops != 0 {
				t.Errorf("ratio 0:1 sent %d gets", res.Get.Ops)
			}
			if p := res.All; !(p.P50US > 0 && p.P50US <= p.P99US && p.P99US <= p.P999US && p.P999US <= p.MaxUS) {
				t.Errorf("percentiles out of order: p50 %v p99 %v p999 %v max %v", p.P50US, p.P99US, p.P999US, p.MaxUS)
			}
		})
	}
}

func TestRunCountsWrongReplies(t *testing.T) {
	// memcached refuses values over its -I limit with SERVER_ERROR: every
	// set is an error, and the connection is redialed after each.
	addr := startMemcached(t)
	var errOut bytes.Buffer
	res, err := Run(t.Context(), Config{Addr: addr, Conns: 1, Keys: 10, KeyPrefix: "big:", ValueSize: 2 << 20,
		SetWeight: 1, Pipeline: 1, Requests: 3, Duration: time.Second, ErrOut: &errOut})
	if err == nil || res.Errors == 0 || res.Ops != 0 {
		t.Fatalf("2 MiB sets to memcached -I 1m: err %v, %d errors, %d ops; want an error, errors and 0 ops", err, res.Errors, res.Ops)
	}
	if lines := strings.Count(errOut.String(), "\n"); lines == 0 || lines > maxPrintedErrors {
		t.Errorf("printed %d error lines, want 1 to %d:\n%s", lines, maxPrintedErrors, errOut.String())
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
		get, set, err := ParseRatio(tc.in)
		if (err == nil) != tc.ok || get != tc.get || set != tc.set {
			t.Errorf("ParseRatio(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, get, set, err, tc.get, tc.set, tc.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:1", Conns: 1, Keys: 1, GetWeight: 1, Pipeline: 1, Duration: time.Second}
	if err := ok.Check(); err != nil {
		t.Fatalf("Check(%+v) = %v, want nil", ok, err)
	}
	for _, tc := range []struct {
		change func(*Config)
		field  string // the field the error names; "" for none
	}{
		{func(c *Config) { c.Conns = 0 }, "Conns"},
		{func(c *Config) { c.Keys = 0 }, "Keys"},
		{func(c *Config) { c.ValueSize = -1 }, "ValueSize"},
		{func(c *Config) { c.ValueSize = MaxValueSize + 1 }, "ValueSize"},
		{func(c *Config) { c.GetWeight = 0 }, "GetWeight"},
		{func(c *Config) { c.SetWeight = -1 }, "GetWeight"},
		{func(c *Config) { c.Pipeline = 0 }, "Pipeline"},
		{func(c *Config) { c.Requests = -1 }, "Requests"},
		{func(c *Config) { c.Duration = 0 }, "Duration"},
		{func(c *Config) { c.Warmup = -time.Second }, "Warmup"},
		{func(c *Config) { c.KeyPrefix = "a b" }, "KeyPrefix"},
		{func(c *Config) { c.KeyPrefix = strings.Repeat("k", 250) }, "KeyPrefix"},
		{func(c *Config) { c.Duration, c.Requests = 0, 5 }, ""},
		{func(c *Config) { c.Duration, c.LoadOnly = 0, true }, ""},
		{func(c *Config) { c.KeyPrefix = strings.Repeat("k", 249) }, ""},
	} {
		cfg := ok
		tc.change(&cfg)
		err := cfg.Check()
		var ce *ConfigError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("Check(%+v) = %v, want nil", cfg, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Field != tc.field):
			t.Errorf("Check(%+v) = %v, want a *ConfigError for %s", cfg, err, tc.field)
		}
	}
	if _, err := Run(t.Context(), Config{}); !errors.As(err, new(*ConfigError)) {
		t.Errorf("Run(Config{}) = %v, want a *ConfigError", err)
	}
}
