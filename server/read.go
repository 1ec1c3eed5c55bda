package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Reading a command's line and data block from the connection's buffered
// reader, within the limits: memcached's line rules, --max-line-length and
// the read budget.

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
	meta     metaReq // the meta command being parsed
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
