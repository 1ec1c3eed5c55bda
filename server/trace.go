package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
)

// A traceWriter writes -vv lines, one Write each, from many connections.
type traceWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *traceWriter) line(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.w.Write(b)
}

// tracef writes one -vv line in memcached's form: "<fd line" for what the
// client sent, ">fd reply" for the first line of what it is sent.
func (c *conn) tracef(format string, args ...any) {
	c.s.trace.line(fmt.Appendf(nil, format+"\n", args...))
}

// traceReply traces the first line of a reply, after prefix (NOREPLY for
// a reply that noreply keeps from the client, as memcached shows it).
func (c *conn) traceReply(prefix string, b []byte) {
	if i := bytes.IndexByte(b, '\r'); i >= 0 {
		b = b[:i]
	}
	c.tracef(">%d %s%s", c.fd, prefix, b)
}

// socketFD returns nc's file descriptor, which memcached's -vv lines name
// a connection by, or 0 where there is none.
func socketFD(nc net.Conn) int {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	fd := 0
	rc.Control(func(s uintptr) { fd = int(s) })
	return fd
}
