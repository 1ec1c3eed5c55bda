package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/memcached-lite/memcached-lite/client/repl"
)

// The client's flags for a server that faces a network: TLS (-Z) and
// memcached's ASCII authentication (-Y). There is no password flag: a
// command line is visible to every user of the machine (ps).

func clientSecurityFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "tls", EnvVars: env("TLS"), Usage: "connect with TLS (a server started with -Z)"},
		&cli.StringFlag{Name: "cacert", EnvVars: env("CACERT"), Usage: "with --tls: trust the server certificates signed by this PEM file (default: the system's)"},
		&cli.StringFlag{Name: "cert", EnvVars: env("CERT"), Usage: "with --tls: present this client certificate (PEM), with --key"},
		&cli.StringFlag{Name: "key", EnvVars: env("KEY"), Usage: "with --tls: the private key of --cert (PEM)"},
		&cli.BoolFlag{Name: "insecure", Usage: "with --tls: DO NOT VERIFY the server's certificate (anyone in between can read and change everything)"},
		&cli.StringFlag{Name: "user", EnvVars: env("USER"), Usage: "authenticate as this user (a server started with -Y); the password comes from $MEMCACHED_LITE_PASSWORD, --password-file, or a prompt"},
		&cli.StringFlag{Name: "password-file", EnvVars: env("PASSWORD_FILE"), Usage: "with --user: read the password from the first line of this file"},
	}
}

// clientSecurity fills cfg's TLS and authentication from the flags.
func clientSecurity(c *cli.Context, cfg *repl.Config) error {
	if c.Bool("tls") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.Bool("insecure")}
		if path := c.String("cacert"); path != "" {
			pem, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("--cacert: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("--cacert %s: no PEM certificate", path)
			}
		}
		if cert, key := c.String("cert"), c.String("key"); cert != "" || key != "" {
			if cert == "" || key == "" {
				return errors.New("--cert and --key go together")
			}
			pair, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return fmt.Errorf("--cert/--key: %w", err)
			}
			tc.Certificates = []tls.Certificate{pair}
		}
		cfg.TLS = tc
	} else if c.IsSet("cacert") || c.IsSet("cert") || c.IsSet("key") || c.Bool("insecure") {
		return errors.New("--cacert, --cert, --key and --insecure need --tls")
	}
	user := c.String("user")
	if user == "" {
		return nil
	}
	pass, err := password(c)
	if err != nil {
		return err
	}
	if strings.ContainsAny(user+pass, " \r\n") {
		return errors.New("--user: memcached's authentication takes no spaces in the user or the password")
	}
	cfg.Username, cfg.Password = user, pass
	return nil
}

// password reads --user's password: from $MEMCACHED_LITE_PASSWORD, from
// --password-file, else from the terminal without echo.
func password(c *cli.Context) (string, error) {
	if p, ok := os.LookupEnv("MEMCACHED_LITE_PASSWORD"); ok {
		return p, nil
	}
	if path := c.String("password-file"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimSuffix(line, "\r"), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("--user: no terminal to ask for the password on: set MEMCACHED_LITE_PASSWORD or --password-file")
	}
	defer tty.Close()
	pass, err := readPassword(tty, "Password for "+c.String("user")+": ")
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return pass, nil
}

// readPassword shows prompt on tty and reads a line without echo. Echo is
// off before the prompt shows, so that nothing typed after it is echoed
// (term.ReadPassword turns it off after). Backspace and Ctrl-U edit,
// Ctrl-C cancels.
func readPassword(tty *os.File, prompt string) (string, error) {
	fd := int(tty.Fd())
	old, err := term.MakeRaw(fd)
	if err != nil {
		return "", err
	}
	defer term.Restore(fd, old)
	if _, err := io.WriteString(tty, prompt); err != nil {
		return "", err
	}
	var line []byte
	var buf [1]byte
	for {
		if _, err := io.ReadFull(tty, buf[:]); err != nil {
			return "", err
		}
		switch ch := buf[0]; ch {
		case '\r', '\n':
			_, err := io.WriteString(tty, "\r\n")
			return string(line), err
		case 3: // Ctrl-C
			io.WriteString(tty, "\r\n")
			return "", errors.New("cancelled")
		case 4: // Ctrl-D
			if len(line) == 0 {
				io.WriteString(tty, "\r\n")
				return "", io.EOF
			}
		case 0x7f, 8: // Backspace
			if len(line) > 0 {
				line = line[:len(line)-1]
			}
		case 0x15: // Ctrl-U
			line = line[:0]
		default:
			line = append(line, ch)
		}
	}
}
