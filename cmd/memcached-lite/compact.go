package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/storage"
)

func compactCommand() *cli.Command {
	return &cli.Command{
		Name:  "compact",
		Usage: "rewrite a data file in as little space as its items need (with the server stopped)",
		Description: "bbolt reuses the pages of deleted and expired items but never gives them back to the file\n" +
			"system, so a file that once held many more items than it does now stays that big. compact\n" +
			"copies every item, unchanged, to a new file, fsyncs it and renames it over the data file (or\n" +
			"writes it to --out). It refuses a file a running server holds, and changes nothing then.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "memcached-lite.db", EnvVars: env("DATA"), Usage: "the data file"},
			&cli.StringFlag{Name: "out", Usage: "write the copy to this new file and leave the data file as it is"},
		},
		Action: runCompact,
	}
}

func runCompact(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("compact: unexpected argument %q", c.Args().First())
	}
	path, out := c.String("data"), c.String("out")
	before, after, err := storage.Compact(path, storage.CompactOptions{Out: out})
	if err != nil {
		return err
	}
	into := ""
	if out != "" {
		into = " into " + out
	}
	_, err = fmt.Fprintf(c.App.Writer, "compacted %s%s: %d bytes before, %d after\n", path, into, before, after)
	return err
}
