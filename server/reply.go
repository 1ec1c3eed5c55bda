package server

import (
	"bufio"
	"errors"
	"strconv"

	"github.com/memcached-lite/memcached-lite/storage"
)

// Fixed replies.
var (
	replyStored    = []byte("STORED\r\n")
	replyNotStored = []byte("NOT_STORED\r\n")
	replyExists    = []byte("EXISTS\r\n")
	replyNotFound  = []byte("NOT_FOUND\r\n")
	replyDeleted   = []byte("DELETED\r\n")
	replyTouched   = []byte("TOUCHED\r\n")
	replyOK        = []byte("OK\r\n")
	replyEnd       = []byte("END\r\n")
	replyReset     = []byte("RESET\r\n")
	replyError     = []byte("ERROR\r\n")
	replyMN        = []byte("MN\r\n")
	replyCRLF      = []byte("\r\n")
	replyTooMany   = []byte("ERROR Too many open connections\r\n")
	replyNoShut    = []byte("ERROR: shutdown not enabled\r\n")
	replyBadShut   = []byte("CLIENT_ERROR invalid shutdown mode\r\n")
	replyNoFlush   = []byte("CLIENT_ERROR flush_all not allowed\r\n")
)

// errorReply maps an error to its wire reply. It is the only place where
// errors become CLIENT_ERROR, SERVER_ERROR, NOT_FOUND and the like; logged
// reports whether the error is the server's own and was not expected.
func errorReply(err error) (reply []byte, unexpected bool) {
	var pe *protocolError
	switch {
	case errors.As(err, &pe):
		return []byte("CLIENT_ERROR " + pe.msg + "\r\n"), false
	case errors.Is(err, errUnknown):
		return replyError, false
	case errors.Is(err, errTooLarge), errors.Is(err, storage.ErrTooLarge):
		return []byte("SERVER_ERROR object too large for cache\r\n"), false
	case errors.Is(err, errNoMemory):
		return []byte("SERVER_ERROR out of memory storing object\r\n"), false
	case errors.Is(err, storage.ErrNotFound):
		return replyNotFound, false
	case errors.Is(err, storage.ErrNotStored):
		return replyNotStored, false
	case errors.Is(err, storage.ErrCASMismatch):
		return replyExists, false
	case errors.Is(err, storage.ErrNotNumeric):
		return []byte("CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"), false
	case errors.Is(err, storage.ErrInvalidKey):
		return []byte("CLIENT_ERROR bad command line format\r\n"), false
	}
	return []byte("SERVER_ERROR " + serverErrorText(err) + "\r\n"), true
}

// serverErrorText is the text of a SERVER_ERROR for a failure of the store:
// one line, naming the cause, e.g. "storage: commit /data/db: no space left on device".
func serverErrorText(err error) string {
	b := []byte(err.Error())
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}

// writeValue writes one VALUE block of a get, gets, gat or gats reply.
func writeValue(w *bufio.Writer, scratch []byte, it *storage.Item, withCAS bool, cas uint64) []byte {
	b := append(scratch[:0], "VALUE "...)
	b = append(b, it.Key...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(it.Flags), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(it.Value)), 10)
	if withCAS {
		b = append(b, ' ')
		b = strconv.AppendUint(b, cas, 10)
	}
	b = append(b, '\r', '\n')
	w.Write(b)
	w.Write(it.Value)
	w.Write(replyCRLF)
	return b
}

// writeUint writes a number and \r\n: the reply of incr and decr.
func writeUint(w *bufio.Writer, scratch []byte, n uint64) []byte {
	b := strconv.AppendUint(scratch[:0], n, 10)
	b = append(b, '\r', '\n')
	w.Write(b)
	return b
}
