package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
)

// Checks of a data file made before bbolt opens it: bbolt trusts the file
// it is given, and a wrong one can crash the process (SIGBUS) rather than
// return an error.

// checkFile refuses, before bbolt sees it, a path that is not a regular file,
// and a file too short to be a bbolt database: bbolt reports that with an
// error of no type, which could not be told apart from an I/O failure.
// (A bbolt file has at least four pages; an empty file is a new database.)
func checkFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		dir := filepath.Dir(path)
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("storage: open %s: directory %s: %w", path, dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("storage: open %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("storage: open %s: not a regular file", path)
	case fi.Size() > 0 && fi.Size() < 2*int64(os.Getpagesize()):
		return fmt.Errorf("storage: open %s: %w: %d bytes is too short for a database", path, ErrNotOurs, fi.Size())
	case fi.Size() > 0:
		return checkLength(path, fi.Size())
	}
	return nil
}

// checkLength refuses a bbolt file shorter than its meta page says (a
// truncated copy, say): bbolt would map the missing pages and the process
// would die of SIGBUS reading them. It picks the meta page as bbolt does (the
// valid one with the higher transaction id) and leaves a file with no valid
// meta page to bbolt, which reports it.
func checkLength(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("storage: open %s: %w", path, err)
	}
	defer f.Close()
	// A bbolt meta page: a 16-byte page header, then magic, version,
	// page size, flags (4 bytes each), root bucket (16), freelist page,
	// high-water page id, txid and an FNV-64a checksum of what precedes it
	// (8 bytes each), in the machine's byte order.
	meta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		var b [16 + 64]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, 0, 0, false
		}
		m, e := b[16:], binary.NativeEndian
		h := fnv.New64a()
		h.Write(m[:56])
		if e.Uint32(m[0:]) != 0xED0CDAED || e.Uint32(m[4:]) != 2 || h.Sum64() != e.Uint64(m[56:]) {
			return 0, 0, 0, false
		}
		return uint64(e.Uint32(m[8:])), e.Uint64(m[40:]), e.Uint64(m[48:]), true
	}
	ps, _, _, ok := meta(0)
	for off := int64(1 << 10); !ok && off <= 16<<20 && off < size; off <<= 1 {
		ps, _, _, ok = meta(off) // the second meta page is at offset pageSize
	}
	if !ok {
		return nil
	}
	var need, best uint64
	for i := range uint64(2) {
		if p, pgid, txid, ok := meta(int64(i * ps)); ok && p == ps && (need == 0 || txid > best) {
			need, best = pgid*ps, txid
		}
	}
	if need > uint64(size) {
		return fmt.Errorf("storage: open %s: %w: the file is truncated: %d bytes, its meta page needs %d", path, ErrNotOurs, size, need)
	}
	return nil
}
