package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/storage"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check a data file, read-only: exit 0 and OK, or exit 1 and what is wrong",
		Description: "Runs bbolt's consistency check of the file's pages, then memcached-lite's own: the format\n" +
			"version, that every record's header decodes, and that the counters in the meta bucket\n" +
			"match the items. Prints one line. A file that a running server holds fails at once,\n" +
			"naming the server's pid: check a backup instead (memcached-lite backup).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Value: "memcached-lite.db", EnvVars: env("DATA"), Usage: "the data file"},
		},
		Action: runCheck,
	}
}

func runCheck(c *cli.Context) error {
	path := c.String("data")
	res, err := storage.Check(path)
	if err != nil {
		fmt.Fprintf(c.App.Writer, "FAIL %v\n", err)
		return cli.Exit("", 1)
	}
	fmt.Fprintf(c.App.Writer, "OK %s: format %d, %d items, %d bytes of keys and values\n", path, res.Version, res.Items, res.Bytes)
	return nil
}
