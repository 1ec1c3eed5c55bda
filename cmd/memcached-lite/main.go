// Command memcached-lite is a persistent memcached-protocol server and its
// interactive client, in one binary:
//
//	memcached-lite server [-p 11211] [-l 127.0.0.1] [--data memcached-lite.db] ...
//	memcached-lite client [-s 127.0.0.1:11211] [command ...]
package main

import (
	"context"
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
		fmt.Fprintln(os.Stderr, "memcached-lite:", err)
		stop()
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:                 "memcached-lite",
		Usage:                "a persistent memcached-protocol server and client",
		HideVersion:          true,
		EnableBashCompletion: true,
		Commands:             commands(),
	}
}
