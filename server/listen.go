package server

import (
	"net"
	"net/netip"
)

// Network is the network to listen on for memcached's -l host: "tcp4" for an
// IPv4 address and "tcp6" for an IPv6 one, so that -l 0.0.0.0 listens on
// IPv4 alone, as memcached does (Go's "tcp" would take IPv6 too); "tcp"
// for a host name, which is resolved.
func Network(host string) string {
	a, err := netip.ParseAddr(host)
	switch {
	case err != nil:
		return "tcp"
	case a.Is4():
		return "tcp4"
	}
	return "tcp6"
}

// Exposed reports whether a server listening on addr takes connections
// from beyond this machine's loopback interface.
func Exposed(addr net.Addr) bool {
	a, ok := addr.(*net.TCPAddr)
	return !ok || !a.IP.IsLoopback()
}
