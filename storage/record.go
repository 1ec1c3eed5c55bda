package storage

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The on-disk record. Each key of the items bucket maps to one record:
//
//	offset size field
//	0      1    format version (recordVersion)
//	1      4    client flags, big endian
//	5      8    expiry, Unix nanoseconds, big endian; 0 means never
//	13     8    CAS unique, big endian
//	21     8    last update, Unix nanoseconds, big endian (for flush_all <delay>)
//	29     n    the value, to the end of the record
//
// A record of an item in a meta protocol state (State: stale, win token
// handed out) is version 2: the same header, then one byte of State at
// offset 29, then the value. Items without such state are still written as
// version 1, so a file written without the meta protocol's I and W stays
// readable by a build that predates version 2.
//
// A record shorter than its header, or of another version, is corrupt:
// decodeRecord reports errCorrupt rather than guessing.
const (
	recordVersion      = 1
	recordVersionState = 2
	recordHeaderSize   = 29
)

var errCorrupt = errors.New("storage: corrupt record")

// record is a decoded record. value aliases the encoded bytes.
type record struct {
	flags   uint32
	expires int64 // Unix nanoseconds; 0 means never
	cas     uint64
	updated int64 // Unix nanoseconds
	state   State // meta protocol state; 0 in a version 1 record
	value   []byte
}

// appendRecord appends the encoding of r to dst and returns the result.
func appendRecord(dst []byte, r record) []byte {
	if r.state != 0 {
		dst = append(dst, recordVersionState)
	} else {
		dst = append(dst, recordVersion)
	}
	dst = binary.BigEndian.AppendUint32(dst, r.flags)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.expires))
	dst = binary.BigEndian.AppendUint64(dst, r.cas)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.updated))
	if r.state != 0 {
		dst = append(dst, byte(r.state))
	}
	return append(dst, r.value...)
}

// decodeRecord decodes b. The returned value aliases b: a caller that keeps it
// past the life of b (a bbolt transaction) must copy it.
func decodeRecord(b []byte) (record, error) {
	if len(b) < recordHeaderSize || b[0] != recordVersion && b[0] != recordVersionState {
		return record{}, errCorrupt
	}
	r := record{
		flags:   binary.BigEndian.Uint32(b[1:]),
		expires: int64(binary.BigEndian.Uint64(b[5:])),
		cas:     binary.BigEndian.Uint64(b[13:]),
		updated: int64(binary.BigEndian.Uint64(b[21:])),
		value:   b[recordHeaderSize:],
	}
	if b[0] == recordVersionState {
		if len(b) < recordHeaderSize+1 || b[recordHeaderSize] == 0 || b[recordHeaderSize]&^byte(stateMask) != 0 {
			return record{}, errCorrupt
		}
		r.state, r.value = State(b[recordHeaderSize]), b[recordHeaderSize+1:]
	}
	return r, nil
}

// item returns the item r encodes under key; its Value aliases r's.
func (r *record) item(key string) Item {
	return Item{Key: key, Value: r.value, Flags: r.flags, Expires: fromUnixNano(r.expires), CAS: r.cas, State: r.state}
}

// The range of times that Unix nanoseconds can hold; times outside it are
// clamped to it (time.UnixNano is undefined for them).
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// unixNano converts t to Unix nanoseconds, with the zero time as 0 (never).
func unixNano(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minTime):
		return math.MinInt64
	case t.After(maxTime):
		return math.MaxInt64
	}
	n := t.UnixNano()
	if n == 0 {
		n = -1 // the epoch itself is long past, not "never"
	}
	return n
}

// fromUnixNano is the inverse of unixNano.
func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
