package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/memcached-lite/memcached-lite/client/repl"
)

// clientUsage is the client's usage line, for errors.
const clientUsage = "memcached-lite client [-s HOST:PORT] [--raw|--json] [-r N [-i SECONDS]] [command [args...]]"

func clientCommand() *cli.Command {
	cmd := &cli.Command{
		Name:            "client",
		Usage:           "an interactive memcached client; runs a script from stdin, or one command",
		ArgsUsage:       "[command [args...]]",
		HideHelpCommand: true, // "client help set" is the REPL's help
		Description: "On a terminal: a shell with line editing, history and tab completion (type help).\n" +
			"With stdin from a pipe or file: one command a line, one reply a line on stdout, errors on\n" +
			"stderr; the exit status is 1 if any command failed (NOT_STORED, NOT_FOUND from delete,\n" +
			"incr, decr, touch or cas, EXISTS, an error reply, a connection failure), a get miss is not.\n" +
			"With arguments: runs that one command, e.g. memcached-lite client get greeting;\n" +
			"-r 10 -i 1 runs it 10 times a second apart (watch a counter, or a ttl run down).",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "server", Aliases: []string{"s"}, Value: cli.NewStringSlice(repl.DefaultServer), EnvVars: env("SERVERS"),
				Usage: "server host:port; repeat it (or use commas) for several: keys are spread with ketama, as twemproxy does"},
			&cli.BoolFlag{Name: "trace", EnvVars: env("TRACE"), Usage: "show every byte sent and received (also: trace on)"},
			&cli.GenericFlag{Name: "timeout", Value: newSeconds(2 * time.Second), EnvVars: env("CLIENT_TIMEOUT"), Usage: "bound on one request: seconds (2) or a duration (500ms)"},
			&cli.BoolFlag{Name: "raw", Usage: "print values only: no quotes, notes or explanations (a miss is an empty line)"},
			&cli.BoolFlag{Name: "json", Usage: "print each reply as a JSON object on one line"},
			&cli.IntFlag{Name: "repeat", Aliases: []string{"r"}, Usage: "run the command given as arguments N times (-1: until interrupted)"},
			&cli.GenericFlag{Name: "interval", Aliases: []string{"i"}, Value: newSeconds(0), DefaultText: "0", Usage: "with -r, wait this long between runs: seconds (1, 0.1) or a duration (100ms)"},
		},
		Action:       runClient,
		OnUsageError: usageError(clientUsage),
	}
	cmd.Flags = append(cmd.Flags, clientSecurityFlags()...)
	return cmd
}

// clientConfig maps the flags, the arguments and the terminal to a
// repl.Config: the one place that reads them.
func clientConfig(c *cli.Context) (repl.Config, error) {
	interactive := c.NArg() == 0 && repl.IsTerminal(os.Stdin)
	cfg := repl.Config{
		Servers:     c.StringSlice("server"),
		In:          os.Stdin,
		Out:         c.App.Writer,
		Err:         c.App.ErrWriter,
		Interactive: interactive,
		Trace:       c.Bool("trace"),
		Timeout:     duration(c, "timeout"),
		Repeat:      c.Int("repeat"),
		Interval:    duration(c, "interval"),
	}
	switch {
	case c.Bool("raw") && c.Bool("json"):
		return cfg, badUsage(c, clientUsage, "--raw and --json: pick one")
	case c.Bool("raw"):
		cfg.Format = repl.FormatValues
	case c.Bool("json"):
		cfg.Format = repl.FormatJSON
	}
	switch {
	case c.IsSet("repeat") && c.NArg() == 0:
		return cfg, badUsage(c, clientUsage, "-r repeats a command given as arguments, as in: memcached-lite client -r 5 -i 1 incr visits")
	case c.IsSet("repeat") && (cfg.Repeat == 0 || cfg.Repeat < -1):
		return cfg, badUsage(c, clientUsage, fmt.Sprintf("-r %d: want a number of runs, or -1 to run until interrupted", cfg.Repeat))
	case c.IsSet("interval") && !c.IsSet("repeat"):
		return cfg, badUsage(c, clientUsage, "-i is the wait between the runs of -r N")
	}
	if interactive {
		cfg.HistoryPath = historyPath()
		cfg.Color = os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" && term.IsTerminal(int(os.Stdout.Fd()))
	}
	return cfg, nil
}

// historyPath is $XDG_STATE_HOME/memcached-lite/history, else
// ~/.local/state/memcached-lite/history; "" if there is no home.
func historyPath() string {
	dir := os.Getenv("XDG_STATE_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "memcached-lite", "history")
}

func runClient(c *cli.Context) error {
	cfg, err := clientConfig(c)
	if err != nil {
		return err
	}
	if err := clientSecurity(c, &cfg); err != nil {
		return err
	}
	// SIGTERM ends the client at once. So does Ctrl-C, except in an
	// interactive session, where it cancels the line being typed (the
	// terminal sends it to the line editor, not as a signal) and is
	// ignored while a command runs, which its timeout bounds.
	signal.Reset(syscall.SIGTERM)
	if !cfg.Interactive {
		signal.Reset(os.Interrupt)
	}
	r, err := repl.New(cfg)
	if err != nil {
		return err
	}
	var code int
	if c.NArg() > 0 {
		code = r.RunArgs(c.Args().Slice())
	} else {
		code = r.Run()
	}
	if err := r.Close(); err != nil {
		return err
	}
	if code != 0 {
		// The failures are reported already: exit with the status alone.
		return cli.Exit("", code)
	}
	return nil
}
