package repl_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the REPL's output")

// transcript is what a scripted run produced, in the golden file's form.
func transcript(addr, stdout, stderr string, code int) string {
	norm := func(s string) string {
		s = strings.ReplaceAll(s, addr, "SERVER")
		s = casRE.ReplaceAllString(s, "cas=N")
		return ttlRE.ReplaceAllString(s, "~1000s")
	}
	return "-- stdout --\n" + norm(stdout) + "-- stderr --\n" + norm(stderr) +
		"-- exit status --\n" + strconv.Itoa(code) + "\n"
}

// ttlRE matches the time left of an item set with ttl=1000 a moment
// before (keys, ttl): 999s once a second has ticked, or on a slow run,
// and then padded by one more space in the keys table.
var ttlRE = regexp.MustCompile(`\b(99[0-9]s ?|1000s)`)

// casRE matches the CAS numbers gets shows: the server picks them.
var casRE = regexp.MustCompile(`cas=\d+`)

// TestREPLScriptGolden feeds each testdata/*.script to the REPL, through the
// package API and through the binary's stdin, each time against a new
// memcached-lite server, and compares stdout, stderr and the exit status
// with testdata/NAME.golden (the server's address shows as SERVER, CAS
// numbers as N). -update rewrites the golden files.
func TestREPLScriptGolden(t *testing.T) {
	scripts, err := filepath.Glob("testdata/*.script")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, script := range scripts {
		name := strings.TrimSuffix(filepath.Base(script), ".script")
		in, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		goldenPath := filepath.Join("testdata", name+".golden")
		t.Run(name+"/api", func(t *testing.T) {
			addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
			var stdout, stderr bytes.Buffer
			r, err := repl.New(repl.Config{Servers: []string{addr}, In: bytes.NewReader(in), Out: &stdout, Err: &stderr})
			if err != nil {
				t.Fatal(err)
			}
			code := r.Run()
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			got := transcript(addr, stdout.String(), stderr.String(), code)
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			compareGolden(t, goldenPath, got)
		})
		t.Run(name+"/binary", func(t *testing.T) {
			addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
			stdout, stderr, code := servertest.Run(t, string(in), "client", "-s", addr)
			compareGolden(t, goldenPath, transcript(addr, stdout, stderr, code))
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(gl), len(wl)); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("%s differs at line %d:\n got %q\nwant %q\nwhole output:\n%s", path, i+1, g, w, got)
		}
	}
}
