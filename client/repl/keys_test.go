package repl_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/client/repl"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestKeysFormats: keys and ttl print one key a line with FormatValues and
// one JSON object a line with FormatJSON.
func TestKeysFormats(t *testing.T) {
	addr := servertest.StartBinary(t, servertest.BinaryOptions{}).Addr
	run := func(f repl.Format, script string) string {
		var out, errOut bytes.Buffer
		r, err := repl.New(repl.Config{Servers: []string{addr}, In: strings.NewReader(script), Out: &out, Err: &errOut, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		if code := r.Run(); code != 0 {
			t.Errorf("%q: exit %d, stderr %q", script, code, errOut.String())
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		return out.String()
	}
	run(repl.FormatValues, "set b two\nset a%20z one\n")
	for _, tc := range []struct {
		f            repl.Format
		script, want string
	}{
		{repl.FormatValues, "keys\n", "a%20z\nb\n"},
		{repl.FormatValues, "ttl b\n", "-1\n"},
		{repl.FormatJSON, "keys\n", `{"key":"a%20z","ttl":-1,"size":67}` + "\n" + `{"key":"b","ttl":-1,"size":63}` + "\n"},
		{repl.FormatJSON, "ttl a%20z\n", `{"key":"a%20z","ttl":-1}` + "\n"},
	} {
		if got := run(tc.f, tc.script); got != tc.want {
			t.Errorf("format %d, %q:\n got %q\nwant %q", tc.f, tc.script, got, tc.want)
		}
	}
}
