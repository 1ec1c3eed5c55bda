package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	readBufSize     = 4096     // longest reply line accepted, with its "\r\n"
	maxKeptWriteBuf = 64 << 10 // a larger request buffer is dropped after use
)

var crlf = []byte("\r\n")

// aLongTimeAgo is a deadline in the past: a read with it returns at once.
var aLongTimeAgo = time.Unix(1, 0)

// server is one configured server with its idle connections.
type server struct {
	addr    string
	network string
	index   int // position in Client.servers

	mu   sync.Mutex
	idle []*conn // most recently used last
}

// conn is one connection to a server, used by one request at a time.
type conn struct {
	c       *Client
	srv     *server
	nc      net.Conn
	br      *bufio.Reader
	wbuf    []byte // request scratch, reused
	op      string // the request in progress, for error messages
	discard bool   // close instead of pooling, whatever the outcome
}

// withConn runs fn for the request op on a connection to s under the request
// deadline, then pools or closes the connection according to fn's result.
func (c *Client) withConn(s *server, op string, fn func(cn *conn) error) error {
	cn, err := c.getConn(s)
	if err != nil {
		return err
	}
	cn.op = op
	if err := cn.nc.SetDeadline(time.Now().Add(c.opts.Timeout)); err != nil {
		_ = cn.nc.Close() // the connection is unusable; its close error adds nothing
		return cn.ioErr(err)
	}
	err = fn(cn)
	c.putConn(cn, err)
	return err
}

// each runs fn on a connection to every server at once and joins the errors.
func (c *Client) each(op string, fn func(cn *conn) error) error {
	if err := c.usable(); err != nil {
		return err
	}
	if len(c.servers) == 1 {
		return c.withConn(c.servers[0], op, fn)
	}
	errs := make([]error, len(c.servers))
	var wg sync.WaitGroup
	for i, s := range c.servers {
		wg.Go(func() { errs[i] = c.withConn(s, op, fn) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// getConn returns the most recently used live idle connection to s, or dials.
func (c *Client) getConn(s *server) (*conn, error) {
	for {
		s.mu.Lock()
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			break
		}
		cn := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		if cn.alive() {
			return cn, nil
		}
		_ = cn.nc.Close() // already closed by the peer or out of step
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.DialTimeout)
	defer cancel()
	nc, err := c.opts.DialContext(ctx, s.network, s.addr)
	if err != nil {
		return nil, &ConnectError{Addr: s.addr, Err: err}
	}
	nc = c.wrapTLS(nc, s.addr)
	cn := &conn{c: c, srv: s, nc: nc, br: bufio.NewReaderSize(nc, readBufSize)}
	if err := cn.setup(ctx); err != nil {
		_ = nc.Close() // the connection is of no use
		return nil, err
	}
	return cn, nil
}

// alive reports whether an idle connection can carry a request: the server
// has not closed it (as an idle timeout or a restart does) and sent nothing
// unasked. It never blocks.
func (cn *conn) alive() bool {
	if cn.br.Buffered() > 0 {
		return false
	}
	// Clear the last request's deadline, which may have passed: the poller
	// would fail a socket read at once, without looking at the socket.
	if err := cn.nc.SetReadDeadline(time.Time{}); err != nil {
		return false
	}
	if closed, pending, ok := peekSocket(cn.nc); ok {
		return !closed && !pending
	}
	// A wrapped socket (tls.Conn): bytes may wait that are not ours to judge
	// (TLS 1.3 session tickets), but a closed socket is dead.
	if w, ok := cn.nc.(interface{ NetConn() net.Conn }); ok {
		if closed, _, ok := peekSocket(w.NetConn()); ok {
			return !closed
		}
	}
	// Any other net.Conn (net.Pipe, ...): a read with a deadline in the past
	// returns at once and reports EOF or data ahead of the timeout.
	if err := cn.nc.SetReadDeadline(aLongTimeAgo); err != nil {
		return false
	}
	_, err := cn.br.Peek(1)
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// putConn pools cn after a request that ended with err, or closes it if err
// may have left the connection out of step with the server.
func (c *Client) putConn(cn *conn, err error) {
	if cn.discard || !(err == nil || errors.Is(err, ErrCacheMiss) ||
		errors.Is(err, ErrNotStored) || errors.Is(err, ErrCASConflict)) {
		_ = cn.nc.Close() // the request already failed or is done; nothing to report
		return
	}
	if cap(cn.wbuf) > maxKeptWriteBuf {
		cn.wbuf = nil
	}
	cn.op = ""
	s := cn.srv
	s.mu.Lock()
	if c.closed.Load() || len(s.idle) >= c.opts.MaxIdleConns {
		s.mu.Unlock()
		_ = cn.nc.Close() // surplus connection
		return
	}
	s.idle = append(s.idle, cn)
	s.mu.Unlock()
}

// send writes a whole request.
func (cn *conn) send(p []byte) error {
	cn.trace(Sent, p)
	if _, err := cn.nc.Write(p); err != nil {
		return cn.ioErr(err)
	}
	return nil
}

// readRawLine returns the next reply line with its "\r\n". The slice is valid
// until the next read.
func (cn *conn) readRawLine() ([]byte, error) {
	line, err := cn.br.ReadSlice('\n')
	if len(line) > 0 {
		cn.trace(Received, line)
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, cn.badReply("line longer than %d bytes", readBufSize)
	}
	if err != nil {
		return nil, cn.ioErr(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, cn.badReply("line %q does not end in \\r\\n", line)
	}
	return line, nil
}

// readLine returns the next reply line without its "\r\n". The slice is valid
// until the next read.
func (cn *conn) readLine() ([]byte, error) {
	line, err := cn.readRawLine()
	if err != nil {
		return nil, err
	}
	return line[:len(line)-2], nil
}

// readBlock reads a data block of n bytes and its "\r\n" and returns the n
// bytes in a new slice. n is checked against MaxValueSize before allocating.
func (cn *conn) readBlock(n int) ([]byte, error) {
	if n < 0 || n > cn.c.opts.MaxValueSize {
		return nil, cn.badReply("value of %d bytes is over MaxValueSize (%d)", n, cn.c.opts.MaxValueSize)
	}
	buf := make([]byte, n+2)
	m, err := io.ReadFull(cn.br, buf)
	if m > 0 {
		cn.trace(Received, buf[:m])
	}
	if err != nil {
		return nil, cn.ioErr(err)
	}
	if !bytes.Equal(buf[n:], crlf) {
		return nil, cn.badReply("value of %d bytes not followed by \\r\\n", n)
	}
	return buf[:n:n], nil
}

// unexpected turns a reply line the command does not expect into an error:
// ErrUnknownCommand, *ClientError, *ServerError, or a bad-reply error.
func (cn *conn) unexpected(line []byte) error {
	if err := errorReply(line); err != nil {
		return err
	}
	return cn.badReply("unexpected reply %q to %s", line, cn.op)
}

// errorReply returns the error an ERROR, CLIENT_ERROR or SERVER_ERROR line
// stands for, or nil for any other line.
func errorReply(line []byte) error {
	if string(line) == "ERROR" {
		return ErrUnknownCommand
	}
	if msg, ok := bytes.CutPrefix(line, []byte("CLIENT_ERROR")); ok && (len(msg) == 0 || msg[0] == ' ') {
		return &ClientError{Msg: string(bytes.TrimPrefix(msg, []byte(" ")))}
	}
	if msg, ok := bytes.CutPrefix(line, []byte("SERVER_ERROR")); ok && (len(msg) == 0 || msg[0] == ' ') {
		return &ServerError{Msg: string(bytes.TrimPrefix(msg, []byte(" ")))}
	}
	return nil
}

func (cn *conn) trace(dir Direction, p []byte) {
	if cn.c.opts.Trace != nil {
		cn.c.opts.Trace(cn.srv.addr, dir, p)
	}
}

// ioErr wraps a read or write error once, naming the request and the server.
func (cn *conn) ioErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("client: %s %s: %w", cn.op, cn.srv.addr, err)
}

func (cn *conn) badReply(format string, args ...any) error {
	return &protocolError{addr: cn.srv.addr, msg: fmt.Sprintf(format, args...)}
}

// dialReason returns the system's short word for a dial failure: "connection
// refused" rather than "dial tcp 127.0.0.1:11211: connect: connection refused".
func dialReason(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) && se.Err != nil {
		return se.Err.Error()
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		return de.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// field splits the first space-separated token off b. Tokens must be separated
// by exactly one space and be non-empty.
func field(b []byte) (tok, rest []byte, ok bool) {
	tok, rest, _ = bytes.Cut(b, []byte(" "))
	return tok, rest, len(tok) > 0
}

// parseUint parses a decimal reply number of at most bits bits: digits only,
// no sign, no spaces.
func parseUint(b []byte, bits int) (uint64, bool) {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, bits)
	return n, err == nil
}
