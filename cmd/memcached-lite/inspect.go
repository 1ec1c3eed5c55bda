package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/storage"
)

// offlineTimeout bounds the wait for a data file's lock: a running server
// holds it for as long as it runs, so waiting longer would only hang.
const offlineTimeout = 300 * time.Millisecond

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "show a stopped server's data file: format, items, CAS, flush deadline, pages and free space",
		Description: "Opens the file read-only and never changes a byte of it. On a file that a running\n" +
			"server holds it fails at once, naming the server's process; ask the server instead:\n" +
			"memcached-lite client -s HOST:PORT keys.",
		Flags:  []cli.Flag{dataFlag()},
		Action: runInspect,
	}
}

func dataFlag() cli.Flag {
	return &cli.StringFlag{Name: "data", Required: true, EnvVars: env("DATA"), Usage: "the data file"}
}

// openOffline opens the --data file read-only, explaining a lock.
func openOffline(c *cli.Context) (*storage.File, error) {
	f, err := storage.OpenFile(c.String("data"), offlineTimeout)
	if errors.Is(err, storage.ErrLocked) {
		return nil, fmt.Errorf("%w\na server is running on it: ask it instead, e.g. memcached-lite client -s HOST:PORT keys", err)
	}
	return f, err
}

func runInspect(c *cli.Context) error {
	f, err := openOffline(c)
	if err != nil {
		return err
	}
	defer f.Close()
	in, err := f.Info(time.Now())
	if err != nil {
		return err
	}
	w := c.App.Writer
	flush := "none"
	if !in.FlushAt.IsZero() {
		flush = in.FlushAt.UTC().Format(time.RFC3339Nano)
	}
	used := in.Pages * int64(in.PageSize)
	fmt.Fprintf(w, "file            %s\n", in.Path)
	fmt.Fprintf(w, "format version  %d (records: version %d)\n", in.FormatVersion, in.RecordVersion)
	fmt.Fprintf(w, "items           %d (live %d, expired %d, flushed %d: dead ones wait for the sweeper)\n", in.Items, in.Live, in.Expired, in.Flushed)
	fmt.Fprintf(w, "bytes           %d (keys and values)\n", in.Bytes)
	fmt.Fprintf(w, "next cas        %d\n", in.NextCAS)
	fmt.Fprintf(w, "pending flush   %s\n", flush)
	fmt.Fprintf(w, "last txid       %d\n", in.TxID)
	fmt.Fprintf(w, "page size       %d\n", in.PageSize)
	fmt.Fprintf(w, "pages           %d in use up to the high-water mark (%d bytes); items tree: %d leaf, %d branch, depth %d, %d bytes on leaves\n",
		in.Pages, used, in.LeafPages, in.BranchPages, in.Depth, in.LeafInuse)
	fmt.Fprintf(w, "free pages      %d (%d bytes), %d pending\n", in.FreePages, in.FreeBytes, in.PendingPages)
	fmt.Fprintf(w, "file size       %d bytes, %d of them live data (%.1f%%)\n", in.FileSize, in.Bytes, pct(in.Bytes, in.FileSize))
	return nil
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
