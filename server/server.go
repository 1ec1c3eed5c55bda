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

// Release is memcached-lite's own version, reported in stats as
// lite_version and by memcached-lite --version.
const Release = "0.1.0"

// Options configures a Server. Each zero field takes the default in its comment.
//
// The largest value is the store's rule (storage.Store.MaxValueSize), so
// that the two layers cannot disagree.
type Options struct {
	MaxConns      int           // open connections (-c); 0 means 1024, <0 no limit
	IdleTimeout   time.Duration // close connections idle this long; 0 means never
	MaxLineLength int           // longest get/gets/gat/gats line, without its \r\n; 0 means 1 MiB (other commands: 2048 bytes, as memcached)
	// ReadBufferLimit bounds the bytes that the unfinished commands of all
	// connections hold together: get lines and values longer than 16 KiB,
	// as they arrive (memcached's -o read_buf_mem). A value that would pass
	// it is read and dropped and gets SERVER_ERROR out of memory storing
	// object; a get line that would, closes its connection. 0 means 64 MiB,
	// <0 no limit.
	ReadBufferLimit int64
	AllowShutdown   bool // accept the shutdown command (-A)
	DisableFlush    bool // refuse flush_all (-F)
	DisableCAS      bool // report CAS values as 0 (-C)
	Threads         int  // reported as "threads"; 0 means GOMAXPROCS
	Verbosity       int  // reported in stats settings (-v, -vv)
	// Trace, when set, receives memcached's -vv lines: each command line a
	// connection sends ("<fd set k 0 0 5") and the first line of each
	// reply (">fd STORED"), and connections opening and closing.
	Trace io.Writer
	// WatchBuffer bounds the event bytes a watch connection may have
	// waiting to be sent; past it events are dropped and counted in a
	// skipped=N line. 0 means 256 KiB.
	WatchBuffer int
	Port        int              // reported in "stats settings" as tcpport
	Now         func() time.Time // the clock for exptimes; nil means time.Now
	Logger      *slog.Logger     // nil discards logs
	// Auth, when set, makes every connection authenticate first, as
	// memcached's -Y does (auth.go); nil means no authentication.
	Auth *Auth
	// OnShutdown is called by the shutdown command when AllowShutdown is set,
	// in place of the process's SIGINT. nil means the command only closes
	// the connection that sent it.
	OnShutdown func()
}

func (o Options) withDefaults() Options {
	if o.ReadBufferLimit == 0 {
		o.ReadBufferLimit = 64 << 20
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
	if o.WatchBuffer == 0 {
		o.WatchBuffer = defaultWatchBuffer
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
	mem   *budget      // ReadBufferLimit
	trace *traceWriter // nil unless Options.Trace
	watch hub          // the watch command's watchers

	mu        sync.Mutex
	closing   bool
	closed    chan struct{} // closed by Shutdown: wakes an accept back-off
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // one per connection goroutine

	totalConns, rejectedConns atomic.Uint64
	backupsOK, backupsFailed  atomic.Uint64 // served by /backup
	lastBackup                atomic.Int64  // Unix time of the last good backup's snapshot
	gone                      counters      // the figures of connections that have closed
}

// New returns a server for st. The caller keeps ownership of st: close it
// after Shutdown has returned.
func New(st *storage.Store, opts Options) *Server {
	opts = opts.withDefaults()
	var trace *traceWriter
	if opts.Trace != nil {
		trace = &traceWriter{w: opts.Trace}
	}
	return &Server{
		watch:     hub{limit: opts.WatchBuffer},
		trace:     trace,
		st:        st,
		opts:      opts,
		start:     time.Now(),
		mem:       newBudget(opts.ReadBufferLimit),
		closed:    make(chan struct{}),
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
				t := time.NewTimer(backoff)
				select {
				case <-t.C:
				case <-s.closed:
					t.Stop()
					return ErrServerClosed
				}
				continue
			}
			return err
		}
		backoff = 0
		s.totalConns.Add(1)
		c := newConn(s, nc)
		switch s.track(c) {
		case accepted:
			go c.serve()
		case tooMany:
			// As memcached: one line, then close. A short deadline keeps a
			// client that does not read from holding the accept loop.
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			nc.Write(replyTooMany)
			nc.Close()
		default:
			nc.Close()
		}
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

type admission int

const (
	accepted admission = iota
	tooMany            // over MaxConns
	shuttingDown
)

// track registers c, or refuses it when shutting down or over MaxConns.
func (s *Server) track(c *conn) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return shuttingDown
	}
	if s.opts.MaxConns > 0 && len(s.conns) >= s.opts.MaxConns {
		s.rejectedConns.Add(1)
		return tooMany
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return accepted
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	for i := range c.stats {
		s.gone[i].Add(c.stats[i].Load())
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
// sent and their writes committed), then closes it. It returns nil when all
// connections are closed. If ctx ends first, it closes the remaining
// connections at once and returns ctx's error without waiting for their
// goroutines, which stop at their next read or write; a write they had
// queued with the store is still committed when the store is closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		close(s.closed)
	}
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
		return ctx.Err()
	}
}
