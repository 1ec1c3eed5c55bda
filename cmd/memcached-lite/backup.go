package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/storage"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:      "backup",
		Usage:     "copy a running server's data file, consistently, while it serves",
		ArgsUsage: "OUT.db",
		Description: "Fetches http://HOST:PORT/backup from a server started with --metrics HOST:PORT: the whole\n" +
			"data file as of one moment, taken while writes go on. The copy is written next to OUT.db\n" +
			"under a hidden temporary name, fsynced and checked, then renamed to OUT.db, so OUT.db is\n" +
			"either a complete, checked copy or absent (an older OUT.db is replaced only by a good one).\n" +
			"Restore: stop the server and start it with --data OUT.db (or move OUT.db into place).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Aliases: []string{"s"}, Value: "127.0.0.1:9150", EnvVars: env("METRICS"), Usage: "the server's --metrics address, host:port"},
		},
		Action: runBackup,
	}
}

func runBackup(c *cli.Context) error {
	if c.NArg() != 1 {
		return errors.New("backup: want one argument, the output file (OUT.db)")
	}
	out := c.Args().First()
	url := "http://" + c.String("server") + "/backup"
	req, err := http.NewRequestWithContext(c.Context, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("backup: GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
	}
	n, err := storage.WriteBackup(out, resp.Body)
	if err != nil {
		return fmt.Errorf("backup: from %s: %w", url, err)
	}
	fmt.Fprintf(c.App.Writer, "backup %s: %d bytes, snapshot of %s\n", out, n, resp.Header.Get("Last-Modified"))
	return nil
}
