package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
)

// TLSFiles are memcached's -Z settings, its -o ssl_chain_cert=,
// ssl_key=, ssl_ca_cert= and ssl_verify_mode=. An empty Key means the key
// is in the Chain file, as memcached allows.
type TLSFiles struct {
	Chain, Key, CA string
	VerifyMode     string // "" or "0" none, "1" request, "2" or "3" require
}

// A TLS is a server's TLS configuration, loaded from its files and replaced
// whole by Reload: a handshake takes the one current when it starts, so a
// reload never touches a connection already made. It is safe for
// concurrent use.
type TLS struct {
	files  TLSFiles
	verify tls.ClientAuthType
	cur    atomic.Pointer[tls.Config]
}

// LoadTLS checks the settings and loads the files.
func LoadTLS(f TLSFiles) (*TLS, error) {
	if f.Key == "" {
		f.Key = f.Chain
	}
	t := &TLS{files: f}
	switch f.VerifyMode {
	case "", "0":
		t.verify = tls.NoClientCert
	case "1":
		t.verify = tls.VerifyClientCertIfGiven
	case "2", "3":
		t.verify = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("-o ssl_verify_mode=%s: want 0 (none), 1 (request), 2 (require) or 3 (once)", f.VerifyMode)
	}
	if f.Chain == "" {
		return nil, errors.New("-Z: want -o ssl_chain_cert=FILE (and ssl_key=FILE)")
	}
	if t.verify != tls.NoClientCert && f.CA == "" {
		return nil, errors.New("-o ssl_verify_mode: want -o ssl_ca_cert=FILE to verify clients with")
	}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the files again (memcached's refresh_certs). If they do not
// load, the configuration in use stays.
func (t *TLS) Reload() error {
	cert, err := tls.LoadX509KeyPair(t.files.Chain, t.files.Key)
	if err != nil {
		return fmt.Errorf("-Z: certificate: %w", err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, ClientAuth: t.verify}
	if t.files.CA != "" {
		pem, err := os.ReadFile(t.files.CA)
		if err != nil {
			return fmt.Errorf("-o ssl_ca_cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("-o ssl_ca_cert=%s: no PEM certificate", t.files.CA)
		}
		cfg.ClientCAs = pool
	}
	t.cur.Store(cfg)
	return nil
}

// Config is the listener's configuration (tls.NewListener): each handshake
// asks for the current one. TLS 1.2 and later only.
func (t *TLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return t.cur.Load(), nil },
	}
}
