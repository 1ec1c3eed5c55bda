package server_test

import (
	"testing"

	"github.com/memcached-lite/memcached-lite/server"
)

// TestStatsItems checks memcached-lite's exact stats items and stats slabs
// figures for a fresh server with two items (the differential transcript
// itemstats.txt masks the counts, which memcached does not keep exact).
func TestStatsItems(t *testing.T) {
	addr := startServer(t, server.Options{})
	c := dial(t, addr)
	roundTrip(t, c, "stats items\r\nstats slabs\r\n", "END\r\nSTAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n")
	roundTrip(t, c, "set a 0 0 2\r\nhi\r\nset bb 5 0 3\r\nxyz\r\nget a\r\n", "STORED\r\nSTORED\r\nVALUE a 0 2\r\nhi\r\nEND\r\n")
	zero := func(names ...string) string {
		var s string
		for _, n := range names {
			s += "STAT items:1:" + n + " 0\r\n"
		}
		return s
	}
	// mem_requested: 62 for a (1+2+59) and 64 for bb (2+3+59), flags not counted.
	roundTrip(t, c, "stats items\r\n", "STAT items:1:number 2\r\n"+zero("number_hot", "number_warm")+
		"STAT items:1:number_cold 2\r\n"+zero("age_hot", "age_warm", "age")+
		"STAT items:1:mem_requested 126\r\n"+zero("evicted", "evicted_nonzero", "evicted_time", "outofmemory", "tailrepairs", "reclaimed",
		"expired_unfetched", "evicted_unfetched", "evicted_active", "crawler_reclaimed", "crawler_items_checked", "lrutail_reflocked",
		"moves_to_cold", "moves_to_warm", "moves_within_lru", "direct_reclaims", "hits_to_hot", "hits_to_warm", "hits_to_cold", "hits_to_temp")+
		"END\r\n")
	roundTrip(t, c, "stats slabs\r\n", "STAT 1:chunk_size 96\r\nSTAT 1:chunks_per_page 10922\r\nSTAT 1:total_pages 1\r\n"+
		"STAT 1:total_chunks 10922\r\nSTAT 1:used_chunks 2\r\nSTAT 1:free_chunks 10920\r\nSTAT 1:free_chunks_end 0\r\n"+
		"STAT 1:get_hits 1\r\nSTAT 1:cmd_set 2\r\nSTAT 1:delete_hits 0\r\nSTAT 1:incr_hits 0\r\nSTAT 1:decr_hits 0\r\n"+
		"STAT 1:cas_hits 0\r\nSTAT 1:cas_badval 0\r\nSTAT 1:touch_hits 0\r\nSTAT active_slabs 1\r\nSTAT total_malloced 1048576\r\nEND\r\n")
}
