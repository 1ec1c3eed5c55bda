// Package server is memcached-lite's memcached text-protocol server: it reads
// commands from TCP connections, runs them against a storage.Store and
// writes memcached 1.6's exact replies.
//
// Each connection has its own goroutine. Pipelined requests are answered in
// order and the replies flushed once per batch, when the connection is about
// to wait for more input. A write is answered only after the store has made
// it durable.
package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("server: closed")

// Version is the version the server reports. It is memcached's protocol
// version (clients and memccapable read it to pick features) with our name.
const Version = "1.6.18-lite"

// Options configures a Server. Each zero field takes the default in its comment.
type Options struct {
	MaxItemSize   int              // largest value in bytes (-I); 0 means 1 MiB
	MaxConns      int              // open connections (-c); 0 means 1024, <0 no limit
	IdleTimeout   time.Duration    // close connections idle this long; 0 means never
	MaxLineLength int              // longest get/gets/gat/gats line; 0 means 1 MiB (other commands: 2048 bytes, as memcached)
	AllowShutdown bool             // accept the shutdown command (-A)
	DisableFlush  bool             // refuse flush_all (-F)
	DisableCAS    bool             // report CAS values as 0 (-C)
	Threads       int              // reported as "threads"; 0 means GOMAXPROCS
	Verbosity     int              // 2 or more logs every command at debug level (-vv)
	Port          int              // reported in "stats settings" as tcpport
	Now           func() time.Time // the clock for exptimes; nil means time.Now
	Logger        *slog.Logger     // nil discards logs
	// OnShutdown is called by the shutdown command when AllowShutdown is set,
	// in place of the process's SIGINT. nil means the command only closes
	// the connection that sent it.
	OnShutdown func()
}

func (o Options) withDefaults() Options {
	if o.MaxItemSize == 0 {
		o.MaxItemSize = 1 << 20
	}
	if o.MaxConns == 0 {
		o.MaxConns = 1024
	}
	if o.MaxLineLength == 0 {
		o.MaxLineLength = 1 << 20
	}
	if o.Threads == 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o
}

// Server serves the memcached text protocol from a store. Create it with
// New; its methods are safe for concurrent use.
type Server struct {
	st    *storage.Store
	opts  Options
	start time.Time

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine

	totalConns, rejectedConns atomic.Uint64
	closed                    counters // the figures of connections that have closed
}

// New returns a server for st. The caller keeps ownership of st: close it
// after Shutdown has returned.
func New(st *storage.Store, opts Options) *Server {
	return &Server{
		st:        st,
		opts:      opts.withDefaults(),
		start:     time.Now(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
	}
}

// Serve accepts connections on ln and serves each in its own goroutine until
// Shutdown. It always returns a non-nil error: ErrServerClosed after
// Shutdown, or the listener's error. Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.opts.Logger.Warn("accept failed; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.totalConns.Add(1)
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// isTemporary reports whether an Accept error is worth retrying: out of file
// descriptors, or a connection that was aborted before it was accepted.
func isTemporary(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// track registers c, or refuses it when shutting down or over MaxConns.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.opts.MaxConns > 0 && len(s.conns) >= s.opts.MaxConns {
		s.rejectedConns.Add(1)
		// As memcached: one line, then close. A short deadline keeps a
		// client that does not read from holding the accept loop.
		c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		c.nc.Write(replyTooMany)
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	for i := range c.stats {
		s.closed[i].Add(c.stats[i].Load())
	}
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops the server gracefully: it closes the listeners, lets every
// connection finish the requests it has already received (their replies are
// sent and their writes committed), then closes it. It returns when all
// connections are closed, or ctx's error if ctx ends first, in which case the
// remaining connections are closed at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.stop()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// A counter names one of the figures stats reports.
type counter int

const (
	cmdGet counter = iota
	cmdSet
	cmdFlush
	cmdTouch
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
	s.closed.addTo(&sum)
	for c := range s.conns {
		c.stats.addTo(&sum)
	}
	return sum
}
