package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/storage"
)

// shutdownTimeout bounds how long a stopping server waits for connections
// to finish the requests they have read.
const shutdownTimeout = 10 * time.Second

func env(name string) []string { return []string{"MEMCACHED_LITE_" + name} }

// serverUsage is the server's usage line, for errors.
const serverUsage = "memcached-lite server [-p PORT] [-l ADDRESS] [--data FILE] [flags]"

func serverCommand() *cli.Command {
	return &cli.Command{
		Name:            "server",
		Usage:           "serve the memcached protocol from a durable data file",
		HideHelpCommand: true, // "server help" would be an argument, which the server refuses
		Description: "Every write reaches the data file before it is acknowledged (--sync always).\n" +
			"Flags follow memcached's, so scripts written for memcached start memcached-lite unchanged.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Value: 11211, EnvVars: env("PORT"), Usage: "TCP port to listen on (0 picks a free one)"},
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1", EnvVars: env("LISTEN"), Usage: "interface to listen on; beyond loopback, anyone who can reach the port can read and change every item"},
			&cli.StringFlag{Name: "data", Value: "memcached-lite.db", EnvVars: env("DATA"), Usage: "the data file"},
			&cli.StringFlag{Name: "sync", Value: "always", EnvVars: env("SYNC"), Usage: "always: fsync before every reply; none: may lose recent writes on a crash"},
			&cli.IntFlag{Name: "memory-limit", Aliases: []string{"m"}, Value: 64, EnvVars: env("MEMORY_LIMIT"), Usage: "read cache size in MiB (0: no read cache)"},
			&cli.IntFlag{Name: "conn-limit", Aliases: []string{"c"}, Value: 1024, EnvVars: env("CONN_LIMIT"), Usage: "max simultaneous connections"},
			&cli.StringFlag{Name: "max-item-size", Aliases: []string{"I"}, Value: "1m", EnvVars: env("MAX_ITEM_SIZE"), Usage: "largest value, with k or m suffix (1k to 1024m, at most half of -m)"},
			&cli.GenericFlag{Name: "idle-timeout", Value: newSeconds(0), DefaultText: "0: never", EnvVars: env("IDLE_TIMEOUT"), Usage: "close connections idle this long: seconds as memcached takes them (30) or a duration (30s, 5m)"},
			&cli.IntFlag{Name: "max-line-length", Value: 1 << 20, EnvVars: env("MAX_LINE_LENGTH"), Usage: "longest get/gets line in bytes (other commands: 2048)"},
			&cli.IntFlag{Name: "read-buf-mem", Value: 64, EnvVars: env("READ_BUF_MEM"), Usage: "MiB that values and get lines still arriving may hold, over all connections; past it a set gets SERVER_ERROR out of memory (0: no limit; -o read_buf_mem=N)"},
			&cli.BoolFlag{Name: "enable-shutdown", Aliases: []string{"A"}, EnvVars: env("ENABLE_SHUTDOWN"), Usage: "allow the shutdown command"},
			&cli.BoolFlag{Name: "disable-flush-all", Aliases: []string{"F"}, EnvVars: env("DISABLE_FLUSH_ALL"), Usage: "refuse flush_all"},
			&cli.BoolFlag{Name: "disable-cas", Aliases: []string{"C"}, EnvVars: env("DISABLE_CAS"), Usage: "report CAS values as 0"},
			&cli.IntFlag{Name: "threads", Aliases: []string{"t"}, EnvVars: env("THREADS"), Usage: "reported in stats; Go schedules connections itself"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, EnvVars: env("VERBOSE"), Usage: "log connection errors"},
			&cli.BoolFlag{Name: "vv", EnvVars: env("VERY_VERBOSE"), Usage: "log every command"},
			&cli.StringSliceFlag{Name: "extended", Aliases: []string{"o"}, Usage: "memcached -o options: idle_timeout=N is used, others are ignored"},
			&cli.StringFlag{Name: "udp-port", Aliases: []string{"U"}, Usage: "ignored (no UDP)"},
			&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "ignored"},
			&cli.IntFlag{Name: "max-file-size", EnvVars: env("MAX_FILE_SIZE"), Hidden: true, Usage: "limit in MiB on the pages bbolt uses in the data file (its MaxSize; 0: none): writes that need more fail with SERVER_ERROR"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile to this file until the server stops", Hidden: true},
			securityFlags()[0], securityFlags()[1],
			&cli.StringFlag{Name: "port-hint", Hidden: true, Usage: "the command to suggest when the port is taken, with {port} for a free port (make run passes \"make run PORT={port}\")"},
			&cli.StringFlag{Name: "metrics", EnvVars: env("METRICS"), Usage: "serve /metrics (Prometheus), /healthz and /backup over HTTP on this host:port, e.g. 127.0.0.1:9150 (default: off; no authentication: keep it private)"},
			&cli.StringFlag{Name: "ready-file", EnvVars: env("READY_FILE"), Usage: "once serving, write the listening address (host:port and a newline) to this file, atomically: scripts and tests wait for it"},
		},
		Action:       runServer,
		OnUsageError: usageError(serverUsage),
	}
}

// config is what the server subcommand's flags say, checked.
type config struct {
	network  string // tcp4, tcp6 or tcp: see server.Network
	addr     string
	metrics  string // --metrics address; "" when off
	data     string
	store    storage.Options
	server   server.Options
	logger   *slog.Logger
	verbose  int
	portHint string
	sec      security // -Y, -Z (secure.go)
}

// serverConfig maps the flags to options: the one place that reads them.
// It checks them all, so that a start that fails on a flag creates nothing.
func serverConfig(c *cli.Context) (config, error) {
	var cfg config
	if c.NArg() > 0 {
		return cfg, badUsage(c, serverUsage, fmt.Sprintf("unexpected arguments %q: the server takes only flags (quote a --data path with spaces)", strings.Join(c.Args().Slice(), " ")))
	}
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return cfg, fmt.Errorf("-p %d: want a port from 1 to 65535, or 0 for any free one", port)
	}
	itemSize, err := parseSize(c.String("max-item-size"))
	if err != nil {
		return cfg, fmt.Errorf("-I %q: %w", c.String("max-item-size"), err)
	}
	var sync storage.SyncMode
	switch c.String("sync") {
	case "always":
		sync = storage.SyncAlways
	case "none":
		sync = storage.SyncNone
	default:
		return cfg, fmt.Errorf("--sync %q: want always or none", c.String("sync"))
	}
	cacheMiB := c.Int("memory-limit")
	if cacheMiB < 0 {
		return cfg, fmt.Errorf("-m %d: want a size in MiB, 0 for no read cache", cacheMiB)
	}
	if err := checkItemSize(itemSize, cacheMiB); err != nil {
		return cfg, fmt.Errorf("-I %s with -m %d: %w", c.String("max-item-size"), cacheMiB, err)
	}
	if c.Int("max-file-size") < 0 {
		return cfg, fmt.Errorf("--max-file-size %d: want a size in MiB, 0 for no limit", c.Int("max-file-size"))
	}
	idle := duration(c, "idle-timeout")
	readBufMem := c.Int("read-buf-mem")
	for _, o := range c.StringSlice("extended") {
		for _, kv := range strings.Split(o, ",") {
			if v, ok := strings.CutPrefix(kv, "idle_timeout="); ok {
				secs, err := strconv.Atoi(v)
				if err != nil || secs < 0 {
					return cfg, fmt.Errorf("-o idle_timeout=%s: want whole seconds", v)
				}
				idle = time.Duration(secs) * time.Second
			}
			if v, ok := strings.CutPrefix(kv, "read_buf_mem="); ok {
				mib, err := strconv.Atoi(v)
				if err != nil || mib < 0 {
					return cfg, fmt.Errorf("-o read_buf_mem=%s: want whole MiB", v)
				}
				readBufMem = mib
			}
		}
	}
	if readBufMem < 0 {
		return cfg, fmt.Errorf("--read-buf-mem %d: want a size in MiB, 0 for no limit", readBufMem)
	}
	readBufLimit := int64(readBufMem) << 20
	if readBufLimit == 0 {
		readBufLimit = -1 // no limit
	}
	switch {
	case c.Bool("vv"):
		cfg.verbose = 2
	case c.Bool("verbose"):
		cfg.verbose = 1
	}
	level := slog.LevelInfo
	if cfg.verbose > 0 {
		level = slog.LevelDebug
	}
	cfg.logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, &slog.HandlerOptions{Level: level}))
	cacheBytes := int64(cacheMiB) << 20 // -m 0: no read cache
	cfg.network = server.Network(c.String("listen"))
	cfg.addr = net.JoinHostPort(c.String("listen"), strconv.Itoa(port))
	cfg.data = c.String("data")
	cfg.metrics = c.String("metrics")
	cfg.portHint = c.String("port-hint")
	cfg.store = storage.Options{CacheBytes: cacheBytes, MaxItemSize: itemSize, NoCAS: c.Bool("disable-cas"), Sync: sync, MaxSize: c.Int("max-file-size") << 20, Logger: cfg.logger}
	cfg.server = server.Options{
		ReadBufferLimit: readBufLimit,
		MaxConns:        c.Int("conn-limit"),
		IdleTimeout:     idle,
		MaxLineLength:   c.Int("max-line-length"),
		AllowShutdown:   c.Bool("enable-shutdown"),
		DisableFlush:    c.Bool("disable-flush-all"),
		DisableCAS:      c.Bool("disable-cas"),
		Threads:         c.Int("threads"),
		Verbosity:       cfg.verbose,
		Trace:           trace(cfg.verbose, c.App.ErrWriter),
		Logger:          cfg.logger,
	}
	if cfg.server.MaxConns <= 0 {
		return cfg, fmt.Errorf("-c %d: want at least 1", cfg.server.MaxConns)
	}
	if cfg.sec, err = securityConfig(c, cfg.logger); err != nil {
		return cfg, err
	}
	cfg.server.Auth = cfg.sec.auth
	return cfg, nil
}

// parseSize parses memcached's -I: bytes, or a number with a k or m suffix,
// between 1 KiB and 1 GiB.
func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("want a size such as 1024, 512k or 1m")
	}
	if n*mult < 1<<10 || n*mult > 1<<30 {
		return 0, errors.New("item size must be between 1k and 1024m")
	}
	return n * mult, nil
}

// itemSizeRule is memcached's own message for an -I above half of -m.
const itemSizeRule = "Cannot set item size limit higher than 1/2 of memory max."

// checkItemSize is memcached's rule for -I and -m: an item may take at most
// half of the memory limit. memcached 1.6.18 refuses "-m 64 -I 33m" with
// this message (and exit status 64) and accepts -I 32m. With -m 0 there is
// no read cache here, so no limit to keep half of.
func checkItemSize(itemSize, cacheMiB int) error {
	half := int64(cacheMiB) << 20 / 2
	if cacheMiB == 0 || int64(itemSize) <= half {
		return nil
	}
	largest := strconv.FormatInt(half>>10, 10) + "k"
	if half%(1<<20) == 0 {
		largest = strconv.FormatInt(half>>20, 10) + "m"
	}
	return fmt.Errorf("%s (with -m %d, -I may be up to %s; -m 0 turns the read cache off)", itemSizeRule, cacheMiB, largest)
}

// listen binds the server's address. When the port is taken it says so in
// words a newcomer can act on, with a command that uses a free port.
func listen(cfg config) (net.Listener, error) {
	ln, err := net.Listen(cfg.network, cfg.addr)
	if err == nil {
		return ln, nil
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen: %w", err)
	}
	host, port, _ := net.SplitHostPort(cfg.addr)
	msg := fmt.Sprintf("port %s is taken: another memcached may be running there "+
		"(Debian's memcached package listens on 127.0.0.1:11211), or another memcached-lite.", port)
	if free := freePortNear(cfg.network, host, port); free != "" {
		hint := "memcached-lite server -p {port}"
		if cfg.portHint != "" {
			hint = cfg.portHint
		}
		msg += "\nTo use port " + free + " instead: " + strings.ReplaceAll(hint, "{port}", free)
	}
	return nil, fmt.Errorf("%w\n%s", err, msg)
}

// freePortNear returns the first port after port that host lets us bind,
// or "" if none of the next hundred is free.
func freePortNear(network, host, port string) string {
	p, err := strconv.Atoi(port)
	if err != nil {
		return ""
	}
	for q := p + 1; q <= min(p+100, 65535); q++ {
		ln, err := net.Listen(network, net.JoinHostPort(host, strconv.Itoa(q)))
		if err == nil {
			_ = ln.Close() // only a probe
			return strconv.Itoa(q)
		}
	}
	return ""
}

// exposedWarning is logged when the server listens beyond loopback.
const exposedWarning = "listening beyond loopback: anyone who can reach this port can read, overwrite and flush every item " +
	"(-Y asks for a password, -Z adds TLS); bind 127.0.0.1 unless other machines must connect, and consider -F to refuse flush_all"

func runServer(c *cli.Context) error {
	cfg, err := serverConfig(c)
	if err != nil {
		return err
	}
	log := cfg.logger
	// Bind before the data file is created: a start that fails on the
	// address (a port taken, a bad host) leaves no file behind.
	ln, err := listen(cfg)
	if err != nil {
		return err
	}
	var metrics *server.Metrics
	if cfg.metrics != "" {
		metrics = server.NewMetrics()
		cfg.store.OnCommit = metrics.ObserveCommit
	}
	st, err := storage.Open(cfg.data, cfg.store)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	if path := c.String("cpuprofile"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return errors.Join(err, ln.Close(), st.Close())
		}
		defer stop()
	}
	if cfg.store.CacheBytes > 0 && os.Getenv("GOMEMLIMIT") == "" {
		defer storage.LimitMemory(cfg.store.CacheBytes)() // memlimit.go
	}
	if cfg.sec.tls != nil {
		ln = tls.NewListener(ln, cfg.sec.tls.Config())
	}
	ctx, stop := context.WithCancel(c.Context)
	defer stop()
	defer reloadOnHUP(ctx, cfg.sec, log)()
	cfg.server.Port = ln.Addr().(*net.TCPAddr).Port
	cfg.server.OnShutdown = stop
	srv := server.New(st, cfg.server)
	stopMetrics := func() error { return nil }
	if cfg.metrics != "" {
		if stopMetrics, err = serveMetrics(cfg.metrics, srv, metrics, log); err != nil {
			return errors.Join(err, ln.Close(), st.Close())
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stats := st.Stats()
	log.Info("memcached-lite listening", "addr", ln.Addr().String(), "data", st.Path(),
		"items", stats.Items, "sync", stats.Sync.String(), "pid", os.Getpid())
	if server.Exposed(ln.Addr()) {
		switch {
		case cfg.sec.auth == nil:
			log.Warn(exposedWarning, "addr", ln.Addr().String())
		case cfg.sec.tls == nil:
			log.Warn("listening beyond loopback with -Y but without -Z: passwords and values cross the network in clear", "addr", ln.Addr().String())
		}
	}
	readyErr := writeReadyFile(c.String("ready-file"), ln.Addr().String())
	if readyErr != nil {
		stop() // whoever waits for the file would wait in vain: shut down
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	log.Info("shutting down", "addr", ln.Addr().String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	if errors.Is(shutErr, context.DeadlineExceeded) {
		// The connections still busy were closed; what they had queued
		// with the store is committed by st.Close below, and nothing
		// they had not been answered for was acknowledged.
		log.Warn("connections did not finish in time; closed them", "timeout", shutdownTimeout)
		shutErr = nil
	}
	if serveErr == nil {
		serveErr = <-served
	}
	if errors.Is(serveErr, server.ErrServerClosed) {
		serveErr = nil
	}
	metricsErr := stopMetrics() // before the store: a backup holds a transaction
	closeErr := st.Close()
	if err := errors.Join(readyErr, serveErr, shutErr, metricsErr, closeErr); err != nil {
		return err
	}
	log.Info("stopped", "data", st.Path())
	return nil
}

// writeReadyFile writes addr and a newline to path, if path is not empty,
// through a temporary file in the same directory and a rename, so that a
// reader sees either no file or the whole address.
func writeReadyFile(path, addr string) error {
	if path == "" {
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--ready-file %s: %w", path, err)
	}
	_, err = f.WriteString(addr + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return errors.Join(fmt.Errorf("--ready-file %s: %w", path, err), os.Remove(f.Name()))
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned function
// is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// trace is where -vv's per-command lines go: standard error, as memcached's.
func trace(verbose int, w io.Writer) io.Writer {
	if verbose < 2 {
		return nil
	}
	return w
}
