package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// checkLockTimeout is how long Check waits for a file's lock: a running
// server holds it for its whole life, so Check fails at once, naming it.
const checkLockTimeout = 100 * time.Millisecond

// maxProblems bounds the problems a CheckResult lists; it counts them all.
const maxProblems = 10

// CheckResult is what Check found in a data file.
type CheckResult struct {
	Version  uint64   // the file's format version
	Items    int64    // records in the items bucket, expired ones included
	Bytes    int64    // sum of their key and value lengths
	MaxCAS   uint64   // the highest CAS of a record
	Problems []string // the first problems found, at most 10
	Count    int      // how many problems were found in all
}

func (r *CheckResult) problem(format string, args ...any) {
	r.Count++
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// Check checks the data file at path without writing to it: bbolt's
// consistency check of its pages (Tx.Check), then memcached-lite's own: the
// buckets and the format version, that every record's header decodes and
// its key is one the store accepts, and that the counters in the meta
// bucket match the items. It opens the file read-only and fails at once
// (with an error naming the process) if another process, a running server,
// holds it.
//
// It returns an error wrapping ErrNotOurs for a file that is not a
// memcached-lite data file, ErrCheckFailed (with the result, listing the
// problems) when the check finds any, and another error when the file
// cannot be read.
func Check(path string) (CheckResult, error) {
	var res CheckResult
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return res, fmt.Errorf("storage: check %s: %w", path, err)
	case fi.Mode().IsRegular() && fi.Size() == 0:
		return res, fmt.Errorf("storage: check %s: %w: the file is empty", path, ErrNotOurs)
	}
	if err := checkFile(path); err != nil {
		return res, err
	}
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: checkLockTimeout})
	if err != nil {
		return res, openError(path, checkLockTimeout, err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			res.problem("bbolt: %v", err)
		}
		return checkTx(tx, &res)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return res, fmt.Errorf("storage: check %s: %w", path, err)
	case res.Count > 0:
		more := ""
		if res.Count > len(res.Problems) {
			more = fmt.Sprintf("; and %d more", res.Count-len(res.Problems))
		}
		noun := "problems"
		if res.Count == 1 {
			noun = "problem"
		}
		return res, fmt.Errorf("%w: %s: %d %s: %s%s", ErrCheckFailed, path, res.Count, noun, strings.Join(res.Problems, "; "), more)
	}
	return res, nil
}

// checkTx runs memcached-lite's own checks in tx. It returns ErrNotOurs for
// a file without our buckets, and records every other problem in res.
func checkTx(tx *bolt.Tx, res *CheckResult) error {
	if err := checkFormat(tx); err != nil {
		return err
	}
	meta, items := tx.Bucket(metaBucket), tx.Bucket(itemsBucket)
	res.Version = binary.BigEndian.Uint64(meta.Get(metaVersion))
	_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
		if !bytes.Equal(name, metaBucket) && !bytes.Equal(name, itemsBucket) {
			res.problem("unexpected bucket %q", name)
		}
		return nil
	})
	for _, k := range [][]byte{metaCAS, metaItems, metaBytes, metaFlush} {
		if v := meta.Get(k); v != nil && len(v) != 8 {
			res.problem("meta %q: %d bytes, want 8", k, len(v))
		}
	}
	undecoded := false // a record's value length is unknown: skip the bytes check
	c := items.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			res.problem("key %q: a nested bucket, not a record", k)
			continue
		}
		res.Items++
		if !validKey(string(k)) {
			res.problem("key %q: %d bytes, want 1 to %d", k, len(k), MaxKeySize)
		}
		r, err := decodeRecord(v)
		if err != nil {
			res.problem("key %q: record header does not decode (%d bytes, version byte %d)", k, len(v), first(v))
			undecoded = true
			continue
		}
		res.Bytes += int64(len(k) + len(r.value))
		res.MaxCAS = max(res.MaxCAS, r.cas)
	}
	if n := getU64(meta, metaItems); int64(n) != res.Items {
		res.problem("meta items is %d, the items bucket holds %d", n, res.Items)
	}
	if n := getU64(meta, metaBytes); int64(n) != res.Bytes && !undecoded {
		res.problem("meta bytes is %d, the items hold %d", n, res.Bytes)
	}
	if n := getU64(meta, metaCAS); n < res.MaxCAS {
		res.problem("meta cas is %d, below an item's cas %d: new items could reuse a CAS", n, res.MaxCAS)
	}
	return nil
}

// first returns b's first byte, or 0 if it is empty.
func first(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
