package server

import (
	"errors"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// The watch command, as memcached 1.6's logger: a connection that sends
// "watch [fetchers] [mutations] [connevents] ..." is answered OK and from
// then on only receives event lines in memcached's format, such as
//
//	ts=1700000000.123456 gid=7 type=item_store key=k status=stored cmd=set ttl=0 clsid=1 cfd=12 size=2
//
// Each line ends in "\n" alone, as memcached's do. Events go through a
// bounded buffer per watcher: one that does not read fast enough loses
// events, and the next line it is sent is "skipped=N", the number lost.
// Nothing ever waits for a watcher.
//
// Where events come from:
//   - item_get (fetchers): get, gets, gat and gats, one per key, from the
//     connection's goroutine; and, as memcached logs the lookup that every
//     write makes, one per write, from the committer.
//   - item_store (mutations): set, add, replace, append, prepend and cas,
//     from the committer once the write has committed, before its client
//     is answered, so that writes appear once each and in commit order.
//   - conn_new and conn_close (connevents), from the connection.
//
// Synthetic fields: clsid is 1 for every item (memcached-lite has no slab
// classes) and 0 for a miss, as memcached's.

// watchFlags are the kinds of events a watcher asked for.
type watchFlags uint32

const (
	watchFetchers watchFlags = 1 << iota
	watchMutations
	watchConnEvents
	watchOther // rawcmds, evictions, sysevents, proxy*: accepted, never sent
)

// watchTokens are the arguments memcached 1.6.18's watch accepts.
var watchTokens = map[string]watchFlags{
	"fetchers": watchFetchers, "mutations": watchMutations, "connevents": watchConnEvents,
	"rawcmds": watchOther, "evictions": watchOther, "sysevents": watchOther,
	"proxyreqs": watchOther, "proxyevents": watchOther, "proxyuser": watchOther,
}

// maxWatchers is memcached's WATCHER_LIMIT.
const maxWatchers = 20

// defaultWatchBuffer is the bytes of events a watcher may have pending.
const defaultWatchBuffer = 256 << 10

// watchLinger is how long a watcher lets events gather before it sends
// them (memcached's logger sleeps at least 1 ms between polls).
const watchLinger = time.Millisecond

var (
	replyWatchTooMany = []byte("WATCHER_TOO_MANY log watcher limit reached\r\n")
)

// A hub hands events to the watchers. Its zero value has no watchers.
type hub struct {
	flags atomic.Uint32 // the union of the watchers' flags: 0 when none
	gid   atomic.Uint64 // the last event's id
	limit int           // bytes per watcher

	mu sync.Mutex
	ws map[*watcher]struct{}
}

// A watcher is one watching connection's pending events.
type watcher struct {
	flags watchFlags
	wake  chan struct{} // signalled when buf gains a line

	mu      sync.Mutex
	buf     []byte
	skipped uint64
}

func (h *hub) wants(f watchFlags) bool { return watchFlags(h.flags.Load())&f != 0 }

// count returns how many connections are watching.
func (h *hub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ws)
}

func (h *hub) add(w *watcher) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.ws) >= maxWatchers {
		return false
	}
	if h.ws == nil {
		h.ws = make(map[*watcher]struct{})
	}
	h.ws[w] = struct{}{}
	h.flags.Store(h.flags.Load() | uint32(w.flags))
	return true
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.ws, w)
	var f watchFlags
	for w := range h.ws {
		f |= w.flags
	}
	h.flags.Store(uint32(f))
}

// emit sends the event body (the fields after ts and gid, without the
// newline) to every watcher of kind f.
func (h *hub) emit(f watchFlags, body []byte) {
	var line [512]byte
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	b := append(line[:0], "ts="...)
	b = strconv.AppendInt(b, now.Unix(), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(now.Nanosecond()/1000), 10) // memcached's %d: not zero-padded
	b = append(b, " gid="...)
	b = strconv.AppendUint(b, h.gid.Add(1), 10)
	b = append(b, ' ')
	b = append(b, body...)
	b = append(b, '\n')
	for w := range h.ws {
		if w.flags&f != 0 {
			w.offer(b, h.limit)
		}
	}
}

// offer queues line unless that would pass limit, in which case the line
// is counted as skipped.
func (w *watcher) offer(line []byte, limit int) {
	w.mu.Lock()
	if len(w.buf)+len(line)+32 > limit {
		w.skipped++
		w.mu.Unlock()
		return
	}
	if w.skipped > 0 {
		w.buf = append(w.buf, "skipped="...)
		w.buf = strconv.AppendUint(w.buf, w.skipped, 10)
		w.buf = append(w.buf, '\n')
		w.skipped = 0
	}
	w.buf = append(w.buf, line...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take returns the pending lines, leaving spare (emptied) in their place.
func (w *watcher) take(spare []byte) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf
	w.buf = spare[:0]
	return b
}

// watch runs the watch command. On success the connection becomes a
// watcher until the client closes it or the server shuts down.
func (c *conn) watch(cmd *command) {
	var f watchFlags
	for _, a := range cmd.args {
		t, ok := watchTokens[string(a)]
		if !ok {
			c.write(replyError)
			return
		}
		f |= t
	}
	if len(cmd.args) == 0 {
		f = watchFetchers
	}
	w := &watcher{flags: f, wake: make(chan struct{}, 1)}
	if !c.s.watch.add(w) {
		c.write(replyWatchTooMany)
		return
	}
	defer c.s.watch.remove(w)
	c.write(replyOK)
	if err := c.bw.Flush(); err != nil {
		return
	}
	c.closing = true
	c.watched = true
	// A reader notices the client closing (and drops whatever it sends,
	// as memcached does); the connection's goroutine writes the events.
	gone := make(chan struct{})
	if _, err := c.br.Discard(c.br.Buffered()); err != nil {
		return
	}
	go func() {
		defer close(gone)
		io.Copy(io.Discard, c.nc)
	}()
	defer func() {
		c.nc.Close()
		<-gone
	}()
	var spare []byte
	out := countingWriter{c}
	linger := time.NewTimer(watchLinger)
	defer linger.Stop()
	for {
		select {
		case <-w.wake:
		case <-gone:
			return
		case <-c.s.closed:
			return
		}
		// Let events gather for a moment, as memcached's logger thread
		// does between its polls: one write for many events keeps a
		// watcher of a busy server from costing a wake-up and a system
		// call per event.
		linger.Reset(watchLinger)
		select {
		case <-linger.C:
		case <-gone:
			return
		case <-c.s.closed:
			return
		}
		b := w.take(spare)
		if _, err := out.Write(b); err != nil {
			return
		}
		spare = b
	}
}

// uriEncode appends key as memcached's uriencode writes it in log lines and
// metadump: unreserved characters as they are, every other byte as %XX.
func uriEncode(dst, key []byte) []byte {
	const hex = "0123456789ABCDEF"
	for _, ch := range key {
		switch {
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9',
			ch == '-', ch == '.', ch == '_', ch == '~':
			dst = append(dst, ch)
		default:
			dst = append(dst, '%', hex[ch>>4], hex[ch&15])
		}
	}
	return dst
}

// appendItemGet appends an item_get event body.
func appendItemGet(b, key []byte, status string, size, fd int) []byte {
	cls := "1"
	if status != "found" {
		cls, size = "0", 0
	}
	b = append(b, "type=item_get key="...)
	b = uriEncode(b, key)
	b = append(b, " status="...)
	b = append(b, status...)
	b = append(b, " clsid="...)
	b = append(b, cls...)
	b = append(b, " cfd="...)
	b = strconv.AppendInt(b, int64(fd), 10)
	b = append(b, " size="...)
	return strconv.AppendInt(b, int64(size), 10)
}

// getStatus names a Get error as memcached's item_get status.
func getStatus(err error) string {
	switch {
	case err == nil:
		return "found"
	case errors.Is(err, storage.ErrExpired):
		return "expired"
	case errors.Is(err, storage.ErrFlushed):
		return "flushed"
	}
	return "not_found"
}

// noteGet reports a key's lookup by get, gets, gat or gats to watchers.
func (c *conn) noteGet(key []byte, size int, err error) {
	var buf [400]byte
	c.s.watch.emit(watchFetchers, appendItemGet(buf[:0], key, getStatus(err), size, c.fd))
}

// storeStatus names a write's result as memcached's item_store status.
func storeStatus(err error) string {
	switch {
	case err == nil:
		return "stored"
	case errors.Is(err, storage.ErrNotStored):
		return "not_stored"
	case errors.Is(err, storage.ErrCASMismatch):
		return "exists"
	case errors.Is(err, storage.ErrNotFound):
		return "not_found"
	case errors.Is(err, storage.ErrTooLarge):
		return "too_large"
	}
	return "no_memory"
}

// startStore queues a write with the store: with a callback that reports it
// to watchers in commit order when any watches fetchers or mutations.
func (c *conn) startStore(op opcode, kind storage.Op, it storage.Item, delta uint64) *storage.Pending {
	note := c.writeNote(storeCmd(op, kind))
	if note == nil {
		return c.s.st.Start(kind, it, delta)
	}
	return c.s.st.StartNotify(kind, it, delta, note)
}

// storeCmd is the cmd field of the item_store event of a write, or "" for
// a write that logs only its lookup (delete, incr, decr, touch, md, ma, mg).
func storeCmd(op opcode, kind storage.Op) string {
	switch {
	case op.isStorage():
		return op.String()
	case op != opMetaSet:
		return ""
	}
	switch kind {
	case storage.OpSet:
		return "set"
	case storage.OpAdd:
		return "add"
	case storage.OpReplace:
		return "replace"
	case storage.OpAppend:
		return "append"
	case storage.OpPrepend:
		return "prepend"
	}
	return ""
}

// writeNote returns the callback that reports a write to watchers, or nil
// when nobody watches fetchers or mutations.
func (c *conn) writeNote(cmd string) func(*storage.Committed) {
	h := &c.s.watch
	if !h.wants(watchFetchers | watchMutations) {
		return nil
	}
	fd, now := c.fd, c.s.opts.Now
	return func(w *storage.Committed) {
		var buf [512]byte
		key := []byte(w.Key)
		if h.wants(watchFetchers) {
			st := "not_found"
			if w.Found {
				st = "found"
			}
			h.emit(watchFetchers, appendItemGet(buf[:0], key, st, w.OldSize, fd))
		}
		if cmd == "" || !h.wants(watchMutations) {
			return
		}
		b := append(buf[:0], "type=item_store key="...)
		b = uriEncode(b, key)
		b = append(b, " status="...)
		b = append(b, storeStatus(w.Err)...)
		b = append(b, " cmd="...)
		b = append(b, cmd...)
		b = append(b, " ttl="...)
		b = strconv.AppendInt(b, ttlOf(w.Expires, now()), 10)
		b = append(b, " clsid=1 cfd="...)
		b = strconv.AppendInt(b, int64(fd), 10)
		b = append(b, " size="...)
		b = strconv.AppendInt(b, int64(w.Size), 10)
		h.emit(watchMutations, b)
	}
}

// ttlOf is the seconds left before exp, rounded, as memcached's ttl field:
// 0 for never, and 0 for a time already past (memcached prints a negative
// number as an unsigned one there).
func ttlOf(exp, now time.Time) int64 {
	if exp.IsZero() {
		return 0
	}
	return max(int64(math.Round(exp.Sub(now).Seconds())), 0)
}

// noteConn reports a connection opening (type conn_new) or closing
// (conn_close, reason normal, idle_timeout or shutdown) to watchers.
func (c *conn) noteConn(open bool) {
	var buf [256]byte
	b := buf[:0]
	if open {
		b = append(b, "type=conn_new rip="...)
	} else {
		b = append(b, "type=conn_close rip="...)
	}
	ip, port := "unix", 0
	if a, ok := c.nc.RemoteAddr().(*net.TCPAddr); ok {
		ip, port = a.IP.String(), a.Port
	}
	b = append(b, ip...)
	b = append(b, " rport="...)
	b = strconv.AppendInt(b, int64(port), 10)
	b = append(b, " transport=tcp"...)
	if !open {
		reason := "normal"
		switch {
		case c.stopped.Load():
			reason = "shutdown"
		case c.stats[idleKicks].Load() > 0:
			reason = "idle_timeout"
		}
		b = append(b, " reason="...)
		b = append(b, reason...)
	}
	b = append(b, " cfd="...)
	b = strconv.AppendInt(b, int64(c.fd), 10)
	c.s.watch.emit(watchConnEvents, b)
}
