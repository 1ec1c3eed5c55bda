package server

import "github.com/memcached-lite/memcached-lite/storage"

// The numbers on a command line follow memcached's safe_strto* rules, which
// live in storage (storage.ParseUint, storage.ParseInt) because incr and
// decr read stored values by the same rule. A command line has no NUL in
// it: the line ends at the first one.

// parseUint is safe_strtoull.
func parseUint(b []byte) (uint64, bool) { return storage.ParseUint(b) }

// parseUint32 is safe_strtoul: as parseUint, truncated to 32 bits.
func parseUint32(b []byte) (uint32, bool) {
	n, ok := storage.ParseUint(b)
	return uint32(n), ok
}

// parseInt32 is safe_strtol: a C long (64 bits), truncated to 32 bits.
func parseInt32(b []byte) (int32, bool) {
	n, ok := storage.ParseInt(b)
	return int32(n), ok
}
