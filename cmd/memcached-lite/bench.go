package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load-test a memcached-protocol server (memcached-lite or memcached)",
		UsageText: "memcached-lite bench [-s host:port] [-c conns] [--keys N] [--value-size B] [--ratio get:set]\n" +
			"                     [--pipeline D] [-d 10s | -n N] [--warmup 1s] [--load] [--json]\n" +
			"memcached-lite bench suite [--results DIR] (compare with memcached and Redis)",
		Description: "Opens -c connections and sends random gets and sets over the key space, each\n" +
			"connection waiting for the replies to its last --pipeline requests before sending more.\n" +
			"Keys are --key-prefix plus a zero-padded number below --keys; --load sets each once\n" +
			"first, so gets hit. Nothing is measured during --warmup. Every reply is checked (a set\n" +
			"must get STORED, a get VALUE...END or END); anything else is an error, and the first\n" +
			"few are printed. Prints ops/s and latency percentiles per operation, the get hit\n" +
			"ratio and the error count. It speaks the memcached text protocol, so it drives\n" +
			"memcached and memcached-lite alike. The generator uses the same cores as a server on\n" +
			"this machine.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Aliases: []string{"s"}, Value: "127.0.0.1:11211", EnvVars: env("BENCH_SERVER"), Usage: "host:port of the server to load"},
			&cli.IntFlag{Name: "conns", Aliases: []string{"c"}, Value: 50, EnvVars: env("BENCH_CONNS"), Usage: "connections, one goroutine each"},
			&cli.IntFlag{Name: "keys", Value: 10000, EnvVars: env("BENCH_KEYS"), Usage: "size of the key space"},
			&cli.StringFlag{Name: "key-prefix", Value: "bench:", EnvVars: env("BENCH_KEY_PREFIX"), Usage: "prefix of every key"},
			&cli.IntFlag{Name: "value-size", Value: 100, EnvVars: env("BENCH_VALUE_SIZE"), Usage: "bytes per value set"},
			&cli.StringFlag{Name: "ratio", Value: "90:10", EnvVars: env("BENCH_RATIO"), Usage: "get:set mix, e.g. 90:10, 1:0 (gets only), 0:1 (sets only)"},
			&cli.IntFlag{Name: "pipeline", Value: 1, EnvVars: env("BENCH_PIPELINE"), Usage: "requests in flight per connection"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 10 * time.Second, EnvVars: env("BENCH_DURATION"), Usage: "measured time (unless -n is given)"},
			&cli.IntFlag{Name: "requests", Aliases: []string{"n"}, EnvVars: env("BENCH_REQUESTS"), Usage: "measured requests over all connections; 0: run for -d"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, EnvVars: env("BENCH_WARMUP"), Usage: "unmeasured time before measuring"},
			&cli.BoolFlag{Name: "load", EnvVars: env("BENCH_LOAD"), Usage: "set every key once before the warm-up (pipelined)"},
			&cli.BoolFlag{Name: "load-only", EnvVars: env("BENCH_LOAD_ONLY"), Usage: "set every key once, then stop"},
			&cli.BoolFlag{Name: "json", EnvVars: env("BENCH_JSON"), Usage: "print the result as JSON"},
		},
		Action:      runBenchCommand,
		Subcommands: []*cli.Command{benchSuiteCommand()},
	}
}

// benchFlags maps the bench flags to a config: the one place that reads them.
func benchFlags(c *cli.Context) (benchConfig, error) {
	cfg := benchConfig{
		addr:      c.String("server"),
		conns:     c.Int("conns"),
		keys:      c.Int("keys"),
		keyPrefix: c.String("key-prefix"),
		valueSize: c.Int("value-size"),
		pipeline:  c.Int("pipeline"),
		duration:  c.Duration("duration"),
		requests:  c.Int("requests"),
		warmup:    c.Duration("warmup"),
		load:      c.Bool("load") || c.Bool("load-only"),
		loadOnly:  c.Bool("load-only"),
		errOut:    c.App.ErrWriter,
	}
	var err error
	cfg.getWeight, cfg.setWeight, err = parseRatio(c.String("ratio"))
	if err != nil {
		return cfg, fmt.Errorf("--ratio %q: %w", c.String("ratio"), err)
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.progress = f
	}
	return cfg, cfg.check()
}

// check reports the first setting that cannot work.
func (cfg *benchConfig) check() error {
	switch {
	case cfg.conns < 1:
		return fmt.Errorf("-c %d: want at least 1", cfg.conns)
	case cfg.keys < 1:
		return fmt.Errorf("--keys %d: want at least 1", cfg.keys)
	case cfg.valueSize < 0 || cfg.valueSize > benchMaxValue:
		return fmt.Errorf("--value-size %d: want 0 to %d", cfg.valueSize, benchMaxValue)
	case cfg.pipeline < 1:
		return fmt.Errorf("--pipeline %d: want at least 1", cfg.pipeline)
	case cfg.requests < 0:
		return fmt.Errorf("-n %d: want 0 or more", cfg.requests)
	case cfg.requests == 0 && cfg.duration <= 0 && !cfg.loadOnly:
		return fmt.Errorf("-d %v: want a positive duration, or -n", cfg.duration)
	case cfg.warmup < 0:
		return fmt.Errorf("--warmup %v: want 0 or more", cfg.warmup)
	}
	if n := len(cfg.keyPrefix) + len(strconv.Itoa(cfg.keys-1)); n > 250 {
		return fmt.Errorf("--key-prefix %q: keys would be %d bytes, over memcached's 250", cfg.keyPrefix, n)
	}
	if strings.ContainsAny(cfg.keyPrefix, " \t\r\n\x00") {
		return fmt.Errorf("--key-prefix %q: keys may not hold spaces or control bytes", cfg.keyPrefix)
	}
	return nil
}

// parseRatio parses "get:set", two non-negative weights, not both zero.
func parseRatio(s string) (get, set int, err error) {
	g, st, ok := strings.Cut(s, ":")
	if ok {
		get, err = strconv.Atoi(g)
	}
	if ok && err == nil {
		set, err = strconv.Atoi(st)
	}
	if !ok || err != nil || get < 0 || set < 0 || get+set == 0 || get+set > 1<<30 {
		return 0, 0, fmt.Errorf("want get:set weights such as 90:10")
	}
	return get, set, nil
}

func runBenchCommand(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected argument %q (flags go before it; see --help)", c.Args().First())
	}
	cfg, err := benchFlags(c)
	if err != nil {
		return err
	}
	res, err := runBench(c.Context, cfg)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.writeText(c.App.Writer)
	}
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d requests got a wrong reply or none", res.Errors)
	}
	return err
}
