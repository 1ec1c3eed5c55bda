// Differential protocol tests. Every transcript in testdata/sessions/*.txt is
// replayed against a real memcached 1.6 (TestTranscriptsMemcached) and against
// memcached-lite (TestTranscriptsLite); both must answer byte for byte alike.
// The expected replies in the files are memcached's actual output.
//
// Transcript format: one directive per line (a trailing \r on a line is ignored).
//
//	# comment        blank lines and lines starting with # are ignored
//	=== name         starts a case (subtest <file>/<name>); names have no spaces
//	> text           send text + "\r\n" (everything after "> "); a bare ">" sends "\r\n"
//	>raw EXPR        send exactly the bytes of EXPR, nothing appended
//	< text           expect one reply line, text + "\r\n"; a bare "<" expects "\r\n"
//	<raw EXPR        expect one reply element of exactly these bytes
//	<closed          expect the server to close the connection (EOF or reset);
//	                 must be the last directive of its case
//	<lf text         expect one reply line ending in a bare "\n", text + "\n"
//	                 (memcached's watch and metadump lines)
//	>close           close the connection (only on an @NAME connection)
//	@NAME directive  run the directive on the case's connection NAME, opened
//	                 (without the runner's flush_all) at its first use; a
//	                 directive without @NAME runs on the case's main connection
//
// EXPR is a space-separated list of Go string literals, each optionally
// followed by *N (repeat N times):
//
//	>raw "set k 0 0 3\r\nabcde\r\n"
//	>raw "get " "k"*251 "\r\n"
//	>raw "set big 0 0 2097152\r\n" "x"*2097152 "\r\n"
//
// Replies are read one element at a time: a line up to and including "\n" or,
// right after a "VALUE <key> <flags> <bytes> [<cas>]" line, the data block of
// exactly <bytes>+2 bytes. Each < or <raw directive matches exactly one
// element, so the block "hi\r\n" is "< hi", and a block with \r or \n inside,
// binary data or a large repetitive value is written with <raw.
//
// Placeholders in "< text" lines match what legitimately differs between
// servers:
//
//	<cas>        a decimal number (the CAS unique in gets/gats replies); the
//	             matched value is remembered as $cas
//	<cas:NAME>   the same, remembered as $NAME
//	<version>    one token (the version number in "VERSION 1.6.18")
//	<~N>         a decimal number, optionally negative, within 1 of N: a
//	             TTL or an age in seconds (meta t, l; me exp=, la=), which
//	             moves by one when a server's clock ticks during the case
//	<n>          a decimal number, maybe negative, not remembered: what
//	             differs from run to run (timestamps, ids, descriptors,
//	             ports); -update writes it for the fields in maskedFields
//
// In > and >raw directives $NAME is replaced by the remembered value and $$
// is a literal $; an unknown name is an error in the transcript.
//
// Directives run in file order: sends are written as they come and each
// expectation reads the next element, so consecutive > lines form a pipeline.
// Each case runs on a new connection which first sends flush_all (expecting
// OK), so cases do not depend on each other. Unless the case ends with
// <closed, the runner then sends version and expects the VERSION line: a
// reply the transcript does not list, or a server still waiting for a data
// block, shows up there. Every network operation has a 5 s deadline.
//
//	go test -run TestTranscriptsMemcached -update ./server/
//
// rewrites every expectation from a real memcached's answers, then checks
// the files. After each run of sends (and before a send that uses a
// $variable) it reads whatever arrives until memcached is quiet for
// quietPeriod; an element that still matches the old expectation keeps its
// line as written, any other gets a new line (CAS and version masked). To
// add a case, write its > lines with a "< ?" wherever the replies should be
// listed, and run -update. (-update is the only place with a timed read; the
// files it writes are then checked by the exact, deadline-bounded runner.)

package server_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

var updateTranscripts = flag.Bool("update", false,
	"rewrite the expected replies in ../testdata/sessions from a real memcached")

const (
	sessionsGlob = "../testdata/sessions/*.txt"
	opTimeout    = 5 * time.Second        // deadline of every read and write
	quietPeriod  = 250 * time.Millisecond // -update: memcached has answered everything
	maxReplyLine = 64 << 10               // longest reply line read
	maxExprLen   = 64 << 20               // largest EXPR and data block
)

// TestTranscriptsMemcached checks the transcripts against a real memcached,
// which defines the expected replies.
func TestTranscriptsMemcached(t *testing.T) {
	addr := servertest.StartMemcached(t, "-m", "64").Addr
	files := loadTranscripts(t)
	if *updateTranscripts {
		for _, f := range files {
			updateTranscriptFile(t, addr, f)
		}
		files = loadTranscripts(t)
	}
	runTranscripts(t, addr, files)
}

// TestTranscriptsLite checks that memcached-lite answers the transcripts
// exactly like memcached.
func TestTranscriptsLite(t *testing.T) {
	addr := startServer(t, server.Options{})
	runTranscripts(t, addr, loadTranscripts(t))
}

func runTranscripts(t *testing.T, addr string, files []*transcriptFile) {
	t.Helper()
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			for _, tr := range f.cases {
				t.Run(tr.name, func(t *testing.T) {
					runTranscript(t, addr, tr)
				})
			}
		})
	}
}

// runTranscript plays one case against the server at addr.
func runTranscript(t *testing.T, addr string, tr *transcript) {
	t.Helper()
	main := newSession(t, addr, tr, true)
	conns := map[string]*session{"": main}
	for i := range tr.dirs {
		d := &tr.dirs[i]
		s := conns[d.conn]
		if s == nil {
			s = newSession(t, addr, tr, false)
			conns[d.conn] = s
		}
		switch d.kind {
		case closeDir:
			if err := s.conn.Close(); err != nil {
				s.fail(d, "close: %v", err)
			}
		case sendDir:
			b, err := d.sendBytes(s.vars)
			if err != nil {
				t.Fatalf("%s: %v", d.pos, err)
			}
			s.write(d, b)
		case expectDir:
			got, err := s.readElement()
			if err != nil {
				s.fail(d, "read: %v\n got %s\nwant %s", err, quote(got), d.wantString())
			}
			if !d.matches(got, s.vars) {
				s.fail(d, "reply differs\n got %s\nwant %s", quote(got), d.wantString())
			}
		case closedDir:
			if err := s.expectClosed(); err != nil {
				s.fail(d, "%v", err)
			}
			if s == main {
				return
			}
		}
	}
	main.sync()
}

// A transcriptFile is one parsed testdata/sessions file.
type transcriptFile struct {
	path  string
	name  string   // base name without .txt: the subtest name
	lines []string // the file's lines, for -update
	cases []*transcript
}

// A transcript is one case: a connection's worth of directives.
type transcript struct {
	name string
	pos  string // file:line of the === header
	dirs []directive
}

type dirKind int

const (
	sendDir   dirKind = iota // > or >raw
	expectDir                // < or <raw
	closedDir                // <closed
	closeDir                 // >close
)

type directive struct {
	kind dirKind
	conn string // the connection it runs on: "" for the main one
	line int    // 1-based line number in the file
	pos  string // file:line, for messages
	src  string // the line as written
	arg  string // sendDir: the text after "> " or ">raw "
	raw  bool   // sendDir: arg is an EXPR
	want []byte // expectDir from <raw: the exact element
	pat  []part // expectDir from <: the line, with placeholders
}

// A part of an expected line is a literal or a placeholder.
type part struct {
	lit  string
	hole string // "" (literal), "cas" or "version"
	name string // variable a cas placeholder sets
}

func loadTranscripts(t *testing.T) []*transcriptFile {
	t.Helper()
	paths, err := filepath.Glob(sessionsGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no transcripts match %s", sessionsGlob)
	}
	var files []*transcriptFile
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parseTranscriptFile(p, data)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

func parseTranscriptFile(path string, data []byte) (*transcriptFile, error) {
	f := &transcriptFile{
		path:  path,
		name:  strings.TrimSuffix(filepath.Base(path), ".txt"),
		lines: strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"),
	}
	var cur *transcript
	names := make(map[string]bool)
	for i, ln := range f.lines {
		ln = strings.TrimSuffix(ln, "\r")
		pos := fmt.Sprintf("%s:%d", path, i+1)
		if strings.TrimSpace(ln) == "" || strings.HasPrefix(ln, "#") {
			continue
		}
		if name, ok := strings.CutPrefix(ln, "=== "); ok {
			name = strings.TrimSpace(name)
			if name == "" || strings.ContainsAny(name, " \t/") {
				return nil, fmt.Errorf("%s: bad case name %q", pos, name)
			}
			if names[name] {
				return nil, fmt.Errorf("%s: duplicate case name %q", pos, name)
			}
			names[name] = true
			cur = &transcript{name: name, pos: pos}
			f.cases = append(f.cases, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("%s: directive before the first === case header", pos)
		}
		if n := len(cur.dirs); n > 0 && cur.dirs[n-1].kind == closedDir && cur.dirs[n-1].conn == "" {
			return nil, fmt.Errorf("%s: nothing may follow <closed in a case", pos)
		}
		var conn string
		orig := ln
		if rest, ok := strings.CutPrefix(ln, "@"); ok {
			name, dir, _ := strings.Cut(rest, " ")
			if identLen(name) != len(name) || name == "" {
				return nil, fmt.Errorf("%s: bad connection name in %q", pos, ln)
			}
			conn, ln = name, dir
		}
		d, err := parseDirective(ln)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", pos, err)
		}
		if d.kind == closeDir && conn == "" {
			return nil, fmt.Errorf("%s: >close needs an @NAME connection", pos)
		}
		d.line, d.pos, d.conn, d.src = i+1, pos, conn, orig
		cur.dirs = append(cur.dirs, d)
	}
	if len(f.cases) == 0 {
		return nil, fmt.Errorf("%s: no cases", path)
	}
	for _, tr := range f.cases {
		if len(tr.dirs) == 0 {
			return nil, fmt.Errorf("%s: case %s has no directives", tr.pos, tr.name)
		}
	}
	return f, nil
}

func parseDirective(ln string) (directive, error) {
	d := directive{src: ln}
	switch {
	case ln == ">":
		d.kind = sendDir
	case strings.HasPrefix(ln, "> "):
		d.kind, d.arg = sendDir, ln[len("> "):]
	case strings.HasPrefix(ln, ">raw "):
		d.kind, d.arg, d.raw = sendDir, ln[len(">raw "):], true
	case ln == "<":
		d.kind, d.pat = expectDir, parsePattern("\r\n")
	case strings.HasPrefix(ln, "< "):
		d.kind, d.pat = expectDir, parsePattern(ln[len("< "):]+"\r\n")
	case strings.HasPrefix(ln, "<raw "):
		want, err := parseExpr(ln[len("<raw "):])
		if err != nil {
			return d, err
		}
		d.kind, d.want = expectDir, want
	case ln == "<closed":
		d.kind = closedDir
	case ln == ">close":
		d.kind = closeDir
	case strings.HasPrefix(ln, "<lf "):
		d.kind, d.pat = expectDir, parsePattern(ln[len("<lf "):]+"\n")
	default:
		return d, fmt.Errorf("unknown directive %q", ln)
	}
	if d.kind == sendDir {
		// Check the syntax now; variables get their values when the case runs.
		if _, err := d.sendBytes(nil); err != nil {
			return d, err
		}
	}
	return d, nil
}

// sendBytes returns the bytes a send directive writes. With vars == nil every
// variable expands to "0" (syntax check only).
func (d *directive) sendBytes(vars map[string]string) ([]byte, error) {
	arg, err := expandVars(d.arg, func(name string) (string, bool) {
		if vars == nil {
			return "0", true
		}
		v, ok := vars[name]
		return v, ok
	})
	if err != nil {
		return nil, err
	}
	if !d.raw {
		return []byte(arg + "\r\n"), nil
	}
	return parseExpr(arg)
}

func expandVars(s string, lookup func(name string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for {
		before, after, found := strings.Cut(s, "$")
		b.WriteString(before)
		if !found {
			return b.String(), nil
		}
		if rest, ok := strings.CutPrefix(after, "$"); ok {
			b.WriteByte('$')
			s = rest
			continue
		}
		n := identLen(after)
		if n == 0 {
			return "", errors.New("$ must start a variable name ($$ is a literal $)")
		}
		v, ok := lookup(after[:n])
		if !ok {
			return "", fmt.Errorf("$%s is not set: no <cas:%[1]s> (or <cas> for $cas) matched before", after[:n])
		}
		b.WriteString(v)
		s = after[n:]
	}
}

func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return i
	}
	return len(s)
}

// parseExpr evaluates an EXPR: Go string literals separated by spaces, each
// optionally followed by *N.
func parseExpr(s string) ([]byte, error) {
	var out []byte
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return nil, errors.New("empty expression")
	}
	for s != "" {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil, fmt.Errorf("want a Go string literal at %s", quote([]byte(s)))
		}
		lit, err := strconv.Unquote(q)
		if err != nil {
			return nil, err
		}
		s = s[len(q):]
		n := 1
		if rest, ok := strings.CutPrefix(s, "*"); ok {
			end := 0
			for end < len(rest) && '0' <= rest[end] && rest[end] <= '9' {
				end++
			}
			n, err = strconv.Atoi(rest[:end])
			if err != nil || n < 1 || n > maxExprLen {
				return nil, fmt.Errorf("bad repeat count in %s", quote([]byte(s)))
			}
			s = rest[end:]
		}
		if len(out)+n*len(lit) > maxExprLen {
			return nil, fmt.Errorf("expression longer than %d bytes", maxExprLen)
		}
		if s != "" && s[0] != ' ' {
			return nil, fmt.Errorf("want a space before %s", quote([]byte(s)))
		}
		out = append(out, strings.Repeat(lit, n)...)
		s = strings.TrimLeft(s, " ")
	}
	return out, nil
}

func parsePattern(s string) []part {
	var parts []part
	var lit strings.Builder
	for s != "" {
		if hole, name, n := placeholderAt(s); n > 0 {
			if lit.Len() > 0 {
				parts = append(parts, part{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, part{hole: hole, name: name})
			s = s[n:]
			continue
		}
		lit.WriteByte(s[0])
		s = s[1:]
	}
	if lit.Len() > 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	return parts
}

// placeholderAt reports the placeholder s starts with and its length, or 0.
func placeholderAt(s string) (hole, name string, n int) {
	switch {
	case strings.HasPrefix(s, "<cas>"):
		return "cas", "cas", len("<cas>")
	case strings.HasPrefix(s, "<version>"):
		return "version", "", len("<version>")
	case strings.HasPrefix(s, "<n>"):
		return "n", "", len("<n>")
	case strings.HasPrefix(s, "<~"):
		rest := s[len("<~"):]
		if k := strings.IndexByte(rest, '>'); k > 0 {
			if _, err := strconv.Atoi(rest[:k]); err == nil {
				return "approx", rest[:k], len("<~") + k + 1
			}
		}
	case strings.HasPrefix(s, "<cas:"):
		rest := s[len("<cas:"):]
		if k := identLen(rest); k > 0 && k < len(rest) && rest[k] == '>' {
			return "cas", rest[:k], len("<cas:") + k + 1
		}
	}
	return "", "", 0
}

// matches reports whether got is the element d expects; on a match it stores
// the values of cas placeholders in vars.
func (d *directive) matches(got []byte, vars map[string]string) bool {
	if d.pat == nil {
		return bytes.Equal(got, d.want)
	}
	s := string(got)
	captured := make(map[string]string)
	for _, p := range d.pat {
		switch p.hole {
		case "":
			rest, ok := strings.CutPrefix(s, p.lit)
			if !ok {
				return false
			}
			s = rest
		case "cas":
			n := 0
			for n < len(s) && '0' <= s[n] && s[n] <= '9' {
				n++
			}
			if n == 0 || n > 20 {
				return false
			}
			captured[p.name], s = s[:n], s[n:]
		case "version":
			n := strings.IndexAny(s, " \r\n")
			if n <= 0 {
				return false
			}
			s = s[n:]
		case "n":
			n := 0
			if strings.HasPrefix(s, "-") {
				n++
			}
			start := n
			for n < len(s) && '0' <= s[n] && s[n] <= '9' {
				n++
			}
			if n == start {
				return false
			}
			s = s[n:]
		case "approx":
			n := 0
			if strings.HasPrefix(s, "-") {
				n++
			}
			for n < len(s) && '0' <= s[n] && s[n] <= '9' {
				n++
			}
			got, err := strconv.Atoi(s[:n])
			want, _ := strconv.Atoi(p.name)
			if err != nil || got < want-1 || got > want+1 {
				return false
			}
			s = s[n:]
		}
	}
	if s != "" {
		return false
	}
	for k, v := range captured {
		vars[k] = v
	}
	return true
}

func (d *directive) wantString() string {
	if d.kind == closedDir {
		return "the connection closed"
	}
	if d.pat == nil {
		return quote(d.want)
	}
	var b strings.Builder
	for _, p := range d.pat {
		switch p.hole {
		case "":
			b.WriteString(p.lit)
		case "version":
			b.WriteString("<version>")
		case "n":
			b.WriteString("<n>")
		case "approx":
			b.WriteString("<~" + p.name + ">")
		default:
			b.WriteString("<cas:" + p.name + ">")
		}
	}
	return quote([]byte(b.String()))
}

// quote formats b with %q, eliding the middle of long byte strings.
func quote(b []byte) string {
	const head, tail = 120, 40
	if len(b) <= head+tail+40 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q ...(%d bytes in all)... %q", b[:head], len(b), b[len(b)-tail:])
}

// A session is one connection running one case.
type session struct {
	t     *testing.T
	tr    *transcript
	conn  net.Conn
	br    *bufio.Reader
	vars  map[string]string
	block int      // length of the data block to read next, -1 if none
	hist  []string // what was sent and received, for failure messages
}

// newSession connects to addr; flush says whether to start with the
// runner's flush_all (the main connection of a case does).
func newSession(t *testing.T, addr string, tr *transcript, flush bool) *session {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, opTimeout)
	if err != nil {
		t.Fatalf("%s: %v", tr.pos, err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close: %v", err)
		}
	})
	s := &session{
		t:     t,
		tr:    tr,
		conn:  conn,
		br:    bufio.NewReaderSize(conn, maxReplyLine),
		vars:  make(map[string]string),
		block: -1,
	}
	if !flush {
		return s
	}
	start := &directive{pos: tr.pos, src: "(runner) flush_all"}
	s.write(start, []byte("flush_all\r\n"))
	if got, err := s.readElement(); err != nil || string(got) != "OK\r\n" {
		s.fail(start, "flush_all before the case: got %s (%v), want \"OK\\r\\n\"", quote(got), err)
	}
	return s
}

func (s *session) note(dir string, b []byte) {
	s.hist = append(s.hist, dir+" "+quote(b))
}

// write sends b. If the server has closed the connection, the error is
// noted and the next read reports it (or <closed accepts it).
func (s *session) write(d *directive, b []byte) {
	s.t.Helper()
	s.note("sent", b)
	if err := s.conn.SetDeadline(time.Now().Add(opTimeout)); err != nil {
		s.fail(d, "set deadline: %v", err)
	}
	if _, err := s.conn.Write(b); err != nil {
		if !isClosed(err) {
			s.fail(d, "send: %v", err)
		}
		s.hist = append(s.hist, fmt.Sprintf("(send failed: %v)", err))
	}
}

// readElement reads the next reply line, or the data block announced by the
// VALUE line just read.
func (s *session) readElement() ([]byte, error) {
	if err := s.conn.SetDeadline(time.Now().Add(opTimeout)); err != nil {
		return nil, err
	}
	if n := s.block; n >= 0 {
		s.block = -1
		buf := make([]byte, n)
		m, err := io.ReadFull(s.br, buf)
		s.note("got", buf[:m])
		return buf[:m], err
	}
	line, err := s.br.ReadSlice('\n')
	line = bytes.Clone(line)
	if len(line) > 0 {
		s.note("got", line)
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		return line, fmt.Errorf("reply line longer than %d bytes", maxReplyLine)
	}
	if err == nil {
		s.block = valueBlockLen(line)
	}
	return line, err
}

// valueBlockLen returns <bytes>+2 if line is "VALUE <key> <flags> <bytes>
// [<cas>]" or a meta "VA <bytes> <flags>*", else -1.
func valueBlockLen(line []byte) int {
	f := strings.Split(strings.TrimRight(string(line), "\r\n"), " ")
	field := 3
	switch {
	case f[0] == "VA" && len(f) >= 2:
		field = 1
	case f[0] != "VALUE" || len(f) != 4 && len(f) != 5:
		return -1
	}
	n, err := strconv.Atoi(f[field])
	if err != nil || n < 0 || n > maxExprLen {
		return -1
	}
	return n + 2
}

func (s *session) expectClosed() error {
	if err := s.conn.SetDeadline(time.Now().Add(opTimeout)); err != nil {
		return err
	}
	var buf [512]byte
	n, err := s.br.Read(buf[:])
	if n > 0 {
		s.note("got", buf[:n])
		return fmt.Errorf("got %s, want the connection closed", quote(buf[:n]))
	}
	if isClosed(err) {
		return nil
	}
	return fmt.Errorf("read: %v, want the connection closed", err)
}

func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// sync checks that nothing the transcript did not expect is left: the reply
// to a version command must come next.
func (s *session) sync() {
	s.t.Helper()
	d := &directive{pos: s.tr.pos, src: "(runner) version"}
	s.write(d, []byte("version\r\n"))
	got, err := s.readElement()
	if err != nil || !bytes.HasPrefix(got, []byte("VERSION ")) {
		s.fail(d, "after the last directive: got %s (err %v), want the reply to the runner's closing version command "+
			"(the server sent a reply the transcript does not list, or is still waiting for data)", quote(got), err)
	}
}

func (s *session) fail(d *directive, format string, args ...any) {
	s.t.Helper()
	hist := s.hist
	const keep = 40
	if len(hist) > keep {
		hist = append([]string{fmt.Sprintf("(%d earlier lines left out)", len(hist)-keep)}, hist[len(hist)-keep:]...)
	}
	s.t.Fatalf("%s: case %s, at %q: %s\nconnection so far:\n\t%s",
		d.pos, s.tr.name, d.src, fmt.Sprintf(format, args...), strings.Join(hist, "\n\t"))
}

// updateTranscriptFile rewrites the expectations of f from the server at
// addr, which must be a real memcached.
func updateTranscriptFile(t *testing.T, addr string, f *transcriptFile) {
	t.Helper()
	drop := make(map[int]bool)       // lines of old expectations
	insert := make(map[int][]string) // new lines to insert before line n
	for _, tr := range f.cases {
		updateTranscript(t, addr, tr, drop, insert)
	}
	var out []string
	for i, ln := range f.lines {
		out = append(out, insert[i+1]...)
		if !drop[i+1] {
			out = append(out, ln)
		}
	}
	out = append(out, insert[len(f.lines)+1]...)
	if err := os.WriteFile(f.path, []byte(strings.Join(out, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func updateTranscript(t *testing.T, addr string, tr *transcript, drop map[int]bool, insert map[int][]string) {
	t.Helper()
	main := newSession(t, addr, tr, true)
	conns := map[string]*session{"": main}
	defer func() {
		for _, s := range conns {
			if err := s.conn.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("close: %v", err)
			}
		}
	}()
	sess := func(name string) *session {
		if conns[name] == nil {
			conns[name] = newSession(t, addr, tr, false)
		}
		return conns[name]
	}
	var (
		lastSend *directive // the last send not yet followed by its replies
		closed   bool       // the main connection
	)
	// readReplies records everything memcached sent on the connection of
	// tr.dirs[i] (or, at the end, of the last send), in place of the old
	// expectations on it starting at tr.dirs[i].
	readReplies := func(i int) {
		at, conn := lastSend.line+1, lastSend.conn
		if i < len(tr.dirs) && tr.dirs[i].kind != sendDir {
			at, conn = tr.dirs[i].line, tr.dirs[i].conn
		}
		var old []*directive
		for j := i; j < len(tr.dirs) && tr.dirs[j].kind != sendDir && tr.dirs[j].kind != closeDir && tr.dirs[j].conn == conn; j++ {
			old = append(old, &tr.dirs[j])
		}
		lines, c := sess(conn).drain(lastSend, old)
		for k := range lines {
			if conn != "" {
				lines[k] = "@" + conn + " " + lines[k]
			}
		}
		insert[at] = append(insert[at], lines...)
		closed = closed || c && conn == ""
	}
	for i := range tr.dirs {
		d := &tr.dirs[i]
		switch d.kind {
		case expectDir, closedDir:
			drop[d.line] = true
			if lastSend != nil && (tr.dirs[i-1].kind == sendDir || tr.dirs[i-1].conn != d.conn) {
				readReplies(i)
			}
			continue
		case closeDir:
			if err := sess(d.conn).conn.Close(); err != nil {
				t.Fatalf("%s: %v", d.pos, err)
			}
			continue
		}
		if closed {
			t.Fatalf("%s: memcached closed the connection before this send", d.pos)
		}
		s := sess(d.conn)
		if lastSend != nil && tr.dirs[i-1].kind == sendDir && strings.Contains(d.arg, "$") {
			readReplies(i)
		}
		b, err := d.sendBytes(s.vars)
		if err != nil {
			t.Fatalf("%s: %v", d.pos, err)
		}
		s.write(d, b)
		lastSend = d
	}
	if n := len(tr.dirs); lastSend != nil && tr.dirs[n-1].kind == sendDir {
		readReplies(n)
	}
	if !closed {
		main.sync()
	}
}

// drain reads reply elements until the server is quiet for quietPeriod and
// returns their directives, reusing an old expectation's line where it still
// matches. closed reports that the server closed the connection.
func (s *session) drain(d *directive, old []*directive) (lines []string, closed bool) {
	s.t.Helper()
	for k := 0; ; k++ {
		if s.block < 0 {
			if err := s.conn.SetReadDeadline(time.Now().Add(quietPeriod)); err != nil {
				s.fail(d, "set deadline: %v", err)
			}
			_, err := s.br.Peek(1)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				return lines, false
			case isClosed(err):
				return append(lines, "<closed"), true
			case err != nil:
				s.fail(d, "read: %v", err)
			}
		}
		isBlock := s.block >= 0
		el, err := s.readElement()
		if err != nil {
			s.fail(d, "read: %v (got %s)", err, quote(el))
		}
		if k < len(old) && old[k].kind == expectDir && old[k].matches(el, s.vars) {
			lines = append(lines, old[k].src)
			continue
		}
		ln := renderElement(el, isBlock)
		nd, err := parseDirective(ln)
		if err != nil || !nd.matches(el, s.vars) { // also captures $cas
			s.fail(d, "internal error: %q does not match %s (%v)", ln, quote(el), err)
		}
		lines = append(lines, ln)
	}
}

// renderElement returns the directive expecting el, masking the CAS of VALUE
// lines and the version of VERSION. Data blocks longer than a line of text
// are written as an EXPR.
func renderElement(el []byte, isBlock bool) string {
	if line, ok := bytes.CutSuffix(el, []byte("\n")); ok && !isBlock && !bytes.HasSuffix(line, []byte("\r")) && plainText(line) {
		return "<lf " + maskFields(string(line))
	}
	line, ok := bytes.CutSuffix(el, []byte("\r\n"))
	if !ok || !plainText(line) || isBlock && len(line) > 100 {
		return "<raw " + renderExpr(el)
	}
	if isBlock {
		return "< " + string(line)
	}
	f := strings.Split(string(line), " ")
	switch {
	case f[0] == "VALUE" && len(f) == 5:
		f[4] = "<cas>"
	case f[0] == "VERSION" && len(f) == 2:
		f[1] = "<version>"
	case isMetaReply(f[0]):
		for i := 1; i < len(f); i++ {
			if d, ok := strings.CutPrefix(f[i], "c"); ok && d != "" && strings.Trim(d, "0123456789") == "" {
				f[i] = "c<cas>"
			}
		}
	case f[0] == "ME":
		for i := 2; i < len(f); i++ {
			if strings.HasPrefix(f[i], "cas=") {
				f[i] = "cas=<cas>"
			}
		}
	}
	return "< " + strings.Join(f, " ")
}

// maskedFields are the name=value fields of memcached's watch and metadump
// lines whose numbers differ from run to run: -update writes each run of
// digits in their values as <n>.
var maskedFields = map[string]bool{"ts": true, "gid": true, "cfd": true, "rport": true, "la": true, "exp": true, "cas": true}

func maskFields(line string) string {
	f := strings.Split(line, " ")
	for i, tok := range f {
		name, val, ok := strings.Cut(tok, "=")
		if !ok || !maskedFields[name] || val == "-1" {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(val); {
			if val[j] < '0' || val[j] > '9' {
				b.WriteByte(val[j])
				j++
				continue
			}
			for j < len(val) && '0' <= val[j] && val[j] <= '9' {
				j++
			}
			b.WriteString("<n>")
		}
		f[i] = name + "=" + b.String()
	}
	return strings.Join(f, " ")
}

// isMetaReply reports whether s is the status of a meta command's reply,
// whose c flag carries a CAS.
func isMetaReply(s string) bool {
	switch s {
	case "VA", "HD", "EN", "NF", "NS", "EX":
		return true
	}
	return false
}

// plainText reports whether b can be written after "< " as it is.
func plainText(b []byte) bool {
	if len(b) == 0 || b[0] == ' ' || b[len(b)-1] == ' ' ||
		bytes.Contains(b, []byte("<cas")) || bytes.Contains(b, []byte("<version>")) {
		return false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// renderExpr writes b as an EXPR, with runs of 16 or more equal bytes as
// "c"*N.
func renderExpr(b []byte) string {
	const minRun = 16
	run := func(i int) int {
		j := i
		for j < len(b) && b[j] == b[i] {
			j++
		}
		return j - i
	}
	var terms []string
	for i := 0; i < len(b); {
		if n := run(i); n >= minRun {
			terms = append(terms, quoteBytes(b[i:i+1])+"*"+strconv.Itoa(n))
			i += n
			continue
		}
		j := i
		for j < len(b) {
			n := run(j)
			if n >= minRun {
				break
			}
			j += n
		}
		terms = append(terms, quoteBytes(b[i:j]))
		i = j
	}
	return strings.Join(terms, " ")
}

// quoteBytes writes b as a Go string literal that is plain ASCII, with \xNN
// for every byte outside printable ASCII except \r, \n and \t.
func quoteBytes(b []byte) string {
	const hex = "0123456789abcdef"
	q := []byte{'"'}
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			q = append(q, '\\', c)
		case c == '\r':
			q = append(q, '\\', 'r')
		case c == '\n':
			q = append(q, '\\', 'n')
		case c == '\t':
			q = append(q, '\\', 't')
		case c < 0x20 || c > 0x7e:
			q = append(q, '\\', 'x', hex[c>>4], hex[c&15])
		default:
			q = append(q, c)
		}
	}
	return string(append(q, '"'))
}

// TestTranscriptSyntax checks the helpers that read and write transcripts.
func TestTranscriptSyntax(t *testing.T) {
	for _, b := range [][]byte{
		[]byte("STORED\r\n"),
		[]byte("\x00\xff\r\x80\n\x01\"\\\t$\r\n"),
		append(bytes.Repeat([]byte("x"), 1000), "\r\nab"...),
		[]byte("VALUE \xd0\xba 0 1\r\n"),
	} {
		expr := renderExpr(b)
		got, err := parseExpr(expr)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("parseExpr(renderExpr(%s)) = %s, %v; renderExpr gave %s", quote(b), quote(got), err, expr)
		}
	}
	for _, expr := range []string{``, `abc`, `"a"*0`, `"a"*`, `"a""b"`, `"a"*2x`, `"a`, `"a"*99999999999999999999`} {
		if got, err := parseExpr(expr); err == nil {
			t.Errorf("parseExpr(%q) = %q, want an error", expr, got)
		}
	}
	d, err := parseDirective("< VALUE k 0 1 <cas:a> <version>")
	if err != nil {
		t.Fatal(err)
	}
	vars := make(map[string]string)
	if !d.matches([]byte("VALUE k 0 1 42 1.6.18\r\n"), vars) || vars["a"] != "42" {
		t.Errorf("placeholders did not match or capture: vars = %v", vars)
	}
	if d.matches([]byte("VALUE k 0 1 x 1.6.18\r\n"), vars) || d.matches([]byte("VALUE k 0 1 42 \r\n"), vars) {
		t.Errorf("placeholders matched a non-number or an empty version")
	}
	s, err := expandVars("cas k 0 0 1 $a $$", func(name string) (string, bool) { v, ok := vars[name]; return v, ok })
	if err != nil || s != "cas k 0 0 1 42 $" {
		t.Errorf("expandVars = %q, %v", s, err)
	}
	if _, err := expandVars("$nope", func(string) (string, bool) { return "", false }); err == nil {
		t.Errorf("expandVars of an unset variable succeeded")
	}
}
