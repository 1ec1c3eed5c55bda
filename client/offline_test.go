package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestWireFormat checks the exact bytes each method sends and how it reads
// the reply, against a scripted server.
func TestWireFormat(t *testing.T) {
	item := &client.Item{Key: "k", Value: []byte("hi"), Flags: 7, Expiration: 60, CAS: 99}
	for _, tc := range []struct {
		name  string
		steps []step
		call  func(c *client.Client) (any, error)
		want  any
		err   error
	}{
		{"set", conv("set k 7 60 2\r\nhi\r\n", "STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Set(item) }, nil, nil},
		{"add not stored", conv("add k 7 60 2\r\nhi\r\n", "NOT_STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Add(item) }, nil, client.ErrNotStored},
		{"replace", conv("replace k 7 60 2\r\nhi\r\n", "STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Replace(item) }, nil, nil},
		{"append", conv("append k 7 60 2\r\nhi\r\n", "STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Append(item) }, nil, nil},
		{"prepend", conv("prepend k 7 60 2\r\nhi\r\n", "NOT_STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Prepend(item) }, nil, client.ErrNotStored},
		{"cas exists", conv("cas k 7 60 2 99\r\nhi\r\n", "EXISTS\r\n"),
			func(c *client.Client) (any, error) { return nil, c.CompareAndSwap(item) }, nil, client.ErrCASConflict},
		{"cas not found", conv("cas k 7 60 2 99\r\nhi\r\n", "NOT_FOUND\r\n"),
			func(c *client.Client) (any, error) { return nil, c.CompareAndSwap(item) }, nil, client.ErrCacheMiss},
		{"set negative expiration, empty value", conv("set e 0 -1 0\r\n\r\n", "STORED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Set(&client.Item{Key: "e", Expiration: -1}) }, nil, nil},
		{"noreply set then get", conv("set k 7 60 2 noreply\r\nhi\r\n", "", "get k\r\n", "END\r\n"),
			func(c *client.Client) (any, error) {
				if err := c.NoReply().Set(item); err != nil {
					return nil, err
				}
				return c.Get("k")
			}, (*client.Item)(nil), client.ErrCacheMiss},
		{"noreply cas", conv("cas k 7 60 2 99 noreply\r\nhi\r\n", ""),
			func(c *client.Client) (any, error) { return nil, c.NoReply().CompareAndSwap(item) }, nil, nil},
		{"noreply delete incr decr touch", conv("delete k noreply\r\n", "", "incr k 5 noreply\r\n", "",
			"decr k 6 noreply\r\n", "", "touch k 30 noreply\r\n", ""),
			func(c *client.Client) (any, error) {
				nr := c.NoReply()
				return nil, errors.Join(nr.Delete("k"), nr.Increment("k", 5), nr.Decrement("k", 6), nr.Touch("k", 30))
			}, nil, nil},
		{"get", conv("get k\r\n", "VALUE k 7 2\r\nhi\r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.Get("k") },
			&client.Item{Key: "k", Value: []byte("hi"), Flags: 7}, nil},
		{"gets", conv("gets k\r\n", "VALUE k 7 2 18446744073709551615\r\nhi\r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.Gets("k") },
			&client.Item{Key: "k", Value: []byte("hi"), Flags: 7, CAS: 1<<64 - 1}, nil},
		{"gat", conv("gat 100 k\r\n", "VALUE k 4294967295 0\r\n\r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.GetAndTouch("k", 100) },
			&client.Item{Key: "k", Value: []byte{}, Flags: 1<<32 - 1}, nil},
		{"gats", conv("gats -1 k\r\n", "VALUE k 0 1 5\r\nx\r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.GetsAndTouch("k", -1) },
			&client.Item{Key: "k", Value: []byte("x"), CAS: 5}, nil},
		{"get multi dedupes", conv("get a b\r\n", "VALUE b 0 1\r\n2\r\nVALUE a 0 1\r\n1\r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.GetMulti([]string{"a", "b", "a"}) },
			map[string]*client.Item{"a": {Key: "a", Value: []byte("1")}, "b": {Key: "b", Value: []byte("2")}}, nil},
		{"delete", conv("delete k\r\n", "DELETED\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Delete("k") }, nil, nil},
		{"touch miss", conv("touch k 0\r\n", "NOT_FOUND\r\n"),
			func(c *client.Client) (any, error) { return nil, c.Touch("k", 0) }, nil, client.ErrCacheMiss},
		{"incr", conv("incr k 18446744073709551615\r\n", "18446744073709551615\r\n"),
			func(c *client.Client) (any, error) { return c.Increment("k", 1<<64-1) }, uint64(1<<64 - 1), nil},
		{"decr miss", conv("decr k 1\r\n", "NOT_FOUND\r\n"),
			func(c *client.Client) (any, error) { return c.Decrement("k", 1) }, uint64(0), client.ErrCacheMiss},
		{"flush_all", conv("flush_all\r\n", "OK\r\n", "flush_all 3600\r\n", "OK\r\n", "flush_all noreply\r\n", ""),
			func(c *client.Client) (any, error) {
				return nil, errors.Join(c.FlushAll(0), c.FlushAll(3600), c.NoReply().FlushAll(0))
			}, nil, nil},
		{"verbosity", conv("verbosity 1\r\n", "OK\r\n", "verbosity 0 noreply\r\n", ""),
			func(c *client.Client) (any, error) { return nil, errors.Join(c.Verbosity(1), c.NoReply().Verbosity(0)) },
			nil, nil},
		{"version", conv("version\r\n", "VERSION 1.6.18\r\n"),
			func(c *client.Client) (any, error) { return c.Version() }, map[string]string{"fake:11211": "1.6.18"}, nil},
		{"stats settings", conv("stats settings\r\n", "STAT maxbytes 67108864\r\nSTAT inter NULL\r\nSTAT empty \r\nEND\r\n"),
			func(c *client.Client) (any, error) { return c.Stats("settings") },
			map[string]map[string]string{"fake:11211": {"maxbytes": "67108864", "inter": "NULL", "empty": ""}}, nil},
		{"stats reset", conv("stats reset\r\n", "RESET\r\n"),
			func(c *client.Client) (any, error) { return c.Stats("reset") },
			map[string]map[string]string{"fake:11211": {}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := fakeClient(t, client.Options{}, tc.steps)
			got, err := tc.call(c)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v\nwant %#v", got, tc.want)
			}
			if n := f.dialCount("fake:11211"); n != 1 {
				t.Errorf("%d dials, want 1 (one pooled connection)", n)
			}
		})
	}
}

// TestBadReplies feeds replies that break the protocol. Each must fail the
// call, and the connection must be closed: the next call dials again.
func TestBadReplies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gets  bool
		reply string
		msg   string // exact error text; "" to skip
		is    error
	}{
		{name: "value not followed by crlf", reply: "VALUE k 0 2\r\nhiXXEND\r\n",
			msg: `client: bad reply from fake:11211: value of 2 bytes not followed by \r\n`},
		{name: "value over MaxValueSize", reply: "VALUE k 0 17\r\n" + strings.Repeat("x", 17) + "\r\nEND\r\n",
			msg: "client: bad reply from fake:11211: value of 17 bytes is over MaxValueSize (16)"},
		{name: "length over 2^31", reply: "VALUE k 0 4294967296\r\n",
			msg: `client: bad reply from fake:11211: bad flags or length in VALUE line for "k"`},
		{name: "negative flags", reply: "VALUE k -1 1\r\nx\r\nEND\r\n",
			msg: `client: bad reply from fake:11211: bad flags or length in VALUE line for "k"`},
		{name: "bare newline", reply: "END\n",
			msg: `client: bad reply from fake:11211: line "END\n" does not end in \r\n`},
		{name: "key not asked for", reply: "VALUE other 0 1\r\nx\r\nEND\r\n",
			msg: `client: bad reply from fake:11211: VALUE for key "other", which was not asked for`},
		{name: "cas in get reply", reply: "VALUE k 0 1 5\r\nx\r\nEND\r\n",
			msg: "client: bad reply from fake:11211: malformed VALUE line for get"},
		{name: "no cas in gets reply", gets: true, reply: "VALUE k 0 1\r\nx\r\nEND\r\n",
			msg: "client: bad reply from fake:11211: malformed VALUE line for gets"},
		{name: "double space", reply: "VALUE k  0 1\r\nx\r\nEND\r\n",
			msg: "client: bad reply from fake:11211: malformed VALUE line for get"},
		{name: "line too long", reply: strings.Repeat("x", 5000) + "\r\n",
			msg: "client: bad reply from fake:11211: line longer than 4096 bytes"},
		{name: "unknown reply", reply: "HELLO\r\n",
			msg: `client: bad reply from fake:11211: unexpected reply "HELLO" to get`},
		{name: "ERROR", reply: "ERROR\r\n", is: client.ErrUnknownCommand},
		{name: "SERVER_ERROR", reply: "SERVER_ERROR out of memory\r\n",
			msg: "client: server replied SERVER_ERROR out of memory"},
		{name: "CLIENT_ERROR", reply: "CLIENT_ERROR bad command line format\r\n",
			msg: "client: server replied CLIENT_ERROR bad command line format"},
		{name: "connection closed", reply: "", is: io.ErrUnexpectedEOF,
			msg: "client: get fake:11211: unexpected EOF"},
		{name: "truncated value", reply: "VALUE k 0 5\r\nab", is: io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verb := "get"
			if tc.gets {
				verb = "gets"
			}
			first := []step{{req: verb + " k\r\n", reply: tc.reply, close: true}}
			c, f := fakeClient(t, client.Options{MaxValueSize: 16}, first, conv(verb+" k\r\n", "END\r\n"))
			get := c.Get
			if tc.gets {
				get = c.Gets
			}
			it, err := get("k")
			if err == nil || errors.Is(err, client.ErrCacheMiss) || it != nil {
				t.Fatalf("reply %q: got %v, %v; want an error", tc.reply, it, err)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("reply %q: error\n got %q\nwant %q", tc.reply, err.Error(), tc.msg)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("reply %q: err = %v, want errors.Is %v", tc.reply, err, tc.is)
			}
			if _, err := get("k"); !errors.Is(err, client.ErrCacheMiss) {
				t.Fatalf("second get: %v, want ErrCacheMiss from a new connection", err)
			}
			if n := f.dialCount("fake:11211"); n != 2 {
				t.Errorf("%d dials, want 2: the connection with the bad reply must not be reused", n)
			}
		})
	}
}

func TestErrorReplyTypes(t *testing.T) {
	c, _ := fakeClient(t, client.Options{},
		conv("incr k 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"),
		conv("set k 0 0 1\r\nx\r\n", "SERVER_ERROR object too large for cache\r\n"))
	_, err := c.Increment("k", 1)
	var ce *client.ClientError
	if !errors.As(err, &ce) || ce.Msg != "cannot increment or decrement non-numeric value" {
		t.Errorf("Increment: err = %#v, want *ClientError", err)
	}
	err = c.Set(&client.Item{Key: "k", Value: []byte("x")})
	var se *client.ServerError
	if !errors.As(err, &se) || se.Msg != "object too large for cache" {
		t.Errorf("Set: err = %#v, want *ServerError", err)
	}
}

func TestTimeout(t *testing.T) {
	c, _ := fakeClient(t, client.Options{Timeout: 100 * time.Millisecond}, []step{{req: "get k\r\n", hang: true}})
	start := time.Now()
	_, err := c.Get("k")
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Get took %v with a 100ms timeout", d)
	}
}

func TestPoolReusesConnection(t *testing.T) {
	c, f := fakeClient(t, client.Options{},
		conv("get a\r\n", "END\r\n", "set b 0 0 1\r\nx\r\n", "NOT_STORED\r\n", "get c\r\n", "END\r\n"))
	_, err1 := c.Get("a")
	err2 := c.Set(&client.Item{Key: "b", Value: []byte("x")})
	_, err3 := c.Get("c")
	if !errors.Is(err1, client.ErrCacheMiss) || !errors.Is(err2, client.ErrNotStored) || !errors.Is(err3, client.ErrCacheMiss) {
		t.Fatalf("errors %v, %v, %v", err1, err2, err3)
	}
	if n := f.dialCount("fake:11211"); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

func TestNoIdleConns(t *testing.T) {
	c, f := fakeClient(t, client.Options{MaxIdleConns: -1}, conv("get a\r\n", "END\r\n"), conv("get b\r\n", "END\r\n"))
	for _, k := range []string{"a", "b"} {
		if _, err := c.Get(k); !errors.Is(err, client.ErrCacheMiss) {
			t.Fatal(err)
		}
	}
	if n := f.dialCount("fake:11211"); n != 2 {
		t.Errorf("%d dials, want 2", n)
	}
}

// TestIdleConnClosedByServer: a pooled connection the server has closed (an
// idle timeout, a restart) is dropped before use, not failed on.
func TestIdleConnClosedByServer(t *testing.T) {
	closing := []step{{req: "get a\r\n", reply: "END\r\n", close: true}}
	c, f := fakeClient(t, client.Options{}, closing, conv("get b\r\n", "END\r\n"))
	if _, err := c.Get("a"); !errors.Is(err, client.ErrCacheMiss) {
		t.Fatal(err)
	}
	f.waitDone(t, 1) // the server side has closed the pooled connection
	if _, err := c.Get("b"); !errors.Is(err, client.ErrCacheMiss) {
		t.Fatalf("Get after the server closed the idle connection: %v", err)
	}
}

// TestMalformedKeysNoIO: bad keys are refused before any dial or byte.
func TestMalformedKeysNoIO(t *testing.T) {
	c, f := fakeClient(t, client.Options{
		Trace: func(addr string, dir client.Direction, p []byte) { t.Errorf("traffic %v %q", dir, p) },
	})
	for _, key := range badKeys {
		for i, err := range callsWithKey(c, key) {
			if !errors.Is(err, client.ErrMalformedKey) {
				t.Errorf("key %q, call %d: err = %v, want ErrMalformedKey", key, i, err)
			}
		}
	}
	if n := f.dialCount("fake:11211"); n != 0 {
		t.Errorf("%d dials for malformed keys, want 0", n)
	}
}

func TestTrace(t *testing.T) {
	type event struct {
		addr, dir, data string
	}
	var events []event
	c, _ := fakeClient(t, client.Options{
		Trace: func(addr string, dir client.Direction, p []byte) {
			events = append(events, event{addr, dir.String(), string(p)})
		},
	}, conv("set k 1 0 2\r\nhi\r\n", "STORED\r\n", "get k\r\n", "VALUE k 1 2\r\nhi\r\nEND\r\n"))
	if err := c.Set(&client.Item{Key: "k", Value: []byte("hi"), Flags: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("k"); err != nil {
		t.Fatal(err)
	}
	want := []event{
		{"fake:11211", ">>", "set k 1 0 2\r\nhi\r\n"},
		{"fake:11211", "<<", "STORED\r\n"},
		{"fake:11211", ">>", "get k\r\n"},
		{"fake:11211", "<<", "VALUE k 1 2\r\n"},
		{"fake:11211", "<<", "hi\r\n"},
		{"fake:11211", "<<", "END\r\n"},
	}
	if !reflect.DeepEqual(events, want) {
		t.Errorf("trace\n got %q\nwant %q", events, want)
	}
}

// TestConnectRefused: a refused dial reads "cannot connect to ADDR: connection
// refused", for people, and unwraps to the syscall error.
func TestConnectRefused(t *testing.T) {
	addr := servertest.FreeAddr(t) // nothing listens there now
	c := client.New(addr)
	defer c.Close()
	_, err := c.Get("k")
	want := "cannot connect to " + addr + ": connection refused"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want prefix %q", err, want)
	}
	if err.Error() != want {
		t.Errorf("err = %q, want exactly %q", err, want)
	}
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Addr != addr || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("err = %#v, want *ConnectError for %s wrapping ECONNREFUSED", err, addr)
	}
}

func TestConnectErrorFromHook(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("tls: handshake failure"), "cannot connect to db:11211: tls: handshake failure"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "db"}},
			"cannot connect to db:11211: no such host"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, "cannot connect to db:11211: i/o timeout"},
	} {
		c, err := client.NewWithOptions(client.Options{
			DialContext: func(_ context.Context, _, _ string) (net.Conn, error) { return nil, tc.err },
		}, client.Server{Addr: "db:11211"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get("k"); err == nil || err.Error() != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("dial error %v: got %v, want %q", tc.err, err, tc.want)
		}
	}
}

func TestConstructors(t *testing.T) {
	if _, err := client.New().Get("k"); !errors.Is(err, client.ErrNoServers) {
		t.Errorf("New(): Get err = %v, want ErrNoServers", err)
	}
	if _, err := client.NewWithOptions(client.Options{}); !errors.Is(err, client.ErrNoServers) {
		t.Errorf("NewWithOptions(): err = %v, want ErrNoServers", err)
	}
	for _, servers := range [][]client.Server{
		{{Addr: "localhost"}},
		{{Addr: "localhost:0"}},
		{{Addr: "localhost:99999"}},
		{{Addr: ":11211"}},
		{{Addr: "a:1", Weight: -1}},
		{{Addr: "a:1"}, {Addr: "a:1"}},
		{{Addr: "a:1", Name: "x"}, {Addr: "b:1", Name: "x"}},
		{{Addr: "a:11211"}, {Addr: "a:11211", Name: "b"}},
	} {
		if c, err := client.NewWithOptions(client.Options{}, servers...); err == nil {
			t.Errorf("NewWithOptions(%+v) = %v, want an error", servers, c)
		}
	}
	broken := client.New("no-port")
	_, err1 := broken.Get("k")
	_, err2 := broken.Do("no-port", []byte("version\r\n"))
	if err1 == nil || err2 == nil || err1.Error() != `client: server address "no-port": address no-port: missing port in address` {
		t.Errorf("New(bad address): Get err = %v, Do err = %v", err1, err2)
	}
	c := client.New("127.0.0.1:1", "[::1]:2", "/tmp/mc.sock")
	if got := c.Servers(); !reflect.DeepEqual(got, []string{"127.0.0.1:1", "[::1]:2", "/tmp/mc.sock"}) {
		t.Errorf("Servers() = %q", got)
	}
}

func TestClose(t *testing.T) {
	c, f := fakeClient(t, client.Options{}, conv("get a\r\n", "END\r\n"))
	if _, err := c.Get("a"); !errors.Is(err, client.ErrCacheMiss) {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f.waitDone(t, 1) // the pooled connection was closed
	if _, err := c.Get("a"); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Do("fake:11211", []byte("version\r\n")); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Do after Close: %v, want ErrClosed", err)
	}
}

// TestGetMultiPartial: one server down, the others' items still come back.
func TestGetMultiPartial(t *testing.T) {
	servers := []client.Server{{Addr: "up:1"}, {Addr: "down:1"}}
	probe, err := client.NewWithOptions(client.Options{}, servers...)
	if err != nil {
		t.Fatal(err)
	}
	var keys, upKeys []string
	for i := 0; len(upKeys) < 3 || len(keys)-len(upKeys) < 3; i++ {
		k := "k" + strconv.Itoa(i)
		keys = append(keys, k)
		if owner, _ := probe.ServerFor(k); owner == "up:1" {
			upKeys = append(upKeys, k)
		}
	}
	reply := ""
	for _, k := range upKeys {
		reply += "VALUE " + k + " 0 1\r\nv\r\n"
	}
	f := newFake(t, map[string][][]step{"up:1": {conv("get "+strings.Join(upKeys, " ")+"\r\n", reply+"END\r\n")}})
	c, err := client.NewWithOptions(client.Options{DialContext: f.dial}, servers...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	items, err := c.GetMulti(keys)
	var ce *client.ConnectError
	if !errors.As(err, &ce) || ce.Addr != "down:1" {
		t.Errorf("err = %v, want a ConnectError for down:1", err)
	}
	if len(items) != len(upKeys) {
		t.Errorf("%d items, want the %d from up:1", len(items), len(upKeys))
	}
}

func TestDirectionString(t *testing.T) {
	if client.Sent.String() != ">>" || client.Received.String() != "<<" || client.Direction(9).String() != "Direction(9)" {
		t.Errorf("Direction strings: %v %v %v", client.Sent, client.Received, client.Direction(9))
	}
}

// TestIdleTCPConnClosedByServer is TestIdleConnClosedByServer over a real
// loopback socket: the check must look at the socket itself.
func TestIdleTCPConnClosedByServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{}, 2)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				buf := make([]byte, len("get a\r\n"))
				if _, err := io.ReadFull(nc, buf); err == nil {
					_, _ = nc.Write([]byte("END\r\n"))
				}
				_ = nc.Close() // one request per connection, like a server with a short idle timeout
				closed <- struct{}{}
			})
		}
	})
	c := client.New(ln.Addr().String())
	defer c.Close()
	for i := range 3 {
		if _, err := c.Get("a"); !errors.Is(err, client.ErrCacheMiss) {
			t.Fatalf("Get #%d: %v, want ErrCacheMiss on a fresh connection", i+1, err)
		}
		<-closed // the server has closed the connection the client pooled
	}
}

// TestGetMultiUnaskedKey: with many keys too, a VALUE for a key not asked
// for is a bad reply.
func TestGetMultiUnaskedKey(t *testing.T) {
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"}
	c, _ := fakeClient(t, client.Options{},
		[]step{{req: "get " + strings.Join(keys, " ") + "\r\n", reply: "VALUE k9 0 1\r\nx\r\nVALUE kX 0 1\r\ny\r\nEND\r\n", close: true}})
	items, err := c.GetMulti(keys)
	want := `client: bad reply from fake:11211: VALUE for key "kX", which was not asked for`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if len(items) != 1 || string(items["k9"].Value) != "x" {
		t.Errorf("items = %v, want only k9 (read before the bad line)", items)
	}
}
