package repl_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// The REPL is tested against the real memcached-lite binary, started with
// server/servertest, which also runs the REPL itself for the tests of its
// pipe and terminal modes. The repl package imports nothing of the server:
// only its external tests do.

func TestMain(m *testing.M) { servertest.Main(m) }

// syncBuffer collects output written by another goroutine or process and
// lets a test wait, without sleeping, until some text appears.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // gets a value after each write, if none is waiting
	read    int           // bytes of buf already consumed by waitFor
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until want appears after the text consumed by earlier
// calls, consumes up to its end and returns what came before it. It fails
// when closed is closed (the writer is gone) and want has not come, or
// after limit.
func (b *syncBuffer) waitFor(want string, closed <-chan struct{}, limit time.Duration) (string, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for gone := false; ; {
		b.mu.Lock()
		rest := b.buf.String()[b.read:]
		if i := strings.Index(rest, want); i >= 0 {
			b.read += i + len(want)
			b.mu.Unlock()
			return rest[:i], nil
		}
		b.mu.Unlock()
		if gone {
			return "", fmt.Errorf("%q never came (the writer is gone); got %q", want, rest)
		}
		select {
		case <-b.changed:
		case <-closed:
			gone = true // every write came before: look once more
		case <-deadline.C:
			return "", fmt.Errorf("%q did not come within %v; got %q", want, limit, rest)
		}
	}
}
