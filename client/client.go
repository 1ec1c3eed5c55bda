// Package client is a client for the memcached text protocol.
//
// A Client talks to one or more servers. Keys are spread over the servers with
// ketama consistent hashing that places every key exactly where twemproxy
// (hash: md5, distribution: ketama) and libmemcached's weighted ketama place it,
// so a Client can share a pool of servers with those tools.
//
// Every method is safe for concurrent use. Each server has its own pool of idle
// connections; a connection that saw an I/O error or a reply it could not make
// sense of is closed, never reused. Every request runs under a deadline.
//
// Outcomes the protocol defines are sentinel errors (ErrCacheMiss, ErrNotStored,
// ErrCASConflict, ...); error replies from the server are *ServerError
// (SERVER_ERROR), *ClientError (CLIENT_ERROR) or ErrUnknownCommand (ERROR); a
// failed dial is a *ConnectError whose message is meant for people. Test with
// errors.Is and errors.As.
//
// Client.NoReply gives the same commands with memcached's "noreply" flag.
// Client.Do sends raw protocol bytes to one server and returns the raw reply,
// and Options.Trace sees every byte sent and received: together they let a
// tool show the protocol as it happens.
//
// The package speaks only the protocol: it knows nothing of any one server.
package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Sentinel errors. Calls return them (or errors wrapping them) for the protocol
// outcomes named in each comment.
var (
	ErrCacheMiss      = errors.New("client: cache miss")                // get/touch/delete/incr/cas: the key is absent
	ErrNotStored      = errors.New("client: item not stored")           // add on a present key; replace/append/prepend on an absent one
	ErrCASConflict    = errors.New("client: compare-and-swap conflict") // cas: the item changed since it was read
	ErrMalformedKey   = errors.New("client: malformed key")             // key empty, over 250 bytes, or with bytes <= 0x20 or 0x7f
	ErrNoServers      = errors.New("client: no servers configured")     // the Client has no server to send to
	ErrUnknownServer  = errors.New("client: unknown server")            // Do named an address that is not one of the Client's
	ErrUnknownCommand = errors.New("client: server replied ERROR")      // the server does not accept the command
	ErrClosed         = errors.New("client: client closed")             // Close was called
)

// ServerError is a SERVER_ERROR reply: the server failed to do what was asked.
// Msg is the text after "SERVER_ERROR ", e.g. "object too large for cache".
type ServerError struct {
	Msg string
}

// Error returns the reply in a sentence.
func (e *ServerError) Error() string { return "client: server replied SERVER_ERROR " + e.Msg }

// ClientError is a CLIENT_ERROR reply: the server found the request malformed
// or not applicable, e.g. "cannot increment or decrement non-numeric value".
// Msg is the text after "CLIENT_ERROR ".
type ClientError struct {
	Msg string
}

// Error returns the reply in a sentence.
func (e *ClientError) Error() string { return "client: server replied CLIENT_ERROR " + e.Msg }

// ConnectError reports that no connection to Addr could be opened. Its message
// is written for people and has no package prefix:
// "cannot connect to 127.0.0.1:11211: connection refused". Err is the dial
// error, so errors.Is(err, syscall.ECONNREFUSED) works.
type ConnectError struct {
	Addr string
	Err  error
}

// Error returns "cannot connect to ADDR: REASON", where REASON is the system's
// word for the failure ("connection refused", "i/o timeout", "no such host").
func (e *ConnectError) Error() string {
	return "cannot connect to " + e.Addr + ": " + dialReason(e.Err)
}

// Unwrap returns the dial error.
func (e *ConnectError) Unwrap() error { return e.Err }

// protocolError is a reply the client could not parse; the connection that
// carried it is closed.
type protocolError struct {
	addr string
	msg  string
}

func (e *protocolError) Error() string { return "client: bad reply from " + e.addr + ": " + e.msg }

// Item is one cache entry. A Client never keeps or changes an Item passed to it,
// and the Items it returns, with their Value, belong to the caller.
type Item struct {
	Key   string // 1..250 bytes, none of them <= 0x20 or 0x7f
	Value []byte
	Flags uint32 // opaque to the server, returned as stored

	// Expiration is memcached's exptime: 0 never expires, 1..2592000 (30 days)
	// is seconds from now, larger is a Unix time, negative is already expired.
	// The protocol does not report it, so it is 0 in the Items a Client returns.
	Expiration int32

	// CAS is the server's version of the item, set by Gets, GetsMulti and
	// GetsAndTouch and read by CompareAndSwap.
	CAS uint64
}

// Server names one server and its share of the keys.
type Server struct {
	// Addr is "host:port" for TCP, or a path starting with "/" for a Unix socket.
	Addr string

	// Weight is the server's ketama weight; 0 means 1. A server of weight 2
	// gets about twice the keys of a server of weight 1.
	Weight int

	// Name is what ketama hashes to place the server; "" means twemproxy's
	// default: the host alone when the port is 11211, else "host:port" (the
	// Addr as written, without resolving it). Set it to the name given in a
	// twemproxy "host:port:weight name" line to share that pool's placement.
	Name string
}

// Options configures a Client. Each zero field takes the default in its comment.
type Options struct {
	DialTimeout  time.Duration // bound on opening one connection; 0 means 1s
	Timeout      time.Duration // bound on one request's writes and reads; 0 means 2s
	MaxIdleConns int           // idle connections kept per server; 0 means 2, negative means none
	MaxValueSize int           // largest value accepted in a reply; 0 means 1 MiB (memcached's -I default)

	// DialContext opens connections; nil means a net.Dialer. Use it for TLS
	// (tls.Dialer.DialContext) or to count or fake connections in tests. The
	// context carries the DialTimeout deadline.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// TLS, if not nil, wraps every connection DialContext returns in TLS
	// with this configuration (for a server started with memcached's -Z).
	// An empty ServerName is taken from the server's host.
	TLS *tls.Config

	// Username and Password, if Username is not empty, authenticate each
	// new connection as memcached's -Y expects, before its first request.
	// memcached splits the two at spaces: neither may contain one.
	Username, Password string

	// Trace, if not nil, sees every byte the Client sends or receives: each
	// request as one call with dir Sent, each reply line and each value block
	// (with its "\r\n") as one call with dir Received, in wire order for each
	// connection; addr names the server. It is called from the goroutines that
	// make requests, so it must be safe for concurrent use if they are
	// concurrent, and it should be quick: it runs inside the request deadline.
	// p is valid only during the call.
	Trace func(addr string, dir Direction, p []byte)
}

func (o Options) withDefaults() Options {
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	if o.MaxIdleConns == 0 {
		o.MaxIdleConns = 2
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = 1 << 20
	}
	if o.DialContext == nil {
		var d net.Dialer
		o.DialContext = d.DialContext
	}
	return o
}

// Direction tells a Trace function which way bytes went.
type Direction uint8

// The two directions of traffic.
const (
	Sent     Direction = iota + 1 // from the Client to a server
	Received                      // from a server to the Client
)

// String returns ">>" for Sent and "<<" for Received, as protocol transcripts
// write them.
func (d Direction) String() string {
	switch d {
	case Sent:
		return ">>"
	case Received:
		return "<<"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Client is a memcached client for a fixed list of servers. It is safe for use
// by multiple goroutines at once. The zero Client has no servers: its calls
// return ErrNoServers. Use New or NewWithOptions.
type Client struct {
	opts    Options
	servers []*server // in the order given
	byAddr  map[string]*server
	ring    ketama
	err     error // set by New for a bad address; returned by every call
	closed  atomic.Bool
}

// New returns a Client with default Options for the servers at addrs, each of
// weight 1. If an address is malformed, every call on the Client returns that
// error; NewWithOptions reports it at once instead. With no addresses, calls
// return ErrNoServers.
func New(addrs ...string) *Client {
	servers := make([]Server, len(addrs))
	for i, a := range addrs {
		servers[i] = Server{Addr: a}
	}
	if len(servers) == 0 {
		return &Client{err: ErrNoServers}
	}
	c, err := NewWithOptions(Options{}, servers...)
	if err != nil {
		return &Client{err: err}
	}
	return c
}

// NewWithOptions returns a Client for servers configured by opts. It fails with
// ErrNoServers if servers is empty, and when an address is malformed, a weight
// is negative, or two servers share an address or a ketama name. It opens no
// connection: the first request to each server does.
func NewWithOptions(opts Options, servers ...Server) (*Client, error) {
	if len(servers) == 0 {
		return nil, ErrNoServers
	}
	c := &Client{opts: opts.withDefaults(), byAddr: make(map[string]*server, len(servers))}
	names := make([]string, len(servers))
	weights := make([]int, len(servers))
	seen := make(map[string]bool, len(servers))
	for i, s := range servers {
		network, name, err := parseServer(s)
		if err != nil {
			return nil, err
		}
		if s.Weight < 0 {
			return nil, fmt.Errorf("client: server %s: negative weight %d", s.Addr, s.Weight)
		}
		if c.byAddr[s.Addr] != nil || seen[name] {
			return nil, fmt.Errorf("client: server %s listed twice (address or ketama name %q)", s.Addr, name)
		}
		seen[name] = true
		weights[i] = max(s.Weight, 1)
		names[i] = name
		srv := &server{addr: s.Addr, network: network, index: i}
		c.servers = append(c.servers, srv)
		c.byAddr[s.Addr] = srv
	}
	c.ring = newKetama(names, weights)
	return c, nil
}

// parseServer checks s.Addr and returns its network and ketama name.
func parseServer(s Server) (network, name string, err error) {
	if len(s.Addr) > 0 && s.Addr[0] == '/' {
		if s.Name != "" {
			return "unix", s.Name, nil
		}
		return "unix", s.Addr, nil
	}
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return "", "", fmt.Errorf("client: server address %q: %w", s.Addr, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", "", fmt.Errorf("client: server address %q: bad port", s.Addr)
	}
	if host == "" {
		return "", "", fmt.Errorf("client: server address %q: missing host", s.Addr)
	}
	return "tcp", ketamaName(s.Name, host, port), nil
}

// Servers returns the addresses of the Client's servers in the order given. The
// slice is the caller's.
func (c *Client) Servers() []string {
	addrs := make([]string, len(c.servers))
	for i, s := range c.servers {
		addrs[i] = s.addr
	}
	return addrs
}

// ServerFor returns the address of the server that owns key. It does no I/O.
func (c *Client) ServerFor(key string) (string, error) {
	s, err := c.pick(key)
	if err != nil {
		return "", err
	}
	return s.addr, nil
}

// Close closes the idle connections and makes every later call return
// ErrClosed. Connections in use by calls still running are closed when those
// calls end. Close is safe to call more than once.
func (c *Client) Close() error {
	c.closed.Store(true)
	var errs []error
	for _, s := range c.servers {
		s.mu.Lock()
		idle := s.idle
		s.idle = nil
		s.mu.Unlock()
		for _, cn := range idle {
			if err := cn.nc.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// usable reports why the Client cannot make requests, or nil.
func (c *Client) usable() error {
	if c.err != nil {
		return c.err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	if len(c.servers) == 0 {
		return ErrNoServers
	}
	return nil
}

// pick checks key and returns the server that owns it.
func (c *Client) pick(key string) (*server, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if !legalKey(key) {
		return nil, ErrMalformedKey
	}
	if len(c.servers) == 1 {
		return c.servers[0], nil
	}
	return c.servers[c.ring.pick(key)], nil
}

// MaxKeyLen is the longest key memcached takes, in bytes. The client checks
// it itself, before any I/O: it speaks the protocol and imports no package
// of a server.
const MaxKeyLen = 250

// legalKey reports whether key may be sent: 1..MaxKeyLen bytes, none of them
// a space, a control byte or DEL (gomemcache's rule, stricter than memcached's).
func legalKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}
