package loadgen_test

// The tests that need a server run loadgen against memcached, from this
// external test package: servertest, which starts it, imports the server,
// and client/loadgen itself imports only the client side.

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

func TestRunAgainstMemcached(t *testing.T) {
	addr := servertest.StartMemcached(t, "-m", "64", "-t", "2").Addr
	for _, tc := range []struct {
		name string
		cfg  loadgen.Config
	}{
		{"mix for 1s", loadgen.Config{Conns: 4, Keys: 1000, ValueSize: 100, GetWeight: 90, SetWeight: 10, Pipeline: 1,
			Duration: time.Second, Warmup: 200 * time.Millisecond, Load: true}},
		{"pipelined gets", loadgen.Config{Conns: 2, Keys: 1000, ValueSize: 100, GetWeight: 1, Pipeline: 16,
			Duration: 300 * time.Millisecond, Load: true}},
		{"large sets by count", loadgen.Config{Conns: 3, Keys: 50, ValueSize: 64 << 10, SetWeight: 1, Pipeline: 2,
			Requests: 301, Warmup: 50 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Addr, cfg.KeyPrefix = addr, strings.ReplaceAll(tc.name, " ", "-")+":"
			var errOut bytes.Buffer
			cfg.ErrOut = &errOut
			res, err := loadgen.Run(t.Context(), cfg)
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
	addr := servertest.StartMemcached(t, "-m", "64", "-t", "2").Addr
	var errOut bytes.Buffer
	res, err := loadgen.Run(t.Context(), loadgen.Config{Addr: addr, Conns: 1, Keys: 10, KeyPrefix: "big:", ValueSize: 2 << 20,
		SetWeight: 1, Pipeline: 1, Requests: 3, Duration: time.Second, ErrOut: &errOut})
	if err == nil || res.Errors == 0 || res.Ops != 0 {
		t.Fatalf("2 MiB sets to memcached -I 1m: err %v, %d errors, %d ops; want an error, errors and 0 ops", err, res.Errors, res.Ops)
	}
	if lines := strings.Count(errOut.String(), "\n"); lines == 0 || lines > loadgen.MaxPrintedErrors {
		t.Errorf("printed %d error lines, want 1 to %d:\n%s", lines, loadgen.MaxPrintedErrors, errOut.String())
	}
}
