package server

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func parseOne(t *testing.T, in string) (command, error) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(in), 64)
	p := newParser(br, maxValue(1024), 4096, nil)
	var c command
	err := p.readCommand(&c)
	return c, err
}

func TestReadCommand(t *testing.T) {
	tests := []struct {
		in      string
		op      opcode
		keys    []string
		data    string
		noreply bool
		err     error
	}{
		{in: "get a b c\r\n", op: opGet, keys: []string{"a", "b", "c"}},
		{in: "  get   a  \n", op: opGet, keys: []string{"a"}},
		{in: "gat 10 a b\r\n", op: opGat, keys: []string{"a", "b"}},
		{in: "gat 10\r\n", op: opGat},
		{in: "gat\r\n", op: opGat, err: errUnknown},
		{in: "get a " + strings.Repeat("k", 251) + "\r\n", op: opGet, err: errBadFormat},
		{in: "set k 1 2 3 noreply\r\nabc\r\n", op: opSet, keys: []string{"k"}, data: "abc", noreply: true},
		{in: "cas k 1 2 3 99\r\nabc\r\n", op: opCas, keys: []string{"k"}, data: "abc"},
		{in: "delete k noreply\r\n", op: opDelete, keys: []string{"k"}, noreply: true},
		{in: "incr k 5\r\n", op: opIncr, keys: []string{"k"}},
		{in: "flush_all 10 noreply\r\n", op: opFlushAll, noreply: true},
		{in: "\r\n", err: errUnknown},
		{in: "get\tk\r\n", err: errUnknown},
		{in: "set k 0 0\r\n", op: opSet, err: errUnknown},
		{in: "set k 0 0 3\r\nabcde\r\n", op: opSet, keys: []string{"k"}, err: errBadChunk},
		{in: "set k 0 0 2000\r\n" + strings.Repeat("x", 2000) + "\r\n", op: opSet, keys: []string{"k"}, err: errTooLarge},
		{in: "set k 0 0 -1\r\n", op: opSet, keys: []string{"k"}, err: errBadFormat},
		{in: "incr k -1\r\n", op: opIncr, keys: []string{"k"}, err: errBadDelta},
		{in: "delete k 5\r\n", op: opDelete, err: errDeleteUsage},
		{in: "GET / HTTP/1.1\r\n", err: errHTTP},
		{in: "incr " + strings.Repeat(" ", 3000) + "k 1\r\n", err: errLineTooLong},
	}
	for _, tt := range tests {
		c, err := parseOne(t, tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("readCommand(%q): err %v, want %v", tt.in, err, tt.err)
			continue
		}
		var keys []string
		for _, k := range c.keys {
			keys = append(keys, string(k))
		}
		for k, rest := nextToken(c.rest); k != nil; k, rest = nextToken(rest) {
			keys = append(keys, string(k))
		}
		if c.op != tt.op || strings.Join(keys, ",") != strings.Join(tt.keys, ",") || string(c.data) != tt.data || c.noreply != tt.noreply {
			t.Errorf("readCommand(%q) = op %v keys %q data %q noreply %v; want op %v keys %q data %q noreply %v",
				tt.in, c.op, keys, c.data, c.noreply, tt.op, tt.keys, tt.data, tt.noreply)
		}
	}
}

func TestNumbersFollowMemcached(t *testing.T) {
	u32 := []struct {
		in   string
		want uint32
		ok   bool
	}{{"0", 0, true}, {"4294967295", 4294967295, true}, {"4294967296", 0, true}, {"+7", 7, true}, {"-0", 0, true}, {"-1", 0, false}, {"abc", 0, false}, {"1a", 0, false}, {"0x5", 0, false}, {"", 0, false}, {"18446744073709551616", 0, false}}
	for _, tt := range u32 {
		if got, ok := parseUint32([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("parseUint32(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	i32 := []struct {
		in   string
		want int32
		ok   bool
	}{{"-1", -1, true}, {"2592000", 2592000, true}, {"4294967295", -1, true}, {"4294967296", 0, true}, {"9223372036854775808", 0, false}, {"-9223372036854775808", 0, true}, {"x", 0, false}}
	for _, tt := range i32 {
		if got, ok := parseInt32([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("parseInt32(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse feeds arbitrary input, split in two reads, to the parser. Every
// command must either parse into a known opcode or yield an error that has a
// reply (or ends the connection), the parser must never read past what a
// command claims, and it must never panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"get a b\r\n", "set k 0 0 1\r\nx\r\n", "cas k 0 0 1 5 noreply\r\nx\r\n",
		"incr k 1\r\ndecr k 2\r\n", "delete k 0 noreply\r\n", "touch k 10\r\n", "gats 0 a b\r\n",
		"flush_all 10 noreply\r\n", "stats settings\r\n", "verbosity 1\r\n", "set k 0 0 3\r\nabcde\r\n",
		"set k 0 0 4294967297\r\nx\r\n", "\r\n", "get " + strings.Repeat("k", 251) + "\r\n",
		"mg k v c t f k s h l Oab q\r\n", "ms k 2 T10 F3 c I C5 MA q\r\nhi\r\n", "md k I T30 C1 q\r\n",
		"ma k N0 J10 D5 MD v t c\r\n", "mg Zm9v b v k\r\n", "ms @@@ 1 b\r\nx\r\n", "me k\r\n", "mn\r\n",
		"ms k 3 zz\r\nabc\r\n", "mg k v v\r\n", "ms k 200 T1\r\n" + strings.Repeat("x", 200) + "\r\n",
	} {
		f.Add([]byte(s), uint8(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		split := min(int(cut), len(in))
		r := io.MultiReader(bytes.NewReader(in[:split]), bytes.NewReader(in[split:]))
		p := newParser(bufio.NewReaderSize(r, 64), maxValue(128), 512, nil)
		var c command
		for range 1000 {
			err := p.readCommand(&c)
			if err == nil {
				if c.op == 0 || c.op.String() == "unknown" {
					t.Fatalf("parsed %q into no command", in)
				}
				if len(c.data) > 128 {
					t.Fatalf("data block of %d bytes over the 128-byte limit", len(c.data))
				}
				keys := c.keys
				for k, rest := nextToken(c.rest); k != nil; k, rest = nextToken(rest) {
					keys = append(keys, k)
				}
				for _, k := range keys {
					if len(k) == 0 || len(k) > maxKeyLen || bytes.IndexByte(k, ' ') >= 0 {
						t.Fatalf("bad key %q from %q", k, in)
					}
				}
				if c.op.isMeta() {
					// A base64 key (b) may decode to any bytes, spaces included.
					if c.meta == nil || len(c.meta.key) == 0 || len(c.meta.key) > maxKeyLen {
						t.Fatalf("meta command %v without a usable key from %q", c.op, in)
					}
					for _, f := range c.meta.flags {
						if len(f) == 0 || bytes.IndexByte(f, ' ') >= 0 {
							t.Fatalf("bad meta flag %q from %q", f, in)
						}
					}
				}
				p.release()
				continue
			}
			if isReplyError(err) {
				if _, unexpected := errorReply(err); unexpected {
					t.Fatalf("parse error %v maps to SERVER_ERROR", err)
				}
				continue
			}
			return // the connection's end: EOF, line too long, HTTP
		}
	})
}

func BenchmarkReadCommandGet(b *testing.B) {
	benchmarkReadCommand(b, bytes.Repeat([]byte("get user:1234\r\n"), 512))
}

func BenchmarkReadCommandSet(b *testing.B) {
	benchmarkReadCommand(b, bytes.Repeat([]byte("set user:1234 0 0 100\r\n"+strings.Repeat("v", 100)+"\r\n"), 128))
}

// benchmarkReadCommand parses every command in in, with no I/O.
func benchmarkReadCommand(b *testing.B, in []byte) {
	r := bytes.NewReader(in)
	br := bufio.NewReaderSize(r, 4096)
	p, c := newParser(br, maxValue(1<<20), 1<<20, nil), new(command)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset(in)
		br.Reset(r)
		for p.readCommand(c) == nil {
		}
	}
}

// maxValue is a size rule that allows n bytes whatever the key and flags.
func maxValue(n int) func(int, uint32) int {
	return func(int, uint32) int { return n }
}
