package client_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestDoFraming checks, against a scripted server, what Do sends (including
// the version barrier after commands that may not answer) and where it stops
// reading.
func TestDoFraming(t *testing.T) {
	for _, tc := range []struct {
		name, send, wire, reply, want string
	}{
		{"storage", "set k 0 0 2\r\nhi\r\n", "set k 0 0 2\r\nhi\r\n", "STORED\r\n", "STORED\r\n"},
		{"bare newline", "get k\n", "get k\n", "END\r\n", "END\r\n"},
		{"value with END inside", "gets k\r\n", "gets k\r\n",
			"VALUE k 0 5 9\r\nEND\r\n\r\nEND\r\n", "VALUE k 0 5 9\r\nEND\r\n\r\nEND\r\n"},
		{"pipelined", "get a\r\ndelete a\r\nincr n 1\r\n", "get a\r\ndelete a\r\nincr n 1\r\n",
			"END\r\nNOT_FOUND\r\n42\r\n", "END\r\nNOT_FOUND\r\n42\r\n"},
		{"noreply gets a barrier", "set k 0 0 1 noreply\r\nx\r\n", "set k 0 0 1 noreply\r\nx\r\nversion\r\n",
			"VERSION 1.6.18\r\n", ""},
		{"noreply that errs anyway", "stats detail noreply\r\n", "stats detail noreply\r\n",
			"CLIENT_ERROR usage: stats detail on|off|dump\r\n", "CLIENT_ERROR usage: stats detail on|off|dump\r\n"},
		{"noreply then a get", "delete a noreply\r\nget a\r\n", "delete a noreply\r\nversion\r\nget a\r\n",
			"VERSION 1.6.18\r\nEND\r\n", "END\r\n"},
		{"unexpected reply before the barrier", "verbosity noreply\r\n", "verbosity noreply\r\nversion\r\n",
			"ERROR\r\nVERSION 1.6.18\r\n", "ERROR\r\n"},
		{"version noreply answers", "version noreply\r\n", "version noreply\r\n", "VERSION 1.6.18\r\n",
			"VERSION 1.6.18\r\n"},
		{"stats", "stats\r\n", "stats\r\n", "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n", "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n"},
		{"stats reset", "stats reset\r\n", "stats reset\r\n", "RESET\r\n", "RESET\r\n"},
		{"stats detail on", "stats detail on\r\n", "stats detail on\r\n", "OK\r\n", "OK\r\n"},
		{"stats cachedump", "stats cachedump 1 2\r\n", "stats cachedump 1 2\r\n",
			"ITEM a [1 b; 0 s]\r\nEND\r\n", "ITEM a [1 b; 0 s]\r\nEND\r\n"},
		{"metadump", "lru_crawler metadump all\r\n", "lru_crawler metadump all\r\n",
			"key=a exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\nEND\r\n",
			"key=a exp=-1 la=1 cas=2 fetch=no cls=1 size=63\r\nEND\r\n"},
		{"meta get", "mg k v f\r\n", "mg k v f\r\n", "VA 2 f5\r\nhi\r\n", "VA 2 f5\r\nhi\r\n"},
		{"meta set", "ms k 2 T0\r\nhi\r\n", "ms k 2 T0\r\nhi\r\n", "HD\r\n", "HD\r\n"},
		{"meta quiet", "mg a v q\r\nmg b v q\r\nmn\r\n", "mg a v q\r\nversion\r\nmg b v q\r\nversion\r\nmn\r\n",
			"VERSION 1.6.18\r\nVA 1\r\nb\r\nVERSION 1.6.18\r\nMN\r\n", "VA 1\r\nb\r\nMN\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeClient(t, client.Options{}, conv(tc.wire, tc.reply))
			got, err := c.Do("fake:11211", []byte(tc.send))
			if err != nil || string(got) != tc.want {
				t.Errorf("Do %q:\n got %q, %v\nwant %q", tc.send, got, err, tc.want)
			}
		})
	}
}

func TestDoConnectionReuse(t *testing.T) {
	c, f := fakeClient(t, client.Options{},
		conv("version\r\n", "VERSION 1\r\n", "quit\r\n", ""),
		conv("bogus\r\n", "ERROR\r\n"),
		conv("version\r\n", "VERSION 1\r\n"))
	for _, tc := range []struct{ send, want string }{
		{"version\r\n", "VERSION 1\r\n"},
		{"quit\r\n", ""},                 // the server hangs up: a new connection follows
		{"bogus\r\n", "ERROR\r\n"},       // an error reply: the connection is not reused
		{"version\r\n", "VERSION 1\r\n"}, // on the third connection
	} {
		if got, err := c.Do("fake:11211", []byte(tc.send)); err != nil || string(got) != tc.want {
			t.Errorf("Do %q = %q, %v; want %q", tc.send, got, err, tc.want)
		}
	}
	if n := f.dialCount("fake:11211"); n != 3 {
		t.Errorf("%d dials, want 3", n)
	}
}

func TestDoRejects(t *testing.T) {
	c, f := fakeClient(t, client.Options{})
	for _, req := range []string{"", "get k", "get k\r\nget j", "set k 0 0 5\r\nabc\r\n"} {
		if _, err := c.Do("fake:11211", []byte(req)); err == nil {
			t.Errorf("Do %q: no error", req)
		}
	}
	if _, err := c.Do("other:11211", []byte("version\r\n")); !errors.Is(err, client.ErrUnknownServer) {
		t.Errorf("Do to an unknown server: %v, want ErrUnknownServer", err)
	}
	if n := f.dialCount("fake:11211"); n != 0 {
		t.Errorf("%d dials for rejected requests, want 0", n)
	}
}

// TestDoMemcached runs raw text and meta commands against a real memcached
// and checks that the trace holds exactly the bytes sent (with the barriers)
// and received (with the barriers' VERSION lines).
func TestDoMemcached(t *testing.T) {
	addr := servertest.StartMemcached(t).Addr
	var mu sync.Mutex
	var sent, received bytes.Buffer
	c, err := client.NewWithOptions(client.Options{
		Trace: func(_ string, dir client.Direction, p []byte) {
			mu.Lock()
			defer mu.Unlock()
			if dir == client.Sent {
				sent.Write(p)
			} else {
				received.Write(p)
			}
		},
	}, client.Server{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const barrier = "version\r\n"
	for _, tc := range []struct{ send, wire, want string }{
		{"ms mk 2 T0 F5\r\nhi\r\n", "", "HD\r\n"},
		{"mg mk v f\r\n", "", "VA 2 f5\r\nhi\r\n"},
		{"mg mk s v t\r\n", "", "VA 2 s2 t-1\r\nhi\r\n"},
		{"mg none v\r\n", "", "EN\r\n"},
		{"mg none v q\r\nmg mk v q\r\nmn\r\n", "mg none v q\r\n" + barrier + "mg mk v q\r\n" + barrier + "mn\r\n",
			"VA 2\r\nhi\r\nMN\r\n"},
		{"ma cnt N0 J10 v\r\n", "", "VA 2\r\n10\r\n"},
		{"md mk q\r\nmg mk v\r\n", "md mk q\r\n" + barrier + "mg mk v\r\n", "EN\r\n"},
		{"set t 0 0 1\r\nx\r\nverbosity noreply\r\nget t\r\n",
			"set t 0 0 1\r\nx\r\nverbosity noreply\r\n" + barrier + "get t\r\n",
			"STORED\r\nVALUE t 0 1\r\nx\r\nEND\r\n"},
		{"stats noreply\r\n", "", "ERROR\r\n"},
		{"set k 0 0 abc\r\nhi\r\n", "", "CLIENT_ERROR bad command line format\r\nERROR\r\n"},
		{"quit\r\n", "", ""},
		{"get t\r\n", "", "VALUE t 0 1\r\nx\r\nEND\r\n"},
	} {
		mu.Lock()
		sent.Reset()
		received.Reset()
		mu.Unlock()
		got, err := c.Do(addr, []byte(tc.send))
		if err != nil || string(got) != tc.want {
			t.Errorf("Do %q:\n got %q, %v\nwant %q", tc.send, got, err, tc.want)
		}
		if tc.wire == "" {
			tc.wire = tc.send
		}
		mu.Lock()
		var lines []string // received without the barriers' replies
		for _, l := range strings.SplitAfter(received.String(), "\r\n") {
			if !strings.HasPrefix(l, "VERSION ") {
				lines = append(lines, l)
			}
		}
		barriers := strings.Count(tc.wire, barrier)
		if sent.String() != tc.wire || strings.Join(lines, "") != string(got) ||
			strings.Count(received.String(), "VERSION ") != barriers {
			t.Errorf("Do %q: traced\n sent %q\n received %q\nwant sent %q and the reply plus %d VERSION lines",
				tc.send, sent.String(), received.String(), tc.wire, barriers)
		}
		mu.Unlock()
	}
	got, err := c.Do(addr, []byte("version noreply\r\n")) // memcached answers it
	if err != nil || !strings.HasPrefix(string(got), "VERSION 1.") {
		t.Errorf("Do version noreply = %q, %v", got, err)
	}
	if err := c.FlushAll(3600); err != nil { // delayed: the item stays for now
		t.Fatal(err)
	}
	if it, err := c.Get("t"); err != nil || string(it.Value) != "x" {
		t.Errorf("Get after FlushAll(3600) = %v, %v; want x", it, err)
	}
}
