//go:build unix

package client

import (
	"errors"
	"net"
	"syscall"
)

// peekSocket looks at the socket under nc without blocking and without
// consuming anything: closed if the peer closed or reset it, pending if bytes
// are waiting. ok is false if nc has no socket to look at. The read deadline
// must not be in the past.
func peekSocket(nc net.Conn) (closed, pending, ok bool) {
	sc, isSocket := nc.(syscall.Conn)
	if !isSocket {
		return false, false, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false, false
	}
	var n int
	var perr error
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, perr = syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait for readiness
	})
	switch {
	case err != nil:
		return true, false, true
	case n > 0:
		return false, true, true
	case perr == nil: // a zero-byte read: the peer shut down
		return true, false, true
	case errors.Is(perr, syscall.EAGAIN), errors.Is(perr, syscall.EWOULDBLOCK), errors.Is(perr, syscall.EINTR):
		return false, false, true
	}
	return true, false, true // ECONNRESET and the like
}
