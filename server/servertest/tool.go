package servertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Tool returns the path of the external program name (memcached,
// memccapable, nutcracker, bbolt, ...): from PATH, else from the sbin and
// bin directories a package installs to, else from $(go env GOPATH)/bin,
// where go install puts it. When it is missing the test is skipped, or
// fails if CI is set (see SkipOrFail).
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := findIn(name, "/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin"); p != "" {
		return p
	}
	if p := findIn(name, goBin()...); p != "" {
		return p
	}
	SkipOrFail(t, name+" is not installed")
	return ""
}

// SkipOrFail skips the test because something it needs is missing (a tool,
// a permission), unless the CI environment variable is set: CI provides
// everything, so there the test fails instead.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "" {
		t.Skip(why)
	}
	t.Fatalf("%s, and CI is set", why)
}

// findIn returns the path of the regular file name in the first of dirs
// that has one, or "".
func findIn(name string, dirs ...string) string {
	for _, dir := range dirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// goBin returns the bin directories of $(go env GOPATH).
func goBin() []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "env", "GOPATH").Output()
	if err != nil {
		return nil
	}
	var dirs []string
	for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
		if dir != "" {
			dirs = append(dirs, filepath.Join(dir, "bin"))
		}
	}
	return dirs
}
