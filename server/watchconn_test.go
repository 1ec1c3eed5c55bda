package server_test

import (
	"bufio"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestWatchConnEvents: a connection's conn_new and conn_close lines are
// memcached's, byte for byte but for the masked numbers. (Not a transcript:
// memcached reports an earlier connection's close whenever it gets to it,
// so the test keeps only the lines of the connection it makes.)
func TestWatchConnEvents(t *testing.T) {
	mc := servertest.StartMemcached(t)
	lite := startServer(t, server.Options{})
	want := connEvents(t, mc.Addr)
	if got := connEvents(t, lite); got != want {
		t.Errorf("connevents lines:\n got %q\nwant %q (memcached)", got, want)
	}
}

var connEventRE = regexp.MustCompile(`^ts=\d+\.\d+ gid=\d+ type=(conn_new|conn_close) rip=127\.0\.0\.1 rport=(\d+) `)

// connEvents watches connevents, opens and closes one connection, and
// returns the watcher's lines about it, with ts, gid, rport and cfd masked.
func connEvents(t *testing.T, addr string) string {
	w := dial(t, addr)
	roundTrip(t, w, "watch connevents\r\n", "OK\r\n")
	c := dial(t, addr)
	roundTrip(t, c, "version\r\n", "")
	port := strconv.Itoa(c.LocalAddr().(*net.TCPAddr).Port)
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wr := bufio.NewReader(w)
	var got []string
	for len(got) < 2 {
		w.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := wr.ReadString('\n')
		if err != nil {
			t.Fatalf("watch: %v after %q", err, got)
		}
		if m := connEventRE.FindStringSubmatch(line); m != nil && m[2] == port {
			got = append(got, maskNumbers(line))
		}
	}
	return strings.Join(got, "")
}

var numberRE = regexp.MustCompile(`=\d+(\.\d+)?`)

func maskNumbers(s string) string { return numberRE.ReplaceAllString(s, "=N") }
