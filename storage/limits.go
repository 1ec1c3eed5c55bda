package storage

// The item size rule, memcached 1.6's item_size_ok: an item must fit in
// -I bytes together with what memcached stores beside its key and value. The
// figures match memcached 1.6.18 at every -I: with -I 1m the largest value
// is 1,048,516 bytes under a 1-byte key with flags 0, and 1,048,267 under a
// 250-byte key.
const (
	itemHeader = 48 + 1 + 2 // the item struct, the key's NUL, the value's \r\n
	casSize    = 8          // the CAS, unless memcached runs with -C
	flagsSize  = 4          // client flags, stored only when they are not 0
)

// MaxValueSize returns the longest value an item with a key of keyLen bytes
// and these client flags may hold: Options.MaxItemSize less memcached's
// per-item overhead. Set, add, replace, cas, and the result of append and
// prepend (which keep the present item's flags) are held to it; a longer
// value gets ErrTooLarge.
func (s *Store) MaxValueSize(keyLen int, flags uint32) int {
	n := s.opts.MaxItemSize - itemHeader - keyLen
	if !s.opts.NoCAS {
		n -= casSize
	}
	if flags != 0 {
		n -= flagsSize
	}
	return n
}

// MaxItemSize returns Options.MaxItemSize (memcached's -I) with its default.
func (s *Store) MaxItemSize() int { return s.opts.MaxItemSize }

// MemcachedItemSize is the size memcached 1.6 gives an item with this key
// length, value length and client flags (its ITEM_ntotal): what its
// lru_crawler metadump shows as size and its mem_requested sums. noCAS is
// memcached's -C.
func MemcachedItemSize(keyLen, valueLen int, flags uint32, noCAS bool) int {
	n := itemHeader + keyLen + valueLen
	if !noCAS {
		n += casSize
	}
	if flags != 0 {
		n += flagsSize
	}
	return n
}
