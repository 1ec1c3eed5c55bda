package server_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// quietPipeline returns n meta commands, mostly quiet, over a few keys so
// that they hit, miss, collide and invalidate one another, with an opaque
// on each; then mn. It uses no flag whose value depends on the clock (t,
// l) and no C with a real CAS.
func quietPipeline(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	key := func() string { return fmt.Sprintf("k%d", rng.IntN(12)) }
	var b bytes.Buffer
	for i := range n {
		q := " q"
		if rng.IntN(8) == 0 {
			q = ""
		}
		o := fmt.Sprintf(" O%d", i)
		k := key()
		switch r := rng.IntN(100); {
		case r < 25:
			v := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(6))
			mode := []string{"", " MS", " ME", " MA", " MP", " MR"}[rng.IntN(6)]
			fl := ""
			if rng.IntN(2) == 0 {
				fl = fmt.Sprintf(" F%d", rng.IntN(100))
			}
			fmt.Fprintf(&b, "ms %s %d%s%s%s%s k\r\n%s\r\n", k, len(v), mode, fl, q, o, v)
		case r < 55:
			flags := []string{" v", " v k", " s f", " v c", " k s v f", " v N0", " h", " v R5"}[rng.IntN(8)]
			fmt.Fprintf(&b, "mg %s%s%s%s\r\n", k, flags, q, o)
		case r < 65:
			inv := []string{"", "", " I", " C1"}[rng.IntN(4)]
			fmt.Fprintf(&b, "md %s%s%s%s k\r\n", k, inv, q, o)
		case r < 80:
			flags := []string{"", " v", " N0 J7 v", " MD D3 v", " N0 J2", " D20 v"}[rng.IntN(6)]
			fmt.Fprintf(&b, "ma c%d%s%s%s\r\n", rng.IntN(3), flags, q, o)
		case r < 85:
			bk := base64.StdEncoding.EncodeToString([]byte{byte(rng.IntN(3)), 0xff, 0})
			fmt.Fprintf(&b, "mg %s b v k%s%s\r\n", bk, q, o)
		case r < 90:
			bk := base64.StdEncoding.EncodeToString([]byte{byte(rng.IntN(3)), 0xff, 0})
			fmt.Fprintf(&b, "ms %s 2 b k%s%s\r\nbb\r\n", bk, q, o)
		case r < 93:
			fmt.Fprintf(&b, "mn\r\n")
		case r < 96:
			fmt.Fprintf(&b, "mg %s zz%s%s\r\n", k, q, o) // an error, answered even with q
		default:
			fmt.Fprintf(&b, "ma %s%s%s\r\n", k, q, o) // often non-numeric
		}
	}
	b.WriteString("mn\r\n")
	return b.Bytes()
}

// runPipeline sends the whole pipeline at once (after flush_all) and
// returns every reply byte up to the final MN.
func runPipeline(t *testing.T, addr string, req []byte) []byte {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, "flush_all\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	if l, err := br.ReadString('\n'); l != "OK\r\n" {
		t.Fatalf("flush_all: %q %v", l, err)
	}
	werr := make(chan error, 1)
	go func() { _, err := nc.Write(req); werr <- err }()
	var out bytes.Buffer
	last := bytes.Count(req, []byte("mn\r\n"))
	for seen := 0; seen < last; {
		l, err := br.ReadBytes('\n')
		out.Write(l)
		if err != nil {
			t.Fatalf("after %d bytes: %v", out.Len(), err)
		}
		if string(l) == "MN\r\n" {
			seen++
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var casFlag = regexp.MustCompile(`( c)\d+`)

// TestMetaQuietPipeline pipelines 1,000 mixed meta commands, most of them
// quiet, to memcached and to memcached-lite, and checks that the replies are
// the same bytes, CAS values aside.
func TestMetaQuietPipeline(t *testing.T) {
	mc := servertest.StartMemcached(t, "-m", "64").Addr
	lite := startServer(t, server.Options{})
	for _, seed := range []uint64{1, 2, 3} {
		req := quietPipeline(seed, 1000)
		want := casFlag.ReplaceAll(runPipeline(t, mc, req), []byte("${1}<cas>"))
		got := casFlag.ReplaceAll(runPipeline(t, lite, req), []byte("${1}<cas>"))
		if !bytes.Equal(got, want) {
			gl, wl := strings.SplitAfter(string(got), "\n"), strings.SplitAfter(string(want), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Fatalf("seed %d: reply line %d differs:\n got %q\nwant %q\n(lines before: %q)", seed, i, gl[i], wl[i], wl[max(0, i-5):i])
				}
			}
			t.Fatalf("seed %d: %d reply lines, memcached %d", seed, len(gl), len(wl))
		}
		if n := bytes.Count(want, []byte("\r\n")); n < 200 {
			t.Fatalf("seed %d: only %d reply lines: the pipeline is too quiet to test much", seed, n)
		}
		t.Logf("seed %d: %d request bytes, %d reply bytes identical", seed, len(req), len(want))
	}
}
