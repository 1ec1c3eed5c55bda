package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/memcached-lite/memcached-lite/cmd/memcached-lite-bench/suite"
)

func suiteCommand() *cli.Command {
	return &cli.Command{
		Name:  "suite",
		Usage: "compare memcached-lite with memcached and Redis on this machine",
		UsageText: "memcached-lite-bench suite [--bin bin/memcached-lite] [--results results] [-d 5s] [--warmup 1s] [--repeat 3]\n" +
			"                           [--only get-hit,set,mix,large,memaslap,cold] [--servers ml-always,ml-none,memcached,redis]",
		Description: "Starts each server on a free loopback port, one at a time: memcached-lite --sync always,\n" +
			"memcached-lite --sync none, memcached (-m 1024 -t <cores>) and redis-server (appendfsync always);\n" +
			"runs the same workloads against each, and prints one table with every figure (the median\n" +
			"of --repeat runs), its ratio to the workload's anchor and the targets. Also writes\n" +
			"the table as suite.json and suite.md under --results, with the servers' logs in logs/.\n" +
			"Workloads: get-hit (64 conns), set (50), mix 90/10 (50), large 64 KiB set and get (8),\n" +
			"memaslap 90/10 mix (cross-check with another tool), cold (1M keys: load, restart with\n" +
			"-m 64, random GETs from the file; anonymous RSS; start to first reply).\n" +
			"Needs memcached, memaslap (libmemcached-tools), redis-server and redis-benchmark on PATH\n" +
			"for the servers and workloads it runs: make bench-tools installs them. Stops every\n" +
			"server it started, also on Ctrl-C.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "results", Value: "results", EnvVars: env("SUITE_RESULTS"), Usage: "directory for suite.json, suite.md and logs/"},
			&cli.StringFlag{Name: "bin", EnvVars: env("SUITE_BIN"), Usage: "memcached-lite binary to test (default: the one next to this binary, else on PATH)"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 5 * time.Second, EnvVars: env("SUITE_DURATION"), Usage: "measured time of each run"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, EnvVars: env("SUITE_WARMUP"), Usage: "unmeasured time before each run"},
			&cli.IntFlag{Name: "repeat", Value: 3, EnvVars: env("SUITE_REPEAT"), Usage: "runs per figure; the table shows their median"},
			&cli.IntFlag{Name: "cold-keys", Value: 1_000_000, EnvVars: env("SUITE_COLD_KEYS"), Usage: "keys written for the cold-read and memory figures"},
			&cli.StringSliceFlag{Name: "only", EnvVars: env("SUITE_ONLY"), Usage: "workloads to run: " + strings.Join(suite.Workloads(), ", ") + " (default: all)"},
			&cli.StringSliceFlag{Name: "servers", EnvVars: env("SUITE_SERVERS"), Usage: "servers to run: " + strings.Join(suite.Servers(), ", ") + " (default: all)"},
			&cli.BoolFlag{Name: "strict", EnvVars: env("SUITE_STRICT"), Usage: "exit 1 if a target is missed"},
		},
		Action: runSuite,
	}
}

// suiteConfig maps the suite's flags to a suite.Config: the one place that
// reads them. The suite checks the values.
func suiteConfig(c *cli.Context) (suite.Config, error) {
	cfg := suite.Config{
		Results:  c.String("results"),
		Bin:      c.String("bin"),
		Duration: c.Duration("duration"),
		Warmup:   c.Duration("warmup"),
		Repeat:   c.Int("repeat"),
		ColdKeys: c.Int("cold-keys"),
		Only:     c.StringSlice("only"),
		Servers:  c.StringSlice("servers"),
		Log:      c.App.ErrWriter,
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = f
	}
	if cfg.Bin == "" {
		var err error
		if cfg.Bin, err = liteBin(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// liteBin finds the memcached-lite binary: next to this one (make build
// puts both in bin/), else on PATH.
func liteBin() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "memcached-lite")
		if _, err := exec.LookPath(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("memcached-lite"); err == nil {
		return p, nil
	}
	return "", errors.New("no memcached-lite binary next to this one or on PATH: make build puts both in bin/, or pass --bin")
}

// runSuite runs the suite, prints its table and saves its files.
func runSuite(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected argument %q", c.Args().First())
	}
	cfg, err := suiteConfig(c)
	if err != nil {
		return err
	}
	rep, err := suite.Run(c.Context, cfg)
	if _, ok := errors.AsType[*suite.MissingToolsError](err); ok {
		return fmt.Errorf("%w: make bench-tools installs them; or leave out what needs them with --servers and --only", err)
	}
	if rep.Rows != nil {
		fmt.Fprintln(c.App.Writer)
		err = errors.Join(err, rep.WriteText(c.App.Writer), rep.Save(cfg.Results, c.App.ErrWriter))
	}
	if err != nil {
		return err
	}
	if missed := rep.Missed(); len(missed) > 0 {
		fmt.Fprintf(c.App.Writer, "\ntargets missed: %s\n", strings.Join(missed, "; "))
		if c.Bool("strict") {
			return fmt.Errorf("%d targets missed", len(missed))
		}
	}
	return nil
}
