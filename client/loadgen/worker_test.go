package loadgen

import (
	"bufio"
	"io"
	"testing"
)

func TestKeySpace(t *testing.T) {
	ks := newKeySpace("p:", 1000, 3)
	for _, tc := range []struct {
		i                 int
		key, get, setHead string
	}{
		{0, "p:000", "get p:000\r\n", "set p:000 0 0 3\r\n"},
		{7, "p:007", "get p:007\r\n", "set p:007 0 0 3\r\n"},
		{999, "p:999", "get p:999\r\n", "set p:999 0 0 3\r\n"},
	} {
		if got := string(ks.key(tc.i)); got != tc.key {
			t.Errorf("key(%d) = %q, want %q", tc.i, got, tc.key)
		}
		if got := string(ks.getLine(tc.i)); got != tc.get {
			t.Errorf("getLine(%d) = %q, want %q", tc.i, got, tc.get)
		}
		if got := string(ks.setHeader(tc.i)); got != tc.setHead {
			t.Errorf("setHeader(%d) = %q, want %q", tc.i, got, tc.setHead)
		}
	}
	if got, want := string(ks.value), "abc\r\n"; got != want {
		t.Errorf("value = %q, want %q", got, want)
	}
	if got := string(newKeySpace("k", 1, 0).getLine(0)); got != "get k0\r\n" {
		t.Errorf("one key: getLine(0) = %q, want %q", got, "get k0\r\n")
	}
}

func TestWriteRequestDoesNotAllocate(t *testing.T) {
	ks := newKeySpace("bench:", 10000, 100)
	w := &worker{ks: ks, bw: bufio.NewWriterSize(io.Discard, 4096)}
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		w.write(reqGet, i%ks.n)
		w.write(reqSet, (i*7)%ks.n)
		i++
	})
	if n != 0 {
		t.Errorf("writing a get and a set allocates %v times, want 0", n)
	}
}
