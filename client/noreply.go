package client

import "strconv"

// NoReply sends commands with memcached's "noreply" flag: the server sends no
// reply, so a call returns as soon as the request is written and its error
// reports only a malformed key or a failure to connect or write. Outcomes such
// as NOT_STORED are not seen. Requests on one connection are processed in
// order, and the Client reuses its most recently used idle connection, so a
// goroutine's next request to the same server sees the effect; requests from
// other goroutines may not. The zero NoReply is not usable: get one from
// Client.NoReply. It is safe for concurrent use.
type NoReply struct {
	c *Client
}

// NoReply returns the noreply view of c.
func (c *Client) NoReply() NoReply { return NoReply{c: c} }

// Set is Client.Set with noreply.
func (n NoReply) Set(it *Item) error { return n.c.store("set", it, true) }

// Add is Client.Add with noreply.
func (n NoReply) Add(it *Item) error { return n.c.store("add", it, true) }

// Replace is Client.Replace with noreply.
func (n NoReply) Replace(it *Item) error { return n.c.store("replace", it, true) }

// Append is Client.Append with noreply.
func (n NoReply) Append(it *Item) error { return n.c.store("append", it, true) }

// Prepend is Client.Prepend with noreply.
func (n NoReply) Prepend(it *Item) error { return n.c.store("prepend", it, true) }

// CompareAndSwap is Client.CompareAndSwap with noreply.
func (n NoReply) CompareAndSwap(it *Item) error { return n.c.store("cas", it, true) }

// Delete is Client.Delete with noreply.
func (n NoReply) Delete(key string) error { return n.c.keyed("delete", key, "", true, nil) }

// Touch is Client.Touch with noreply.
func (n NoReply) Touch(key string, exp int32) error {
	return n.c.keyed("touch", key, strconv.FormatInt(int64(exp), 10), true, nil)
}

// Increment is Client.Increment with noreply; the new value is not returned.
func (n NoReply) Increment(key string, delta uint64) error {
	return n.c.keyed("incr", key, strconv.FormatUint(delta, 10), true, nil)
}

// Decrement is Client.Decrement with noreply; the new value is not returned.
func (n NoReply) Decrement(key string, delta uint64) error {
	return n.c.keyed("decr", key, strconv.FormatUint(delta, 10), true, nil)
}

// FlushAll is Client.FlushAll with noreply.
func (n NoReply) FlushAll(delay int32) error {
	return n.c.broadcastOK("flush_all", delayArg(delay), true)
}

// Verbosity is Client.Verbosity with noreply.
func (n NoReply) Verbosity(level int) error {
	return n.c.broadcastOK("verbosity", strconv.Itoa(level), true)
}
