package servertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StartMemcached starts the reference server, memcached 1.6, as
// "memcached -p PORT -U 0 -l 127.0.0.1" on a free port, with the extra args
// (such as "-m", "64"), and returns it once it listens: memcached writes
// its port to the file named by MEMCACHED_PORT_FILENAME, by a rename, once
// it listens (the contract memcached's own tests use). So no connection
// comes before the test's, which would count in memcached's stats. (-p -1
// would pick the port too, but then memcached reports tcpport -1.) If
// another process takes the port first, memcached exits and StartMemcached
// tries another. The process is killed at the end of the test. Without
// memcached the test is skipped, unless CI is set (see Tool).
func StartMemcached(t testing.TB, args ...string) *Process {
	t.Helper()
	bin := Tool(t, "memcached")
	return startOnFreePort(t, func(addr string) (*Process, func() (string, error)) {
		_, port, _ := net.SplitHostPort(addr)
		dir := t.TempDir()
		ports := filepath.Join(dir, "ports")
		a := append([]string{"-p", port, "-U", "0", "-l", "127.0.0.1"}, args...)
		if os.Geteuid() == 0 {
			a = append(a, "-u", "root") // memcached refuses to run as root otherwise
		}
		p := launch(t, dir, "memcached", bin, a, Env("MEMCACHED_PORT_FILENAME="+ports))
		return p, fileReady(ports, parsePortsFile)
	})
}

// parsePortsFile reads memcached's MEMCACHED_PORT_FILENAME file, with
// lines such as "TCP INET: 40123".
func parsePortsFile(b []byte) (string, error) {
	for _, l := range strings.Split(string(b), "\n") {
		if port, ok := strings.CutPrefix(l, "TCP INET: "); ok {
			return net.JoinHostPort("127.0.0.1", port), nil
		}
	}
	return "", fmt.Errorf("holds %q, want a line TCP INET: <port>", b)
}

// A TwemproxyServer is one server of the pool StartTwemproxy proxies.
type TwemproxyServer struct {
	Addr   string // host:port
	Weight int    // 0 means 1
	Name   string // twemproxy's optional server name, which it hashes instead of the address
}

// StartTwemproxy starts twemproxy (Debian's nutcracker 0.5) on a free
// loopback port in front of servers, with md5 ketama placement, no
// ejection of failing servers and one connection to each, and returns it
// once it answers version (which it forwards to a server). twemproxy cannot
// pick its own port: if another process takes the free port first, it
// tries another. The process is killed at the end of the test. Without
// nutcracker the test is skipped, unless CI is set (see Tool).
func StartTwemproxy(t testing.TB, servers ...TwemproxyServer) *Process {
	t.Helper()
	bin := Tool(t, "nutcracker")
	return startOnFreePort(t, func(listen string) (*Process, func() (string, error)) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "nutcracker.yml")
		var b strings.Builder
		fmt.Fprintf(&b, "pool:\n  listen: %s\n  hash: md5\n  distribution: ketama\n", listen)
		b.WriteString("  auto_eject_hosts: false\n  timeout: 2000\n  server_connections: 1\n  servers:\n")
		for _, s := range servers {
			fmt.Fprintf(&b, "   - %s:%d", s.Addr, max(s.Weight, 1))
			if s.Name != "" {
				fmt.Fprintf(&b, " %s", s.Name)
			}
			b.WriteString("\n")
		}
		if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
			t.Fatalf("servertest: %v", err)
		}
		if out, err := exec.Command(bin, "-t", "-c", conf).CombinedOutput(); err != nil {
			t.Fatalf("servertest: nutcracker -t rejects\n%s\n%v: %s", b.String(), err, out)
		}
		_, statsPort, _ := net.SplitHostPort(FreeAddr(t))
		// Without -o, nutcracker logs to its standard error: the output.
		p := launch(t, dir, "nutcracker", bin, []string{"-c", conf, "-a", "127.0.0.1", "-s", statsPort}, Env())
		return p, func() (string, error) {
			if answersVersion(listen) != nil {
				return "", nil
			}
			return listen, nil
		}
	})
}

// startOnFreePort starts a server on a free loopback address: start starts
// it to listen on addr, and returns it with the function await polls. If
// the server exits before it is ready (another process may have taken the
// port), it tries another port, three times in all.
func startOnFreePort(t testing.TB, start func(addr string) (*Process, func() (string, error))) *Process {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		p, ready := start(addr)
		err := p.await(ready)
		if err == nil {
			return p
		}
		if !p.Exited() || attempt == 3 {
			t.Fatalf("servertest: %s", p.describe(err))
		}
		t.Logf("servertest: another process may have taken %s; trying another port: %s", addr, p.describe(err))
	}
}

// answersVersion sends version to addr and returns nil if a VERSION line
// comes back within a second.
func answersVersion(addr string) error {
	nc, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := nc.Write([]byte("version\r\n")); err != nil {
		return err
	}
	l, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(l, "VERSION ") {
		return fmt.Errorf("version: got %q", l)
	}
	return nil
}

// FreeAddr returns a loopback address, 127.0.0.1:port, that was free a
// moment ago: for a program that cannot pick its own port, or a test that
// wants an address where nothing listens. Another process may take the
// port before it is used.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("servertest: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("servertest: %v", err)
	}
	return addr
}
