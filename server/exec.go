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
	// Anything else may read what the queued writes change, and its reply
	// comes after theirs.
	c.drain()
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
	}
}

// execError answers a request that did not parse. Like memcached, noreply
// silences the error too when the line got far enough to know it.
func (c *conn) execError(cmd *command, err error) {
	if errors.Is(err, errTooLarge) {
		c.stats[storeTooLarge].Add(1) // memcached does not count it in cmd_set
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

// isWrite reports whether the op is a write of one key, which startWrite
// may queue behind others.
func (o opcode) isWrite() bool {
	return o.isStorage() || o == opDelete || o == opIncr || o == opDecr || o == opTouch
}

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
		c.stats[cmdGet].Add(1)
		// The store does not keep the key, so it may alias the parser's line.
		it, err := c.s.st.Get(unsafe.String(&k[0], len(k)))
		if err != nil {
			switch {
			case errors.Is(err, storage.ErrExpired):
				c.stats[getExpired].Add(1)
			case errors.Is(err, storage.ErrFlushed):
				c.stats[getFlushed].Add(1)
			case !errors.Is(err, storage.ErrNotFound):
				c.s.opts.Logger.Error("get failed", "key", string(k), "err", err)
			}
			c.stats[getMisses].Add(1)
			continue
		}
		c.stats[getHits].Add(1)
		c.scratch = writeValue(c.bw, c.scratch, &it, withCAS, c.casOf(&it))
	}
	c.write(replyEnd)
}

func (c *conn) gat(cmd *command) {
	withCAS := cmd.op == opGats
	exp := c.expires(cmd.exptime)
	for _, k := range cmd.keys {
		c.stats[cmdTouch].Add(1)
		it, err := c.s.st.GetAndTouch(string(k), exp)
		if err != nil {
			if !errors.Is(err, storage.ErrNotFound) {
				c.s.opts.Logger.Error("gat failed", "key", string(k), "err", err)
			}
			c.stats[touchMisses].Add(1)
			continue
		}
		c.stats[touchHits].Add(1)
		c.scratch = writeValue(c.bw, c.scratch, &it, withCAS, c.casOf(&it))
	}
	c.write(replyEnd)
}

// storageOps maps the storage commands to the store's writes.
var storageOps = [...]storage.Op{opSet: storage.OpSet, opAdd: storage.OpAdd, opReplace: storage.OpReplace,
	opAppend: storage.OpAppend, opPrepend: storage.OpPrepend, opCas: storage.OpCAS}

// maxPending bounds the writes one connection queues before it waits.
const maxPending = 64

// A pendingWrite is a write queued with the store whose reply is not yet
// written: the command as far as the reply needs it, and the store's handle.
type pendingWrite struct {
	p       *storage.Pending
	op      opcode
	noreply bool
	casZero bool // a cas under -C, run as a replace
}

// startWrite queues a write with the store. If more requests have already
// arrived on the connection, it returns without waiting, so that the writes
// of a pipeline (or of a client sending noreply writes) share a commit; the
// replies are written in order by drain, before anything else is answered
// and before the connection waits for input.
func (c *conn) startWrite(cmd *command) {
	wait := c.br.Buffered() == 0 || len(c.pending) >= maxPending-1
	it := storage.Item{Key: string(cmd.keys[0])}
	pw := pendingWrite{op: cmd.op, noreply: cmd.noreply}
	var kind storage.Op
	var delta uint64
	switch cmd.op {
	case opSet, opAdd, opReplace, opAppend, opPrepend, opCas:
		c.stats[cmdSet].Add(1)
		it.Value, it.Flags, it.Expires, it.CAS = cmd.data, cmd.flags, c.expires(cmd.exptime), cmd.cas
		if !wait {
			it.Value = bytes.Clone(cmd.data) // the parser reuses its buffer
		}
		kind = storageOps[cmd.op]
		if cmd.op == opCas && c.s.opts.DisableCAS && cmd.cas == 0 {
			kind, pw.casZero = storage.OpReplace, true // with -C every item's CAS reads as 0
		}
	case opDelete:
		kind = storage.OpDelete
	case opIncr:
		kind, delta = storage.OpIncr, cmd.delta
	case opDecr:
		kind, delta = storage.OpDecr, cmd.delta
	case opTouch:
		c.stats[cmdTouch].Add(1)
		kind, it.Expires = storage.OpTouch, c.expires(cmd.exptime)
	}
	pw.p = c.s.st.Start(kind, it, delta)
	c.pending = append(c.pending, pw)
	if wait {
		c.drain()
	}
}

// drain waits for the queued writes, in order, and writes their replies.
func (c *conn) drain() {
	for i := range c.pending {
		pw := &c.pending[i]
		n, err := pw.p.Wait()
		c.finishWrite(pw, n, err)
		c.pending[i] = pendingWrite{}
	}
	c.pending = c.pending[:0]
}

// finishWrite counts a write's outcome and writes its reply.
func (c *conn) finishWrite(pw *pendingWrite, n uint64, err error) {
	st := &c.stats
	cmd := &command{op: pw.op, noreply: pw.noreply}
	switch pw.op {
	case opDelete:
		st.count(err, deleteHits, deleteMisses)
		if err == nil {
			c.reply(cmd, replyDeleted)
			return
		}
	case opIncr, opDecr:
		if pw.op == opIncr {
			st.count(err, incrHits, incrMisses)
		} else {
			st.count(err, decrHits, decrMisses)
		}
		if err == nil {
			if !cmd.noreply {
				c.scratch = writeUint(c.bw, c.scratch, n)
			}
			return
		}
	case opTouch:
		st.count(err, touchHits, touchMisses)
		if err == nil {
			c.reply(cmd, replyTouched)
			return
		}
	default: // storage commands
		if pw.casZero && errors.Is(err, storage.ErrNotStored) {
			err = storage.ErrNotFound
		}
		if pw.op == opCas {
			switch {
			case err == nil:
				st[casHits].Add(1)
			case errors.Is(err, storage.ErrNotFound):
				st[casMisses].Add(1)
			case errors.Is(err, storage.ErrCASMismatch):
				st[casBadval].Add(1)
			}
		}
		if errors.Is(err, storage.ErrTooLarge) {
			st[storeTooLarge].Add(1)
			if pw.op == opAppend || pw.op == opPrepend {
				err = storage.ErrNotStored // memcached: the result does not fit, the old value stays
			}
		}
		if err == nil {
			st[totalItems].Add(1)
			c.reply(cmd, replyStored)
			return
		}
	}
	c.replyErr(cmd, err)
}

func (c *conn) flushAll(cmd *command) {
	if c.s.opts.DisableFlush {
		c.reply(cmd, replyNoFlush)
		return
	}
	c.stats[cmdFlush].Add(1)
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
