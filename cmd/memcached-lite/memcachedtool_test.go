package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// memcachedTool is where Debian's memcached package installs memcached's
// own memcached-tool script.
const memcachedTool = "/usr/share/memcached/scripts/memcached-tool"

// TestMemcachedTool runs memcached's memcached-tool, unchanged, against
// memcached-lite: dump (which reads lru_crawler metadump and gets each
// key), display (stats items and stats slabs) and stats.
func TestMemcachedTool(t *testing.T) {
	perl := servertest.Tool(t, "perl")
	if _, err := exec.LookPath(memcachedTool); err != nil {
		servertest.SkipOrFail(t, memcachedTool+" is not installed (Debian package memcached)")
	}
	p := servertest.StartBinary(t, servertest.BinaryOptions{})
	exchange(t, p.Addr, "set a 5 0 2\r\nhi\r\nset b%20c 0 0 3\r\nxyz\r\n", "STORED\r\nSTORED\r\n")
	tool := func(mode string) string {
		out, err := exec.Command(perl, memcachedTool, p.Addr, mode).Output()
		if err != nil {
			t.Fatalf("memcached-tool %s: %v", mode, err)
		}
		return string(out)
	}
	// dump prints the items as add commands, in the order of a Perl hash.
	dump := strings.SplitAfter(tool("dump"), "\r\n")
	want := map[string]bool{"add a 5 0 2\r\nhi\r\n": true, "add b%20c 0 0 3\r\nxyz\r\n": true}
	var items []string
	for i := 0; i+1 < len(dump); i += 2 {
		items = append(items, dump[i]+dump[i+1])
	}
	if len(items) != 2 || !want[items[0]] || !want[items[1]] || items[0] == items[1] {
		t.Errorf("dump: got %q, want the two add commands %v", dump, want)
	}
	display := tool("display")
	wantDisplay := "  #  Item_Size  Max_age   Pages   Count   Full?  Evicted Evict_Time OOM\n" +
		"  1      96B         0s       1       2      no        0        0    0\n"
	if display != wantDisplay {
		t.Errorf("display:\n got %q\nwant %q", display, wantDisplay)
	}
	stats := tool("stats")
	// memcached-tool prints each stat with "%29s %14s\n"; its chomp
	// leaves the \r of the reply line in the value.
	for _, line := range []string{fmt.Sprintf("%29s %14s\n", "curr_items", "2\r"), fmt.Sprintf("%29s %14s\n", "cmd_set", "2\r")} {
		if !strings.Contains(stats, line) {
			t.Errorf("stats: no line %q in\n%s", line, stats)
		}
	}
}
