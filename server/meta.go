package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/memcached-lite/memcached-lite/storage"
)

// The meta protocol of memcached 1.6 (mg, ms, md, ma, me; mn is in exec.go),
// as memcached 1.6.18's proto_text.c parses and answers it: flags are single
// letters, some with a token; replies echo O (opaque), k and c in the order
// of the request; q silences the nominal reply (HD, and EN for mg). Every
// write goes to the store as one op of the group commit (storage.StartMeta),
// and is durable before its reply, like the classic commands.

// Limits of memcached's meta commands.
const (
	metaMaxTokens = 20 // MFLAG_MAX_OPT_LENGTH: the command, key, and flags, plus one
	metaMaxOpaque = 32 // MFLAG_MAX_OPAQUE_LENGTH
)

var (
	errMetaInvalidFlag  = &protocolError{"invalid flag"}
	errMetaDupFlag      = &protocolError{"duplicate flag"}
	errMetaBadToken     = &protocolError{"bad token in command line format"}
	errMetaDecodeKey    = &protocolError{"error decoding key"}
	errMetaMLength      = &protocolError{"incorrect length for M token"}
	errMetaInitial      = &protocolError{"invalid numeric initial value"}
	errMetaDelta        = &protocolError{"invalid numeric delta value"}
	errMetaOpaque       = &protocolError{"opaque token too long"}
	errMetaFlagsLong    = &protocolError{"options flags too long"}
	errMetaFlagsLongGet = &protocolError{"options flags are too long"}
	errMetaSetMode      = &protocolError{"invalid mode for ms M token"}
	errMetaArithMode    = &protocolError{"invalid mode for ma M token"}
	errMetaInvalidOrDup = &protocolError{"invalid or duplicate flag"}
)

// A metaReq is a parsed meta command: its key (decoded, with b) and flags.
// Its slices point into the parser's buffers, like a command's.
type metaReq struct {
	key        []byte
	binKey     bool     // b
	flags      [][]byte // the flag tokens, in order
	value      bool     // v
	noUpdate   bool     // u
	mode       byte     // M
	cas        uint64   // C
	hasCAS     bool
	invalidate bool // I
	ttl        int32
	hasTTL     bool // T
	viv        int32
	vivify     bool // N
	recache    int32
	hasRecache bool // R
	clientFlag uint32
	delta      uint64
	initial    uint64
	keyBuf     [maxKeyLen]byte
}

// oversizeKey is the key whose item a too large set or ms removes, as
// memcached does so that no reader gets the old value: nil for other commands.
func (c *command) oversizeKey() []byte {
	switch {
	case c.op == opSet && len(c.keys) == 1:
		return c.keys[0]
	case c.op == opMetaSet && c.meta != nil:
		return c.meta.key
	}
	return nil
}

func (o opcode) isMeta() bool { return o >= opMetaGet && o <= opMetaDebug }

// parseMeta parses mg, ms, md, ma and me (f[0]), and reads ms's data block.
func (p *parser) parseMeta(c *command, op opcode, f [][]byte) error {
	c.op = op
	m := &p.meta
	*m = metaReq{}
	c.meta = m
	if op == opMetaDebug {
		if len(f) < 2 || len(f[1]) > maxKeyLen {
			return errBadFormat
		}
		m.key = f[1]
		if len(f) > 2 && string(f[2]) == "b" {
			n, err := base64.StdEncoding.Decode(m.keyBuf[:], f[1])
			if err != nil || n == 0 {
				return errMetaDecodeKey
			}
			m.key, m.binKey = m.keyBuf[:n], true
		}
		return nil
	}
	if len(f) < 2 {
		return errUnknown
	}
	if len(f[1]) > maxKeyLen {
		return errBadFormat
	}
	m.key = f[1]
	start := 2
	if op == opMetaSet {
		if len(f) == 2 {
			return errBadFormat
		}
		start = 3
	}
	if len(f)+1 > metaMaxTokens {
		if op == opMetaGet {
			return errMetaFlagsLongGet
		}
		return errMetaFlagsLong
	}
	vlen := -1
	if op == opMetaSet {
		n, ok := parseInt32(f[2])
		if !ok || n < 0 || n > maxBytesField {
			return errBadFormat
		}
		vlen = int(n)
	}
	m.flags = f[start:]
	err := m.preparse()
	if err == nil {
		for _, t := range m.flags {
			if t[0] == 'O' && len(t) > metaMaxOpaque {
				err = errMetaOpaque
			}
		}
	}
	switch op {
	case opMetaDelete:
		if err != nil && err != errMetaOpaque {
			err = errMetaInvalidOrDup
		}
	case opMetaArith:
		if err != nil && err != errMetaOpaque {
			err = errMetaInvalidOrDup
		}
		if err == nil && m.mode != 0 && !bytes.ContainsRune([]byte("I+D-"), rune(m.mode)) {
			err = errMetaArithMode
		}
	case opMetaSet:
		if err == nil && m.mode != 0 && !bytes.ContainsRune([]byte("EAPRS"), rune(m.mode)) {
			err = errMetaSetMode
		}
		n := vlen + 2
		if err == nil && vlen > p.maxValue(len(m.key), m.clientFlag) {
			err = errTooLarge
		}
		if err != nil {
			if _, derr := p.br.Discard(n); derr != nil {
				return unexpected(derr)
			}
			return err
		}
		buf, rerr := p.readData(n)
		if rerr != nil {
			return rerr
		}
		if buf[n-2] != '\r' || buf[n-1] != '\n' {
			return errBadChunk
		}
		c.data = buf[:n-2]
	}
	if err != nil {
		return err
	}
	c.noreply = m.noreply()
	return nil
}

func (m *metaReq) noreply() bool {
	for _, t := range m.flags {
		if t[0] == 'q' {
			return true
		}
	}
	return false
}

// preparse is memcached's _meta_flag_preparse: it checks every flag and
// reads the ones with tokens. Like memcached, it stops at an unknown or a
// repeated flag, and otherwise reports the last bad token it found.
func (m *metaReq) preparse() error {
	var seen [128]bool
	var err error
	for _, t := range m.flags {
		o := t[0]
		if o >= 127 || seen[o] {
			return errMetaDupFlag
		}
		seen[o] = true
		arg := t[1:]
		switch o {
		case 'b':
			n, derr := base64.StdEncoding.Decode(m.keyBuf[:], m.key)
			if derr != nil || n == 0 {
				err = errMetaDecodeKey
				break
			}
			m.key, m.binKey = m.keyBuf[:n], true
		case 'N', 'T', 'R':
			v, ok := parseInt32(arg)
			if !ok {
				err = errMetaBadToken
				break
			}
			switch o {
			case 'N':
				m.viv, m.vivify = v, true
			case 'T':
				m.ttl, m.hasTTL = v, true
			case 'R':
				m.recache, m.hasRecache = v, true
			}
		case 'l', 'O', 'P', 'L', 'k', 's', 't', 'c', 'f', 'h', 'q':
		case 'v':
			m.value = true
		case 'u':
			m.noUpdate = true
		case 'F':
			v, ok := parseUint32(arg)
			if !ok {
				err = errBadFormat
				break
			}
			m.clientFlag = v
		case 'C':
			v, ok := parseUint(arg)
			if !ok {
				err = errMetaBadToken
				break
			}
			m.cas, m.hasCAS = v, true
		case 'M':
			if len(t) != 2 {
				err = errMetaMLength
				break
			}
			m.mode = t[1]
		case 'J':
			v, ok := parseUint(arg)
			if !ok {
				err = errMetaInitial
				break
			}
			m.initial = v
		case 'D':
			v, ok := parseUint(arg)
			if !ok {
				err = errMetaDelta
				break
			}
			m.delta = v
		case 'I':
			m.invalidate = true
		default:
			return errMetaInvalidFlag
		}
	}
	return err
}

// A metaReply is what a queued meta write's reply needs of its request,
// copied out of the parser's buffers.
type metaReply struct {
	op       opcode
	key      string
	binKey   bool
	flags    []string
	value    bool
	noUpdate bool
	quiet    bool
	vivify   bool
	ttlExp   time.Time // T's expiry, for t after T
	vivExp   time.Time // N's
}

func newMetaReply(cmd *command) *metaReply {
	m := cmd.meta
	r := &metaReply{op: cmd.op, key: string(m.key), binKey: m.binKey, value: m.value,
		noUpdate: m.noUpdate, quiet: cmd.noreply, vivify: m.vivify}
	r.flags = make([]string, len(m.flags))
	for i, f := range m.flags {
		r.flags[i] = string(f)
	}
	return r
}

// execMeta runs a meta command: a write is queued with the store like the
// classic writes (startWrite), a read waits for the writes before it.
func (c *conn) execMeta(cmd *command) {
	m := cmd.meta
	op := storage.MetaOp{Item: storage.Item{Key: string(m.key)}, CAS: m.cas, HasCAS: m.hasCAS, Invalidate: m.invalidate}
	if m.hasTTL {
		op.Touch, op.Expires = true, c.expires(int64(m.ttl))
	}
	if m.vivify {
		op.Vivify, op.VivifyExpires = true, c.expires(int64(m.viv))
	}
	switch cmd.op {
	case opMetaDebug:
		c.stats[cmdMeta].Add(1) // memcached 1.6.18 counts me alone in cmd_meta
		c.drain()
		c.metaDebug(cmd)
		return
	case opMetaGet:
		if m.hasRecache {
			op.RecacheBefore = c.expires(int64(m.recache))
		}
		if !m.hasTTL && !m.vivify && !m.hasRecache && !m.wants('l') {
			// A plain read: from the cache, unless the item is stale and
			// this read wins its token, which is a write.
			c.drain()
			if c.failed {
				return
			}
			it, err := c.s.st.Get(string(m.key))
			if err != nil || it.State&storage.StateStale == 0 || it.State&storage.StateWon != 0 {
				if c.s.watch.wants(watchFetchers) {
					c.noteGet(m.key, len(it.Value), err)
				}
				r := newMetaReply(cmd)
				res := storage.MetaResult{Item: it, PrevState: it.State, PrevExp: it.Expires}
				if err == nil {
					res.Fetched = c.s.st.Fetched(string(m.key), !m.noUpdate)
				}
				c.finishMeta(r, res, err)
				return
			}
		}
		op.Kind, op.MarkFetched = storage.OpMetaGet, !m.noUpdate
	case opMetaSet:
		c.stats[cmdSet].Add(1)
		op.Item.Value, op.Item.Flags, op.BinaryKey = cmd.data, m.clientFlag, m.binKey
		op.Item.Expires = c.expires(int64(m.ttl))
		op.Kind = map[byte]storage.Op{0: storage.OpSet, 'S': storage.OpSet, 'E': storage.OpAdd,
			'A': storage.OpAppend, 'P': storage.OpPrepend, 'R': storage.OpReplace}[m.mode]
	case opMetaDelete:
		op.Kind = storage.OpDelete
	case opMetaArith:
		op.Kind, op.Delta, op.Initial = storage.OpIncr, 1, m.initial
		if m.mode == 'D' || m.mode == '-' {
			op.Kind = storage.OpDecr
		}
		if m.wants('D') {
			op.Delta = m.delta
		}
	}
	wait := c.br.Buffered() == 0 || len(c.pending) >= maxPending-1 || len(cmd.data) > smallBuffer
	if !wait {
		op.Item.Value = bytes.Clone(op.Item.Value) // the parser reuses its buffer
	}
	r := newMetaReply(cmd)
	r.ttlExp, r.vivExp = op.Expires, op.VivifyExpires
	if c.s.watch.wants(watchFetchers | watchMutations) {
		if cmd.op == opMetaSet && m.hasCAS {
			op.Notify = c.writeNote("cas")
		} else {
			op.Notify = c.writeNote(storeCmd(cmd.op, op.Kind))
		}
	}
	c.pending = append(c.pending, pendingWrite{p: c.s.st.StartMeta(op), op: cmd.op, noreply: cmd.noreply, meta: r})
	if wait {
		c.drain()
	}
}

// wants reports whether the request has the flag o.
func (m *metaReq) wants(o byte) bool {
	for _, t := range m.flags {
		if t[0] == o {
			return true
		}
	}
	return false
}

// finishMeta counts a meta command's outcome and writes its reply.
func (c *conn) finishMeta(r *metaReply, res storage.MetaResult, err error) {
	st := &c.stats
	var status string
	switch r.op {
	case opMetaGet:
		touch := false
		for _, f := range r.flags {
			touch = touch || f[0] == 'T'
		}
		if touch {
			st[cmdTouch].Add(1)
			st.count(err, touchHits, touchMisses)
		} else {
			st[cmdGet].Add(1)
			st.count(err, getHits, getMisses)
		}
		if err == nil {
			c.metaGetReply(r, &res)
			return
		}
		if errors.Is(err, storage.ErrNotFound) {
			if r.quiet {
				return
			}
			status = "EN"
		}
	case opMetaSet:
		switch {
		case err == nil:
			st[totalItems].Add(1)
			status = "HD"
		case errors.Is(err, storage.ErrNotStored):
			status = "NS"
		case errors.Is(err, storage.ErrCASMismatch):
			status = "EX"
		case errors.Is(err, storage.ErrNotFound):
			status = "NF"
		case errors.Is(err, storage.ErrTooLarge):
			st[storeTooLarge].Add(1)
			status = "NS" // an append that would not fit: the old value stays
		}
	case opMetaDelete:
		st.count(err, deleteHits, deleteMisses)
		switch {
		case err == nil:
			status = "HD"
		case errors.Is(err, storage.ErrNotFound):
			status = "NF"
		case errors.Is(err, storage.ErrCASMismatch):
			status = "EX"
		}
	case opMetaArith:
		if !errors.Is(err, storage.ErrCASMismatch) && !errors.Is(err, storage.ErrNotNumeric) && !res.Created {
			st.count(err, incrHits, incrMisses)
		}
		switch {
		case err == nil:
			c.metaArithReply(r, &res)
			return
		case errors.Is(err, storage.ErrNotFound):
			status = "NF"
		case errors.Is(err, storage.ErrCASMismatch):
			status = "EX"
		}
	}
	if status == "" {
		c.replyErr(&command{op: r.op}, err)
		return
	}
	if status == "HD" && r.quiet {
		return
	}
	b := append(c.scratch[:0], status...)
	for _, f := range r.flags {
		switch f[0] {
		case 'O':
			b = append(append(b, ' '), f...)
		case 'k':
			b = appendMetaKey(b, r.key, r.binKey)
		case 'c':
			if r.op == opMetaSet {
				b = append(b, " c"...)
				b = strconv.AppendUint(b, c.casOf(&res.Item), 10)
			}
		}
	}
	c.scratch = append(b, '\r', '\n')
	c.write(c.scratch)
}

func appendMetaKey(b []byte, key string, bin bool) []byte {
	b = append(b, " k"...)
	if !bin {
		return append(b, key...)
	}
	b = base64.StdEncoding.AppendEncode(b, []byte(key))
	return append(b, " b"...)
}

// ttlSeconds is the t flag: the whole seconds left, as memcached's clock
// counts them, or -1 for an item that does not expire.
func (c *conn) ttlSeconds(exp time.Time) int64 {
	if exp.IsZero() {
		return -1
	}
	d := exp.Sub(c.s.opts.Now())
	return int64(math.Ceil(d.Seconds()))
}

func (c *conn) metaGetReply(r *metaReply, res *storage.MetaResult) {
	it := &res.Item
	fetched := res.Fetched
	exp := res.PrevExp
	if res.Created {
		exp = time.Time{}
	}
	var b []byte
	if r.value {
		b = append(c.scratch[:0], "VA "...)
		b = strconv.AppendInt(b, int64(len(it.Value)), 10)
	} else {
		b = append(c.scratch[:0], "HD"...)
	}
	for _, f := range r.flags {
		switch f[0] {
		case 'T':
			exp = r.ttlExp
		case 'N':
			if res.Created {
				exp = r.vivExp
			}
		case 's':
			b = append(b, " s"...)
			b = strconv.AppendInt(b, int64(len(it.Value)), 10)
		case 't':
			b = append(b, " t"...)
			b = strconv.AppendInt(b, c.ttlSeconds(exp), 10)
		case 'c':
			b = append(b, " c"...)
			b = strconv.AppendUint(b, c.casOf(it), 10)
		case 'f':
			b = append(b, " f"...)
			b = strconv.AppendUint(b, uint64(it.Flags), 10)
		case 'l':
			b = append(b, " l"...)
			b = strconv.AppendInt(b, int64(c.s.opts.Now().Sub(res.Updated)/time.Second), 10)
		case 'h':
			b = append(b, " h0"...)
			if fetched {
				b[len(b)-1] = '1'
			}
		case 'O':
			b = append(append(b, ' '), f...)
		case 'k':
			b = appendMetaKey(b, r.key, it.State&storage.StateBinaryKey != 0)
		}
	}
	if res.PrevState&storage.StateWon != 0 && !res.Created {
		b = append(b, " Z"...)
	}
	if it.State&storage.StateStale != 0 {
		b = append(b, " X"...)
	}
	if res.Won {
		b = append(b, " W"...)
	}
	c.scratch = append(b, '\r', '\n')
	c.write(c.scratch) // q silences only EN: a hit is always answered
	if r.value {
		c.write(it.Value)
		c.write(replyCRLF)
	}
}

func (c *conn) metaArithReply(r *metaReply, res *storage.MetaResult) {
	if r.quiet && !res.Created {
		return // memcached 1.6.18 answers an ma that N created even with q
	}
	it := &res.Item
	num := strconv.AppendUint(nil, res.Num, 10)
	var b []byte
	if r.value {
		b = append(c.scratch[:0], "VA "...)
		b = strconv.AppendInt(b, int64(len(num)), 10)
	} else {
		b = append(c.scratch[:0], "HD"...)
	}
	exp := res.PrevExp
	if res.Created {
		exp = time.Time{}
	}
	for _, f := range r.flags {
		switch f[0] {
		case 'c':
			b = append(b, " c"...)
			b = strconv.AppendUint(b, c.casOf(it), 10)
		case 't':
			b = append(b, " t"...)
			b = strconv.AppendInt(b, c.ttlSeconds(exp), 10)
		case 'T':
			exp = r.ttlExp
		case 'N':
			if res.Created {
				exp = r.vivExp
			}
		case 'O':
			b = append(append(b, ' '), f...)
		case 'k':
			b = appendMetaKey(b, r.key, r.binKey)
		}
	}
	b = append(b, '\r', '\n')
	if r.value {
		b = append(append(b, num...), '\r', '\n')
	}
	c.scratch = b
	c.write(b)
}

// metaDebug answers me: memcached's debug line for an item. exp= is
// memcached's (its current time minus the expiry: minus the TTL), la= the
// seconds since the value was stored (memcached moves it on a read only
// after 60 s), fetch= whether a meta get read it; cls= and size= are the
// slab class and the bytes the item would take in memcached 1.6 with its
// default -n 48 -f 1.25, so that the line reads the same.
func (c *conn) metaDebug(cmd *command) {
	m := cmd.meta
	res, err := c.s.st.StartMeta(storage.MetaOp{Kind: storage.OpMetaGet, Item: storage.Item{Key: string(m.key)}}).WaitMeta()
	if errors.Is(err, storage.ErrNotFound) {
		c.write([]byte("EN\r\n"))
		return
	}
	if err != nil {
		c.replyErr(cmd, err)
		return
	}
	it := &res.Item
	b := append(c.scratch[:0], "ME "...)
	if it.State&storage.StateBinaryKey != 0 { // as memcached: the item's key as it was stored
		b = base64.StdEncoding.AppendEncode(b, m.key)
	} else {
		b = append(b, m.key...)
	}
	b = append(b, " exp="...)
	if it.Expires.IsZero() {
		b = append(b, "-1"...)
	} else {
		b = strconv.AppendInt(b, -c.ttlSeconds(it.Expires), 10)
	}
	b = append(b, " la="...)
	b = strconv.AppendInt(b, int64(c.s.opts.Now().Sub(res.Updated)/time.Second), 10)
	b = append(b, " cas="...)
	b = strconv.AppendUint(b, c.casOf(it), 10)
	b = append(b, " fetch="...)
	if res.Fetched {
		b = append(b, "yes"...)
	} else {
		b = append(b, "no"...)
	}
	size := memcachedItemSize(len(m.key), it.Flags, len(it.Value), !c.s.opts.DisableCAS)
	b = append(b, " cls="...)
	b = strconv.AppendInt(b, int64(memcachedSlabClass(size)), 10)
	b = append(b, " size="...)
	b = strconv.AppendInt(b, int64(size), 10)
	c.scratch = append(b, '\r', '\n')
	c.write(c.scratch)
}

// memcachedItemSize is memcached 1.6's ITEM_ntotal on a 64-bit build: a
// 48-byte header, the CAS, the key and a NUL, the client flags unless 0,
// and the value with its \r\n.
func memcachedItemSize(keyLen int, flags uint32, valueLen int, cas bool) int {
	n := 48 + keyLen + 1 + valueLen + 2
	if cas {
		n += 8
	}
	if flags != 0 {
		n += 4
	}
	return n
}

// memcachedSlabClass is the slab class memcached 1.6 puts an item of size
// bytes in with its defaults (chunks from 96 bytes, growing by 1.25, up to
// half a 1 MiB page; larger items are chunked from the largest class).
func memcachedSlabClass(size int) int {
	const maxChunk = 512 << 10
	chunk, class := 96, 1
	for float64(chunk) <= maxChunk/1.25 {
		if size <= chunk {
			return class
		}
		chunk = int(float64(chunk) * 1.25)
		if r := chunk % 8; r != 0 {
			chunk += 8 - r
		}
		class++
	}
	return class
}
