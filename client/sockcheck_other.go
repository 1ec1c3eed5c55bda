//go:build !unix

package client

import "net"

// peekSocket cannot look at sockets on this platform; conn.alive falls back
// to a read with a past deadline.
func peekSocket(net.Conn) (closed, pending, ok bool) { return false, false, false }
