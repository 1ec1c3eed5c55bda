// Command memcached-lite is a persistent memcached-protocol server and its
// interactive client, in one binary:
//
//	memcached-lite server [-p 11211] [-l 127.0.0.1] [--data memcached-lite.db] ...
//	memcached-lite client [-s 127.0.0.1:11211] [command ...]
//	memcached-lite compact [--data memcached-lite.db] [--out FILE]
//	memcached-lite version
//
// It holds what a user runs and nothing else: the load generator and the
// comparison with memcached and Redis are a separate command,
// cmd/memcached-lite-bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server"
)

// version is memcached-lite's own version. The protocol's "version" command
// answers server.Version, memcached's version with a suffix, because
// clients compare it with memcached's.
const version = server.Release

// usageStatus is the exit status of a command line that cannot be run as
// written: an unknown subcommand or flag, or arguments where none belong.
const usageStatus = 2

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
		HideVersion:          true, // the version flag below prints more than urfave/cli's
		EnableBashCompletion: true,
		Flags:                []cli.Flag{&cli.BoolFlag{Name: "version", Usage: "print the version and exit"}},
		Commands:             commands(),
		Action:               runRoot,
		OnUsageError:         usageError("memcached-lite [--version] COMMAND [flags...]"),
		// main alone exits: urfave/cli would call os.Exit for an ExitCoder.
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// runRoot runs when no subcommand was named: --version, the help, or an
// unknown subcommand.
func runRoot(c *cli.Context) error {
	switch {
	case c.Bool("version"):
		return printVersion(c)
	case c.NArg() == 0:
		return cli.ShowAppHelp(c)
	}
	name := c.Args().First()
	var names []string
	for _, cmd := range commands() { // not urfave/cli's help
		names = append(names, cmd.Name)
	}
	if s := repl.Closest(name, names); s != "" {
		return cli.Exit(fmt.Sprintf("unknown command %s; did you mean %s?", name, s), usageStatus)
	}
	return cli.Exit(fmt.Sprintf("unknown command %s; the commands are %s (memcached-lite --help)", name, strings.Join(names, ", ")), usageStatus)
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:   "version",
		Usage:  "print the version",
		Action: printVersion,
	}
}

func printVersion(c *cli.Context) error {
	_, err := fmt.Fprintf(c.App.Writer, "memcached-lite %s (the protocol's version command answers %s)\n", version, server.Version)
	return err
}

// usageError returns an OnUsageError function: one line saying what is
// wrong, one with the usage, and exit status usageStatus (urfave/cli would
// print the whole help instead).
func usageError(usage string) cli.OnUsageErrorFunc {
	return func(c *cli.Context, err error, _ bool) error {
		return badUsage(c, usage, err.Error())
	}
}

// badUsage is the error for a command line that cannot be run as written.
func badUsage(c *cli.Context, usage, msg string) error {
	help := "memcached-lite --help"
	if c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		help = "memcached-lite " + c.Command.Name + " --help"
	}
	return cli.Exit(msg+"\nusage: "+usage+" ("+help+" explains)", usageStatus)
}

// seconds is a duration flag that takes memcached's plain seconds ("30",
// "0.5") as well as Go durations ("30s", "1m30s"). It is never negative.
type seconds time.Duration

func newSeconds(d time.Duration) *seconds { s := seconds(d); return &s }

// Set parses v; it is flag.Value's.
func (s *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXpPeEnN") {
		if f < 0 || f > float64(math.MaxInt64/int64(time.Second)) {
			return errors.New("want seconds from 0 up")
		}
		*s = seconds(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return errors.New("want seconds (30, 0.5) or a duration (30s, 500ms, 5m)")
	}
	*s = seconds(d)
	return nil
}

// String shows the duration as Go writes it ("30s").
func (s *seconds) String() string { return time.Duration(*s).String() }

// duration returns the value of the seconds flag name.
func duration(c *cli.Context, name string) time.Duration {
	if s, ok := c.Generic(name).(*seconds); ok {
		return time.Duration(*s)
	}
	return 0
}
