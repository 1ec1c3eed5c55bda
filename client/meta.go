package client

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
)

// The meta protocol of memcached 1.6 (mg, ms, md, ma, mn, me): one command
// per operation, its behaviour chosen by single-letter flags, e.g.
//
//	r, err := c.MetaGet("user:1", "v", "c", "t") // value, CAS, TTL left
//	r, err = c.MetaSet("user:1", v, "T60", "c")   // set with a TTL, return the CAS
//	r, err = c.MetaArithmetic("hits", "N0", "J1", "v")
//
// Flags are passed as the protocol writes them; see memcached's
// doc/protocol.txt for the list. A reply's flags come back in MetaReply.

// MetaReply is the reply to a meta command.
type MetaReply struct {
	// Status is the reply's code: "HD" (done), "VA" (done, with Value),
	// "EN" (miss), "NF" (not found), "NS" (not stored), "EX" (CAS
	// mismatch), or "" for a quiet request (q) whose nominal reply the
	// server left out.
	Status string
	Flags  []string // the reply's flags as sent, e.g. "c123", "t-1", "W"
	Value  []byte   // the data block of a VA reply, else nil
}

// Flag returns the token of the reply flag f ("c" gives "123" for c123)
// and whether the reply has it.
func (r *MetaReply) Flag(f byte) (string, bool) {
	for _, t := range r.Flags {
		if len(t) > 0 && t[0] == f {
			return t[1:], true
		}
	}
	return "", false
}

// MetaGet sends "mg key flags..." (e.g. "v", "c", "f", "t", "k", "q",
// "T30", "N30", "R10"). A miss returns the reply (EN) and ErrCacheMiss.
func (c *Client) MetaGet(key string, flags ...string) (*MetaReply, error) {
	return c.meta("mg", key, nil, flags)
}

// MetaSet sends "ms key len flags..." and value (e.g. "T60", "F5", "c",
// "C<cas>", "I", "MA" to append; "ME" add, "MP" prepend, "MR" replace).
// NS returns ErrNotStored, EX ErrCASConflict, NF ErrCacheMiss, each with
// the reply.
func (c *Client) MetaSet(key string, value []byte, flags ...string) (*MetaReply, error) {
	if value == nil {
		value = []byte{}
	}
	return c.meta("ms", key, value, flags)
}

// MetaDelete sends "md key flags..." (e.g. "C<cas>", "I", "T30", "q").
func (c *Client) MetaDelete(key string, flags ...string) (*MetaReply, error) {
	return c.meta("md", key, nil, flags)
}

// MetaArithmetic sends "ma key flags..." (e.g. "D5", "MD" to decrement,
// "N0" and "J10" to create the counter at 10 on a miss, "v" for the value).
func (c *Client) MetaArithmetic(key string, flags ...string) (*MetaReply, error) {
	return c.meta("ma", key, nil, flags)
}

// MetaDebug sends "me key" and returns the server's debug line after "ME
// key " (e.g. "exp=-1 la=3 cas=7 fetch=no cls=1 size=63"): ErrCacheMiss if
// the key is absent.
func (c *Client) MetaDebug(key string) (string, error) {
	s, err := c.pick(key)
	if err != nil {
		return "", err
	}
	var out string
	err = c.withConn(s, "me", func(cn *conn) error {
		if err := cn.send([]byte("me " + key + "\r\n")); err != nil {
			return err
		}
		line, err := cn.readLine()
		if err != nil {
			return err
		}
		if string(line) == "EN" {
			return ErrCacheMiss
		}
		rest, ok := bytes.CutPrefix(line, []byte("ME "+key+" "))
		if !ok {
			return cn.unexpected(line)
		}
		out = string(rest)
		return nil
	})
	return out, err
}

func (c *Client) meta(verb, key string, value []byte, flags []string) (*MetaReply, error) {
	s, err := c.pick(key)
	if err != nil {
		return nil, err
	}
	for _, f := range flags {
		if f == "" || strings.ContainsAny(f, " \r\n") {
			return nil, &ClientError{Msg: "meta flag " + strconv.Quote(f) + " is empty or has a space"}
		}
	}
	quiet := slices.Contains(flags, "q")
	var r *MetaReply
	err = c.withConn(s, verb, func(cn *conn) error {
		b := append(cn.wbuf[:0], verb...)
		b = append(append(b, ' '), key...)
		if value != nil {
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(len(value)), 10)
		}
		for _, f := range flags {
			b = append(append(b, ' '), f...)
		}
		b = append(b, crlf...)
		if value != nil {
			b = append(append(b, value...), crlf...)
		}
		if quiet {
			b = append(b, "mn\r\n"...) // MN ends the reply, whether or not there is one before it
		}
		cn.wbuf = b
		if err := cn.send(b); err != nil {
			return err
		}
		var err error
		r, err = cn.metaReply()
		if quiet && r != nil && r.Status != "MN" {
			line, lerr := cn.readLine()
			if lerr != nil {
				return lerr
			}
			if string(line) != "MN" {
				return cn.unexpected(line)
			}
		}
		if r != nil && r.Status == "MN" {
			r.Status = ""
		}
		return err
	})
	if err != nil && r == nil {
		return nil, err
	}
	return r, err
}

// metaReply reads one meta reply and maps its status to the package's
// errors; it returns the reply with them.
func (cn *conn) metaReply() (*MetaReply, error) {
	line, err := cn.readLine()
	if err != nil {
		return nil, err
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return nil, cn.unexpected(line)
	}
	r := &MetaReply{Status: f[0], Flags: f[1:]}
	switch r.Status {
	case "VA":
		if len(f) < 2 {
			return nil, cn.badReply("VA without a length: %q", line)
		}
		n, ok := parseUint([]byte(f[1]), 31)
		if !ok {
			return nil, cn.badReply("VA with a bad length: %q", line)
		}
		r.Flags = f[2:]
		if r.Value, err = cn.readBlock(int(n)); err != nil {
			return nil, err
		}
		return r, nil
	case "HD", "MN":
		return r, nil
	case "EN", "NF":
		return r, ErrCacheMiss
	case "NS":
		return r, ErrNotStored
	case "EX":
		return r, ErrCASConflict
	}
	return nil, cn.unexpected(line)
}
