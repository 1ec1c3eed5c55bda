package repl_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// announcingWriter keeps what is written and closes ready once "watching"
// has been: the REPL's watch connection is then registered.
type announcingWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	once  sync.Once
	ready chan struct{}
}

func (w *announcingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte("watching ")) {
		w.once.Do(func() { close(w.ready) })
	}
	return len(p), nil
}

func (w *announcingWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// clockRE matches the event times watch prints.
var clockRE = regexp.MustCompile(`\d\d:\d\d:\d\d\.\d{6}`)

// TestREPLWatchGolden runs watch in the REPL while another client writes,
// and compares the output with testdata/watch.golden (times as
// HH:MM:SS.micro). -update rewrites it.
func TestREPLWatchGolden(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	script := "watch bogus\nwatch count=0\nwatch fetchers mutations count=5\nversion\n"
	out := &announcingWriter{ready: make(chan struct{})}
	var stderr bytes.Buffer
	r, err := repl.New(repl.Config{Servers: []string{addr}, In: strings.NewReader(script), Out: out, Err: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	code := make(chan int, 1)
	go func() { code <- r.Run() }()
	select {
	case <-out.ready:
	case <-time.After(5 * time.Second):
		t.Fatalf("watch did not start; output so far:\n%s", out.String())
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	const send = "set greeting 0 0 5\r\nhello\r\nget greeting nope\r\nset odd%20key 0 100 1\r\nx\r\n"
	const want = "STORED\r\nVALUE greeting 0 5\r\nhello\r\nEND\r\nSTORED\r\n"
	io.WriteString(c, send)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("writes: got %q (%v)", got, err)
	}
	var status int
	select {
	case status = <-code:
	case <-time.After(5 * time.Second):
		t.Fatalf("watch count=5 did not end; output so far:\n%s", out.String())
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	gotOut := transcript(addr, clockRE.ReplaceAllString(out.String(), "HH:MM:SS.micro"), stderr.String(), status)
	path := filepath.Join("testdata", "watch.golden")
	if *update {
		if err := os.WriteFile(path, []byte(gotOut), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	compareGolden(t, path, gotOut)
}
