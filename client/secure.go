package client

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"time"
)

// ErrAuthFailed is a refused authentication: the server (memcached -Y)
// answered CLIENT_ERROR authentication failure to Options.Username and
// Options.Password.
var ErrAuthFailed = errors.New("client: authentication failed")

// wrapTLS wraps nc in TLS if Options.TLS asks for it.
func (c *Client) wrapTLS(nc net.Conn, addr string) net.Conn {
	cfg := c.opts.TLS
	if cfg == nil {
		return nc
	}
	if _, ok := nc.(*tls.Conn); ok {
		return nc // DialContext did it
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = addr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			cfg.ServerName = host
		}
	}
	return tls.Client(nc, cfg)
}

// setup readies a new connection before its first request: the TLS
// handshake, so that a failure there is a ConnectError, then memcached's
// ASCII authentication if Options.Username is set. ctx bounds both.
func (cn *conn) setup(ctx context.Context) error {
	c := cn.c
	deadline, _ := ctx.Deadline()
	if deadline.IsZero() {
		deadline = time.Now().Add(c.opts.DialTimeout)
	}
	if tc, ok := cn.nc.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			return &ConnectError{Addr: cn.srv.addr, Err: err}
		}
	}
	if c.opts.Username == "" {
		return nil
	}
	cn.op = "authenticate"
	if err := cn.nc.SetDeadline(deadline.Add(c.opts.Timeout)); err != nil {
		return cn.ioErr(err)
	}
	// memcached ignores the key, flags and exptime of this set; the
	// password is never traced.
	data := c.opts.Username + " " + c.opts.Password
	req := "set auth 0 0 " + strconv.Itoa(len(data)) + "\r\n"
	cn.trace(Sent, []byte(req+c.opts.Username+" <password>\r\n"))
	if _, err := cn.nc.Write([]byte(req + data + "\r\n")); err != nil {
		return cn.ioErr(err)
	}
	line, err := cn.readLine()
	switch {
	case err != nil:
		return err
	case string(line) == "STORED":
		return nil
	case string(line) == "CLIENT_ERROR authentication failure":
		return ErrAuthFailed
	}
	return cn.unexpected(line)
}
