package server

import "math"

// The number parsers follow memcached's safe_strto* functions in util.c,
// which wrap C's strtol and strtoul: an optional sign, decimal digits, and
// nothing after them but white space; out of range is an error.

func isSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// parseDigits parses [+-]digits followed by the end or a space. It returns
// the magnitude, whether a minus sign was present, and whether it parsed
// without overflowing 64 bits.
func parseDigits(b []byte) (n uint64, neg, ok bool) {
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
	if i == start || (i < len(b) && !isSpace(b[i])) {
		return 0, neg, false
	}
	return n, neg, true
}

// parseUint is safe_strtoull: a "-" is accepted only where the result, read
// as a signed number, is not negative (so "-0" is 0 and "-1" is an error).
func parseUint(b []byte) (uint64, bool) {
	n, neg, ok := parseDigits(b)
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

// parseUint32 is safe_strtoul: as parseUint, truncated to 32 bits.
func parseUint32(b []byte) (uint32, bool) {
	n, ok := parseUint(b)
	return uint32(n), ok
}

// parseInt32 is safe_strtol: a C long (64 bits), truncated to 32 bits.
func parseInt32(b []byte) (int32, bool) {
	n, neg, ok := parseDigits(b)
	if !ok {
		return 0, false
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return int32(-int64(n)), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int32(int64(n)), true
}
