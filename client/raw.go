package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
)

// errBadRequest is returned by Do for a request it cannot split into commands.
var errBadRequest = errors.New("client: malformed raw request")

// barrier is sent after a command that may have no reply (noreply, meta q):
// every server answers it, so reading up to its VERSION line collects whatever
// the command did send, and nothing more.
var barrier = []byte("version\r\n")

// frame is how the reply to one command ends.
type frame uint8

const (
	frameLine   frame = iota // one line: STORED, ERROR, a number, VERSION ..., MN
	frameValues              // VALUE lines with data blocks, up to END
	frameList                // item lines (STAT, ITEM, ...) up to any other line
	frameMeta                // one line; "VA <n> ..." is followed by a block of n bytes
	frameQuiet               // perhaps nothing: read up to the barrier's VERSION line
	frameClose               // quit: no reply; the server closes the connection
	frameStream              // watch: one line, then the connection streams logs
)

type rawCmd struct {
	text  []byte // the command line and its data block, as given
	frame frame
}

// Do sends req to the server at addr, one of the Client's servers, and returns
// the server's reply bytes exactly as received. req is one or more complete
// commands of the text or meta protocol, each line ending in "\n" and each
// storage command followed by its data block; Do reads one reply per command,
// framing it by the command's verb:
//
//   - get, gets, gat, gats: VALUE blocks up to END;
//   - stats, lru_crawler metadump/mgdump: STAT, ITEM, PREFIX, key= and mg
//     lines up to the first other line (END, RESET, OK, ...);
//   - mg, ms, md, ma, me, mn: one line, plus the data block after "VA <n>";
//   - quit: nothing (the connection is then closed);
//   - any other command: one line.
//
// An ERROR, CLIENT_ERROR or SERVER_ERROR line also ends a reply. A command
// that may send nothing (text "noreply" as its last token, a meta command with
// the q flag, shutdown) is followed on the wire by "version\r\n"; Do reads up
// to that VERSION line and returns what came before it, without the VERSION
// line. The Trace function sees that barrier like all other traffic.
//
// Reply lines that are errors are returned as bytes, not as Go errors; the
// error is for I/O failures, replies that do not frame, and requests that do
// not split into commands (checked before any I/O). The returned slice is the
// caller's; Do does not keep req. After Do the connection is pooled again
// unless a reply was an error line or the command was quit or watch.
func (c *Client) Do(addr string, req []byte) ([]byte, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	s := c.byAddr[addr]
	if s == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownServer, addr)
	}
	cmds, err := splitRaw(req)
	if err != nil {
		return nil, err
	}
	var wire []byte
	for _, cmd := range cmds {
		wire = append(wire, cmd.text...)
		if cmd.frame == frameQuiet {
			wire = append(wire, barrier...)
		}
	}
	var reply []byte
	err = c.withConn(s, "raw", func(cn *conn) error {
		if err := cn.send(wire); err != nil {
			return err
		}
		for _, cmd := range cmds {
			var rerr error
			if reply, rerr = cn.readFrame(cmd.frame, reply); rerr != nil {
				return rerr
			}
		}
		return nil
	})
	return reply, err
}

// readFrame reads one reply framed as f and appends its bytes to out.
func (cn *conn) readFrame(f frame, out []byte) ([]byte, error) {
	switch f {
	case frameClose:
		cn.discard = true
		return out, nil
	case frameStream:
		cn.discard = true
	}
	for {
		line, text, err := cn.readFrameLine(f)
		if err != nil {
			return out, err
		}
		if f == frameQuiet && bytes.HasPrefix(text, []byte("VERSION ")) {
			return out, nil
		}
		out = append(out, line...)
		if errorReply(text) != nil || bytes.HasPrefix(text, []byte("ERROR")) {
			cn.discard = true // memcached may now read a data block as a command
			if f != frameQuiet {
				return out, nil
			}
			continue
		}
		var n = -1 // length of a data block that follows this line
		switch {
		case f == frameValues && string(text) == "END",
			f == frameList && !listItem(text):
			return out, nil
		case f == frameValues:
			if n = valueLength(text); n < 0 {
				return out, cn.badReply("unexpected %q in a get reply", text)
			}
		case f == frameMeta || f == frameQuiet:
			n = vaLength(text)
		}
		if n >= 0 {
			block, err := cn.readBlock(n)
			if err != nil {
				return out, err
			}
			out = append(append(out, block...), crlf...)
		}
		if f == frameLine || f == frameMeta || f == frameStream {
			return out, nil
		}
	}
}

// readFrameLine reads a reply line and returns it with and without its line
// end. In a list, memcached ends the lines of lru_crawler metadump ("key=...")
// in a bare "\n"; every other line must end in "\r\n".
func (cn *conn) readFrameLine(f frame) (line, text []byte, err error) {
	if f != frameList {
		line, err = cn.readRawLine()
		if err != nil {
			return nil, nil, err
		}
		return line, line[:len(line)-2], nil
	}
	line, err = cn.br.ReadSlice('\n')
	if len(line) > 0 {
		cn.trace(Received, line)
	}
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, nil, cn.badReply("line longer than %d bytes", readBufSize)
	case err != nil:
		return nil, nil, cn.ioErr(err)
	case len(line) >= 2 && line[len(line)-2] == '\r':
		return line, line[:len(line)-2], nil
	case bytes.HasPrefix(line, []byte("key=")):
		return line, line[:len(line)-1], nil
	}
	return nil, nil, cn.badReply("line %q does not end in \\r\\n", line)
}

// listItem reports whether a line of a list reply is an item, not the line
// that ends the list (END, RESET, OK, BUSY, EN or an error).
func listItem(line []byte) bool {
	for _, p := range []string{"STAT ", "ITEM ", "PREFIX ", "key=", "mg "} {
		if bytes.HasPrefix(line, []byte(p)) {
			return true
		}
	}
	return false
}

// valueLength returns the <bytes> of "VALUE <key> <flags> <bytes>[ <cas>]",
// or -1.
func valueLength(line []byte) int {
	rest, ok := bytes.CutPrefix(line, []byte("VALUE "))
	if !ok {
		return -1
	}
	_, rest, _ = field(rest)
	_, rest, _ = field(rest)
	nb, _, _ := field(rest)
	n, ok := parseUint(nb, 31)
	if !ok {
		return -1
	}
	return int(n)
}

// vaLength returns the <n> of a meta "VA <n> <flags>*" line, or -1.
func vaLength(line []byte) int {
	rest, ok := bytes.CutPrefix(line, []byte("VA "))
	if !ok {
		return -1
	}
	nb, _, _ := field(rest)
	n, ok := parseUint(nb, 31)
	if !ok {
		return -1
	}
	return int(n)
}

// splitRaw splits a raw request into commands, each with its data block, and
// decides how each reply is framed.
func splitRaw(req []byte) ([]rawCmd, error) {
	if len(req) == 0 {
		return nil, fmt.Errorf("%w: empty request", errBadRequest)
	}
	var cmds []rawCmd
	for off := 0; off < len(req); {
		i := bytes.IndexByte(req[off:], '\n')
		if i < 0 {
			return nil, fmt.Errorf("%w: %q does not end in a newline", errBadRequest, req[off:])
		}
		end := off + i + 1
		tokens := splitSpaces(bytes.TrimSuffix(req[off:off+i], []byte("\r")))
		if n := dataLength(tokens); n >= 0 {
			if end+n+2 > len(req) {
				return nil, fmt.Errorf("%w: data block shorter than %d bytes and its \\r\\n", errBadRequest, n)
			}
			end += n + 2
		}
		cmds = append(cmds, rawCmd{text: req[off:end], frame: frameFor(tokens)})
		off = end
	}
	return cmds, nil
}

// splitSpaces splits a command line on runs of spaces, as memcached does
// (a tab is not a separator).
func splitSpaces(line []byte) []string {
	var tokens []string
	for _, t := range bytes.Split(line, []byte(" ")) {
		if len(t) > 0 {
			tokens = append(tokens, string(t))
		}
	}
	return tokens
}

// dataLength returns the length of the data block a command line announces,
// or -1 if it announces none (or a length memcached would reject).
func dataLength(tokens []string) int {
	pos := -1
	if len(tokens) > 0 {
		switch tokens[0] {
		case "set", "add", "replace", "append", "prepend", "cas":
			pos = 4
		case "ms":
			pos = 2
		}
	}
	if pos < 0 || pos >= len(tokens) {
		return -1
	}
	n, err := strconv.ParseUint(tokens[pos], 10, 31)
	if err != nil {
		return -1
	}
	return int(n)
}

// frameFor decides how the reply to a command line is framed.
func frameFor(tokens []string) frame {
	if len(tokens) == 0 {
		return frameLine // memcached answers an empty line with ERROR
	}
	last := tokens[len(tokens)-1]
	switch tokens[0] {
	case "get", "gets", "gat", "gats", "bget":
		return frameValues
	case "stats":
		return frameList
	case "lru_crawler":
		if len(tokens) > 1 && (tokens[1] == "metadump" || tokens[1] == "mgdump") {
			return frameList
		}
	case "mg", "ms", "md", "ma":
		if len(tokens) > 2 && slices.Contains(tokens[2:], "q") {
			return frameQuiet
		}
		return frameMeta
	case "me", "mn":
		return frameMeta
	case "version":
		return frameLine // memcached answers "version noreply" too
	case "quit":
		return frameClose
	case "watch":
		return frameStream
	case "shutdown":
		return frameQuiet
	}
	if len(tokens) > 1 && last == "noreply" {
		return frameQuiet
	}
	return frameLine
}
