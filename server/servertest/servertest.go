// Package servertest is the one harness of the project's end-to-end tests,
// as net/http/httptest is for HTTP: it starts memcached-lite and the
// programs tests compare it with, on 127.0.0.1, and stops them when the test
// that started them ends.
//
//   - Start runs memcached-lite in the test process, on a new data file and
//     a loopback listener bound before Serve runs.
//   - StartBinary runs the memcached-lite binary (Binary builds it once per
//     test process, or takes $MEMCACHED_LITE_BIN); Restart runs it again on
//     the same data file and port, Stop signals it (SIGTERM, SIGKILL) and
//     waits. Run and Command run the binary to completion, as its client
//     subcommand is run from a shell.
//   - StartMemcached runs the reference server, memcached 1.6, and
//     StartTwemproxy a twemproxy (nutcracker) in front of servers.
//   - Tool finds an external program, skipping the test when it is missing
//     unless the CI environment variable is set; FreeAddr finds a free port.
//   - Main is TestMain for a package that uses the binary: goleak, then the
//     binary is removed.
//
// Readiness is a contract, never a sleep or a log line: a listener bound
// before Serve (Start), the address file memcached-lite writes with
// --ready-file and memcached with MEMCACHED_PORT_FILENAME, or a proxy that
// answers version (StartTwemproxy). Child processes die with the test
// process on Linux (Pdeathsig), so a test killed by -timeout leaves none
// behind.
//
// A function that takes the test's testing.TB is for that test's
// goroutine, as t.Fatal is.
//
// The client package imports no project package: its tests use this one
// from their external test package (package client_test).
package servertest

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/storage"
)

// shutdownTimeout bounds how long Start's cleanup waits for the server to
// finish the requests it has read.
const shutdownTimeout = 5 * time.Second

// Options configures Start. The zero value is a server with the default
// server and store options on a new data file.
type Options struct {
	Server server.Options  // for server.New
	Store  storage.Options // for storage.Open
	Path   string          // the data file; "" means a new file in a temporary directory
}

// A Server is memcached-lite running in the test process, started by Start.
// It is shut down, and its store closed, when the test ends.
type Server struct {
	Addr   string         // host:port on 127.0.0.1, accepting connections
	Path   string         // the data file
	Store  *storage.Store // the server's store: open until the test ends
	Server *server.Server // serving Addr until the test ends
}

// Start opens a store on opts.Path and serves it on a loopback port with
// server.New. The listener is bound before Serve runs, so Addr accepts
// connections at once. When the test ends it shuts the server down (within
// a few seconds), checks that Serve returned server.ErrServerClosed and
// closes the store, failing the test on any error.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	path := opts.Path
	if path == "" {
		path = filepath.Join(t.TempDir(), "data.db")
	}
	st, err := storage.Open(path, opts.Store)
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: %v", errors.Join(err, st.Close()))
	}
	srv := server.New(st, opts.Server)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("servertest: Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("servertest: Serve returned %v, want ErrServerClosed", err)
		}
		if err := st.Close(); err != nil {
			t.Errorf("servertest: store Close: %v", err)
		}
	})
	return &Server{Addr: ln.Addr().String(), Path: path, Store: st, Server: srv}
}
