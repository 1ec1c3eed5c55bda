package storage

import (
	"errors"
	"fmt"
)

// MaxKeySize is the longest key, in bytes, as in memcached.
const MaxKeySize = 250

// Sentinel errors returned by Store methods. Check them with errors.Is.
var (
	// ErrNotFound: the key is absent, expired or flushed.
	ErrNotFound = errors.New("storage: not found")
	// ErrExpired is the ErrNotFound of an item whose expiry has passed.
	ErrExpired = fmt.Errorf("%w (expired)", ErrNotFound)
	// ErrFlushed is the ErrNotFound of an item hidden by flush_all <delay>.
	ErrFlushed = fmt.Errorf("%w (flushed)", ErrNotFound)
	// ErrNotStored: an add found the key present, or a replace, append or
	// prepend found it absent.
	ErrNotStored = errors.New("storage: not stored")
	// ErrCASMismatch: the item changed since the CAS value was read.
	ErrCASMismatch = errors.New("storage: cas mismatch")
	// ErrNotNumeric: incr or decr on a value that is not a decimal uint64.
	ErrNotNumeric = errors.New("storage: value is not a decimal number")
	// ErrTooLarge: the value (or the result of append or prepend) is longer
	// than Store.MaxValueSize allows.
	ErrTooLarge = errors.New("storage: item too large")
	// ErrInvalidKey: the key is empty or longer than MaxKeySize.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrFailed: an earlier commit failed after it reached the file (a
	// failed fsync), so the store takes no more writes until it is reopened.
	ErrFailed = errors.New("storage: refusing writes after a failed commit reached the file; restart to recover")
	// ErrLocked: another process (a running server) holds the data file.
	ErrLocked = errors.New("the file is locked")
	// ErrClosed: the store has been closed.
	ErrClosed = errors.New("storage: store closed")
	// ErrCheckFailed: Check found the file inconsistent: a page bbolt
	// cannot account for, a record that does not decode, meta counters
	// that do not match the items.
	ErrCheckFailed = errors.New("storage: check failed")
	// ErrNotOurs: the file is a database, but not one memcached-lite wrote,
	// or one written by a newer format version.
	ErrNotOurs = errors.New("storage: not a memcached-lite data file")
)
