package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
)

// loadDescription is the help text of the load generator, the root command.
const loadDescription = "Opens -c connections and sends random gets and sets over the key space, each\n" +
	"connection waiting for the replies to its last --pipeline requests before sending more.\n" +
	"Keys are --key-prefix plus a zero-padded number below --keys; --load sets each once\n" +
	"first, so gets hit. Nothing is measured during --warmup. Every reply is checked (a set\n" +
	"must get STORED, a get VALUE...END or END); anything else is an error, and the first\n" +
	"few are printed. Prints ops/s and latency percentiles per operation, the get hit\n" +
	"ratio and the error count. It speaks the memcached text protocol, so it drives\n" +
	"memcached and memcached-lite alike. The generator uses the same cores as a server on\n" +
	"this machine."

// loadFlags are the load generator's flags.
func loadFlags() []cli.Flag {
	return []cli.Flag{
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
	}
}

// loadConfig maps the load generator's flags to a checked loadgen.Config:
// the one place that reads them.
func loadConfig(c *cli.Context) (loadgen.Config, error) {
	cfg := loadgen.Config{
		Addr:      c.String("server"),
		Conns:     c.Int("conns"),
		Keys:      c.Int("keys"),
		KeyPrefix: c.String("key-prefix"),
		ValueSize: c.Int("value-size"),
		Pipeline:  c.Int("pipeline"),
		Duration:  c.Duration("duration"),
		Requests:  c.Int("requests"),
		Warmup:    c.Duration("warmup"),
		Load:      c.Bool("load"),
		LoadOnly:  c.Bool("load-only"),
		ErrOut:    c.App.ErrWriter,
	}
	var err error
	cfg.GetWeight, cfg.SetWeight, err = loadgen.ParseRatio(c.String("ratio"))
	if err != nil {
		return cfg, fmt.Errorf("--ratio %q: %w", c.String("ratio"), err)
	}
	if f, ok := c.App.ErrWriter.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		cfg.Progress = f
	}
	if ce, ok := errors.AsType[*loadgen.ConfigError](cfg.Check()); ok {
		return cfg, fmt.Errorf("%s %s: %s", flagName(ce.Field), ce.Value, ce.Msg)
	}
	return cfg, nil
}

// flagName names the flag that sets a loadgen.Config field.
func flagName(field string) string {
	switch field {
	case "Conns":
		return "-c"
	case "Keys":
		return "--keys"
	case "KeyPrefix":
		return "--key-prefix"
	case "ValueSize":
		return "--value-size"
	case "GetWeight", "SetWeight":
		return "--ratio"
	case "Pipeline":
		return "--pipeline"
	case "Duration":
		return "-d"
	case "Requests":
		return "-n"
	case "Warmup":
		return "--warmup"
	}
	return field
}

// runLoad runs the load generator once and prints its result.
func runLoad(c *cli.Context) error {
	if c.Args().Present() {
		return fmt.Errorf("unexpected argument %q (flags go before it; see --help)", c.Args().First())
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	res, err := loadgen.Run(c.Context, cfg)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		err = enc.Encode(res)
	} else {
		err = res.WriteText(c.App.Writer)
	}
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("%d requests got a wrong reply or none", res.Errors)
	}
	return err
}
