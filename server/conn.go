package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"
)

// conn is one client connection. Its goroutine owns everything but stopping,
// which Shutdown may do from another goroutine.
type conn struct {
	s       *Server
	nc      net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	p       *parser
	cmd     command
	scratch []byte
	pending []pendingWrite // writes queued with the store, replies not yet written
	stats   counters       // this connection's figures; stats sums them over all
	stopped atomic.Bool
	closing bool  // quit, a framing error or shutdown: stop after this command
	failed  bool  // a noreply write failed: its SERVER_ERROR was the last reply
	werr    error // the first failed write to the client: stop working for it
	fd      int   // the socket's descriptor, for -vv lines as memcached's
	traced  bool  // -vv has named the protocol
	watched bool  // the connection ran watch: no conn_close event
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, scratch: make([]byte, 0, 512), fd: socketFD(nc)}
	c.bw = bufio.NewWriterSize(countingWriter{c}, 16<<10)
	c.br = bufio.NewReaderSize(flushingReader{c}, 16<<10)
	c.p = newParser(c.br, s.st.MaxValueSize, s.opts.MaxLineLength, s.mem)
	return c
}

// flushingReader reads from the connection, first sending the replies
// buffered so far. serve sends them before it waits for a new command; this
// covers the wait in the middle of one (a command split across packets
// after others in a pipeline), so that a client that waits for a reply
// before it sends more never deadlocks.
type flushingReader struct{ c *conn }

func (r flushingReader) Read(b []byte) (int, error) {
	c := r.c
	if err := c.flush(); err != nil {
		return 0, err
	}
	if c.stopped.Load() {
		return 0, errStopped
	}
	n, err := c.nc.Read(b)
	c.stats[bytesRead].Add(uint64(n))
	return n, err
}

var errStopped = errors.New("server shutting down")

// countingWriter writes to the connection and counts the bytes.
type countingWriter struct{ c *conn }

func (w countingWriter) Write(b []byte) (int, error) {
	c := w.c
	if t := c.s.opts.IdleTimeout; t > 0 && !c.stopped.Load() {
		c.nc.SetWriteDeadline(time.Now().Add(t))
	}
	n, err := c.nc.Write(b)
	c.stats[bytesWritten].Add(uint64(n))
	if err != nil && c.werr == nil {
		c.werr = err
	}
	return n, err
}

// stopWriteTimeout bounds how long a stopping connection waits for its
// client to take replies, so that one that does not read them cannot hold
// up Shutdown.
const stopWriteTimeout = time.Second

// stop asks the connection to finish what it has read and close. The
// connection may be blocked in a read: a past deadline wakes it.
func (c *conn) stop() {
	c.stopped.Store(true)
	c.nc.SetReadDeadline(time.Now())
	c.nc.SetWriteDeadline(time.Now().Add(stopWriteTimeout))
}

func (c *conn) serve() {
	defer c.s.untrack(c)
	defer c.nc.Close()
	defer func() {
		if r := recover(); r != nil {
			c.s.opts.Logger.Error("panic serving connection", "remote", c.nc.RemoteAddr().String(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	defer c.p.release()
	if c.s.watch.wants(watchConnEvents) {
		c.noteConn(true)
	}
	defer func() {
		if !c.watched && c.s.watch.wants(watchConnEvents) {
			c.noteConn(false)
		}
	}()
	if c.s.trace != nil {
		c.tracef("<%d new auto-negotiating client connection", c.fd)
		defer c.tracef("<%d connection closed.", c.fd)
	}
	log := c.s.opts.Logger
	if c.s.opts.Auth != nil && !c.authenticate() {
		return
	}
	for !c.closing && c.werr == nil {
		if c.br.Buffered() == 0 {
			// Nothing more has arrived: the replies so far go out now,
			// once per pipelined batch, before the wait for input.
			if err := c.flush(); err != nil {
				break
			}
		}
		c.armIdle()
		err := c.p.readCommand(&c.cmd)
		if err != nil && !isReplyError(err) {
			switch {
			case c.stopped.Load():
			case isTimeout(err):
				c.stats[idleKicks].Add(1)
			case errors.Is(err, errLineTooLong):
				c.drain()
				c.lingerClose()
				return
			case !errors.Is(err, errHTTP) && !isQuietClose(err):
				log.Debug("closing connection", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			break
		}
		if c.s.trace != nil {
			// Replies are traced as they are written: under -vv, writes
			// are answered before the next command is shown, not batched.
			c.drain()
			if !c.traced {
				c.traced = true
				c.tracef("%d: Client using the ascii protocol", c.fd)
			}
			c.tracef("<%d %s", c.fd, c.p.last)
		}
		c.exec(&c.cmd, err)
		c.cmd = command{} // it points into the parser's buffers
		c.p.release()
	}
	c.drain()
	if c.failed {
		c.lingerClose() // the client may still be sending
		return
	}
	if err := c.bw.Flush(); err != nil && !isQuietClose(err) {
		log.Debug("flush failed", "remote", c.nc.RemoteAddr().String(), "err", err)
	}
}

// flush waits for the queued writes and sends every reply buffered so far.
// It also returns the error of an earlier write (to a client that stopped
// reading, past the write timeout), even with nothing buffered: that ends
// the connection instead of reading and dropping more replies.
func (c *conn) flush() error {
	c.drain()
	return c.bw.Flush()
}

// armIdle starts the idle timeout for the next command: the command, its
// data block included, must arrive within IdleTimeout, however it trickles
// in (memcached closes a connection that sends no complete command in its
// idle_timeout). The deadline is set before stopped is checked, so that a
// stop in between (which sets a past deadline) is not overwritten.
func (c *conn) armIdle() {
	if t := c.s.opts.IdleTimeout; t > 0 {
		c.nc.SetReadDeadline(time.Now().Add(t))
		if c.stopped.Load() {
			c.nc.SetReadDeadline(time.Now())
		}
	}
}

// lingerTime bounds how long lingerClose reads and drops what the client
// still sends.
const lingerTime = time.Second

// lingerClose ends a connection whose client is still sending (a line too
// long): it sends the replies so far and a FIN, then reads and drops the
// client's bytes for a moment before closing, so that the client sees the
// end of the stream rather than a reset that could also destroy the replies.
func (c *conn) lingerClose() {
	if err := c.bw.Flush(); err != nil {
		return
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, c.nc)
}

// isReplyError reports whether a readCommand error is answered on the
// connection (rather than ending it).
func isReplyError(err error) bool {
	var pe *protocolError
	return errors.Is(err, errUnknown) || errors.Is(err, errTooLarge) || errors.Is(err, errNoMemory) || errors.As(err, &pe)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isQuietClose reports whether err is the ordinary end of a connection.
func isQuietClose(err error) bool {
	var ne net.Error
	return errors.Is(err, errStopped) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) && ne.Timeout() || isEOF(err)
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func errorReplyLine(err error) []byte {
	b, _ := errorReply(err)
	return b
}

// write buffers a reply.
func (c *conn) write(b []byte) {
	if c.s.trace != nil {
		c.traceReply("", b)
	}
	c.bw.Write(b)
}
