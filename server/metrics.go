package server

import (
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memcached-lite/memcached-lite/storage"
)

// Metrics are the figures the server's counters do not already hold: the
// distributions of commit time, write and fsync time, and batch size. Make
// one with NewMetrics, pass its ObserveCommit as storage.Options.OnCommit
// and give it to Handler. Its methods are safe for concurrent use.
//
// Everything else /metrics shows is read at scrape time from the counters
// that stats reports, so that requests count once.
type Metrics struct {
	commit, write, batch prometheus.Histogram
}

// NewMetrics returns the commit histograms, empty.
func NewMetrics() *Metrics {
	return &Metrics{
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "memcached_lite_commit_duration_seconds",
			Help:    "Time of one group commit, from the transaction's start until it is durable.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16), // 50µs to ~1.6s
		}),
		write: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "memcached_lite_fsync_duration_seconds",
			Help:    "Time of one commit spent writing its pages and meta page to the data file and fsyncing them.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "memcached_lite_commit_batch_size",
			Help:    "Write operations in one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024, the committer's bound
		}),
	}
}

// ObserveCommit records one commit; it is a storage.Options.OnCommit.
func (m *Metrics) ObserveCommit(c storage.CommitInfo) {
	m.commit.Observe(c.Duration.Seconds())
	m.write.Observe(c.Write.Seconds())
	m.batch.Observe(float64(c.Ops))
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.commit, m.write, m.batch}
}

// collector reads the server's and the store's counters at scrape time.
type collector struct{ s *Server }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// Names from memcached_exporter for what memcached also has, so that its
// dashboards and alerts work unchanged; ours under memcached_lite_.
var (
	descUp          = desc("memcached_up", "Whether the server answers: always 1 here.")
	descUptime      = desc("memcached_uptime_seconds", "Seconds since the server started.")
	descTime        = desc("memcached_time_seconds", "The server's current Unix time.")
	descUserCPU     = desc("memcached_process_user_cpu_seconds_total", "User CPU time of the process.")
	descSystemCPU   = desc("memcached_process_system_cpu_seconds_total", "System CPU time of the process.")
	descVersion     = desc("memcached_version", "The server's version.", "version")
	descCommands    = desc("memcached_commands_total", "Requests by command (get, set, ...) and status (hit, miss, badval).", "command", "status")
	descItems       = desc("memcached_current_items", "Items in the data file, including expired ones not yet swept.")
	descItemsTotal  = desc("memcached_items_total", "Items stored since the server started.")
	descBytes       = desc("memcached_current_bytes", "Sum of the key and value lengths of the items.")
	descLimit       = desc("memcached_limit_bytes", "The read cache's bound in bytes (-m).")
	descConns       = desc("memcached_current_connections", "Open connections.")
	descConnsTotal  = desc("memcached_connections_total", "Connections accepted since the server started.")
	descRejected    = desc("memcached_connections_rejected_total", "Connections refused over the connection limit (-c).")
	descMaxConns    = desc("memcached_max_connections", "The connection limit (-c).")
	descRead        = desc("memcached_read_bytes_total", "Bytes read from the network.")
	descWritten     = desc("memcached_written_bytes_total", "Bytes sent to the network.")
	descEvicted     = desc("memcached_items_evicted_total", "Items evicted from the read cache to make room (they stay in the data file).")
	descReclaimed   = desc("memcached_items_reclaimed_total", "Expired items deleted from the data file by the sweeper.")
	descTooLarge    = desc("memcached_item_too_large_total", "Stores refused because the item was larger than -I.")
	descNoMemory    = desc("memcached_item_no_memory_total", "Stores refused for lack of memory (--read-buf-mem).")
	descAccepting   = desc("memcached_accepting_connections", "Whether the server accepts connections: 0 once it is shutting down.")
	descCommits     = desc("memcached_lite_commits_total", "Group commits (write transactions), failed ones included.")
	descOps         = desc("memcached_lite_ops_committed_total", "Write operations committed.")
	descCacheHits   = desc("memcached_lite_cache_hits_total", "Reads answered from the read cache.")
	descCacheMisses = desc("memcached_lite_cache_misses_total", "Reads that went to the data file.")
	descCacheItems  = desc("memcached_lite_cache_items", "Items in the read cache.")
	descCacheBytes  = desc("memcached_lite_cache_bytes", "Bytes charged to the read cache.")
	descFileBytes   = desc("memcached_lite_data_file_bytes", "Size of the data file.")
	descFreePages   = desc("memcached_lite_data_file_free_pages", "Pages of the data file free for reuse or waiting for readers to finish.")
	descFreeBytes   = desc("memcached_lite_data_file_free_bytes", "Bytes of those free pages.")
	descPending     = desc("memcached_lite_pending_writes", "Writes queued for the committer, not yet in a transaction.")
	descWatchers    = desc("memcached_lite_watchers", "Connections receiving the watch command's event stream.")
	descHealthy     = desc("memcached_lite_store_writable", "1 while the store takes writes, 0 after a failed fsync (fail-stop) or once closed.")
	descLastBackup  = desc("memcached_lite_last_backup_timestamp_seconds", "When the snapshot of the last complete backup served by /backup was taken (Unix time); 0 if none.")
	descBackups     = desc("memcached_lite_backups_total", "Backups served by /backup, by result (ok, error).", "result")
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descUptime, descTime, descUserCPU, descSystemCPU, descVersion, descCommands, descItems, descItemsTotal,
		descBytes, descLimit, descConns, descConnsTotal, descRejected, descMaxConns, descRead, descWritten,
		descEvicted, descReclaimed, descTooLarge, descNoMemory, descAccepting, descCommits, descOps,
		descCacheHits, descCacheMisses, descCacheItems, descCacheBytes, descFileBytes, descFreePages,
		descFreeBytes, descPending, descWatchers, descHealthy, descLastBackup, descBackups} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	n := s.sumStats()
	st := s.st.Stats()
	emitCounter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	emitCounterF := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	emitGauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	emitGauge(descUp, 1)
	emitCounter(descUptime, uint64(time.Since(s.start)/time.Second))
	emitGauge(descTime, float64(time.Now().Unix()))
	utime, stime := cpuTimes() // rusage_*.go
	emitCounterF(descUserCPU, seconds(utime))
	emitCounterF(descSystemCPU, seconds(stime))
	emitGauge(descVersion, 1, Version)
	// As memcached_exporter maps memcached's stats.
	for _, op := range []struct {
		name      string
		hit, miss counter
	}{
		{"get", getHits, getMisses},
		{"delete", deleteHits, deleteMisses},
		{"incr", incrHits, incrMisses},
		{"decr", decrHits, decrMisses},
		{"cas", casHits, casMisses},
		{"touch", touchHits, touchMisses},
	} {
		emitCounter(descCommands, n[op.hit], op.name, "hit")
		emitCounter(descCommands, n[op.miss], op.name, "miss")
	}
	emitCounter(descCommands, n[casBadval], "cas", "badval")
	emitCounter(descCommands, n[cmdFlush], "flush", "hit")
	cas := n[casHits] + n[casMisses] + n[casBadval] // cmd_set counts cas too
	emitCounter(descCommands, n[cmdSet]-min(cas, n[cmdSet]), "set", "hit")

	emitGauge(descItems, float64(st.Items))
	emitCounter(descItemsTotal, n[totalItems])
	emitGauge(descBytes, float64(st.Bytes))
	emitGauge(descLimit, float64(st.CacheLimit))
	emitGauge(descConns, float64(s.connCount()))
	emitCounter(descConnsTotal, s.totalConns.Load())
	emitCounter(descRejected, s.rejectedConns.Load())
	emitGauge(descMaxConns, float64(max(s.opts.MaxConns, 0)))
	emitCounter(descRead, n[bytesRead])
	emitCounter(descWritten, n[bytesWritten])
	emitCounter(descEvicted, st.CacheEvictions)
	emitCounter(descReclaimed, st.Swept)
	emitCounter(descTooLarge, n[storeTooLarge])
	emitCounter(descNoMemory, n[storeNoMemory])
	emitGauge(descAccepting, b2f(!s.isClosing()))

	emitCounter(descCommits, st.Commits)
	emitCounter(descOps, st.Ops)
	emitCounter(descCacheHits, st.CacheHits)
	emitCounter(descCacheMisses, st.CacheMisses)
	emitGauge(descCacheItems, float64(st.CacheItems))
	emitGauge(descCacheBytes, float64(st.CacheBytes))
	emitGauge(descFileBytes, float64(st.FileSize))
	emitGauge(descFreePages, float64(st.FreePages))
	emitGauge(descFreeBytes, float64(st.FreeBytes))
	emitGauge(descPending, float64(st.Pending))
	emitGauge(descWatchers, float64(s.watch.count()))
	emitGauge(descHealthy, b2f(s.st.Err() == nil))
	emitGauge(descLastBackup, float64(s.lastBackup.Load()))
	emitCounter(descBackups, s.backupsOK.Load(), "ok")
	emitCounter(descBackups, s.backupsFailed.Load(), "error")
}

func seconds(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
