package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// A Snapshot is a consistent view of the whole data file as of one moment,
// taken while writes go on: it holds a bbolt read transaction, so every
// write committed before Store.Snapshot returned is in it and no later one
// is. Close it when done: until then bbolt cannot reuse the pages that later
// commits free (the file grows instead), and Store.Close waits for it.
//
// A Snapshot is not safe for concurrent use.
type Snapshot struct {
	tx    *bolt.Tx
	taken time.Time
}

// Snapshot begins a snapshot of the data file. It fails with ErrClosed
// once the store is closed.
func (s *Store) Snapshot() (*Snapshot, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	tx, err := s.db.Begin(false)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	if err != nil {
		return nil, fmt.Errorf("storage: snapshot %s: %w", s.path, err)
	}
	return &Snapshot{tx: tx, taken: time.Now()}, nil
}

// Size returns the number of bytes WriteTo writes.
func (sn *Snapshot) Size() int64 { return sn.tx.Size() }

// Time returns when the snapshot was taken.
func (sn *Snapshot) Time() time.Time { return sn.taken }

// WriteTo writes the snapshot to w as a complete data file, which Open
// opens as it opens the original: Size bytes if it returns no error.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := sn.tx.WriteTo(w)
	if err != nil {
		return n, fmt.Errorf("storage: snapshot: %w", err)
	}
	return n, nil
}

// Close releases the snapshot's transaction. It is safe to call more than
// once.
func (sn *Snapshot) Close() error {
	err := sn.tx.Rollback()
	if errors.Is(err, bolterrors.ErrTxClosed) {
		return nil
	}
	return err
}

// notInUse refuses a path whose file a process holds open as a data file
// (a server, by its bbolt lock): renaming a backup over a running server's
// file would leave the server writing to a file that no longer has a name.
// A file that is not a database is not in use as one.
func notInUse(path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if checkFile(path) != nil {
		return nil // too short or truncated: no server has it open
	}
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: checkLockTimeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("%s is a data file in use by %s: not replacing it", path, lockHolder(path))
	case err != nil:
		return nil // not a bbolt file
	}
	return db.Close()
}

// WriteBackup saves a data file read from r (a Snapshot's bytes, from a
// server's /backup) at path so that a partial copy never looks complete:
// it writes a hidden temporary file in path's directory, fsyncs it, runs
// Check on it, and only then renames it to path and fsyncs the directory.
// On any failure, including a short r, it removes the temporary file and
// leaves path as it was; it refuses to replace a file a running server
// holds. If the process dies midway, what is left is the
// temporary file (.NAME.*.partial), never path. It returns the bytes
// written.
func WriteBackup(path string, r io.Reader) (int64, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := os.CreateTemp(dir, "."+base+".*.partial")
	if err != nil {
		return 0, fmt.Errorf("storage: backup %s: %w", path, err)
	}
	tmp := f.Name()
	n, err := io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = Check(tmp)
	}
	if err == nil {
		err = notInUse(path)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		return n, syncDir(dir)
	}
	if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return n, fmt.Errorf("storage: backup %s: %w", path, err)
}
