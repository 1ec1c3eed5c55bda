package client_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The suite also runs against memcached-lite. The client package imports
// nothing of the project: the server is the real binary, built once from
// ../cmd/memcached-lite and spoken to over TCP like any memcached.
var liteBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
	dir  string
}

func buildLite(t *testing.T) string {
	t.Helper()
	liteBin.once.Do(func() {
		liteBin.dir, liteBin.err = os.MkdirTemp("", "memcached-lite-bin")
		if liteBin.err != nil {
			return
		}
		liteBin.path = filepath.Join(liteBin.dir, "memcached-lite")
		cmd := exec.Command("go", "build", "-o", liteBin.path, "../cmd/memcached-lite")
		liteBin.out, liteBin.err = cmd.CombinedOutput()
	})
	if liteBin.err != nil {
		t.Fatalf("build memcached-lite: %v\n%s", liteBin.err, liteBin.out)
	}
	return liteBin.path
}

// startLite starts memcached-lite on a free loopback port with its own data
// file and returns its address. It is killed when the test ends.
func startLite(t *testing.T) string {
	t.Helper()
	bin := buildLite(t)
	data := filepath.Join(t.TempDir(), "data.db")
	return startDaemon(t, bin, func(addr string) []string {
		_, port, _ := net.SplitHostPort(addr)
		return []string{"server", "-p", port, "-l", "127.0.0.1", "--data", data}
	})
}

// TestMemcachedLite runs the conformance suite against memcached-lite.
func TestMemcachedLite(t *testing.T) {
	runSuite(t, startLite(t))
}

// TestMemcachedLiteCluster runs the suite against three memcached-lite servers.
func TestMemcachedLiteCluster(t *testing.T) {
	runSuite(t, startLite(t), startLite(t), startLite(t))
}
