package repl

import (
	"reflect"
	"strings"
	"testing"
)

func TestREPLSplitWords(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
		err  string
	}{
		{line: "set k v", want: []string{"set", "k", "v"}},
		{line: "  get\ta   b  ", want: []string{"get", "a", "b"}},
		{line: `set k "hello world"`, want: []string{"set", "k", "hello world"}},
		{line: `set k ""`, want: []string{"set", "k", ""}},
		{line: `set k "a\nb\tc\rd\0e\\f\"g\'h\x41\xff"`, want: []string{"set", "k", "a\nb\tc\rd\x00e\\f\"g'hA\xff"}},
		{line: `set k 'no \n escapes "here"'`, want: []string{"set", "k", `no \n escapes "here"`}},
		{line: `set key"with space" v`, want: []string{"set", "keywith space", "v"}},
		{line: `set k back\slash`, want: []string{"set", "k", `back\slash`}},
		{line: `set k "open`, err: `no closing " in "open`},
		{line: `set k 'open`, err: `no closing ' in 'open`},
		{line: `set k "trailing\`, err: `no closing " in "trailing\`},
		{line: `set k "\q"`, err: `bad escape \q: use \n \t \r \0 \\ \" or \xHH`},
		{line: `set k "\x4"`, err: `bad escape \x4": \x takes two hex digits, as in \x00`},
		{line: `set k "\xzz"`, err: `bad escape \xzz: \x takes two hex digits, as in \x00`},
	} {
		got, err := splitWords(tc.line)
		switch {
		case tc.err != "" && (err == nil || err.Error() != tc.err):
			t.Errorf("splitWords(%q) = %q, %v; want error %q", tc.line, got, err, tc.err)
		case tc.err == "" && (err != nil || !reflect.DeepEqual(got, tc.want)):
			t.Errorf("splitWords(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}

func TestREPLShowValue(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string
	}{
		{"hello", "hello"},
		{"hello world", "hello world"},
		{"café ☕", "café ☕"},
		{"", `"" (0 bytes)`},
		{" pad", `" pad" (4 bytes)`},
		{"a\nb", `"a\nb" (3 bytes)`},
		{"\t", `"\t" (1 byte)`},
		{"\x00\x01", `"\x00\x01" (2 bytes, binary)`},
		{"\xff\xfe", `"\xff\xfe" (2 bytes, binary)`},
		{"bell\a", `"bell\a" (5 bytes, binary)`},
	} {
		text, notes := showValue([]byte(tc.value))
		got := text
		if len(notes) > 0 {
			got += " (" + strings.Join(notes, ", ") + ")"
		}
		if got != tc.want {
			t.Errorf("showValue(%q) = %s, want %s", tc.value, got, tc.want)
		}
	}
}

func TestREPLEscapeWire(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"set k 0 0 5\r\n", `set k 0 0 5\r\n`},
		{"a\tb\\c\x00\x7f\xc3\xa9", `a\tb\\c\x00\x7f\xc3\xa9`},
		{strings.Repeat("x", 210), strings.Repeat("x", 210)},
		{strings.Repeat("x", 211), strings.Repeat("x", 200) + "... (211 bytes in all)"},
	} {
		if got := escapeWire([]byte(tc.in)); got != tc.want {
			t.Errorf("escapeWire(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := escapeControls([]byte("a\tb\x1b[2J\x7f")), `a`+"\t"+`b\x1b[2J\x7f`; got != want {
		t.Errorf("escapeControls = %q, want %q", got, want)
	}
}

func TestREPLIsRawLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		raw  bool
	}{
		{"set k 0 0 5", true},
		{"set k 0 -1 5", true},
		{"set k 1 2 3 noreply", true},
		{"append k 0 0 1", true},
		{"cas k 0 0 5 12", true},
		{"raw get k", true},
		{"get k noreply", true},
		{"delete k noreply", true},
		{"flush_all", true},
		{"flush_all 10", true},
		{"gat 10 k", true},
		{"verbosity 1", true},
		{"mn", true},
		{"mg k v", true},

		{"set k 5", false},         // the value 5
		{"set k 0 0", false},       // value 0, then a stray word
		{"set k v ttl=5", false},   // friendly options
		{"set k 0 0 five", false},  // not a number
		{"cas k v 12", false},      // friendly cas
		{"cas k 0 0 5", false},     // a cas without its CAS
		{"get k", false},           // the same either way: friendly
		{"incr k 1", false},        // ditto
		{"stats", false},           // ditto
		{"SET k 0 0 5", false},     // the protocol is case-sensitive
		{"bogus noreply", false},   // not a protocol verb
		{"rawget k", false},        // not the raw prefix
		{"servers noreply", false}, // a REPL command
	} {
		if got := isRawLine(strings.Fields(tc.line)); got != tc.raw {
			t.Errorf("isRawLine(%q) = %v, want %v", tc.line, got, tc.raw)
		}
	}
}

func TestREPLFailureReply(t *testing.T) {
	for _, tc := range []struct {
		reply  string
		failed bool
	}{
		{"STORED\r\n", false},
		{"END\r\n", false},
		{"VALUE k 0 9\r\nNOT_FOUND\r\nEND\r\n", false},
		{"42\r\n", false},
		{"", false},
		{"NOT_STORED\r\n", true},
		{"EXISTS\r\n", true},
		{"NOT_FOUND\r\n", true},
		{"ERROR\r\n", true},
		{"CLIENT_ERROR bad data chunk\r\n", true},
		{"SERVER_ERROR out of memory\r\n", true},
		{"NF\r\n", true},
		{"HD\r\n", false},
	} {
		if got := failureReply([]byte(tc.reply)); got != tc.failed {
			t.Errorf("failureReply(%q) = %v, want %v", tc.reply, got, tc.failed)
		}
	}
}

func TestREPLComplete(t *testing.T) {
	r, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.keys["user:1"] = true
	r.keys["user:2"] = true
	r.keys["session"] = true
	for _, tc := range []struct {
		line string
		pos  int // -1: the end
		head string
		want []string
		tail string
	}{
		{line: "ver", pos: -1, want: []string{"version "}},
		{line: "s", pos: -1, want: []string{"set ", "stats ", "servers "}},
		{line: "get us", pos: -1, head: "get ", want: []string{"user:1 ", "user:2 "}},
		{line: "get user:1 se", pos: -1, head: "get user:1 ", want: []string{"session "}},
		{line: "set se", pos: -1, head: "set ", want: []string{"session "}},
		{line: "set session v", pos: -1, head: "set session ", want: nil}, // a value, not a key
		{line: "incr us", pos: -1, head: "incr ", want: []string{"user:1 ", "user:2 "}},
		{line: "help in", pos: -1, head: "help ", want: []string{"incr "}},
		{line: "trace o", pos: -1, head: "trace ", want: []string{"on ", "off "}},
		{line: "raw fl", pos: -1, head: "raw ", want: []string{"flush_all "}},
		{line: "raw get ses", pos: -1, head: "raw get ", want: []string{"session "}},
		{line: "get us x", pos: 6, head: "get ", want: []string{"user:1", "user:2"}, tail: " x"},
		{line: "flush us", pos: -1, head: "flush ", want: nil},
	} {
		pos := tc.pos
		if pos < 0 {
			pos = len([]rune(tc.line))
		}
		head, got, tail := r.complete(tc.line, pos)
		if head != tc.head || !reflect.DeepEqual(got, tc.want) || tail != tc.tail {
			t.Errorf("complete(%q, %d) = %q, %q, %q; want %q, %q, %q", tc.line, pos, head, got, tail, tc.head, tc.want, tc.tail)
		}
	}
}
