package client_test

import (
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// startLite starts memcached-lite on a loopback port with its own data file
// and returns its address. The client speaks to it over TCP like to any
// memcached; it stops when the test ends.
func startLite(t *testing.T) string {
	t.Helper()
	return servertest.Start(t, servertest.Options{}).Addr
}

// TestMemcachedLite runs the conformance suite against memcached-lite.
func TestMemcachedLite(t *testing.T) {
	runSuite(t, startLite(t))
}

// TestMemcachedLiteCluster runs the suite against three memcached-lite servers.
func TestMemcachedLiteCluster(t *testing.T) {
	runSuite(t, startLite(t), startLite(t), startLite(t))
}
