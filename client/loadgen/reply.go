package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
)

// Replies the load generator expects, byte for byte.
var (
	replyStored      = []byte("STORED\r\n")
	replyEnd         = []byte("END\r\n")
	replyCRLF        = []byte("\r\n")
	replyValuePrefix = []byte("VALUE ")
)

// A replyError is a reply that is not what the protocol allows for the
// request: the connection's framing is then unknown and it is redialed.
type replyError struct {
	req string // the request, "get <key>" or "set <key>"
	got string // what came back (the first line, or a description)
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s: unexpected reply %s", e.req, e.got)
}

// checkSetReply reads the reply to a set of key: it must be STORED.
func checkSetReply(br *bufio.Reader, key []byte) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return replyReadError("set", key, line, err)
	}
	if !bytes.Equal(line, replyStored) {
		return &replyError{req: "set " + string(key), got: strconv.Quote(string(line))}
	}
	return nil
}

// checkGetReply reads the reply to a get of key: END (a miss), or one VALUE line
// naming key, its data block and END (a hit).
func checkGetReply(br *bufio.Reader, key []byte) (hit bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, replyReadError("get", key, line, err)
	}
	if bytes.Equal(line, replyEnd) {
		return false, nil
	}
	n, ok := parseValueReply(line, key)
	if !ok {
		return false, &replyError{req: "get " + string(key), got: strconv.Quote(string(line))}
	}
	if _, err := br.Discard(n); err != nil {
		return false, fmt.Errorf("get %s: read %d data bytes: %w", key, n, err)
	}
	tail, err := br.Peek(2)
	if err != nil {
		return false, fmt.Errorf("get %s: read data end: %w", key, err)
	}
	if !bytes.Equal(tail, replyCRLF) {
		return false, &replyError{req: "get " + string(key), got: fmt.Sprintf("%q after %d data bytes", tail, n)}
	}
	if _, err := br.Discard(2); err != nil {
		return false, err
	}
	line, err = br.ReadSlice('\n')
	if err != nil {
		return false, replyReadError("get", key, line, err)
	}
	if !bytes.Equal(line, replyEnd) {
		return false, &replyError{req: "get " + string(key), got: strconv.Quote(string(line)) + " after the value"}
	}
	return true, nil
}

// replyReadError describes a failed read of a reply line.
func replyReadError(verb string, key, partial []byte, err error) error {
	if len(partial) > 0 {
		return fmt.Errorf("%s %s: reply %q cut short: %w", verb, key, partial, err)
	}
	return fmt.Errorf("%s %s: read reply: %w", verb, key, err)
}

// parseValueReply parses "VALUE <key> <flags> <bytes>[ <cas>]\r\n" and returns
// the data length. It reports false if the line is malformed, names a key
// other than key, or announces more than MaxValueSize bytes.
func parseValueReply(line, key []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(line, replyValuePrefix)
	if !ok {
		return 0, false
	}
	rest, ok = bytes.CutSuffix(rest, replyCRLF)
	if !ok {
		return 0, false
	}
	rest, ok = bytes.CutPrefix(rest, key)
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return 0, false
	}
	_, rest, ok = cutDecimal(rest[1:])
	if !ok || len(rest) == 0 || rest[0] != ' ' {
		return 0, false
	}
	n, rest, ok := cutDecimal(rest[1:])
	if !ok || n > MaxValueSize {
		return 0, false
	}
	if len(rest) > 0 { // the cas of a gets reply
		if rest[0] != ' ' {
			return 0, false
		}
		if _, rest, ok = cutDecimal(rest[1:]); !ok || len(rest) > 0 {
			return 0, false
		}
	}
	return int(n), true
}

// cutDecimal parses the decimal digits at the start of b (at least one, at
// most 20) and returns their value and the bytes after them.
func cutDecimal(b []byte) (uint64, []byte, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 20 {
			return 0, nil, false
		}
		d := uint64(b[i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, nil, false
		}
		n = n*10 + d
	}
	if i == 0 {
		return 0, nil, false
	}
	return n, b[i:], true
}
