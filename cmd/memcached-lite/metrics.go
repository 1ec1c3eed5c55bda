package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
)

// metricsShutdownTimeout bounds how long a stopping server lets the
// operations listener finish a scrape; a backup still streaming then is cut
// short, and the client sees a failed backup.
const metricsShutdownTimeout = 2 * time.Second

// serveMetrics binds addr and serves srv's operations handler (/metrics,
// /healthz, /backup) on it. The returned stop shuts it down and waits for
// it; call it after srv.Shutdown and before the store is closed, since a
// backup holds a transaction on the store.
func serveMetrics(addr string, srv *server.Server, m *server.Metrics, log *slog.Logger) (stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(m),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("metrics listening", "addr", ln.Addr().String(), "paths", "/metrics /healthz /backup")
	if server.Exposed(ln.Addr()) {
		log.Warn("metrics listening beyond loopback: anyone who can reach it can download every item from /backup; "+
			"bind 127.0.0.1 or a private interface only your scraper reaches", "addr", ln.Addr().String())
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), metricsShutdownTimeout)
		defer cancel()
		err := hs.Shutdown(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			err = hs.Close()
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		if err != nil {
			return fmt.Errorf("--metrics: %w", err)
		}
		return nil
	}, nil
}
