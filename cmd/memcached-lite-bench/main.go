// Command memcached-lite-bench is the benchmark lab, kept apart from the
// memcached-lite binary that users run:
//
//	memcached-lite-bench [-s 127.0.0.1:11211] [-c 50] [--ratio 90:10] [-d 10s | -n N] [--load] [--json] ...
//	memcached-lite-bench suite [--bin bin/memcached-lite] [--results results] [--only ...] [--servers ...]
//
// Without a subcommand it load-tests one memcached-protocol server with
// client/loadgen. The suite subcommand compares memcached-lite with
// memcached and Redis (package suite); the programs it runs besides
// memcached-lite are installed by make bench-tools, never by this command.
// Each file turns flags into a Config and calls its package.
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
		fmt.Fprintln(os.Stderr, "memcached-lite-bench:", err)
		stop()
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:  "memcached-lite-bench",
		Usage: "load-test a memcached-protocol server, or compare memcached-lite with memcached and Redis",
		UsageText: "memcached-lite-bench [-s host:port] [-c conns] [--keys N] [--value-size B] [--ratio get:set]\n" +
			"                     [--pipeline D] [-d 10s | -n N] [--warmup 1s] [--load] [--json]\n" +
			"memcached-lite-bench suite [--bin PATH] [--results DIR] (compare with memcached and Redis)",
		Description: loadDescription,
		HideVersion: true,
		Flags:       loadFlags(),
		Action:      runLoad,
		Commands:    []*cli.Command{suiteCommand()},
		// main alone exits: urfave/cli would call os.Exit for an ExitCoder.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// env names the environment variables of a flag: MEMCACHED_LITE_<name>, as
// memcached-lite's own flags.
func env(name string) []string { return []string{"MEMCACHED_LITE_" + name} }
