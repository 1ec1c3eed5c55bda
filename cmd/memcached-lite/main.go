// Command memcached-lite is a persistent memcached-protocol server and its
// interactive client, in one binary:
//
//	memcached-lite server [-p 11211] [-l 127.0.0.1] [--data memcached-lite.db] ...
//	memcached-lite client [-s 127.0.0.1:11211] [command ...]
//	memcached-lite compact [--data memcached-lite.db] [--out FILE]
//
// It holds what a user runs and nothing else: the load generator and the
// comparison with memcached and Redis are a separate command,
// cmd/memcached-lite-bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		code := 1
		var ec cli.ExitCoder // a subcommand's own exit status, e.g. the client's
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(os.Stderr, "memcached-lite:", msg)
		}
		stop()
		os.Exit(code)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "memcached-lite",
		Usage:                "a persistent memcached-protocol server and client",
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands:             commands(),
		// main alone exits: urfave/cli would call os.Exit for an ExitCoder.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}
