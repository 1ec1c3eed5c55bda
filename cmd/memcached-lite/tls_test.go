package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// testPKI is a CA and a server certificate for 127.0.0.1 that it signed,
// as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	serial                    *big.Int
	ca                        *x509.Certificate
	caKey                     *ecdsa.PrivateKey
}

// newTestPKI makes a CA and a server certificate (serial number serial)
// and writes them to dir, the server's pair under the names given.
func newTestPKI(t *testing.T, dir string, serial int64, certName, keyName string) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial * 1000), Subject: pkix.Name{CommonName: "memcached-lite test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := testPKI{caFile: filepath.Join(dir, "ca"+certName), certFile: filepath.Join(dir, certName), keyFile: filepath.Join(dir, keyName),
		pool: x509.NewCertPool(), serial: big.NewInt(serial), ca: ca, caKey: caKey}
	p.pool.AddCert(ca)
	writePEM(t, p.caFile, &pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.issue(t, serial, x509.ExtKeyUsageServerAuth, p.certFile, p.keyFile)
	return p
}

// issue makes a certificate for 127.0.0.1 signed by the CA, for usage,
// and writes it and its key to certFile and keyFile.
func (p *testPKI) issue(t *testing.T, serial int64, usage x509.ExtKeyUsage, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, certFile, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	writePEM(t, keyFile, &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

// writePEM writes block to a temporary name and renames it to path, so
// that a SIGHUP never reads half a file.
func writePEM(t *testing.T, path string, block *pem.Block) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestTLS starts the server with -Z (and -Y) on a generated certificate:
// the client library, the REPL and Python's ssl module with the raw
// protocol all connect; a plain-text client is refused cleanly; and after
// new certificate files and a SIGHUP new connections get the new
// certificate while one opened before goes on working.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, 1, "server.pem", "server.key")
	auth := filepath.Join(dir, "auth")
	pwfile := filepath.Join(dir, "pw")
	for path, content := range map[string]string{auth: "alice:s3cret\n", pwfile: "s3cret\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-Z", "-Y", auth,
		"-o", "ssl_chain_cert=" + pki.certFile + ",ssl_key=" + pki.keyFile}})

	// The client library.
	c, err := client.NewWithOptions(client.Options{TLS: &tls.Config{RootCAs: pki.pool}, Username: "alice", Password: "s3cret"},
		client.Server{Addr: p.Addr})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(&client.Item{Key: "k", Value: []byte("over tls")}); err != nil {
		t.Fatalf("client library: %v", err)
	}

	// The REPL, with its flags.
	out, errOut, code := servertest.Run(t, "", "client", "-s", p.Addr, "--tls", "--cacert", pki.caFile,
		"--user", "alice", "--password-file", pwfile, "get", "k")
	if code != 0 || out != "over tls\n" {
		t.Errorf("REPL: %q %q, status %d", out, errOut, code)
	}
	_, errOut, code = servertest.Run(t, "", "client", "-s", p.Addr, "--tls", "--cacert", pki.caFile, "get", "k")
	if code != 1 || !strings.Contains(errOut, "CLIENT_ERROR unauthenticated") {
		t.Errorf("REPL without --user: %q, status %d", errOut, code)
	}

	// Python's ssl module and the raw protocol, and the same against
	// memcached -Z -Y with the same files.
	want := "STORED\r\nVA 8\r\nover tls\r\nMN\r\nTLSv1.3"
	if got := pythonTLS(t, p.Addr, pki.caFile, "mg k v\r\n"); got != want {
		t.Errorf("python3 ssl: %q, want %q", got, want)
	}
	mc := servertest.StartMemcached(t, "-Z", "-Y", auth, "-o", "ssl_chain_cert="+pki.certFile+",ssl_key="+pki.keyFile).Addr
	if got := pythonTLS(t, mc, pki.caFile, "ms k 8\r\nover tls\r\nmg k v\r\n"); got != "STORED\r\nHD\r\n"+want[len("STORED\r\n"):] {
		t.Errorf("python3 ssl to memcached -Z: %q", got)
	}
	if got := pythonTLS(t, p.Addr, pki.caFile, "ms k 8\r\nover tls\r\nmg k v\r\n"); got != "STORED\r\nHD\r\n"+want[len("STORED\r\n"):] {
		t.Errorf("python3 ssl, as to memcached -Z: %q", got)
	}

	// A plain-text client gets no memcached reply, and the connection ends.
	nc, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, "version\r\n")
	rest, err := io.ReadAll(nc)
	nc.Close()
	if err != nil || strings.Contains(string(rest), "VERSION") || len(rest) > 64 {
		t.Errorf("plain text on the TLS port: got %q, %v; want at most a TLS alert, then the end", rest, err)
	}

	// A connection opened before the reload.
	before, err := tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: pki.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if got := before.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(pki.serial) != 0 {
		t.Fatalf("serial %v, want %v", got, pki.serial)
	}
	before.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(before, "set auth 0 0 12\r\nalice s3cret\r\n")
	buf := make([]byte, len("STORED\r\n"))
	if _, err := io.ReadFull(before, buf); err != nil || string(buf) != "STORED\r\n" {
		t.Fatalf("authenticating before SIGHUP: %q %v", buf, err)
	}
	if err := os.WriteFile(auth, []byte("alice:n3w\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// New files in place, then SIGHUP: new connections get the new
	// certificate (each attempt is a handshake; no sleep).
	next := newTestPKI(t, dir, 2, "server.pem", "server.key")
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := tls.Dial("tcp", p.Addr, &tls.Config{RootCAs: next.pool})
		if err == nil {
			serial := conn.ConnectionState().PeerCertificates[0].SerialNumber
			conn.Close()
			if serial.Cmp(next.serial) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new certificate 10 s after SIGHUP (last error %v)\n%s", err, p.Output())
		}
	}
	before.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(before, "mg k v\r\n")
	buf = make([]byte, len("VA 8\r\nover tls\r\n"))
	if _, err := io.ReadFull(before, buf); err != nil || string(buf) != "VA 8\r\nover tls\r\n" {
		t.Errorf("the connection made before SIGHUP: %q %v", buf, err)
	}

	// The same SIGHUP re-read the auth file (before the certificates).
	for pw, want := range map[string]error{"s3cret": client.ErrAuthFailed, "n3w": nil} {
		c, err := client.NewWithOptions(client.Options{TLS: &tls.Config{RootCAs: next.pool}, Username: "alice", Password: pw},
			client.Server{Addr: p.Addr})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get("k"); !errors.Is(err, want) {
			t.Errorf("password %s after SIGHUP: %v, want %v", pw, err, want)
		}
		c.Close()
	}
}

// pythonTLS connects to addr with Python's ssl module, trusting caFile,
// authenticates as alice, sends reqs and mn, and returns what came back up
// to MN, then the TLS version.
func pythonTLS(t *testing.T, addr, caFile, reqs string) string {
	t.Helper()
	py := servertest.Tool(t, "python3")
	script := `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
host, port = sys.argv[1].rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=5) as raw:
    with ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(b"set auth 0 0 12\r\nalice s3cret\r\n" + sys.argv[3].encode() + b"mn\r\n")
        buf = b""
        while not buf.endswith(b"MN\r\n"):
            d = s.recv(4096)
            if not d:
                break
            buf += d
        sys.stdout.write(buf.decode() + s.version())
`
	out, err := exec.Command(py, "-c", script, addr, caFile, reqs).CombinedOutput()
	if err != nil {
		t.Errorf("python3: %v\n%s", err, out)
	}
	return string(out)
}

// TestTLSClientCertificate starts memcached-lite, and memcached, with
// -o ssl_ca_cert=,ssl_verify_mode=2: the REPL with --cert/--key signed by
// that CA connects, the REPL without them is refused before any command.
func TestTLSClientCertificate(t *testing.T) {
	dir := t.TempDir()
	pki := newTestPKI(t, dir, 1, "server.pem", "server.key")
	clientCert, clientKey := filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key")
	pki.issue(t, 7, x509.ExtKeyUsageClientAuth, clientCert, clientKey)
	opts := "ssl_chain_cert=" + pki.certFile + ",ssl_key=" + pki.keyFile + ",ssl_ca_cert=" + pki.caFile + ",ssl_verify_mode=2"
	servers := map[string]string{
		"memcached-lite": servertest.StartBinary(t, servertest.BinaryOptions{Args: []string{"-Z", "-o", opts}}).Addr,
		"memcached":      servertest.StartMemcached(t, "-Z", "-o", opts).Addr,
	}
	for name, addr := range servers {
		out, errOut, code := servertest.Run(t, "", "client", "-s", addr, "--tls", "--cacert", pki.caFile,
			"--cert", clientCert, "--key", clientKey, "set", "k", "v")
		if code != 0 || out != "STORED\n" {
			t.Errorf("%s: REPL with a client certificate: %q %q, status %d", name, out, errOut, code)
		}
		out, errOut, code = servertest.Run(t, "", "client", "-s", addr, "--tls", "--cacert", pki.caFile, "get", "k")
		// With TLS 1.3 the refusal comes after the client's handshake: an
		// alert naming the certificate, or (memcached does it, and a
		// request racing the alert can cause it) a reset.
		if code != 1 || out != "" || !strings.Contains(errOut, "certificate") && !strings.Contains(errOut, "reset by peer") {
			t.Errorf("%s: REPL without a client certificate: %q %q, status %d", name, out, errOut, code)
		}
	}
}
