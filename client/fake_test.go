package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
)

// step is one request a fake server expects, byte for byte, and its reply.
type step struct {
	req   string
	reply string
	close bool // close the connection after the reply
	hang  bool // never reply; wait for the client to hang up
}

// fake plays scripted conversations over in-memory pipes, through the
// Client's DialContext hook: the n-th dial of an address plays the n-th
// conversation given for it. A request that differs from the script, or a dial
// with no conversation left, fails the test.
type fake struct {
	t     *testing.T
	mu    sync.Mutex
	convs map[string][][]step
	dials map[string]int
	ends  []net.Conn
	wg    sync.WaitGroup
	done  chan struct{} // one value each time a conversation ends
}

func newFake(t *testing.T, convs map[string][][]step) *fake {
	f := &fake{t: t, convs: convs, dials: map[string]int{}, done: make(chan struct{}, 100)}
	t.Cleanup(func() {
		f.mu.Lock()
		for _, nc := range f.ends {
			_ = nc.Close() // unblock conversations the client left open
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

// fakeClient returns a Client for one fake server "fake:11211" that plays
// convs, with opts otherwise as given.
func fakeClient(t *testing.T, opts client.Options, convs ...[]step) (*client.Client, *fake) {
	t.Helper()
	f := newFake(t, map[string][][]step{"fake:11211": convs})
	opts.DialContext = f.dial
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	c, err := client.NewWithOptions(opts, client.Server{Addr: "fake:11211"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, f
}

func (f *fake) dialCount(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dials[addr]
}

func (f *fake) dial(_ context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.dials[addr]
	f.dials[addr]++
	if network != "tcp" {
		f.t.Errorf("dial network %q, want tcp", network)
	}
	convs, ok := f.convs[addr]
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("fake: no such server")}
	}
	if n >= len(convs) {
		f.t.Errorf("unexpected dial #%d to %s", n+1, addr)
		return nil, errors.New("fake: no conversation left")
	}
	cli, srv := net.Pipe()
	f.ends = append(f.ends, srv)
	f.wg.Go(func() {
		f.play(srv, convs[n])
		f.done <- struct{}{}
	})
	return cli, nil
}

func (f *fake) play(nc net.Conn, steps []step) {
	defer nc.Close()
	for _, s := range steps {
		buf := make([]byte, len(s.req))
		if _, err := io.ReadFull(nc, buf); err != nil {
			f.t.Errorf("fake: waiting for %q: %v (got %q)", s.req, err, buf)
			return
		}
		if string(buf) != s.req {
			f.t.Errorf("fake: request\n got %q\nwant %q", buf, s.req)
			return
		}
		if s.hang {
			_, _ = io.Copy(io.Discard, nc) // until the client gives up
			return
		}
		if s.reply != "" { // noreply sends nothing; net.Pipe would block on an empty write
			if _, err := io.WriteString(nc, s.reply); err != nil {
				return // the client gave up on a bad reply: expected in some tests
			}
		}
		if s.close {
			return
		}
	}
	if extra, _ := io.ReadAll(nc); len(extra) > 0 {
		f.t.Errorf("fake: unscripted request %q", extra)
	}
}

// waitDone waits for n conversations to end.
func (f *fake) waitDone(t *testing.T, n int) {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for range n {
		select {
		case <-f.done:
		case <-timer.C:
			t.Fatal("fake conversation did not end")
		}
	}
}

// conv is a conversation of request/reply pairs.
func conv(pairs ...string) []step {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("conv: odd number of strings: %q", pairs))
	}
	var steps []step
	for i := 0; i < len(pairs); i += 2 {
		steps = append(steps, step{req: pairs[i], reply: pairs[i+1]})
	}
	return steps
}
