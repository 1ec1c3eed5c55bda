package server

import (
	"bytes"
	"errors"
	"strconv"

	"github.com/memcached-lite/memcached-lite/storage"
)

// The write pipeline of a connection: a write is queued with the store
// (startWrite) and its reply written once the store has committed it
// (drain, finishWrite), so that the writes a client pipelines share one
// commit and their replies still go out in order.

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
	casZero bool       // a cas under -C, run as a replace
	meta    *metaReply // a meta command's write (meta.go)
}

// startWrite queues a write with the store. If more requests have already
// arrived on the connection, it returns without waiting, so that the writes
// of a pipeline (or of a client sending noreply writes) share a commit; the
// replies are written in order by drain, before anything else is answered
// and before the connection waits for input.
func (c *conn) startWrite(cmd *command) {
	// A large value is not copied to wait in a pipeline: the budget holds
	// it while it is read, and the copy would be memory nobody bounds.
	wait := c.br.Buffered() == 0 || len(c.pending) >= maxPending-1 || len(cmd.data) > smallBuffer
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
	pw.p = c.startStore(cmd.op, kind, it, delta)
	c.pending = append(c.pending, pw)
	if wait {
		c.drain()
	}
}

// drain waits for the queued writes, in order, and writes their replies.
// After a noreply write failed, the writes queued behind it are waited for
// but not answered: the connection is closing.
func (c *conn) drain() {
	for i := range c.pending {
		pw := &c.pending[i]
		if pw.meta != nil {
			res, err := pw.p.WaitMeta()
			if !c.failed {
				c.finishMeta(pw.meta, res, err)
			}
			c.pending[i] = pendingWrite{}
			continue
		}
		n, err := pw.p.Wait()
		if !c.failed {
			c.finishWrite(pw, n, err)
		}
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
			if c.s.trace != nil {
				c.traceReply(map[bool]string{true: "NOREPLY "}[cmd.noreply], strconv.AppendUint(nil, n, 10))
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
