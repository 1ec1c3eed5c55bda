package client

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
)

// Get returns the item stored under key, with CAS 0 (Gets fills it in), or
// ErrCacheMiss. It sends "get key".
func (c *Client) Get(key string) (*Item, error) { return c.getOne("get", key, 0) }

// Gets is Get with the item's CAS unique filled in, for CompareAndSwap. It
// sends "gets key".
func (c *Client) Gets(key string) (*Item, error) { return c.getOne("gets", key, 0) }

// GetAndTouch returns the item stored under key, as Get does, and sets its
// expiration to exp (memcached exptime rules, see Item). It sends "gat".
func (c *Client) GetAndTouch(key string, exp int32) (*Item, error) {
	return c.getOne("gat", key, exp)
}

// GetsAndTouch is GetAndTouch with the CAS unique filled in. It sends "gats".
func (c *Client) GetsAndTouch(key string, exp int32) (*Item, error) {
	return c.getOne("gats", key, exp)
}

// GetMulti returns the items stored under keys, keyed by key; missing keys are
// absent from the map. Keys are checked first (ErrMalformedKey, no I/O), then
// each server is sent one "get k1 k2 ..." line for its keys, all servers at
// once. If some servers fail, the map holds the items read before the
// failures (at least the other servers' items) and the error joins them.
func (c *Client) GetMulti(keys []string) (map[string]*Item, error) {
	return c.getMulti("get", keys)
}

// GetsMulti is GetMulti with CAS uniques filled in. It sends "gets".
func (c *Client) GetsMulti(keys []string) (map[string]*Item, error) {
	return c.getMulti("gets", keys)
}

func (c *Client) getOne(verb, key string, exp int32) (*Item, error) {
	s, err := c.pick(key)
	if err != nil {
		return nil, err
	}
	var item *Item
	err = c.withConn(s, verb, func(cn *conn) error {
		return cn.retrieve(verb, exp, []string{key}, func(it *Item) { item = it })
	})
	if err == nil && item == nil {
		err = ErrCacheMiss
	}
	if err != nil {
		return nil, err
	}
	return item, nil
}

func (c *Client) getMulti(verb string, keys []string) (map[string]*Item, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	perServer := make([][]string, len(c.servers))
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		s, err := c.pick(k)
		if err != nil {
			return nil, err
		}
		seen[k] = true
		perServer[s.index] = append(perServer[s.index], k)
	}
	items := make(map[string]*Item, len(seen))
	var mu sync.Mutex
	got := func(it *Item) {
		mu.Lock()
		items[it.Key] = it
		mu.Unlock()
	}
	errs := make([]error, len(c.servers))
	var wg sync.WaitGroup
	for i, ks := range perServer {
		if len(ks) == 0 {
			continue
		}
		wg.Go(func() {
			errs[i] = c.withConn(c.servers[i], verb, func(cn *conn) error {
				return cn.retrieve(verb, 0, ks, got)
			})
		})
	}
	wg.Wait()
	return items, errors.Join(errs...)
}

// retrieve sends "verb [exp] keys..." (exp only for gat/gats), reads VALUE
// blocks up to END and passes each item to got.
func (cn *conn) retrieve(verb string, exp int32, keys []string, got func(*Item)) error {
	b := append(cn.wbuf[:0], verb...)
	touch := verb == "gat" || verb == "gats"
	if touch {
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(exp), 10)
	}
	for _, k := range keys {
		b = append(b, ' ')
		b = append(b, k...)
	}
	b = append(b, crlf...)
	cn.wbuf = b
	if err := cn.send(b); err != nil {
		return err
	}
	var want map[string]bool // the keys asked for, when too many to scan
	if len(keys) > 8 {
		want = make(map[string]bool, len(keys))
		for _, k := range keys {
			want[k] = true
		}
	}
	withCAS := verb == "gets" || verb == "gats"
	for {
		line, err := cn.readLine()
		if err != nil {
			return err
		}
		if string(line) == "END" {
			return nil
		}
		rest, ok := bytes.CutPrefix(line, []byte("VALUE "))
		if !ok {
			return cn.unexpected(line)
		}
		it, n, err := cn.parseValue(rest, withCAS, keys, want)
		if err != nil {
			return err
		}
		if it.Value, err = cn.readBlock(n); err != nil {
			return err
		}
		got(it)
	}
}

// parseValue parses "<key> <flags> <bytes>[ <cas>]" of a VALUE line, with the
// cas exactly when withCAS, and a key among those asked for.
func (cn *conn) parseValue(b []byte, withCAS bool, keys []string, want map[string]bool) (*Item, int, error) {
	kb, b, ok1 := field(b)
	fb, b, ok2 := field(b)
	nb, b, ok3 := field(b)
	cb, b, ok4 := field(b)
	if !ok1 || !ok2 || !ok3 || ok4 != withCAS || len(b) > 0 {
		return nil, 0, cn.badReply("malformed VALUE line for %s", cn.op)
	}
	it := &Item{}
	if want != nil {
		if want[string(kb)] {
			it.Key = string(kb)
		}
	} else {
		for _, k := range keys {
			if string(kb) == k {
				it.Key = k // the caller's string: no copy
				break
			}
		}
	}
	if it.Key == "" {
		return nil, 0, cn.badReply("VALUE for key %q, which was not asked for", kb)
	}
	flags, ok := parseUint(fb, 32)
	n, okN := parseUint(nb, 31)
	if !ok || !okN {
		return nil, 0, cn.badReply("bad flags or length in VALUE line for %q", kb)
	}
	it.Flags = uint32(flags)
	if withCAS {
		if it.CAS, ok = parseUint(cb, 64); !ok {
			return nil, 0, cn.badReply("bad cas in VALUE line for %q", kb)
		}
	}
	return it, int(n), nil
}

// Set stores it unconditionally.
func (c *Client) Set(it *Item) error { return c.store("set", it, false) }

// Add stores it only if its key is absent; else ErrNotStored.
func (c *Client) Add(it *Item) error { return c.store("add", it, false) }

// Replace stores it only if its key is present; else ErrNotStored.
func (c *Client) Replace(it *Item) error { return c.store("replace", it, false) }

// Append adds it.Value after the stored value, keeping the stored flags and
// expiration (it.Flags and it.Expiration are sent but ignored by memcached).
// ErrNotStored if the key is absent.
func (c *Client) Append(it *Item) error { return c.store("append", it, false) }

// Prepend adds it.Value before the stored value, as Append does after it.
func (c *Client) Prepend(it *Item) error { return c.store("prepend", it, false) }

// CompareAndSwap stores it only if the stored item's CAS unique still equals
// it.CAS (from Gets): ErrCASConflict if it changed, ErrCacheMiss if the key is
// absent.
func (c *Client) CompareAndSwap(it *Item) error { return c.store("cas", it, false) }

// store sends a storage command for it; with noreply it reads nothing.
func (c *Client) store(verb string, it *Item, noreply bool) error {
	s, err := c.pick(it.Key)
	if err != nil {
		return err
	}
	return c.withConn(s, verb, func(cn *conn) error {
		b := append(cn.wbuf[:0], verb...)
		b = append(b, ' ')
		b = append(b, it.Key...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(it.Flags), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(it.Expiration), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(it.Value)), 10)
		if verb == "cas" {
			b = append(b, ' ')
			b = strconv.AppendUint(b, it.CAS, 10)
		}
		if noreply {
			b = append(b, " noreply"...)
		}
		b = append(b, crlf...)
		b = append(b, it.Value...)
		b = append(b, crlf...)
		cn.wbuf = b
		if err := cn.send(b); err != nil || noreply {
			return err
		}
		line, err := cn.readLine()
		if err != nil {
			return err
		}
		switch string(line) {
		case "STORED":
			return nil
		case "NOT_STORED":
			return ErrNotStored
		case "EXISTS":
			return ErrCASConflict
		case "NOT_FOUND":
			return ErrCacheMiss
		}
		return cn.unexpected(line)
	})
}

// Delete removes the item stored under key; ErrCacheMiss if there is none.
func (c *Client) Delete(key string) error { return c.keyed("delete", key, "", false, nil) }

// Touch sets the expiration of the item stored under key to exp (memcached
// exptime rules, see Item) without changing its CAS; ErrCacheMiss if absent.
func (c *Client) Touch(key string, exp int32) error {
	return c.keyed("touch", key, strconv.FormatInt(int64(exp), 10), false, nil)
}

// Increment adds delta to the decimal number stored under key and returns the
// result, which wraps around at 2^64. ErrCacheMiss if the key is absent; a
// *ClientError if the value is not a decimal number.
func (c *Client) Increment(key string, delta uint64) (uint64, error) {
	return c.incrDecr("incr", key, delta)
}

// Decrement subtracts delta from the decimal number stored under key and
// returns the result, which stops at 0. Errors are those of Increment.
func (c *Client) Decrement(key string, delta uint64) (uint64, error) {
	return c.incrDecr("decr", key, delta)
}

func (c *Client) incrDecr(verb, key string, delta uint64) (uint64, error) {
	var n uint64
	err := c.keyed(verb, key, strconv.FormatUint(delta, 10), false, func(cn *conn, line []byte) error {
		var ok bool
		if n, ok = parseUint(line, 64); !ok {
			return cn.unexpected(line)
		}
		return nil
	})
	return n, err
}

// keyed sends "verb key[ arg][ noreply]" to key's server. Unless noreply, it
// reads one line: NOT_FOUND is ErrCacheMiss, DELETED and TOUCHED are success,
// anything else goes to other (nil: an unexpected reply).
func (c *Client) keyed(verb, key, arg string, noreply bool, other func(cn *conn, line []byte) error) error {
	s, err := c.pick(key)
	if err != nil {
		return err
	}
	return c.withConn(s, verb, func(cn *conn) error {
		b := append(cn.wbuf[:0], verb...)
		b = append(b, ' ')
		b = append(b, key...)
		if arg != "" {
			b = append(b, ' ')
			b = append(b, arg...)
		}
		if noreply {
			b = append(b, " noreply"...)
		}
		b = append(b, crlf...)
		cn.wbuf = b
		if err := cn.send(b); err != nil || noreply {
			return err
		}
		line, err := cn.readLine()
		if err != nil {
			return err
		}
		switch {
		case string(line) == "NOT_FOUND":
			return ErrCacheMiss
		case string(line) == "DELETED" && verb == "delete", string(line) == "TOUCHED" && verb == "touch":
			return nil
		case other != nil:
			return other(cn, line)
		}
		return cn.unexpected(line)
	})
}

// FlushAll invalidates every item on every server, at once when delay is 0,
// else after delay (memcached exptime rules, see Item). Errors from several
// servers are joined.
func (c *Client) FlushAll(delay int32) error {
	return c.broadcastOK("flush_all", delayArg(delay), false)
}

// Verbosity sets the logging level of every server.
func (c *Client) Verbosity(level int) error {
	return c.broadcastOK("verbosity", strconv.Itoa(level), false)
}

func delayArg(delay int32) string {
	if delay == 0 {
		return ""
	}
	return strconv.FormatInt(int64(delay), 10)
}

// broadcastOK sends "verb[ arg][ noreply]" to every server and expects OK.
func (c *Client) broadcastOK(verb, arg string, noreply bool) error {
	line := verb
	if arg != "" {
		line += " " + arg
	}
	if noreply {
		line += " noreply"
	}
	req := []byte(line + "\r\n")
	return c.each(verb, func(cn *conn) error {
		if err := cn.send(req); err != nil || noreply {
			return err
		}
		reply, err := cn.readLine()
		if err != nil {
			return err
		}
		if string(reply) != "OK" {
			return cn.unexpected(reply)
		}
		return nil
	})
}

// Version returns each server's version string ("1.6.18"), keyed by server
// address. If some servers fail, the map holds the others and the error
// joins the failures.
func (c *Client) Version() (map[string]string, error) {
	vers := make([]string, len(c.servers))
	err := c.each("version", func(cn *conn) error {
		if err := cn.send([]byte("version\r\n")); err != nil {
			return err
		}
		line, err := cn.readLine()
		if err != nil {
			return err
		}
		v, ok := bytes.CutPrefix(line, []byte("VERSION "))
		if !ok {
			return cn.unexpected(line)
		}
		vers[cn.srv.index] = string(v)
		return nil
	})
	m := make(map[string]string, len(vers))
	for i, v := range vers {
		if v != "" {
			m[c.servers[i].addr] = v
		}
	}
	return m, err
}

// Stats returns each server's statistics, keyed by server address and then by
// statistic name. section selects a group ("settings", "items", "slabs", ...);
// "" means the general statistics. It sends "stats[ section]" and accepts STAT
// lines up to END (or RESET, for "reset", which yields an empty map). If some
// servers fail, the map holds the others and the error joins the failures.
func (c *Client) Stats(section string) (map[string]map[string]string, error) {
	for i := 0; i < len(section); i++ {
		if section[i] < ' ' || section[i] == 0x7f {
			return nil, errors.New("client: stats section with a control byte")
		}
	}
	req := []byte("stats\r\n")
	if section != "" {
		req = []byte("stats " + section + "\r\n")
	}
	all := make([]map[string]string, len(c.servers))
	err := c.each("stats", func(cn *conn) error {
		if err := cn.send(req); err != nil {
			return err
		}
		m := make(map[string]string)
		for {
			line, err := cn.readLine()
			if err != nil {
				return err
			}
			if string(line) == "END" || string(line) == "RESET" {
				all[cn.srv.index] = m
				return nil
			}
			stat, ok := bytes.CutPrefix(line, []byte("STAT "))
			name, value, _ := bytes.Cut(stat, []byte(" "))
			if !ok || len(name) == 0 {
				return cn.unexpected(line)
			}
			m[string(name)] = string(value)
		}
	})
	res := make(map[string]map[string]string, len(all))
	for i, m := range all {
		if m != nil {
			res[c.servers[i].addr] = m
		}
	}
	return res, err
}
