package server

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
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
		lines = c.s.itemStats()
	case "slabs":
		lines = c.s.slabStats()
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
	utime, stime := cpuTimes()
	st := s.st.Stats()
	c := s.sumStats()
	conns := s.connCount()
	lines := []stat{
		{"pid", strconv.Itoa(os.Getpid())},
		{"uptime", i(int64(now.Sub(s.start) / time.Second))},
		{"time", i(now.Unix())},
		{"version", Version},
		{"pointer_size", strconv.Itoa(strconv.IntSize)},
		{"rusage_user", timeval(utime)},
		{"rusage_system", timeval(stime)},
		{"max_connections", strconv.Itoa(max(s.opts.MaxConns, 0))},
		{"curr_connections", strconv.Itoa(conns)},
		{"total_connections", u(s.totalConns.Load())},
		{"rejected_connections", u(s.rejectedConns.Load())},
		{"connection_structures", strconv.Itoa(conns)},
		{"cmd_get", u(c[cmdGet])},
		{"cmd_set", u(c[cmdSet])},
		{"cmd_flush", u(c[cmdFlush])},
		{"cmd_touch", u(c[cmdTouch])},
		{"cmd_meta", u(c[cmdMeta])},
		{"get_hits", u(c[getHits])},
		{"get_misses", u(c[getMisses])},
		{"get_expired", u(c[getExpired])},
		{"get_flushed", u(c[getFlushed])},
		{"delete_misses", u(c[deleteMisses])},
		{"delete_hits", u(c[deleteHits])},
		{"incr_misses", u(c[incrMisses])},
		{"incr_hits", u(c[incrHits])},
		{"decr_misses", u(c[decrMisses])},
		{"decr_hits", u(c[decrHits])},
		{"cas_misses", u(c[casMisses])},
		{"cas_hits", u(c[casHits])},
		{"cas_badval", u(c[casBadval])},
		{"touch_hits", u(c[touchHits])},
		{"touch_misses", u(c[touchMisses])},
		{"store_too_large", u(c[storeTooLarge])},
		{"store_no_memory", u(c[storeNoMemory])},
	}
	if s.opts.IdleTimeout > 0 { // memcached shows it only then
		lines = append(lines, stat{"idle_kicks", u(c[idleKicks])})
	}
	return append(lines, []stat{
		{"bytes_read", u(c[bytesRead])},
		{"bytes_written", u(c[bytesWritten])},
		{"limit_maxbytes", i(st.CacheLimit)},
		{"accepting_conns", boolStat(!s.isClosing())},
		{"threads", strconv.Itoa(s.opts.Threads)},
		{"goroutines", strconv.Itoa(runtime.NumGoroutine())},
		{"bytes", i(st.Bytes)},
		{"curr_items", i(st.Items)},
		{"total_items", u(c[totalItems])},
		{"evictions", "0"}, // items are never evicted from the file
		{"reclaimed", u(st.Swept)},
		// The read cache in front of the file.
		{"cache_items", i(st.CacheItems)},
		{"cache_bytes", i(st.CacheBytes)},
		{"cache_hits", u(st.CacheHits)},
		{"cache_misses", u(st.CacheMisses)},
		{"cache_evictions", u(st.CacheEvictions)},
		// Persistence.
		{"lite_version", Release},
		{"data_file", statValue(st.Path)},
		{"data_file_bytes", i(st.FileSize)},
		{"sync_mode", st.Sync.String()},
		{"commits", u(st.Commits)},
		{"ops_committed", u(st.Ops)},
		{"avg_batch_size", strconv.FormatFloat(st.AvgBatch(), 'f', 2, 64)},
		{"max_batch_size", u(st.MaxBatch)},
		{"commit_time_us", i(st.CommitTime.Microseconds())},
	}...)
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
		{"item_size_max", strconv.Itoa(s.st.MaxItemSize())},
		{"idle_timeout", i(int64(s.opts.IdleTimeout / time.Second))},
		{"read_buf_mem_limit", i(max(s.opts.ReadBufferLimit, 0))},
		{"tcp_backlog", "1024"},
		{"evictions", "off"},
		{"data_file", statValue(st.Path)},
		{"sync_mode", st.Sync.String()},
	}
}

func (s *Server) resetStats() {
	s.mu.Lock()
	for c := range s.conns {
		for i := range c.stats {
			c.stats[i].Store(0)
		}
	}
	for i := range s.gone {
		s.gone[i].Store(0)
	}
	s.mu.Unlock()
	s.totalConns.Store(0)
	s.rejectedConns.Store(0)
	s.st.ResetStats()
}

// statValue makes s fit a stats line, which clients split on spaces: white
// space and control bytes are percent-encoded (a data file may be
// "/srv/my data/cache.db").
func statValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
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

// A counter names one of the figures stats reports.
type counter int

const (
	cmdGet counter = iota
	cmdSet
	cmdFlush
	cmdTouch
	cmdMeta
	getHits
	getMisses
	getExpired
	getFlushed
	deleteHits
	deleteMisses
	incrHits
	incrMisses
	decrHits
	decrMisses
	casHits
	casMisses
	casBadval
	touchHits
	touchMisses
	totalItems
	storeTooLarge
	storeNoMemory
	idleKicks
	bytesRead
	bytesWritten
	numCounters
)

// counters are a connection's figures. Each connection counts in its own,
// so that requests on different cores do not contend for shared cache
// lines; stats adds them up. The atomics are only there for that reader.
type counters [numCounters]atomic.Uint64

// count adds one to hit if err is nil, to miss if it is ErrNotFound.
func (c *counters) count(err error, hit, miss counter) {
	switch {
	case err == nil:
		c[hit].Add(1)
	case errors.Is(err, storage.ErrNotFound):
		c[miss].Add(1)
	}
}

// addTo adds c's figures to sum.
func (c *counters) addTo(sum *[numCounters]uint64) {
	for i := range c {
		sum[i] += c[i].Load()
	}
}

// sumStats adds up the figures of every connection, open or closed.
func (s *Server) sumStats() [numCounters]uint64 {
	var sum [numCounters]uint64
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone.addTo(&sum)
	for c := range s.conns {
		c.stats.addTo(&sum)
	}
	return sum
}
