package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/server"
)

// What the server needs to face a network: memcached's ASCII
// authentication (-Y) and TLS (-Z with -o ssl_chain_cert=,ssl_key=,
// ssl_ca_cert=,ssl_verify_mode=), both re-read on SIGHUP.

func securityFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "auth-file", Aliases: []string{"Y"}, EnvVars: env("AUTH_FILE"), Usage: "require ASCII authentication against this file of user:password lines (memcached -Y); re-read on SIGHUP"},
		&cli.BoolFlag{Name: "enable-ssl", Aliases: []string{"Z"}, EnvVars: env("ENABLE_SSL"), Usage: "TLS 1.2+ only, with -o ssl_chain_cert=FILE,ssl_key=FILE[,ssl_ca_cert=FILE,ssl_verify_mode=0-3]; certificates re-read on SIGHUP"},
	}
}

// security is the -Y and -Z part of the configuration.
type security struct {
	auth *server.Auth
	tls  *server.TLS
}

func securityConfig(c *cli.Context, log *slog.Logger) (security, error) {
	var sec security
	if path := c.String("auth-file"); path != "" {
		a, err := server.LoadAuth(path, log)
		if err != nil {
			return sec, fmt.Errorf("-Y: %w", err)
		}
		sec.auth = a
	}
	opts := make(map[string]string)
	for _, o := range c.StringSlice("extended") {
		for _, kv := range strings.Split(o, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "ssl_") {
				opts[k] = v
			}
		}
	}
	if !c.Bool("enable-ssl") {
		if len(opts) > 0 {
			return sec, errors.New("-o ssl_...: TLS is off; add -Z")
		}
		return sec, nil
	}
	t, err := server.LoadTLS(server.TLSFiles{Chain: opts["ssl_chain_cert"], Key: opts["ssl_key"],
		CA: opts["ssl_ca_cert"], VerifyMode: opts["ssl_verify_mode"]})
	if err != nil {
		return sec, err
	}
	sec.tls = t
	return sec, nil
}

// reloadOnHUP re-reads the auth file and the certificates on each SIGHUP
// (memcached's refresh_certs), keeping the old ones if the new ones do not
// load. The returned stop ends it and waits.
func reloadOnHUP(ctx context.Context, sec security, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if sec.auth != nil {
				if err := sec.auth.Reload(); err != nil {
					log.Error("SIGHUP: keeping the old auth file", "err", err)
				} else {
					log.Info("SIGHUP: auth file reloaded")
				}
			}
			if sec.tls != nil {
				if err := sec.tls.Reload(); err != nil {
					log.Error("SIGHUP: keeping the old certificates", "err", err)
				} else {
					log.Info("SIGHUP: certificates reloaded")
				}
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		cancel()
		wg.Wait()
	}
}
