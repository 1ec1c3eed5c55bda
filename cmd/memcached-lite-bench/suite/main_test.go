package suite

import (
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestMain removes the binary servertest.Binary built for TestSuiteSmoke.
func TestMain(m *testing.M) { servertest.Main(m) }
