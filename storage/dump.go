package storage

import (
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A File is a data file opened read-only, for looking into it while no
// server runs on it: memcached-lite inspect and dump. It never changes a
// byte of the file. Its methods are safe for concurrent use.
type File struct {
	db      *bolt.DB
	path    string
	flushAt int64 // the pending flush_all deadline, Unix ns; 0 if none
}

// OpenFile opens the data file at path read-only. It does not create a
// missing file. A file held by a running server (whose lock is exclusive)
// makes it fail after timeout (0 means 500 ms) with an error naming the
// process that holds it; a file that is not a memcached-lite data file
// gives an error wrapping ErrNotOurs.
func OpenFile(path string, timeout time.Duration) (*File, error) {
	if timeout == 0 {
		timeout = 500 * time.Millisecond
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("storage: open %s: %w: the file is empty", path, ErrNotOurs)
	}
	if err := checkFile(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, openError(path, timeout, err)
	}
	f := &File{db: db, path: path}
	if err := db.View(func(tx *bolt.Tx) error {
		if err := checkFormat(tx); err != nil {
			return err
		}
		f.flushAt = int64(getU64(tx.Bucket(metaBucket), metaFlush))
		return nil
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	return f, nil
}

// Close releases the file.
func (f *File) Close() error { return f.db.Close() }

// Info is what memcached-lite inspect reports about a data file.
type Info struct {
	Path          string
	FormatVersion uint64
	RecordVersion int       // the version byte this build writes in each record
	Items         int64     // records in the file, dead ones not yet swept included
	Bytes         int64     // sum of their key and value lengths
	NextCAS       uint64    // the CAS the next write will get
	FlushAt       time.Time // pending flush_all deadline; zero if none
	Live, Expired int64     // records by state at Info's clock
	Flushed       int64

	FileSize     int64 // bytes on disk
	PageSize     int
	Pages        int64 // pages in use up to the high-water mark (bbolt's tx.Size / page size)
	FreePages    int   // free pages (bbolt's freelist)
	PendingPages int   // pages freed by transactions still open
	FreeBytes    int   // bytes on free pages
	LeafPages    int   // the items bucket's leaf pages
	BranchPages  int   // and branch pages
	LeafInuse    int   // bytes used on its leaf pages
	Depth        int   // its B+tree depth
	TxID         int   // the last committed transaction
}

// Info reads the file's figures, counting live, expired and flushed records
// as of now.
func (f *File) Info(now time.Time) (Info, error) {
	in := Info{Path: f.path, RecordVersion: recordVersion}
	if fi, err := os.Stat(f.path); err == nil {
		in.FileSize = fi.Size()
	}
	st := f.db.Stats()
	in.FreePages, in.PendingPages, in.FreeBytes = st.FreePageN, st.PendingPageN, st.FreeAlloc
	in.PageSize = f.db.Info().PageSize
	err := f.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		in.FormatVersion = getU64(meta, metaVersion)
		in.Items = int64(getU64(meta, metaItems))
		in.Bytes = int64(getU64(meta, metaBytes))
		in.NextCAS = getU64(meta, metaCAS) + 1
		in.FlushAt = fromUnixNano(f.flushAt)
		in.TxID = tx.ID()
		in.Pages = tx.Size() / int64(in.PageSize)
		bs := tx.Bucket(itemsBucket).Stats()
		in.LeafPages, in.BranchPages, in.LeafInuse, in.Depth = bs.LeafPageN, bs.BranchPageN, bs.LeafInuse, bs.Depth
		var after string
		for {
			last, done, err := scanTx(tx, after, 0, false, f.deadFunc(now), func(e *Entry) bool {
				switch e.Dead {
				case nil:
					in.Live++
				case ErrExpired:
					in.Expired++
				default:
					in.Flushed++
				}
				return true
			})
			if err != nil || done || last == "" {
				return err
			}
			after = last
		}
	})
	return in, err
}

func (f *File) deadFunc(now time.Time) func(*record) error {
	n := now.UnixNano()
	return func(r *record) error { return deadAt(r, n, f.flushAt) }
}

// Scan is Store.Scan for the file, with now as the clock for Entry.Dead.
func (f *File) Scan(after string, n int, values bool, now time.Time, fn func(*Entry) bool) (last string, done bool, err error) {
	err = f.db.View(func(tx *bolt.Tx) error {
		last, done, err = scanTx(tx, after, n, values, f.deadFunc(now), fn)
		return err
	})
	return last, done, err
}

// A RecordField is one field of the on-disk record: its name, offset and
// length in bytes (-1: to the end of the record).
type RecordField struct {
	Name        string
	Offset, Len int
}

// RecordLayout returns the fields of a record of this version (its first
// byte) in order, for dump --raw. All numbers are big endian. A version 2
// record has a state byte (the meta protocol's stale and win flags) before
// its value.
func RecordLayout(version byte) []RecordField {
	f := []RecordField{{"version", 0, 1}, {"flags", 1, 4}, {"expires", 5, 8}, {"cas", 13, 8}, {"updated", 21, 8}}
	if version == recordVersionState {
		return append(f, RecordField{"state", recordHeaderSize, 1}, RecordField{"value", recordHeaderSize + 1, -1})
	}
	return append(f, RecordField{"value", recordHeaderSize, -1})
}
