package server

import (
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// statsCmd answers stats and its sections. Each line is exactly
// "STAT <name> <value>" with no space inside the value.
func (c *conn) statsCmd(cmd *command) {
	var sub string
	if len(cmd.args) > 0 {
		sub = string(cmd.args[0])
	}
	var lines []stat
	switch sub {
	case "":
		lines = c.s.generalStats()
	case "settings":
		lines = c.s.settingsStats()
	case "reset":
		c.s.resetStats()
		c.write(replyReset)
		return
	case "items":
	case "slabs":
		lines = []stat{{"active_slabs", "0"}, {"total_malloced", "0"}}
	case "sizes":
		lines = []stat{{"sizes_status", "disabled"}}
	default:
		c.write(replyError)
		return
	}
	b := c.scratch[:0]
	for _, l := range lines {
		b = append(b, "STAT "...)
		b = append(b, l.name...)
		b = append(b, ' ')
		b = append(b, l.value...)
		b = append(b, '\r', '\n')
	}
	b = append(b, replyEnd...)
	c.write(b)
	c.scratch = b
}

type stat struct{ name, value string }

func u(n uint64) string { return strconv.FormatUint(n, 10) }
func i(n int64) string  { return strconv.FormatInt(n, 10) }

func (s *Server) generalStats() []stat {
	now := time.Now()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	st := s.st.Stats()
	c := &s.stats
	conns := s.connCount()
	return []stat{
		{"pid", strconv.Itoa(os.Getpid())},
		{"uptime", i(int64(now.Sub(s.start) / time.Second))},
		{"time", i(now.Unix())},
		{"version", Version},
		{"pointer_size", strconv.Itoa(strconv.IntSize)},
		{"rusage_user", timeval(ru.Utime)},
		{"rusage_system", timeval(ru.Stime)},
		{"max_connections", strconv.Itoa(max(s.opts.MaxConns, 0))},
		{"curr_connections", strconv.Itoa(conns)},
		{"total_connections", u(c.totalConns.Load())},
		{"rejected_connections", u(c.rejectedConns.Load())},
		{"connection_structures", strconv.Itoa(conns)},
		{"cmd_get", u(c.cmdGet.Load())},
		{"cmd_set", u(c.cmdSet.Load())},
		{"cmd_flush", u(c.cmdFlush.Load())},
		{"cmd_touch", u(c.cmdTouch.Load())},
		{"get_hits", u(c.getHits.Load())},
		{"get_misses", u(c.getMisses.Load())},
		{"get_expired", u(c.getExpired.Load())},
		{"get_flushed", u(c.getFlushed.Load())},
		{"delete_misses", u(c.deleteMisses.Load())},
		{"delete_hits", u(c.deleteHits.Load())},
		{"incr_misses", u(c.incrMisses.Load())},
		{"incr_hits", u(c.incrHits.Load())},
		{"decr_misses", u(c.decrMisses.Load())},
		{"decr_hits", u(c.decrHits.Load())},
		{"cas_misses", u(c.casMisses.Load())},
		{"cas_hits", u(c.casHits.Load())},
		{"cas_badval", u(c.casBadval.Load())},
		{"touch_hits", u(c.touchHits.Load())},
		{"touch_misses", u(c.touchMisses.Load())},
		{"store_too_large", u(c.storeTooLarge.Load())},
		{"store_no_memory", "0"},
		{"bytes_read", u(c.bytesRead.Load())},
		{"bytes_written", u(c.bytesWritten.Load())},
		{"limit_maxbytes", i(st.CacheLimit)},
		{"accepting_conns", boolStat(!s.isClosing())},
		{"threads", strconv.Itoa(s.opts.Threads)},
		{"goroutines", strconv.Itoa(runtime.NumGoroutine())},
		{"bytes", i(st.Bytes)},
		{"curr_items", i(st.Items)},
		{"total_items", u(c.totalItems.Load())},
		{"evictions", "0"}, // items are never evicted from the file
		{"reclaimed", u(st.Swept)},
		// The read cache in front of the file.
		{"cache_items", i(st.CacheItems)},
		{"cache_bytes", i(st.CacheBytes)},
		{"cache_hits", u(st.CacheHits)},
		{"cache_misses", u(st.CacheMisses)},
		{"cache_evictions", u(st.CacheEvictions)},
		// Persistence.
		{"data_file", st.Path},
		{"data_file_bytes", i(st.FileSize)},
		{"sync_mode", st.Sync.String()},
		{"commits", u(st.Commits)},
		{"ops_committed", u(st.Ops)},
		{"avg_batch_size", strconv.FormatFloat(st.AvgBatch(), 'f', 2, 64)},
		{"max_batch_size", u(st.MaxBatch)},
		{"commit_time_us", i(st.CommitTime.Microseconds())},
	}
}

func (s *Server) settingsStats() []stat {
	st := s.st.Stats()
	return []stat{
		{"maxbytes", i(st.CacheLimit)},
		{"maxconns", strconv.Itoa(max(s.opts.MaxConns, 0))},
		{"tcpport", strconv.Itoa(s.opts.Port)},
		{"udpport", "0"},
		{"verbosity", strconv.Itoa(s.opts.Verbosity)},
		{"num_threads", strconv.Itoa(s.opts.Threads)},
		{"cas_enabled", yesNo(!s.opts.DisableCAS)},
		{"flush_enabled", yesNo(!s.opts.DisableFlush)},
		{"shutdown_command", yesNo(s.opts.AllowShutdown)},
		{"item_size_max", strconv.Itoa(s.opts.MaxItemSize)},
		{"idle_timeout", i(int64(s.opts.IdleTimeout / time.Second))},
		{"tcp_backlog", "1024"},
		{"evictions", "off"},
		{"data_file", st.Path},
		{"sync_mode", st.Sync.String()},
	}
}

func (s *Server) resetStats() {
	c := &s.stats
	for _, v := range []interface{ Store(uint64) }{
		&c.totalConns, &c.rejectedConns, &c.cmdGet, &c.cmdSet, &c.cmdFlush, &c.cmdTouch,
		&c.getHits, &c.getMisses, &c.getExpired, &c.getFlushed, &c.deleteHits, &c.deleteMisses,
		&c.incrHits, &c.incrMisses, &c.decrHits, &c.decrMisses, &c.casHits, &c.casMisses,
		&c.casBadval, &c.touchHits, &c.touchMisses, &c.totalItems, &c.storeTooLarge,
		&c.bytesRead, &c.bytesWritten,
	} {
		v.Store(0)
	}
	s.st.ResetStats()
}

func timeval(tv syscall.Timeval) string {
	return strconv.FormatInt(int64(tv.Sec), 10) + "." + leftPad(strconv.FormatInt(int64(tv.Usec), 10), 6)
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

func boolStat(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
