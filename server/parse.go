package server

import (
	"bytes"
	"errors"
	"math"

	"github.com/memcached-lite/memcached-lite/storage"
)

// Limits of the text protocol, as in memcached 1.6.
const (
	maxKeyLen      = storage.MaxKeySize // longest key: the store's rule
	maxCommandLine = 2048               // longest line of a command other than a retrieval
	realtimeMax    = 2592000            // exptimes up to 30 days are relative
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
	opMetaGet
	opMetaSet
	opMetaDelete
	opMetaArith
	opMetaDebug
	opWatch
	opLruCrawler
)

var opNames = [...]string{
	opGet: "get", opGets: "gets", opGat: "gat", opGats: "gats", opSet: "set", opAdd: "add",
	opReplace: "replace", opAppend: "append", opPrepend: "prepend", opCas: "cas",
	opDelete: "delete", opIncr: "incr", opDecr: "decr", opTouch: "touch",
	opFlushAll: "flush_all", opStats: "stats", opVersion: "version",
	opVerbosity: "verbosity", opQuit: "quit", opShutdown: "shutdown", opMetaNoop: "mn",
	opMetaGet: "mg", opMetaSet: "ms", opMetaDelete: "md", opMetaArith: "ma", opMetaDebug: "me",
	opWatch: "watch", opLruCrawler: "lru_crawler",
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
	data    []byte   // the data block without its \r\n
	meta    *metaReq // a meta command's key and flags (meta.go)
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
	case "mg":
		return p.parseMeta(c, opMetaGet, f)
	case "ms":
		return p.parseMeta(c, opMetaSet, f)
	case "md":
		return p.parseMeta(c, opMetaDelete, f)
	case "ma":
		return p.parseMeta(c, opMetaArith, f)
	case "me":
		return p.parseMeta(c, opMetaDebug, f)
	case "watch":
		c.op, c.args = opWatch, f[1:]
		return nil
	case "lru_crawler":
		c.op, c.args = opLruCrawler, f[1:]
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
