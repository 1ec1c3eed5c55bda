package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
)

// Limits of the text protocol, as in memcached 1.6.
const (
	maxKeyLen      = 250     // longest key
	maxCommandLine = 2048    // longest line of a command other than a retrieval
	realtimeMax    = 2592000 // exptimes up to 30 days are relative
	maxBytesField  = math.MaxInt32 - 2
)

type opcode uint8

const (
	opGet opcode = iota + 1
	opGets
	opGat
	opGats
	opSet
	opAdd
	opReplace
	opAppend
	opPrepend
	opCas
	opDelete
	opIncr
	opDecr
	opTouch
	opFlushAll
	opStats
	opVersion
	opVerbosity
	opQuit
	opShutdown
	opMetaNoop
)

var opNames = [...]string{
	opGet: "get", opGets: "gets", opGat: "gat", opGats: "gats", opSet: "set", opAdd: "add",
	opReplace: "replace", opAppend: "append", opPrepend: "prepend", opCas: "cas",
	opDelete: "delete", opIncr: "incr", opDecr: "decr", opTouch: "touch",
	opFlushAll: "flush_all", opStats: "stats", opVersion: "version",
	opVerbosity: "verbosity", opQuit: "quit", opShutdown: "shutdown", opMetaNoop: "mn",
}

func (o opcode) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return "unknown"
}

// A command is one parsed request. keys, args and data point into buffers
// owned by the parser and stay valid only until the next call to readCommand.
type command struct {
	op      opcode
	keys    [][]byte // the one key of a command other than a retrieval
	rest    []byte   // a retrieval's keys, separated by spaces: see nextToken
	args    [][]byte // stats and shutdown arguments, flush_all's delay
	flags   uint32
	exptime int64 // as sent: relative seconds, a Unix time, or negative
	cas     uint64
	delta   uint64
	noreply bool
	data    []byte // the data block without its \r\n
}

// Parse errors. Each maps to one reply in reply.go.
var (
	errUnknown     = errors.New("unknown command")          // ERROR
	errTooLarge    = errors.New("object too large")         // SERVER_ERROR object too large for cache
	errNoMemory    = errors.New("out of memory")            // SERVER_ERROR out of memory storing object
	errLineTooLong = errors.New("line too long")            // close without a reply, as memcached
	errHTTP        = errors.New("http request on the port") // close without a reply
)

// A protocolError is a malformed request: the reply is CLIENT_ERROR and msg.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

var (
	errBadFormat   = &protocolError{"bad command line format"}
	errBadChunk    = &protocolError{"bad data chunk"}
	errBadExptime  = &protocolError{"invalid exptime argument"}
	errBadDelta    = &protocolError{"invalid numeric delta argument"}
	errDeleteUsage = &protocolError{"bad command line format.  Usage: delete <key> [noreply]"}
)

// smallBuffer is the size up to which the parser keeps a line or a data
// block in buffers it reuses without asking the budget.
const smallBuffer = 16 << 10

// parser reads commands from a buffered reader. It is not safe for
// concurrent use: each connection has its own.
type parser struct {
	br       *bufio.Reader
	maxValue func(keyLen int, flags uint32) int // the largest value for a key and flags
	maxLine  int                                // longest retrieval line, without its line end
	mem      *budget                            // bounds the bytes of lines and values past smallBuffer
	fields   [][]byte                           // reused token slice
	line     []byte                             // the current line, copied out of br
	last     []byte                             // the last line read, trimmed: for -vv
	data     []byte                             // reused buffer for data blocks
	held     int                                // bytes of line and data reserved from mem
	keys     [24][]byte
}

func newParser(br *bufio.Reader, maxValue func(int, uint32) int, maxLine int, mem *budget) *parser {
	return &parser{br: br, maxValue: maxValue, maxLine: maxLine, mem: mem, fields: make([][]byte, 0, 24)}
}

// grow returns buf with room for n more bytes, but no more than limit in
// all. Past smallBuffer it doubles the capacity and reserves what it adds
// from the budget; it reports false, and leaves buf as it was, if the
// budget refuses.
func (p *parser) grow(buf []byte, n, limit int) ([]byte, bool) {
	need := len(buf) + n
	if need <= cap(buf) {
		return buf, true
	}
	size := min(max(2*cap(buf), need, smallBuffer), max(limit, need))
	if add := size - max(cap(buf), smallBuffer); add > 0 {
		if !p.mem.reserve(add) {
			return buf, false
		}
		p.held += add
	}
	nb := make([]byte, len(buf), size)
	copy(nb, buf)
	return nb, true
}

// readLine returns the next line without its \n or \r\n, in a buffer of the
// parser's own (bytes in br are overwritten by the next read, of a data
// block say). Like memcached, it gives up on a line that has reached
// maxCommandLine bytes without a newline unless it is a retrieval, whose
// lines may grow to maxLine; a line ends at a NUL byte, as memcached's C
// strings do.
func (p *parser) readLine() ([]byte, error) {
	for {
		b, _ := p.br.Peek(p.br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			if err := p.checkLine(b[:i+1]); err != nil {
				return nil, err
			}
			p.line = append(p.line[:0], b[:i+1]...)
			p.br.Discard(i + 1)
			break
		}
		if err := p.checkLine(b); err != nil {
			return nil, err
		}
		if len(b) == p.br.Size() {
			return p.readLongLine()
		}
		if _, err := p.br.Peek(len(b) + 1); err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return p.trimLine(), nil
}

// checkLine refuses a line, or the start of one, that can only end too
// long: past maxCommandLine bytes without a newline unless it is a
// retrieval, and a retrieval longer than maxLine without its line end.
func (p *parser) checkLine(b []byte) error {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	} else if n > 0 && b[n-1] == '\r' {
		n-- // the \n may follow
	}
	if len(b) > maxCommandLine && b[len(b)-1] != '\n' && !isRetrieval(b) {
		return errLineTooLong
	}
	if n > p.maxLine && isRetrieval(b) {
		return errLineTooLong
	}
	return nil
}

// readLongLine reads a retrieval line longer than br's buffer. The line
// grows as it arrives, within the budget; past it the connection closes,
// as memcached's does when it cannot grow its read buffer.
func (p *parser) readLongLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		chunk, err := p.br.ReadSlice('\n')
		line, ok := p.grow(p.line, len(chunk), p.maxLine+2)
		if !ok {
			return nil, errLineTooLong
		}
		p.line = append(line, chunk...)
		if cerr := p.checkLine(p.line); cerr != nil {
			return nil, cerr
		}
		switch {
		case err == nil:
			return p.trimLine(), nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, unexpected(err)
		}
	}
}

// trimLine drops the \n, one \r before it, and anything from a NUL on.
func (p *parser) trimLine() []byte {
	p.last = p.trimmed()
	return p.last
}

func (p *parser) trimmed() []byte {
	line := p.line[:len(p.line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	return line
}

// isRetrieval reports whether a line starts, after up to 100 spaces, with a
// get, gets, gat or gats command: those lines may be longer (memcached lets
// multi-gets grow without bound; we stop at maxLine).
func isRetrieval(line []byte) bool {
	t := bytes.TrimLeft(line, " ")
	if len(line)-len(t) > 100 {
		return false
	}
	for _, p := range [...]string{"get ", "gets ", "gat ", "gats "} {
		if bytes.HasPrefix(t, []byte(p)) {
			return true
		}
	}
	return false
}

// splitFields splits line on runs of spaces (only spaces: a tab is part of a
// token, as in memcached) and appends the tokens to dst.
func splitFields(dst [][]byte, line []byte) [][]byte {
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			j++
		}
		if j > i {
			dst = append(dst, line[i:j])
		}
		i = j
	}
	return dst
}

// readCommand reads and parses the next command into c. On an error reply
// (errUnknown, *protocolError, errTooLarge) c.op and c.noreply are set as far
// as the line was understood, and the stream is positioned where memcached
// would continue. Any other error is the connection's: stop reading.
func (p *parser) readCommand(c *command) error {
	p.last = nil
	line, err := p.readLine()
	if err != nil {
		return err
	}
	*c = command{keys: p.keys[:0]}
	// A retrieval line may hold a great many keys: they are checked here
	// and walked by exec, never split into a slice.
	switch name, rest := nextToken(line); string(name) {
	case "get", "bget":
		return parseRetrieval(c, opGet, rest)
	case "gets":
		return parseRetrieval(c, opGets, rest)
	case "gat":
		return parseRetrieval(c, opGat, rest)
	case "gats":
		return parseRetrieval(c, opGats, rest)
	}
	p.fields = splitFields(p.fields[:0], line)
	f := p.fields
	if len(f) == 0 {
		return errUnknown
	}
	n := len(f) // memcached's ntokens is n+1
	switch string(f[0]) {
	case "set":
		return p.parseStorage(c, opSet, f)
	case "add":
		return p.parseStorage(c, opAdd, f)
	case "replace":
		return p.parseStorage(c, opReplace, f)
	case "append":
		return p.parseStorage(c, opAppend, f)
	case "prepend":
		return p.parseStorage(c, opPrepend, f)
	case "cas":
		return p.parseStorage(c, opCas, f)
	case "delete":
		return parseDelete(c, f)
	case "incr", "decr":
		c.op = opIncr
		if f[0][0] == 'd' {
			c.op = opDecr
		}
		if n != 3 && n != 4 {
			return errUnknown
		}
		c.noreply = isNoreply(f)
		if err := setKey(c, f[1]); err != nil {
			return err
		}
		var ok bool
		if c.delta, ok = parseUint(f[2]); !ok {
			return errBadDelta
		}
		return nil
	case "touch":
		c.op = opTouch
		if n != 3 && n != 4 {
			return errUnknown
		}
		c.noreply = isNoreply(f)
		if err := setKey(c, f[1]); err != nil {
			return err
		}
		return parseExptime(c, f[2], errBadExptime)
	case "flush_all":
		// As memcached's process_flush_all_command: up to two arguments;
		// noreply is the last one; the first is the delay unless it is
		// that noreply, and is parsed by exec, after the -F check.
		c.op = opFlushAll
		if n > 3 {
			return errUnknown
		}
		c.noreply = isNoreply(f)
		if n > 2 || (n == 2 && !c.noreply) {
			c.args = f[1:2]
		}
		return nil
	case "verbosity":
		c.op = opVerbosity
		if n != 2 && n != 3 {
			return errUnknown
		}
		c.noreply = isNoreply(f)
		if _, ok := parseUint32(f[1]); !ok {
			return errBadFormat
		}
		return nil
	case "stats":
		c.op, c.args = opStats, f[1:]
		return nil
	case "version":
		c.op = opVersion
		return nil
	case "quit":
		c.op = opQuit
		return nil
	case "shutdown":
		c.op, c.args = opShutdown, f[1:]
		return nil
	case "mn":
		c.op = opMetaNoop
		return nil
	}
	if bytes.HasPrefix(f[n-1], []byte("HTTP/")) {
		return errHTTP
	}
	return errUnknown
}

func isNoreply(f [][]byte) bool { return string(f[len(f)-1]) == "noreply" }

func setKey(c *command, key []byte) error {
	if len(key) > maxKeyLen {
		return errBadFormat
	}
	c.keys = append(c.keys, key)
	return nil
}

// parseExptime parses an exptime token as memcached's safe_strtol does
// (a C long truncated to 32 bits).
func parseExptime(c *command, tok []byte, bad error) error {
	v, ok := parseInt32(tok)
	if !ok {
		return bad
	}
	c.exptime = int64(v)
	return nil
}

// parseRetrieval parses the rest of a get, gets, gat or gats line: gat's
// exptime, then keys, each checked; c.rest keeps the keys for exec to walk
// with nextToken.
func parseRetrieval(c *command, op opcode, rest []byte) error {
	c.op = op
	if op == opGat || op == opGats {
		var tok []byte
		if tok, rest = nextToken(rest); tok == nil {
			return errUnknown
		}
		if err := parseExptime(c, tok, errBadExptime); err != nil {
			return err
		}
	} else if tok, _ := nextToken(rest); tok == nil {
		return errUnknown
	}
	for k, r := nextToken(rest); k != nil; k, r = nextToken(r) {
		if len(k) > maxKeyLen {
			return errBadFormat
		}
	}
	c.rest = rest
	return nil
}

// nextToken returns the first space-separated token of b (nil if there is
// none) and what follows it.
func nextToken(b []byte) (tok, rest []byte) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' {
		j++
	}
	if j == i {
		return nil, nil
	}
	return b[i:j], b[j:]
}

// parseStorage parses set/add/replace/append/prepend/cas and reads the data
// block that follows.
func (p *parser) parseStorage(c *command, op opcode, f [][]byte) error {
	c.op = op
	want := 5
	if op == opCas {
		want = 6
	}
	if len(f) != want && len(f) != want+1 {
		return errUnknown
	}
	c.noreply = isNoreply(f)
	if err := setKey(c, f[1]); err != nil {
		return err
	}
	flags, ok1 := parseUint32(f[2])
	exptime, ok2 := parseInt32(f[3])
	size, ok3 := parseInt32(f[4])
	if !ok1 || !ok2 || !ok3 {
		return errBadFormat
	}
	c.flags, c.exptime = flags, int64(exptime)
	if op == opCas {
		var ok bool
		if c.cas, ok = parseUint(f[5]); !ok {
			return errBadFormat
		}
	}
	if size < 0 || size > maxBytesField {
		return errBadFormat
	}
	n := int(size) + 2
	if int(size) > p.maxValue(len(c.keys[0]), c.flags) {
		if _, err := p.br.Discard(n); err != nil {
			return unexpected(err)
		}
		return errTooLarge
	}
	buf, err := p.readData(n)
	if err != nil {
		return err
	}
	if buf[n-2] != '\r' || buf[n-1] != '\n' {
		return errBadChunk
	}
	c.data = buf[:n-2]
	return nil
}

// readData reads a data block of n bytes. A block larger than smallBuffer
// is read into a buffer that grows as its bytes arrive, so that a client
// that sends a large value slowly holds only what it has sent; if the
// budget refuses to let it grow, the rest of the block is read and dropped
// and the command fails with errNoMemory.
func (p *parser) readData(n int) ([]byte, error) {
	if n <= smallBuffer {
		if cap(p.data) < n {
			p.data = make([]byte, smallBuffer)
		}
		buf := p.data[:n]
		if _, err := io.ReadFull(p.br, buf); err != nil {
			return nil, unexpected(err)
		}
		return buf, nil
	}
	buf := p.data[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			var ok bool
			if buf, ok = p.grow(buf, 1, n); !ok {
				if _, err := p.br.Discard(n - len(buf)); err != nil {
					return nil, unexpected(err)
				}
				return nil, errNoMemory
			}
			p.data = buf
		}
		m, err := p.br.Read(buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, unexpected(err)
		}
	}
	return buf, nil
}

// release gives the budget back what the last command's line and data
// held, and drops buffers past smallBuffer so that an idle connection
// keeps no more than it needs for small commands.
func (p *parser) release() {
	if cap(p.data) > smallBuffer {
		p.data = nil
	}
	if cap(p.line) > smallBuffer {
		p.line = nil
	}
	p.last = nil
	if cap(p.fields) > 64 {
		p.fields = make([][]byte, 0, 24)
	}
	p.mem.release(p.held)
	p.held = 0
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseDelete(c *command, f [][]byte) error {
	c.op = opDelete
	n := len(f)
	if n < 2 || n > 4 {
		return errUnknown
	}
	if n > 2 {
		holdZero := string(f[2]) == "0"
		c.noreply = isNoreply(f)
		if !((n == 3 && (holdZero || c.noreply)) || (n == 4 && holdZero && c.noreply)) {
			return errDeleteUsage
		}
	}
	return setKey(c, f[1])
}
