package client_test

import "testing"

// TestMemcached runs the conformance suite against one real memcached.
func TestMemcached(t *testing.T) {
	runSuite(t, startMemcached(t))
}

// TestMemcachedCluster runs the suite against three memcached servers, so
// multi-key calls are split across servers and merged.
func TestMemcachedCluster(t *testing.T) {
	runSuite(t, startMemcached(t), startMemcached(t), startMemcached(t))
}
