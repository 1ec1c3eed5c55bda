package client_test

import (
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestMemcached runs the conformance suite against one real memcached.
func TestMemcached(t *testing.T) {
	runSuite(t, servertest.StartMemcached(t).Addr)
}

// TestMemcachedCluster runs the suite against three memcached servers, so
// multi-key calls are split across servers and merged.
func TestMemcachedCluster(t *testing.T) {
	runSuite(t, servertest.StartMemcached(t).Addr, servertest.StartMemcached(t).Addr, servertest.StartMemcached(t).Addr)
}
