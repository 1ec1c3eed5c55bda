package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CompactOptions configures Compact. Each zero field takes the default in
// its comment.
type CompactOptions struct {
	Out         string        // where the copy goes; "" means over the original
	LockTimeout time.Duration // wait for another process's lock on the file; 0 means 1s
	TxMaxSize   int64         // bytes copied per write transaction; 0 means 64 MiB
}

// Compact writes a compact copy of the data file at path: the same items,
// byte for byte (keys, values, flags, expiries, CAS values, and the next
// CAS to hand out), in as few pages as they need. bbolt reuses the pages of
// deleted items but never gives them back to the file system, so a file
// that once held many more items than it does now stays that big.
//
// The copy is written to a temporary file in the destination's directory
// (opts.Out, or the original's), fsynced, renamed over the destination, and
// the directory is fsynced: a crash leaves the old file or the new one,
// never a mix. Compact returns the sizes of the original and the copy.
//
// It reads the original under a shared lock and never writes to it. It
// fails, after at most opts.LockTimeout and without changing anything, when
// a server has the file open (the error names the process on Linux); with
// ErrNotOurs when memcached-lite did not write the file; and when opts.Out
// exists. On any failure the original is unchanged and no temporary file is
// left. Dead items not yet swept are copied too: a server sweeps them.
func Compact(path string, opts CompactOptions) (before, after int64, err error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if opts.TxMaxSize == 0 {
		opts.TxMaxSize = 64 << 20
	}
	fail := func(err error) (int64, int64, error) {
		return 0, 0, fmt.Errorf("storage: compact %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fail(err)
	}
	if fi.Mode().IsRegular() && fi.Size() == 0 {
		return fail(errors.New("the file is empty"))
	}
	if err := checkFile(path); err != nil {
		return 0, 0, err
	}
	dst := opts.Out
	if dst == "" {
		dst = path
	} else if dfi, err := os.Stat(dst); err == nil && !os.SameFile(fi, dfi) {
		return fail(fmt.Errorf("%s exists", dst))
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}

	src, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: opts.LockTimeout})
	if err != nil {
		return 0, 0, openError(path, opts.LockTimeout, err)
	}
	defer src.Close()
	if err := src.View(checkFormat); err != nil {
		return fail(err)
	}

	tmp, err := os.CreateTemp(filepath.Dir(dst), filepath.Base(dst)+".compact-*")
	if err != nil {
		return fail(err)
	}
	tmpPath := tmp.Name()
	defer func() {
		if err != nil {
			os.Remove(tmpPath)
		}
	}()
	err = tmp.Chmod(fi.Mode().Perm())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if err = copyDB(tmpPath, src, opts.TxMaxSize); err != nil {
		return fail(err)
	}
	if err = os.Rename(tmpPath, dst); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(dst)); err != nil {
		return fail(err) // the copy is in place; its name may not survive a power cut
	}
	nfi, err := os.Stat(dst)
	if err != nil {
		return fail(err)
	}
	return fi.Size(), nfi.Size(), nil
}

// copyDB copies src into the new, empty bbolt file at path and fsyncs it.
func copyDB(path string, src *bolt.DB, txMaxSize int64) error {
	dst, err := bolt.Open(path, 0, &bolt.Options{
		NoSync:         true, // one fsync at the end
		NoFreelistSync: true, // as Open writes its files
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return err
	}
	err = bolt.Compact(dst, src, txMaxSize)
	if err == nil {
		err = dst.Sync()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return err
}
