package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
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
	tls  *tlsSource
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
	src := &tlsSource{chain: opts["ssl_chain_cert"], key: opts["ssl_key"], ca: opts["ssl_ca_cert"]}
	if src.key == "" {
		src.key = src.chain // memcached: the key may be in the chain file
	}
	switch opts["ssl_verify_mode"] {
	case "", "0":
		src.verify = tls.NoClientCert
	case "1":
		src.verify = tls.VerifyClientCertIfGiven
	case "2", "3":
		src.verify = tls.RequireAndVerifyClientCert
	default:
		return sec, fmt.Errorf("-o ssl_verify_mode=%s: want 0 (none), 1 (request), 2 (require) or 3 (once)", opts["ssl_verify_mode"])
	}
	if src.chain == "" {
		return sec, errors.New("-Z: want -o ssl_chain_cert=FILE (and ssl_key=FILE)")
	}
	if src.verify != tls.NoClientCert && src.ca == "" {
		return sec, errors.New("-o ssl_verify_mode: want -o ssl_ca_cert=FILE to verify clients with")
	}
	if err := src.load(); err != nil {
		return sec, err
	}
	sec.tls = src
	return sec, nil
}

// tlsSource holds the TLS configuration from the files, replaced whole by
// load; a handshake takes the one current when it starts, so a reload
// never touches a connection already made.
type tlsSource struct {
	chain, key, ca string
	verify         tls.ClientAuthType
	cur            atomic.Pointer[tls.Config]
}

func (s *tlsSource) load() error {
	cert, err := tls.LoadX509KeyPair(s.chain, s.key)
	if err != nil {
		return fmt.Errorf("-Z: certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: s.verify}
	if s.ca != "" {
		pem, err := os.ReadFile(s.ca)
		if err != nil {
			return fmt.Errorf("-o ssl_ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-o ssl_ca_cert=%s: no PEM certificate", s.ca)
		}
		cfg.ClientCAs = pool
	}
	s.cur.Store(cfg)
	return nil
}

// config is the listener's configuration: each handshake asks for the
// current one.
func (s *tlsSource) config() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return s.cur.Load(), nil },
	}
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
				if err := sec.tls.load(); err != nil {
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
