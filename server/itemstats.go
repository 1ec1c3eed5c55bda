package server

import (
	"strconv"

	"github.com/memcached-lite/memcached-lite/storage"
)

// stats items and stats slabs, in memcached 1.6.18's field names and order,
// so that scripts that parse them (memcached-tool display, monitoring
// agents) find numbers. memcached-lite has no slab classes: everything is
// reported as class 1, and only when the store holds items, as memcached
// shows only the classes in use.
//
// True figures: items:1:number and number_cold (the items in the file,
// dead ones the sweeper has not removed yet included), reclaimed (dead items
// the sweeper removed), and in stats slabs used_chunks (the items) and the
// hit counters, which are the server's totals (the one class has them all).
//
// Synthetic figures: number_hot, number_warm, age_hot, age_warm, age (no
// LRU: 0), mem_requested (the items' sizes by memcached's arithmetic,
// counting flags as 0), evicted*, outofmemory, tailrepairs,
// expired_unfetched, crawler_*, lrutail_reflocked, moves_*,
// direct_reclaims, hits_to_* (0: none of these happen); chunk_size (96,
// memcached's first class), chunks_per_page (10922), total_pages (what
// that class would need for the items), total_chunks, free_chunks,
// free_chunks_end and total_malloced (1 MiB per page) follow from them.
const (
	slabChunkSize     = 96
	slabChunksPerPage = 10922
	slabPageSize      = 1 << 20
)

func (s *Server) itemStats() []stat {
	st := s.st.Stats()
	if st.Items <= 0 {
		return nil
	}
	n := i(st.Items)
	memReq := st.Bytes + st.Items*int64(s.itemOverhead())
	f := func(name, v string) stat { return stat{"items:1:" + name, v} }
	return []stat{
		f("number", n), f("number_hot", "0"), f("number_warm", "0"), f("number_cold", n),
		f("age_hot", "0"), f("age_warm", "0"), f("age", "0"),
		f("mem_requested", i(memReq)), f("evicted", "0"), f("evicted_nonzero", "0"),
		f("evicted_time", "0"), f("outofmemory", "0"), f("tailrepairs", "0"),
		f("reclaimed", u(st.Swept)), f("expired_unfetched", "0"), f("evicted_unfetched", "0"),
		f("evicted_active", "0"), f("crawler_reclaimed", "0"), f("crawler_items_checked", "0"),
		f("lrutail_reflocked", "0"), f("moves_to_cold", "0"), f("moves_to_warm", "0"),
		f("moves_within_lru", "0"), f("direct_reclaims", "0"), f("hits_to_hot", "0"),
		f("hits_to_warm", "0"), f("hits_to_cold", "0"), f("hits_to_temp", "0"),
	}
}

// itemOverhead is what memcached adds to a key and value with flags 0.
func (s *Server) itemOverhead() int {
	return storage.MemcachedItemSize(0, 0, 0, s.opts.DisableCAS)
}

func (s *Server) slabStats() []stat {
	st := s.st.Stats()
	if st.Items <= 0 {
		return []stat{{"active_slabs", "0"}, {"total_malloced", "0"}}
	}
	pages := (st.Items + slabChunksPerPage - 1) / slabChunksPerPage
	total := pages * slabChunksPerPage
	c := s.sumStats()
	f := func(name, v string) stat { return stat{"1:" + name, v} }
	return []stat{
		f("chunk_size", strconv.Itoa(slabChunkSize)), f("chunks_per_page", strconv.Itoa(slabChunksPerPage)),
		f("total_pages", i(pages)), f("total_chunks", i(total)), f("used_chunks", i(st.Items)),
		f("free_chunks", i(total-st.Items)), f("free_chunks_end", "0"),
		f("get_hits", u(c[getHits])), f("cmd_set", u(c[cmdSet])), f("delete_hits", u(c[deleteHits])),
		f("incr_hits", u(c[incrHits])), f("decr_hits", u(c[decrHits])), f("cas_hits", u(c[casHits])),
		f("cas_badval", u(c[casBadval])), f("touch_hits", u(c[touchHits])),
		{"active_slabs", "1"}, {"total_malloced", i(pages * slabPageSize)},
	}
}
