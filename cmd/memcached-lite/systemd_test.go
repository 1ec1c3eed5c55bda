package main

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// unitFile is the systemd unit example the README points to.
const unitFile = "../../docs/memcached-lite.service"

// execStart returns the fields of the unit's ExecStart line.
func execStart(t *testing.T, unit string) []string {
	t.Helper()
	for _, l := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s has no ExecStart line", unitFile)
	return nil
}

// TestSystemdUnitFlags starts the server with the unit's ExecStart flags
// (on a temporary data file and free ports), so that the example cannot
// name a flag the server does not have, and checks its /healthz.
func TestSystemdUnitFlags(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	args := execStart(t, string(b))
	if len(args) < 2 || args[0] != "/usr/local/bin/memcached-lite" || args[1] != "server" {
		t.Fatalf("ExecStart=%s: want /usr/local/bin/memcached-lite server ...", strings.Join(args, " "))
	}
	metrics := servertest.FreeAddr(t)
	flags := args[2:]
	seen := map[string]bool{}
	for i := 0; i+1 < len(flags); i++ {
		switch flags[i] {
		case "--data":
			flags[i+1] = filepath.Join(t.TempDir(), "memcached-lite.db")
		case "-p":
			flags[i+1] = "0"
		case "--metrics":
			flags[i+1] = metrics
		default:
			continue
		}
		seen[flags[i]] = true
	}
	if !seen["--data"] || !seen["-p"] || !seen["--metrics"] {
		t.Fatalf("ExecStart=%s: want --data, -p and --metrics", strings.Join(args, " "))
	}
	p := servertest.StartBinary(t, servertest.BinaryOptions{NoDefaultFlags: true, Args: flags})
	dialWire(t, p.Addr).expect("set k 0 0 1\r\nx\r\n", "STORED\r\n")
	resp, err := http.Get("http://" + metrics + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("/healthz: %s %q, want 200 ok", resp.Status, body)
	}
}

// TestSystemdUnitVerify runs systemd-analyze verify on the unit, with
// ExecStart pointing at the binary under test (verify checks that it is
// executable). It must pass without a warning. Without systemd the test
// is skipped, in CI too: the unit is an example, not a build product.
func TestSystemdUnitVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := strings.Replace(string(b), "ExecStart=/usr/local/bin/memcached-lite ", "ExecStart="+servertest.Binary(t)+" ", 1)
	path := filepath.Join(t.TempDir(), "memcached-lite.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}
