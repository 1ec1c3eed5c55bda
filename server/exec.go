package server

import (
	"errors"
	"time"
	"unsafe"

	"github.com/memcached-lite/memcached-lite/storage"
)

// exec runs one parsed command (or answers its parse error) and buffers the
// reply. It sets c.closing when the connection must end after it.
func (c *conn) exec(cmd *command, perr error) {
	if perr != nil {
		c.execError(cmd, perr)
		return
	}
	switch cmd.op {
	case opGet, opGets:
		c.get(cmd)
	case opGat, opGats:
		c.gat(cmd)
	case opSet, opAdd, opReplace, opAppend, opPrepend, opCas:
		c.store(cmd)
	case opDelete:
		c.delete(cmd)
	case opIncr, opDecr:
		c.incr(cmd)
	case opTouch:
		c.touch(cmd)
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
	}
}

// execError answers a request that did not parse. Like memcached, noreply
// silences the error too when the line got far enough to know it.
func (c *conn) execError(cmd *command, err error) {
	if errors.Is(err, errTooLarge) {
		c.s.stats.storeTooLarge.Add(1) // memcached does not count it in cmd_set
		// As memcached: a set that is too large removes the old value, so
		// that a reader never gets the stale one.
		if cmd.op == opSet && len(cmd.keys) == 1 {
			if derr := c.s.st.Delete(string(cmd.keys[0])); derr != nil && !errors.Is(derr, storage.ErrNotFound) {
				c.s.opts.Logger.Error("delete after oversize set", "key", string(cmd.keys[0]), "err", derr)
			}
		}
	}
	if cmd.noreply {
		return
	}
	c.write(errorReplyLine(err))
}

func (o opcode) isStorage() bool { return o >= opSet && o <= opCas }

// reply writes b unless the command asked for noreply.
func (c *conn) reply(cmd *command, b []byte) {
	if !cmd.noreply {
		c.write(b)
	}
}

// replyErr writes the reply for a store error, logging the unexpected ones.
func (c *conn) replyErr(cmd *command, err error) {
	b, unexpected := errorReply(err)
	if unexpected {
		c.s.opts.Logger.Error("store failed", "op", cmd.op.String(), "err", err)
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
	for _, k := range cmd.keys {
		c.s.stats.cmdGet.Add(1)
		// The store does not keep the key, so it may alias the parser's line.
		it, err := c.s.st.Get(unsafe.String(&k[0], len(k)))
		if err != nil {
			switch {
			case errors.Is(err, storage.ErrExpired):
				c.s.stats.getExpired.Add(1)
			case errors.Is(err, storage.ErrFlushed):
				c.s.stats.getFlushed.Add(1)
			case !errors.Is(err, storage.ErrNotFound):
				c.s.opts.Logger.Error("get failed", "key", string(k), "err", err)
			}
			c.s.stats.getMisses.Add(1)
			continue
		}
		c.s.stats.getHits.Add(1)
		c.scratch = writeValue(c.bw, c.scratch, &it, withCAS, c.casOf(&it))
	}
	c.write(replyEnd)
}

func (c *conn) gat(cmd *command) {
	withCAS := cmd.op == opGats
	exp := c.expires(cmd.exptime)
	for _, k := range cmd.keys {
		c.s.stats.cmdTouch.Add(1)
		it, err := c.s.st.GetAndTouch(string(k), exp)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				c.s.opts.Logger.Error("gat failed", "key", string(k), "err", err)
			}
			c.s.stats.touchMisses.Add(1)
			continue
		}
		c.s.stats.touchHits.Add(1)
		c.scratch = writeValue(c.bw, c.scratch, &it, withCAS, c.casOf(&it))
	}
	c.write(replyEnd)
}

func (c *conn) store(cmd *command) {
	c.s.stats.cmdSet.Add(1)
	it := storage.Item{Key: string(cmd.keys[0]), Value: cmd.data, Flags: cmd.flags, Expires: c.expires(cmd.exptime), CAS: cmd.cas}
	var err error
	switch cmd.op {
	case opSet:
		err = c.s.st.Set(it)
	case opAdd:
		err = c.s.st.Add(it)
	case opReplace:
		err = c.s.st.Replace(it)
	case opAppend:
		err = c.s.st.Append(it)
	case opPrepend:
		err = c.s.st.Prepend(it)
	case opCas:
		if c.s.opts.DisableCAS && cmd.cas == 0 {
			err = c.s.st.Replace(it) // with -C every item's CAS reads as 0
			if errors.Is(err, storage.ErrNotStored) {
				err = storage.ErrNotFound
			}
		} else {
			err = c.s.st.CompareAndSwap(it)
		}
		switch {
		case err == nil:
			c.s.stats.casHits.Add(1)
		case errors.Is(err, storage.ErrNotFound):
			c.s.stats.casMisses.Add(1)
		case errors.Is(err, storage.ErrCASMismatch):
			c.s.stats.casBadval.Add(1)
		}
	}
	if err != nil {
		if errors.Is(err, storage.ErrTooLarge) {
			c.s.stats.storeTooLarge.Add(1)
			if cmd.op == opAppend || cmd.op == opPrepend {
				err = storage.ErrNotStored // memcached: the result does not fit, the old value stays
			}
		}
		c.replyErr(cmd, err)
		return
	}
	c.s.stats.totalItems.Add(1)
	c.reply(cmd, replyStored)
}

func (c *conn) delete(cmd *command) {
	err := c.s.st.Delete(string(cmd.keys[0]))
	switch {
	case err == nil:
		c.s.stats.deleteHits.Add(1)
		c.reply(cmd, replyDeleted)
	case errors.Is(err, storage.ErrNotFound):
		c.s.stats.deleteMisses.Add(1)
		c.reply(cmd, replyNotFound)
	default:
		c.replyErr(cmd, err)
	}
}

func (c *conn) incr(cmd *command) {
	key := string(cmd.keys[0])
	var n uint64
	var err error
	hits, misses := &c.s.stats.incrHits, &c.s.stats.incrMisses
	if cmd.op == opIncr {
		n, err = c.s.st.Incr(key, cmd.delta)
	} else {
		hits, misses = &c.s.stats.decrHits, &c.s.stats.decrMisses
		n, err = c.s.st.Decr(key, cmd.delta)
	}
	switch {
	case err == nil:
		hits.Add(1)
		if !cmd.noreply {
			c.scratch = writeUint(c.bw, c.scratch, n)
		}
	case errors.Is(err, storage.ErrNotFound):
		misses.Add(1)
		c.reply(cmd, replyNotFound)
	default:
		c.replyErr(cmd, err)
	}
}

func (c *conn) touch(cmd *command) {
	c.s.stats.cmdTouch.Add(1)
	err := c.s.st.Touch(string(cmd.keys[0]), c.expires(cmd.exptime))
	switch {
	case err == nil:
		c.s.stats.touchHits.Add(1)
		c.reply(cmd, replyTouched)
	case errors.Is(err, storage.ErrNotFound):
		c.s.stats.touchMisses.Add(1)
		c.reply(cmd, replyNotFound)
	default:
		c.replyErr(cmd, err)
	}
}

func (c *conn) flushAll(cmd *command) {
	if c.s.opts.DisableFlush {
		c.reply(cmd, replyNoFlush)
		return
	}
	c.s.stats.cmdFlush.Add(1)
	var at time.Time // now
	if cmd.hasExp && cmd.exptime > 0 {
		at = c.expires(cmd.exptime)
	}
	if err := c.s.st.FlushAll(at); err != nil {
		c.replyErr(cmd, err)
		return
	}
	c.reply(cmd, replyOK)
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
