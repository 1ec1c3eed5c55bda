package client_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/memcached-lite/memcached-lite/client"
)

// Suite parts for server-wide commands, raw access and concurrency; the
// suite itself is in suite_test.go.

func testFlushAll(t *testing.T, c *client.Client) {
	for _, k := range []string{"flush:a", "flush:b", "flush:c"} {
		mustSet(t, c, k, "v", 0)
	}
	if err := c.FlushAll(0); err != nil {
		t.Fatalf("FlushAll: %v", err)
	}
	for _, k := range []string{"flush:a", "flush:b", "flush:c"} {
		wantMiss(t, c, k)
	}
	mustSet(t, c, "flush:a", "after", 0) // an item set right after the flush survives it
	wantValue(t, c, "flush:a", "after", 0)
}

func testStatsVersion(t *testing.T, c *client.Client) {
	vers, err := c.Version()
	if err != nil || len(vers) != len(c.Servers()) {
		t.Fatalf("Version = %v, %v; want one per server", vers, err)
	}
	stats, err := c.Stats("")
	if err != nil || len(stats) != len(c.Servers()) {
		t.Fatalf("Stats = %d servers, %v; want %d", len(stats), err, len(c.Servers()))
	}
	for _, addr := range c.Servers() {
		s := stats[addr]
		if vers[addr] == "" || s["version"] != vers[addr] {
			t.Errorf("%s: Version %q, stats version %q", addr, vers[addr], s["version"])
		}
		for _, name := range []string{"pid", "uptime", "curr_items", "cmd_get", "get_hits"} {
			if _, ok := s[name]; !ok {
				t.Errorf("%s: stats has no %q", addr, name)
			}
		}
	}
	settings, err := c.Stats("settings")
	if err != nil {
		t.Fatalf("Stats(settings): %v", err)
	}
	for _, addr := range c.Servers() {
		if settings[addr]["item_size_max"] == "" {
			t.Errorf("%s: stats settings has no item_size_max: %v", addr, settings[addr])
		}
	}
	if err := c.Verbosity(1); err != nil {
		t.Fatalf("Verbosity(1): %v", err)
	}
	if err := c.Verbosity(0); err != nil {
		t.Fatalf("Verbosity(0): %v", err)
	}
}

func testRaw(t *testing.T, c *client.Client) {
	addr := c.Servers()[0]
	for _, tc := range []struct{ send, want string }{
		{"set raw:k 5 0 2\r\nhi\r\n", "STORED\r\n"},
		{"get raw:k\r\n", "VALUE raw:k 5 2\r\nhi\r\nEND\r\n"},
		{"get raw:none raw:k\r\n", "VALUE raw:k 5 2\r\nhi\r\nEND\r\n"},
		{"append raw:k 0 0 1\r\n!\r\nget raw:k\r\n", "STORED\r\nVALUE raw:k 5 3\r\nhi!\r\nEND\r\n"},
		{"set raw:k 0 0 1 noreply\r\nx\r\n", ""},
		{"get raw:k\r\n", "VALUE raw:k 0 1\r\nx\r\nEND\r\n"},
		{"delete raw:k\r\ndelete raw:k\r\n", "DELETED\r\nNOT_FOUND\r\n"},
		{"incr raw:k 1\r\n", "NOT_FOUND\r\n"},
		{"bogus\r\n", "ERROR\r\n"},
		{"get raw:k\n", "END\r\n"},
		{"flush_all noreply\r\nget raw:k\r\n", "END\r\n"},
	} {
		got, err := c.Do(addr, []byte(tc.send))
		if err != nil || string(got) != tc.want {
			t.Errorf("Do %q:\n got %q, %v\nwant %q", tc.send, got, err, tc.want)
		}
	}
	got, err := c.Do(addr, []byte("version\r\n"))
	if err != nil || !strings.HasPrefix(string(got), "VERSION ") || !strings.HasSuffix(string(got), "\r\n") {
		t.Errorf("Do version = %q, %v", got, err)
	}
	got, err = c.Do(addr, []byte("stats\r\n"))
	if err != nil || !strings.HasPrefix(string(got), "STAT pid ") || !strings.HasSuffix(string(got), "\r\nEND\r\n") {
		t.Errorf("Do stats = %.40q...%q, %v", got, got[max(0, len(got)-20):], err)
	}
}

func testConcurrent(t *testing.T, c *client.Client) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				key := fmt.Sprintf("conc:%d:%d", g, i)
				val := []byte(key + "-value")
				if err := c.Set(&client.Item{Key: key, Value: val}); err != nil {
					errs <- err
					return
				}
				it, err := c.Get(key)
				if err != nil || !bytes.Equal(it.Value, val) {
					errs <- fmt.Errorf("Get(%q) = %v, %v", key, it, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
