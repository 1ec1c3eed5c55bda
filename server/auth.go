package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
)

// ASCII authentication, compatible with memcached 1.6's -Y <authfile>: a
// connection must first send "set <any> <any> <any> <n>" with the data
// block "<user> <password>"; until it does, every line gets CLIENT_ERROR
// unauthenticated (version, quit and noreply included), and nothing is
// read or written.

// Auth is the list of users and passwords of memcached's -Y file: lines
// "user:password". It is safe for concurrent use; Reload replaces the list
// while connections check against it.
type Auth struct {
	path   string
	logger *slog.Logger
	mu     sync.RWMutex
	users  []authEntry
}

// authEntry keeps SHA-256 digests, so that every comparison takes the same
// time whatever the lengths.
type authEntry struct{ user, pass [sha256.Size]byte }

// maxAuthFile bounds the file, as memcached does (it reads at most 8 KiB).
const maxAuthFile = 8 << 10

// LoadAuth reads the -Y file at path. It logs a warning on logger (nil:
// none) if others can read the file.
func LoadAuth(path string, logger *slog.Logger) (*Auth, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &Auth{path: path, logger: logger}
	if err := a.Reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// Reload reads the file again (on SIGHUP). On an error the old list stays.
func (a *Auth) Reload() error {
	fi, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		a.logger.Warn("the auth file is readable by every user: chmod 600 it", "file", a.path, "mode", fi.Mode().Perm().String())
	}
	b, err := os.ReadFile(a.path)
	if err != nil {
		return fmt.Errorf("auth file: %w", err)
	}
	if len(b) > maxAuthFile {
		return fmt.Errorf("auth file %s: %d bytes, more than %d", a.path, len(b), maxAuthFile)
	}
	var users []authEntry
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		user, pass, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return fmt.Errorf("auth file %s:%d: want user:password", a.path, i+1)
		}
		users = append(users, authEntry{sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))})
	}
	if len(users) == 0 {
		return errors.New("auth file " + a.path + ": no user:password line")
	}
	a.mu.Lock()
	a.users = users
	a.mu.Unlock()
	return nil
}

// Check reports whether user and pass are in the list, comparing with
// every entry in constant time.
func (a *Auth) Check(user, pass []byte) bool {
	u, p := sha256.Sum256(user), sha256.Sum256(pass)
	a.mu.RLock()
	defer a.mu.RUnlock()
	ok := 0
	for i := range a.users {
		e := &a.users[i]
		ok |= subtle.ConstantTimeCompare(u[:], e.user[:]) & subtle.ConstantTimeCompare(p[:], e.pass[:])
	}
	return ok == 1
}

var (
	replyUnauthenticated = []byte("CLIENT_ERROR unauthenticated\r\n")
	replyAuthFailure     = []byte("CLIENT_ERROR authentication failure\r\n")
	replyAuthToken       = []byte("CLIENT_ERROR bad authentication token format\r\n")
	replyAuthTermination = []byte("CLIENT_ERROR bad command line termination\r\n")
)

// authenticate runs memcached's try_read_command_asciiauth until the
// connection has authenticated (true) or ends (false).
func (c *conn) authenticate() bool {
	auth := c.s.opts.Auth
	for c.werr == nil {
		if c.br.Buffered() == 0 {
			if err := c.bw.Flush(); err != nil {
				return false
			}
		}
		c.armIdle()
		line, err := c.p.readLine()
		if err != nil {
			return false // a line too long: memcached closes too
		}
		f := splitFields(nil, line)
		var size uint64
		if len(f) >= 5 && string(f[0]) == "set" {
			size, err = strconv.ParseUint(string(f[4]), 10, 32)
		}
		if len(f) < 5 || string(f[0]) != "set" || err != nil || size > maxAuthFile {
			c.write(replyUnauthenticated)
			continue
		}
		n := int(size) + 2
		buf, err := c.p.readData(n)
		if err != nil {
			return false
		}
		switch tok := splitFields(nil, buf[:n-2]); {
		case buf[n-2] != '\r' || buf[n-1] != '\n':
			c.write(replyAuthTermination)
		case len(tok) < 2:
			c.write(replyAuthToken)
		case auth.Check(tok[0], tok[1]):
			c.write(replyStored)
			return true
		default:
			c.s.opts.Logger.Info("authentication failed", "remote", c.nc.RemoteAddr().String())
			c.write(replyAuthFailure)
		}
	}
	return false
}
