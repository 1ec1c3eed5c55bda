package server

import (
	"bytes"
	"errors"
	"time"
	"unsafe"

	"github.com/memcached-lite/memcached-lite/storage"
)

// exec runs one parsed command (or answers its parse error) and buffers the
// reply. It sets c.closing when the connection must end after it.
func (c *conn) exec(cmd *command, perr error) {
	if perr == nil && cmd.op.isWrite() {
		c.startWrite(cmd)
		return
	}
	if perr == nil && cmd.op.isMeta() {
		c.execMeta(cmd)
		return
	}
	// Anything else may read what the queued writes change, and its reply
	// comes after theirs.
	c.drain()
	if c.failed {
		return // a failed noreply write's SERVER_ERROR was the last reply
	}
	if perr != nil {
		c.execError(cmd, perr)
		return
	}
	switch cmd.op {
	case opGet, opGets:
		c.get(cmd)
	case opGat, opGats:
		c.gat(cmd)
	case opFlushAll:
		c.flushAll(cmd)
	case opStats:
		c.statsCmd(cmd)
	case opVersion:
		c.write([]byte("VERSION " + Version + "\r\n"))
	case opVerbosity:
		c.reply(cmd, replyOK)
	case opQuit:
		c.closing = true
	case opShutdown:
		c.shutdown(cmd)
	case opMetaNoop:
		c.write(replyMN)
	case opWatch:
		c.watch(cmd)
	case opLruCrawler:
		c.lruCrawler(cmd)
	}
}

// execError answers a request that did not parse. Like memcached, noreply
// silences the error too when the line got far enough to know it.
func (c *conn) execError(cmd *command, err error) {
	tooLarge, noMemory := errors.Is(err, errTooLarge), errors.Is(err, errNoMemory)
	if tooLarge || noMemory {
		// memcached does not count these in cmd_set.
		if tooLarge {
			c.stats[storeTooLarge].Add(1)
		} else {
			c.stats[storeNoMemory].Add(1)
		}
		// As memcached: a set that fails so removes the old value, so
		// that a reader never gets the stale one.
		if key := cmd.oversizeKey(); key != nil {
			if derr := c.s.st.Delete(string(key)); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
				c.s.opts.Logger.Error("delete after oversize set", "key", string(key), "err", derr)
			}
		}
	}
	if cmd.noreply {
		return
	}
	c.write(errorReplyLine(err))
}

func (o opcode) isStorage() bool { return o >= opSet && o <= opCas }

// isWrite reports whether the op is a write of one key, which startWrite
// may queue behind others.
func (o opcode) isWrite() bool {
	return o.isStorage() || o == opDelete || o == opIncr || o == opDecr || o == opTouch
}

// reply writes b unless the command asked for noreply.
func (c *conn) reply(cmd *command, b []byte) {
	if !cmd.noreply {
		c.write(b)
	} else if c.s.trace != nil {
		c.traceReply("NOREPLY ", b)
	}
}

// replyErr writes the reply for a store error, logging the unexpected ones.
//
// An unexpected error (the store's own: a full disk, a failed fsync) is
// answered even under noreply, and then the connection closes without
// answering anything else: a client that sent noreply writes learns that
// one was lost at its next reply, and never reads a later reply as a sign
// that all of them were stored. (memcached, whose writes cannot fail so,
// stays silent.)
func (c *conn) replyErr(cmd *command, err error) {
	b, unexpected := errorReply(err)
	if unexpected {
		c.s.opts.Logger.Error("store failed", "op", cmd.op.String(), "err", err)
		if cmd.noreply {
			c.write(b)
			c.failed, c.closing = true, true
			return
		}
	}
	c.reply(cmd, b)
}

// expires turns a protocol exptime into an absolute time: 0 never, up to 30
// days relative, above that a Unix time, negative already past.
func (c *conn) expires(exptime int64) time.Time {
	switch {
	case exptime == 0:
		return time.Time{}
	case exptime < 0:
		return time.Unix(1, 0)
	case exptime > realtimeMax:
		return time.Unix(exptime, 0)
	}
	return c.s.opts.Now().Add(time.Duration(exptime) * time.Second)
}

func (c *conn) casOf(it *storage.Item) uint64 {
	if c.s.opts.DisableCAS {
		return 0
	}
	return it.CAS
}

func (c *conn) get(cmd *command) {
	withCAS := cmd.op == opGets
	for k, rest := nextToken(cmd.rest); k != nil; k, rest = nextToken(rest) {
		c.stats[cmdGet].Add(1)
		// The store does not keep the key, so it may alias the parser's line.
		it, err := c.s.st.Get(unsafe.String(&k[0], len(k)))
		if c.s.watch.wants(watchFetchers) {
			c.noteGet(k, len(it.Value), err)
		}
		if err != nil {
			switch {
			case errors.Is(err, storage.ErrExpired):
				c.stats[getExpired].Add(1)
			case errors.Is(err, storage.ErrFlushed):
				c.stats[getFlushed].Add(1)
			case errors.Is(err, storage.ErrClosed):
				c.werr = err // shutting down: no point reading on
				return
			case !errors.Is(err, storage.ErrNotFound):
				c.s.opts.Logger.Error("get failed", "key", string(k), "err", err)
			}
			c.stats[getMisses].Add(1)
			continue
		}
		c.stats[getHits].Add(1)
		if c.s.trace != nil {
			c.tracef(">%d sending key %s", c.fd, k)
		}
		c.scratch = writeValue(c.bw, c.scratch, &it, withCAS, c.casOf(&it))
		if c.werr != nil {
			return // the client has gone: stop loading its keys
		}
	}
	c.write(replyEnd)
}

// gat touches the keys of a gat or gats line together, one commit for as
// many of them as the store takes at once (see storage.GetAndTouchKeys).
func (c *conn) gat(cmd *command) {
	withCAS := cmd.op == opGats
	exp := c.expires(cmd.exptime)
	keys := make([]string, 0, min(bytes.Count(cmd.rest, []byte(" ")), gatKeys))
	var items []storage.Item
	for k, rest := nextToken(cmd.rest); k != nil; {
		// The store does not keep the keys, so they may alias the line.
		keys = keys[:0]
		for ; k != nil && len(keys) < gatKeys; k, rest = nextToken(rest) {
			keys = append(keys, unsafe.String(&k[0], len(k)))
		}
		for todo := keys; len(todo) > 0; todo = todo[len(items):] {
			var err error
			if items, err = c.s.st.GetAndTouchKeys(todo, exp, items[:0]); err != nil {
				// As for a single-key command that fails so: the reply
				// ends, after what was written, in SERVER_ERROR.
				c.replyErr(&command{op: cmd.op}, err)
				return
			}
			for i := range items {
				it := &items[i]
				if c.s.watch.wants(watchFetchers) {
					c.noteGet([]byte(todo[i]), len(it.Value), missIf(it.Key == ""))
				}
				c.stats[cmdTouch].Add(1)
				if it.Key == "" {
					c.stats[touchMisses].Add(1)
					continue
				}
				c.stats[touchHits].Add(1)
				if c.s.trace != nil {
					c.tracef(">%d sending key %s", c.fd, it.Key)
				}
				c.scratch = writeValue(c.bw, c.scratch, it, withCAS, c.casOf(it))
				*it = storage.Item{}
			}
			if c.werr != nil {
				return // the client has gone: touch no more of its keys
			}
		}
	}
	c.write(replyEnd)
}

// gatKeys is how many keys of a gat line go to the store together.
const gatKeys = 8192

// flushAll follows memcached 1.6's process_flush_all_command: cmd_flush
// counts every flush_all that gets this far, -F refuses it before its delay
// is read, and the delay means what memcached makes of it (flushAt).
func (c *conn) flushAll(cmd *command) {
	c.stats[cmdFlush].Add(1)
	if c.s.opts.DisableFlush {
		c.reply(cmd, replyNoFlush)
		return
	}
	var delay int32
	if len(cmd.args) > 0 {
		var ok bool
		if delay, ok = parseInt32(cmd.args[0]); !ok {
			c.reply(cmd, errorReplyLine(errBadExptime))
			return
		}
	}
	var err error
	switch at, when := c.flushAt(delay); when {
	case flushNow:
		err = c.s.st.FlushAll(time.Time{})
	case flushLater:
		err = c.s.st.FlushAll(at)
	case flushNever:
		err = c.s.st.CancelFlush()
	}
	if err != nil {
		c.replyErr(cmd, err)
		return
	}
	c.reply(cmd, replyOK)
}

type flushWhen int

const (
	flushNow flushWhen = iota
	flushLater
	flushNever // cancels a pending flush and flushes nothing
)

// processStarted is memcached's process_started, ITEM_UPDATE_INTERVAL (60 s)
// and 2 s before the server started: the epoch of its relative clock.
const processStarted = -62 * time.Second

// flushAt says when flush_all with this delay flushes. memcached sets
// oldest_live to realtime(delay)-1 and flushes at once when that is not in
// the future, so a relative delay of d seconds flushes after d-1 of them
// (flush_all 1 flushes now); an absolute time flushes a second before it,
// now if that has passed, except that a time before memcached started
// makes realtime 1 and oldest_live 0, which flushes nothing and cancels a
// pending flush.
func (c *conn) flushAt(delay int32) (time.Time, flushWhen) {
	now := c.s.opts.Now()
	switch {
	case delay <= 1:
		return time.Time{}, flushNow
	case delay <= realtimeMax:
		return now.Add(time.Duration(delay-1) * time.Second), flushLater
	}
	at := time.Unix(int64(delay), 0)
	if !at.After(c.s.start.Add(processStarted)) {
		return time.Time{}, flushNever
	}
	if at = at.Add(-time.Second); !at.After(now) {
		return time.Time{}, flushNow
	}
	return at, flushLater
}

func (c *conn) shutdown(cmd *command) {
	switch {
	case !c.s.opts.AllowShutdown:
		c.write(replyNoShut)
	case len(cmd.args) == 0 || len(cmd.args) == 1 && string(cmd.args[0]) == "graceful":
		c.s.opts.Logger.Info("shutdown requested", "remote", c.nc.RemoteAddr().String())
		c.closing = true
		if f := c.s.opts.OnShutdown; f != nil {
			f()
		}
	default:
		c.write(replyBadShut)
	}
}
