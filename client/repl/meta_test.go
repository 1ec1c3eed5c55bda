package repl_test

import (
	"regexp"
	"testing"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestMetaCommands runs the meta commands through the REPL, and checks
// that help lists them.
func TestMetaCommands(t *testing.T) {
	addr := servertest.Start(t, servertest.Options{}).Addr
	o := newOneShot(t, repl.Config{Servers: []string{addr}})
	o.expect("HD\n", 0, "meta-set", "greeting", "hello", "T60", "F3")
	out, _, code := o.run("meta-get", "greeting", "v", "t", "f", "s")
	if code != 0 || !regexp.MustCompile(`^VA 5 t(60|59) f3 s5\nhello\n$`).MatchString(out) {
		t.Errorf("meta-get: %q, status %d", out, code)
	}
	o.expect("EN knothing (not found)\n", 0, "meta-get", "nothing", "v", "k")
	o.expect("VA 2\n10\n", 0, "meta-arith", "n", "N0", "J10", "v")
	out, _, code = o.run("meta-set", "greeting", "x", "ME")
	if code != 1 || out != "NS (item not stored)\n" {
		t.Errorf("meta-set ME of a present key: %q, status %d", out, code)
	}
	o.expect("HD\n", 0, "meta-delete", "greeting", "I")
	o.expect("HD X W\n", 0, "meta-get", "greeting")
	out, _, _ = o.run("meta-debug", "n")
	if !regexp.MustCompile(`^ME n exp=-1 la=\d+ cas=\d+ fetch=no cls=1 size=\d+\n$`).MatchString(out) {
		t.Errorf("meta-debug: %q", out)
	}
	out, _, _ = o.run("help")
	for _, name := range []string{"meta-get", "meta-set", "meta-delete", "meta-arith", "meta-debug"} {
		if !regexp.MustCompile(`(?m)^  ` + name + ` `).MatchString(out) {
			t.Errorf("help does not list %s:\n%s", name, out)
		}
	}
	if out, _, _ = o.run("help", "meta-get"); !regexp.MustCompile(`mg KEY FLAG`).MatchString(out) {
		t.Errorf("help meta-get: %q", out)
	}
	for _, verb := range []string{"mg", "ms", "md", "ma", "me"} {
		if out, errOut, code := o.run("help", verb); code != 0 || !regexp.MustCompile(`sent as typed`).MatchString(out) {
			t.Errorf("help %s: %q %q, status %d", verb, out, errOut, code)
		}
	}
}
