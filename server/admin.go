package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memcached-lite/memcached-lite/storage"
)

// Handler returns the HTTP handler of the server's operations listener
// (memcached-lite server --metrics ADDR):
//
//   - GET /metrics: Prometheus metrics in the text format: the figures of
//     stats under memcached_exporter's names, ours under memcached_lite_,
//     m's histograms (if m is not nil), and the Go runtime and process
//     collectors.
//   - GET /healthz: 200 "ok" while the store takes writes; 503 with the
//     reason after a fail-stop (a failed fsync: restart the server) or
//     while shutting down.
//   - GET /backup: the whole data file as of the moment the request is
//     served, as application/octet-stream with its Content-Length, while
//     writes go on (storage.Snapshot). A short body means a failed backup;
//     memcached-lite backup saves it safely.
//
// The listener has no authentication: /backup serves every item. Bind it
// to loopback or a private network.
func (s *Server) Handler(m *Metrics) http.Handler {
	return s.handler(m, s.st)
}

// health is what /healthz asks: *storage.Store, or a fake in a test.
type health interface{ Err() error }

func (s *Server) handler(m *Metrics, h health) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), collector{s})
	if m != nil {
		reg.MustRegister(m.collectors()...)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: errorLog{s}, ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		err := h.Err()
		if err == nil && s.isClosing() {
			err = errors.New("shutting down")
		}
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unavailable: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /backup", s.serveBackup)
	return mux
}

// serveBackup streams a snapshot of the data file.
func (s *Server) serveBackup(w http.ResponseWriter, r *http.Request) {
	sn, err := s.st.Snapshot()
	if err != nil {
		s.backupsFailed.Add(1)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sn.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(sn.Size(), 10))
	h.Set("Content-Disposition", `attachment; filename="memcached-lite-backup.db"`)
	h.Set("Last-Modified", sn.Time().UTC().Format(http.TimeFormat))
	if r.Method == http.MethodHead {
		return
	}
	n, err := sn.WriteTo(w)
	if err != nil {
		s.backupsFailed.Add(1)
		s.opts.Logger.Warn("backup failed", "remote", r.RemoteAddr, "bytes", n, "of", sn.Size(), "err", err)
		return
	}
	s.backupsOK.Add(1)
	s.lastBackup.Store(sn.Time().Unix())
	s.opts.Logger.Info("backup served", "remote", r.RemoteAddr, "bytes", n)
}

// errorLog sends promhttp's errors to the server's logger.
type errorLog struct{ s *Server }

func (l errorLog) Println(v ...any) {
	l.s.opts.Logger.Error("metrics: " + fmt.Sprint(v...))
}

var _ health = (*storage.Store)(nil)
