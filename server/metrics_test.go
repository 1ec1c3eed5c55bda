package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// scrape GETs url and parses it with client_golang's text parser, which
// rejects anything that is not the Prometheus text format.
func scrape(url string) (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		return nil, fmt.Errorf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: not the text format: %w", url, err)
	}
	return mfs, nil
}

// value returns the value of the sample of name whose labels are labels
// (name, value pairs), and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsDuringLoad scrapes /metrics while 8 connections run a known
// workload, checks that every scrape is valid text format and that the
// counters only grow, then checks that the final figures are the workload's
// and agree with stats.
func TestMetricsDuringLoad(t *testing.T) {
	m := server.NewMetrics()
	ts := servertest.Start(t, servertest.Options{Store: storage.Options{
		OnCommit: m.ObserveCommit, CacheBytes: 1 << 20, SweepInterval: time.Hour,
	}})
	hs := httptest.NewServer(ts.Server.Handler(m))
	t.Cleanup(hs.Close)
	url := hs.URL + "/metrics"

	const workers, rounds = 8, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	done := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runWorkload(ts.Addr, w, rounds)
		}()
	}
	go func() { wg.Wait(); close(done) }()

	// Scrape until the load is over, at least once while it runs.
	var scrapes int
	var lastCommits float64
	for loading := true; loading; scrapes++ {
		select {
		case <-done:
			loading = false
		default:
		}
		mfs, err := scrape(url)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := value(mfs, "memcached_lite_commits_total")
		if !ok {
			t.Fatal("no memcached_lite_commits_total")
		}
		if c < lastCommits {
			t.Fatalf("memcached_lite_commits_total went from %v to %v", lastCommits, c)
		}
		lastCommits = c
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d scrapes during the load", scrapes)

	st := statsOf(t, ts.Addr)
	mfs, err := scrape(url)
	if err != nil {
		t.Fatal(err)
	}
	n := float64(workers * rounds)
	ops := n + n/2 + n + n // committed: sets, deletes, incrs and cas (misses are ops too)
	for _, c := range []struct {
		metric string
		labels []string
		stat   string  // the stats line it must equal, if any
		want   float64 // what the workload makes it
	}{
		{"memcached_commands_total", []string{"command", "get", "status", "hit"}, "get_hits", n},
		{"memcached_commands_total", []string{"command", "get", "status", "miss"}, "get_misses", n},
		{"memcached_commands_total", []string{"command", "set", "status", "hit"}, "", n}, // cmd_set less the cas
		{"memcached_commands_total", []string{"command", "cas", "status", "miss"}, "cas_misses", n},
		{"memcached_commands_total", []string{"command", "delete", "status", "hit"}, "delete_hits", n / 2},
		{"memcached_commands_total", []string{"command", "delete", "status", "miss"}, "delete_misses", 0},
		{"memcached_commands_total", []string{"command", "incr", "status", "miss"}, "incr_misses", n},
		{"memcached_commands_total", []string{"command", "incr", "status", "hit"}, "incr_hits", 0},
		{"memcached_current_items", nil, "curr_items", n / 2},
		{"memcached_items_total", nil, "total_items", n},
		{"memcached_connections_total", nil, "total_connections", workers + 1},
		{"memcached_lite_commits_total", nil, "commits", -1},
		{"memcached_lite_ops_committed_total", nil, "ops_committed", ops},
		{"memcached_lite_commit_duration_seconds", nil, "commits", -1}, // one observation per commit
		{"memcached_lite_fsync_duration_seconds", nil, "commits", -1},
		{"memcached_lite_commit_batch_size", nil, "commits", -1},
		{"memcached_lite_store_writable", nil, "", 1},
		{"memcached_lite_pending_writes", nil, "", 0},
		{"memcached_up", nil, "", 1},
	} {
		got, ok := value(mfs, c.metric, c.labels...)
		if !ok {
			t.Errorf("%s%v: missing", c.metric, c.labels)
			continue
		}
		if c.stat != "" {
			s, err := strconv.ParseFloat(st[c.stat], 64)
			if err != nil {
				t.Fatalf("stats %s: %q", c.stat, st[c.stat])
			}
			if got != s {
				t.Errorf("%s%v = %v, stats %s = %v", c.metric, c.labels, got, c.stat, s)
			}
		}
		if c.want >= 0 && got != c.want {
			t.Errorf("%s%v = %v, want %v", c.metric, c.labels, got, c.want)
		}
	}
	// The batch sizes add up to the operations committed.
	if h := mfs["memcached_lite_commit_batch_size"].GetMetric()[0].GetHistogram(); h.GetSampleSum() != ops {
		t.Errorf("batch size sum %v, want %v", h.GetSampleSum(), ops)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "memcached_process_user_cpu_seconds_total", "memcached_time_seconds", "memcached_lite_data_file_bytes", "memcached_lite_data_file_free_pages"} {
		if _, ok := value(mfs, name); !ok {
			t.Errorf("%s: missing", name)
		}
	}
}

// runWorkload runs rounds of: set k, get k (hit), get a missing key, incr
// and cas a missing key, and delete k on even rounds.
func runWorkload(addr string, w, rounds int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	do := func(req, want string) error {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		got := make([]byte, len(want))
		if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
			return fmt.Errorf("send %q: got %q (%v), want %q", req, got, err, want)
		}
		return nil
	}
	for i := range rounds {
		k := fmt.Sprintf("w%d-%d", w, i)
		steps := [][2]string{
			{"set " + k + " 0 0 2\r\nhi\r\n", "STORED\r\n"},
			{"get " + k + "\r\n", "VALUE " + k + " 0 2\r\nhi\r\nEND\r\n"},
			{"get no-" + k + "\r\n", "END\r\n"},
			{"incr no-" + k + " 1\r\n", "NOT_FOUND\r\n"},
			{"cas no-" + k + " 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n"},
		}
		if i%2 == 0 {
			steps = append(steps, [2]string{"delete " + k + "\r\n", "DELETED\r\n"})
		}
		for _, s := range steps {
			if err := do(s[0], s[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// statsOf returns the stats of the server at addr, by name.
func statsOf(t *testing.T, addr string) map[string]string {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, "stats\r\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	st := make(map[string]string)
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "END\r\n" {
			return st
		}
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			t.Fatalf("stats line %q", l)
		}
		st[f[1]] = f[2]
	}
}

// TestHealthz checks /healthz of a working store, then of a shut-down
// server; server's internal test covers a failed store.
func TestHealthz(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	hs := httptest.NewServer(ts.Server.Handler(nil))
	t.Cleanup(hs.Close)
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "ok\n" {
		t.Fatalf("healthz: %d %q, want 200 \"ok\\n\"", code, body)
	}
	if err := ts.Server.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(); code != 503 || body != "unavailable: shutting down\n" {
		t.Fatalf("healthz after Shutdown: %d %q, want 503 \"unavailable: shutting down\\n\"", code, body)
	}
}

// TestMetricsWatchers: memcached_lite_watchers counts the connections that
// receive the watch stream.
func TestMetricsWatchers(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	hs := httptest.NewServer(ts.Server.Handler(nil))
	t.Cleanup(hs.Close)
	watchers := func() float64 {
		t.Helper()
		mfs, err := scrape(hs.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		v, ok := value(mfs, "memcached_lite_watchers")
		if !ok {
			t.Fatal("memcached_lite_watchers: missing")
		}
		return v
	}
	if n := watchers(); n != 0 {
		t.Fatalf("watchers before any watch = %v, want 0", n)
	}
	for i := range 2 {
		c := dial(t, ts.Addr)
		roundTrip(t, c, "watch mutations\r\n", "OK\r\n")
		if n := watchers(); n != float64(i+1) {
			t.Errorf("watchers with %d watching = %v", i+1, n)
		}
	}
}
