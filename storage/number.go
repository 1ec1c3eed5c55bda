package storage

import "math"

// memcached's number rules, from its util.c: safe_strtoull and safe_strtol
// wrap C's strtoull and strtol. They read a stored value for incr and decr
// here, and every number on a command line in the server, so that the two
// layers cannot disagree about what is a number.

// ParseUint parses b as memcached 1.6's safe_strtoull: optional leading
// white space, an optional sign, decimal digits that fit in 64 bits, then
// the end, white space or a NUL byte (C's end of string), after which
// anything may follow. A "-" is accepted only where the result, read as a
// signed number, is not negative, so "-0" is 0 and "-1" is not a number.
func ParseUint(b []byte) (uint64, bool) {
	n, neg, ok := scanNumber(b)
	if !ok {
		return 0, false
	}
	if neg {
		n = -n
		if int64(n) < 0 {
			return 0, false
		}
	}
	return n, true
}

// ParseInt parses b as memcached 1.6's safe_strtol does before it stores
// the result (a C long, 64 bits): as ParseUint, with negative numbers, and
// out of range is not a number.
func ParseInt(b []byte) (int64, bool) {
	n, neg, ok := scanNumber(b)
	switch {
	case !ok:
		return 0, false
	case neg && n > 1<<63:
		return 0, false
	case neg:
		return -int64(n), true
	case n > math.MaxInt64:
		return 0, false
	}
	return int64(n), true
}

// scanNumber reads [white space][+-]digits up to the end, white space or a
// NUL. It returns the magnitude, whether a minus sign was present, and
// whether it parsed without overflowing 64 bits.
func scanNumber(b []byte) (n uint64, neg, ok bool) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	start := i
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		d := uint64(b[i] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, neg, false
		}
		n = n*10 + d
	}
	if i == start || (i < len(b) && !isSpace(b[i]) && b[i] != 0) {
		return 0, neg, false
	}
	return n, neg, true
}

// isSpace is C's isspace in the C locale.
func isSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }
