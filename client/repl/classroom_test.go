//go:build unix

package repl_test

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// classroomPage is the page a teacher hands out. Every console block in it
// is run by TestClassroomPage, so that it cannot go stale.
const classroomPage = "../../docs/classroom.md"

// A console block is "```console terminal-N": what terminal N shows, in
// order. Terminal 1 runs the server; the others run clients or commands.
// Lines starting "$ " are typed at a shell, lines after a client's prompt
// at the client; the other lines are what the terminal shows. In them,
// "..." stands for any text (times, pids, sizes), and a line that is only
// "..." for any number of lines. The page shows the server at
// 127.0.0.1:11211 with its data file memcached-lite.db; the test runs it on
// a free port with a file of its own, and writes those as the page does.
// The CAS numbers the page shows are mapped onto the ones the server hands
// out: "cas=N" in a reply, and N in a later cas command and EXISTS reason.

// classroomBlock is one console block of the page.
type classroomBlock struct {
	terminal string // "1", "2", ...
	line     int    // of the opening fence, for messages
	lines    []string
}

// classroomBlocks returns the console blocks of the page, and fails on a
// console block that names no terminal.
func classroomBlocks(t *testing.T) []classroomBlock {
	t.Helper()
	f, err := os.Open(classroomPage)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []classroomBlock
	var cur *classroomBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		case strings.HasPrefix(line, "```console"):
			term, ok := strings.CutPrefix(line, "```console terminal-")
			if !ok || term == "" {
				t.Fatalf("%s:%d: a console block must say which terminal it is: ```console terminal-N", classroomPage, n)
			}
			cur = &classroomBlock{terminal: term, line: n}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: console block not closed", classroomPage, cur.line)
	}
	return blocks
}

// classroom is the state of the demo: the server of terminal 1 and the
// clients of the other terminals.
type classroom struct {
	t       *testing.T
	data    string // the server's data file
	addr    string // where the server listens, the same after each restart
	srv     *servertest.Process
	clients map[string]*ptyClient
	cas     map[string]string // CAS number on the page -> the server's
	home    string
}

const (
	pageAddr   = "127.0.0.1:11211"
	pageData   = "memcached-lite.db"
	pagePrompt = "memcached-lite " + pageAddr + "> "
)

// TestClassroomPage runs docs/classroom.md: the two-terminal persistence
// demo (a server, a client, Ctrl-C, kill -9 right after STORED, restarts)
// and the exercises, checking that each terminal shows what the page says.
func TestClassroomPage(t *testing.T) {
	c := &classroom{
		t:       t,
		data:    filepath.Join(t.TempDir(), pageData),
		addr:    servertest.FreeAddr(t),
		clients: make(map[string]*ptyClient),
		cas:     make(map[string]string),
		home:    t.TempDir(),
	}
	blocks := classroomBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("%s has %d console blocks; is it the classroom page?", classroomPage, len(blocks))
	}
	for _, b := range blocks {
		c.run(b)
	}
}

// run plays one block.
func (c *classroom) run(b classroomBlock) {
	c.t.Helper()
	lines := b.lines
	for i := 0; i < len(lines); {
		line := lines[i]
		// The lines up to the next input are what this input shows.
		j := i + 1
		for j < len(lines) && !isInput(lines[j]) {
			j++
		}
		where := classroomPage + ":" + strconv.Itoa(b.line+1+i)
		want := lines[i+1 : j]
		switch {
		case strings.HasPrefix(line, "$ "):
			c.shell(where, b.terminal, strings.TrimPrefix(line, "$ "), want)
		case line == "^C" && b.terminal == "1":
			c.interrupt(where, want)
		case strings.HasPrefix(line, pagePrompt):
			c.typeCommand(where, b.terminal, strings.TrimPrefix(line, pagePrompt), want)
		default:
			c.t.Fatalf("%s: %q: a block starts with a command ($ ..., ^C or a prompt)", where, line)
		}
		i = j
	}
}

func isInput(line string) bool {
	return strings.HasPrefix(line, "$ ") || line == "^C" || strings.HasPrefix(line, pagePrompt)
}

// shell runs one of the few shell commands the page uses.
func (c *classroom) shell(where, term, cmd string, want []string) {
	c.t.Helper()
	switch {
	case term == "1" && cmd == "make run":
		if c.srv == nil {
			_, port, _ := net.SplitHostPort(c.addr)
			n, err := strconv.Atoi(port)
			if err != nil {
				c.t.Fatal(err)
			}
			c.srv = servertest.StartBinary(c.t, servertest.BinaryOptions{Path: c.data, Port: n})
		} else {
			c.srv = c.srv.Restart(c.t) // on the same file and port; fails while the server runs
		}
		c.match(where, cmd, c.srv.Output(), want)
	case cmd == "kill -9 $(pgrep -f 'memcached-lite server')":
		c.srv.Stop(syscall.SIGKILL)
		c.match(where, cmd, "", want)
	case cmd == "bin/memcached-lite client":
		p := startPty(c.t, c.addr, c.home, c.t.TempDir(), "TERM=dumb")
		c.clients[term] = p
		banner, err := p.out.waitFor(c.prompt(), p.read, waitLimit)
		if err != nil {
			c.t.Fatalf("%s: %s: %v", where, cmd, err)
		}
		c.match(where, cmd, banner, want)
	case strings.HasPrefix(cmd, "bin/memcached-lite client "):
		args := append([]string{"-s", c.addr}, strings.Fields(strings.TrimPrefix(cmd, "bin/memcached-lite client "))...)
		out, errOut, code := servertest.Run(c.t, "", append([]string{"client"}, args...)...)
		if code != 0 {
			c.t.Errorf("%s: %s: exit status %d", where, cmd, code)
		}
		c.match(where, cmd, out+errOut, want)
	default:
		c.t.Fatalf("%s: the page runs %q, which TestClassroomPage does not know how to run", where, cmd)
	}
}

// interrupt is Ctrl-C in terminal 1: SIGINT to the server, which must exit 0.
func (c *classroom) interrupt(where string, want []string) {
	c.t.Helper()
	before := len(c.srv.Output())
	if code := c.srv.Stop(os.Interrupt); code != 0 {
		c.t.Errorf("%s: the server exited with status %d after Ctrl-C, want 0", where, code)
	}
	c.match(where, "^C", c.srv.Output()[before:], want)
}

func (c *classroom) prompt() string { return "memcached-lite " + c.addr + "> " }

// typeCommand types cmd at terminal term's client and checks what it shows
// up to its next prompt (the terminal echoes the command first).
func (c *classroom) typeCommand(where, term, cmd string, want []string) {
	c.t.Helper()
	p := c.clients[term]
	if p == nil {
		c.t.Fatalf("%s: terminal %s runs no client", where, term)
	}
	cmd = c.mapCAS(cmd)
	p.typ(cmd + "\n")
	if cmd == "quit" || cmd == "exit" {
		if code := p.exitStatus(); code != 0 {
			c.t.Errorf("%s: the client exited with status %d", where, code)
		}
		delete(c.clients, term)
		return
	}
	got, err := p.out.waitFor(c.prompt(), p.read, waitLimit)
	if err != nil {
		c.t.Fatalf("%s: %s: %v", where, cmd, err)
	}
	got = strings.ReplaceAll(got, "\r\n", "\n")
	echo, rest, _ := strings.Cut(got, "\n")
	if echo != cmd {
		c.t.Fatalf("%s: typed %q, the terminal echoed %q", where, cmd, echo)
	}
	c.match(where, cmd, rest, want)
}

var (
	pageCASRE  = regexp.MustCompile(`(cas=|its CAS is no longer )(\d+)`)
	casCommand = regexp.MustCompile(`^(cas \S+ \S+ )(\d+)(.*)$`)
)

// mapCAS puts the server's CAS number in a cas command typed from the page.
func (c *classroom) mapCAS(cmd string) string {
	m := casCommand.FindStringSubmatch(cmd)
	if m == nil {
		return cmd
	}
	actual, ok := c.cas[m[2]]
	if !ok {
		c.t.Fatalf("cas command %q: the page shows CAS %s before any gets did", cmd, m[2])
	}
	return m[1] + actual + m[3]
}

// match checks what a command showed, got, against the page's lines.
func (c *classroom) match(where, cmd, got string, want []string) {
	c.t.Helper()
	got = strings.ReplaceAll(got, "\r\n", "\n") // a terminal's end of line
	got = strings.ReplaceAll(got, c.addr, pageAddr)
	got = strings.ReplaceAll(got, c.data, pageData)
	gotLines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if got == "" {
		gotLines = nil
	}
	if !c.matchLines(gotLines, want) {
		c.t.Fatalf("%s: %s shows\n%s\nwhere the page has\n%s", where, cmd, strings.Join(gotLines, "\n"), strings.Join(want, "\n"))
	}
}

// matchLines matches lines against the page's lines, "..." lines and
// "..." in lines standing for anything; it records the CAS numbers.
func (c *classroom) matchLines(got, want []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "..." {
		for i := 0; i <= len(got); i++ {
			if c.matchLines(got[i:], want[1:]) {
				return true
			}
		}
		return false
	}
	if len(got) == 0 {
		return false
	}
	// The page's CAS numbers become groups that match any number.
	var pageCAS []string
	pattern := pageCASRE.ReplaceAllStringFunc(regexp.QuoteMeta(want[0]), func(s string) string {
		m := pageCASRE.FindStringSubmatch(s)
		pageCAS = append(pageCAS, m[2])
		if actual, ok := c.cas[m[2]]; ok {
			return m[1] + actual
		}
		return m[1] + `(\d+)`
	})
	pattern = strings.ReplaceAll(pattern, regexp.QuoteMeta("..."), ".*")
	m := regexp.MustCompile("^" + pattern + "$").FindStringSubmatch(got[0])
	if m == nil {
		return false
	}
	k := 1
	for _, p := range pageCAS {
		if _, ok := c.cas[p]; !ok {
			c.cas[p] = m[k]
			k++
		}
	}
	return c.matchLines(got[1:], want[1:])
}
