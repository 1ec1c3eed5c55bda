// Package repl is the shell behind "memcached-lite client": it reads commands,
// one a line, sends them to memcached servers through package client and
// prints the replies, for people learning how a networked key-value store
// works and for scripts.
//
// A line is either a friendly command ("set greeting hello ttl=60", "get
// greeting") whose reply is explained, or the memcached text protocol itself
// ("set greeting 0 60 5", or anything after "raw "), which is sent as typed and
// whose reply is printed as received. "help raw" tells how the two are told
// apart, and "trace on" shows every byte on the wire.
//
// On a terminal the REPL edits lines with github.com/peterh/liner, keeps a
// history file and completes command names and keys. An interactive session
// starts by saying what it talks to (memcached-lite with its data file, or
// a memcached whose values do not survive a restart, or nothing yet), and
// says "(reconnected to HOST:PORT)" when a command had to open a new
// connection, as after a server restart. Elsewhere it prints no prompt and
// no colours, writes each command's reply to Out and errors to Err, and its
// exit status tells whether any command failed. Config.Format prints
// replies for scripts instead: values only, or one JSON object a line.
//
// A command fails when the server did not do what it asked: NOT_STORED,
// EXISTS, NOT_FOUND (from delete, incr, decr, touch and cas, or ending a raw
// reply), an ERROR, CLIENT_ERROR or SERVER_ERROR reply, a connection or I/O
// failure, or a line the REPL cannot read. A get that finds nothing has
// done its work: it does not fail. Outcomes the server replies (NOT_STORED
// ...) are printed on Out, with a short explanation; errors on Err.
package repl

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/memcached-lite/memcached-lite/client"
)

// DefaultServer is the server a REPL talks to when Config.Servers is empty:
// memcached's usual address.
const DefaultServer = "127.0.0.1:11211"

// maxLine bounds one input line: a 1 MiB value written with \xHH escapes,
// and some room.
const maxLine = 4<<20 + 4096

// Config configures a REPL. Each zero field takes the default in its comment.
type Config struct {
	// Servers are the addresses ("host:port", or a Unix socket path) to
	// spread keys over with ketama; nil means DefaultServer.
	Servers []string

	In  io.Reader // commands, one a line; nil means none (RunArgs only)
	Out io.Writer // replies, prompts, help and trace; nil discards them
	Err io.Writer // error messages; nil means Out

	// Interactive prints a banner and prompts, explains errors at more
	// length, and makes Run return 0 whatever failed. When In is os.Stdin
	// and both it and os.Stdout are terminals, lines are read with line
	// editing, history and tab completion (the line editor writes to
	// os.Stdout itself).
	Interactive bool

	// HistoryPath is the history file of an interactive terminal session,
	// created with mode 0600 (its directory 0700); "" keeps no history.
	HistoryPath string

	Color   bool          // colour replies with ANSI escapes
	Trace   bool          // start with "trace on"
	Timeout time.Duration // bound on one request; 0 means 2s
	Format  Format        // how replies are printed; the zero Format is FormatText

	// Repeat is how many times RunArgs runs its command: 0 or 1 once, -1
	// until the process is stopped. Interval is the wait between runs.
	Repeat   int
	Interval time.Duration

	TLS      *tls.Config // connect with TLS (a server with memcached's -Z); nil: plain TCP
	Username string      // authenticate as memcached's -Y expects; "" means not
	Password string      // Username's; never shown, traced or kept in the history
}

// Format is how a REPL prints replies.
type Format uint8

// The formats. Errors are text on Config.Err in every format.
const (
	// FormatText explains: values quoted when they are not plain text,
	// flags and CAS in parentheses, outcomes with a reason.
	FormatText Format = iota
	// FormatValues prints what a script wants, like redis-cli --raw: a
	// value as stored, a miss as an empty line, a reply word alone, and for
	// gets the CAS then a space then the value.
	FormatValues
	// FormatJSON prints one JSON object a line: for each key of a get
	// {"key","found","value" (or "value_base64" when it is not UTF-8),
	// "flags","cas"}, for other commands {"command","key","reply"} or
	// {"command","key","value"} (incr, decr), and {"server","stats"},
	// {"server","version"}, {"server","reply"} (raw).
	FormatJSON
)

// REPL is one shell session with its own client connections. It is not safe
// for concurrent use: run one Run or RunArgs at a time.
type REPL struct {
	cfg    Config
	c      *client.Client
	cmds   map[string]*command
	names  []string        // command names, for help and completion
	keys   map[string]bool // keys set or got in this session, for completion
	in     lineReader      // set by Run and RunArgs
	stdin  *bufio.Scanner  // Config.In read as lines, made once
	trace  atomic.Bool
	quiet  atomic.Bool // a raw command without a reply is in flight: hide the barrier
	failed int         // commands that failed since the last Run or RunArgs

	// What the connection notes of an interactive session need to know.
	probing   atomic.Bool // the banner is asking the servers what they are: no notes, no trace
	connMu    sync.Mutex
	connected map[string]bool // servers this session has had a connection to
	redial    map[string]bool // the client closed its connection itself (after an error reply, quit): no note

	mu sync.Mutex // serialises writes: trace output can come from several goroutines
}

// New returns a REPL for cfg. It fails if a server address is malformed; it
// opens no connection (each command connects as needed, and reconnects after
// a server restart).
func New(cfg Config) (*REPL, error) {
	if len(cfg.Servers) == 0 {
		cfg.Servers = []string{DefaultServer}
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Err == nil {
		cfg.Err = cfg.Out
	}
	r := &REPL{cfg: cfg, keys: make(map[string]bool), connected: make(map[string]bool), redial: make(map[string]bool)}
	r.trace.Store(cfg.Trace)
	servers := make([]client.Server, len(cfg.Servers))
	for i, a := range cfg.Servers {
		servers[i] = client.Server{Addr: a}
	}
	c, err := client.NewWithOptions(client.Options{Timeout: cfg.Timeout, Trace: r.traceWire, DialContext: r.dial,
		TLS: cfg.TLS, Username: cfg.Username, Password: cfg.Password}, servers...)
	if err != nil {
		return nil, err
	}
	r.c = c
	r.cmds, r.names = commandTable()
	return r, nil
}

// Close closes the REPL's idle connections.
func (r *REPL) Close() error { return r.c.Close() }

// IsTerminal reports whether in is a terminal: an *os.File on a tty.
func IsTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Run reads commands from Config.In until its end or "quit" and runs them.
// It returns the exit status: 0 if every command succeeded (a get that finds
// nothing succeeds), else 1; always 0 in an interactive session.
func (r *REPL) Run() int {
	r.failed = 0
	if r.cfg.Interactive && r.cfg.In == io.Reader(os.Stdin) && IsTerminal(os.Stdin) &&
		term.IsTerminal(int(os.Stdout.Fd())) {
		t := r.newTerminal()
		defer t.close()
		r.in = t
	}
	if r.in == nil {
		r.in = r.lines()
	}
	defer func() { r.in = nil }()
	if r.cfg.Interactive {
		r.banner()
	}
	for {
		line, err := r.in.readLine(r.prompt(), true)
		if errors.Is(err, errAborted) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if r.cfg.Interactive {
				r.print("\n") // Ctrl-D leaves the cursor after the prompt
			}
			break
		}
		if err != nil {
			r.report(fmt.Errorf("reading commands: %w", err))
			break
		}
		if r.execLine(line) {
			break
		}
	}
	if r.cfg.Interactive || r.failed == 0 {
		return 0
	}
	return 1
}

// RunArgs runs one command given as words, as a shell passes them: no
// quoting or escapes are interpreted. A raw storage command reads its data
// line from Config.In. It returns 0 if the command succeeded, else 1.
//
// With Config.Repeat the command runs that many times (without end for -1),
// Config.Interval apart; the status is 1 if any run failed.
func (r *REPL) RunArgs(args []string) int {
	r.failed = 0
	r.in = r.lines()
	defer func() { r.in = nil }()
	for n := 0; n < r.cfg.Repeat || n == 0 || r.cfg.Repeat < 0; n++ {
		if n > 0 && r.cfg.Interval > 0 {
			time.Sleep(r.cfg.Interval) // the pause -i asks for, between two runs
		}
		switch {
		case len(args) == 0:
		case isRawLine(args):
			r.run(r.raw(strings.Join(args, " ")))
		default:
			r.execWords(args)
		}
	}
	if r.failed == 0 {
		return 0
	}
	return 1
}

// execLine runs one input line and reports whether the session should end.
func (r *REPL) execLine(line string) (quit bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return false
	}
	if isRawLine(strings.Fields(line)) {
		r.run(r.raw(line))
		return false
	}
	words, err := splitWords(line)
	if err != nil {
		r.fail(err)
		return false
	}
	return r.execWords(words)
}

// execWords runs a friendly command and reports whether the session should
// end.
func (r *REPL) execWords(words []string) (quit bool) {
	name := strings.ToLower(words[0])
	if (name == "quit" || name == "exit") && len(words) == 1 {
		return true
	}
	cmd := r.cmds[name]
	if cmd == nil {
		r.fail(unknownCommand(words[0]))
		return false
	}
	r.run(cmd.run(r, cmd, words[1:]))
	return false
}

// run counts and reports the outcome of one command.
func (r *REPL) run(err error) {
	if err == nil {
		return
	}
	var (
		clientErr *client.ClientError
		serverErr *client.ServerError
		replyErr  *replyError
	)
	if errors.As(err, &clientErr) || errors.As(err, &serverErr) || errors.As(err, &replyErr) || errors.Is(err, client.ErrUnknownCommand) {
		// The client closes a connection that got an error reply: its
		// next connection is no news.
		r.expectRedial(r.c.Servers()...)
	}
	r.fail(err)
}

func (r *REPL) fail(err error) {
	r.failed++
	r.report(err)
}

func (r *REPL) prompt() string {
	if !r.cfg.Interactive {
		return ""
	}
	if len(r.cfg.Servers) == 1 {
		return "memcached-lite " + r.cfg.Servers[0] + "> "
	}
	return fmt.Sprintf("memcached-lite [%d servers]> ", len(r.cfg.Servers))
}

// banner says what the session talks to: for each server, memcached-lite
// with its data file and sync mode, another memcached (with a warning, once,
// that its values do not survive a restart), or that it cannot be reached.
// It asks every server for its stats at once.
func (r *REPL) banner() {
	servers := r.c.Servers()
	lines := make([]string, len(servers))
	notLite := make([]bool, len(servers))
	r.probing.Store(true)
	var wg sync.WaitGroup
	for i, addr := range servers {
		wg.Go(func() { lines[i], notLite[i] = r.introduce(addr) })
	}
	wg.Wait()
	r.probing.Store(false)
	var b strings.Builder
	warned := false
	for i := range servers {
		b.WriteString(lines[i])
		if notLite[i] && !warned {
			warned = true
			b.WriteString(r.paint(yellow, "warning: this is not memcached-lite: what you store there is lost when that server restarts") + "\n")
		}
	}
	r.print(b.String())
	r.print(r.paint(dim, `Type "help" for the commands, "help set" for one of them; Ctrl-D or "quit" leaves.`) + "\n")
}

// introduce returns the banner's lines for the server at addr, and whether
// it is a server other than memcached-lite.
func (r *REPL) introduce(addr string) (lines string, notLite bool) {
	reply, err := r.c.Do(addr, []byte("stats\r\n"))
	var connErr *client.ConnectError
	switch {
	case errors.As(err, &connErr):
		return r.paint(red, err.Error()) + "\n" + r.paint(dim, connectHint) + "\n", false
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connected to " + addr + ", which closed the connection when asked for stats (as twemproxy does)\n", false
	case err != nil:
		return r.paint(red, err.Error()) + "\n", false
	}
	st := make(map[string]string)
	for _, line := range strings.Split(string(reply), "\r\n") {
		if stat, ok := strings.CutPrefix(line, "STAT "); ok {
			name, value, _ := strings.Cut(stat, " ")
			st[name] = value
		}
	}
	switch {
	case st["data_file"] != "":
		v := st["lite_version"]
		if v == "" {
			v = st["version"]
		}
		return fmt.Sprintf("connected to memcached-lite %s at %s (data file %s, sync %s)\n", v, addr, st["data_file"], st["sync_mode"]), false
	case st["version"] != "":
		return fmt.Sprintf("connected to memcached %s at %s\n", st["version"], addr), true
	}
	return "connected to " + addr + ", which does not answer stats as memcached does\n", true
}

// connectHint follows a failed connection in an interactive session.
const connectHint = `(is a server running there? "make run" or "memcached-lite server" starts one; the next command tries again)`

// dial is the client's DialContext: it tells an interactive session about
// each new connection that is news, such as the first one after a server
// restart.
func (r *REPL) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil || !r.cfg.Interactive {
		return nc, err
	}
	r.connMu.Lock()
	again, expected := r.connected[addr], r.redial[addr]
	r.connected[addr] = true
	delete(r.redial, addr)
	r.connMu.Unlock()
	switch {
	case r.probing.Load() || expected:
	case again:
		r.print(r.paint(dim, "(reconnected to "+addr+")") + "\n")
	default:
		r.print(r.paint(dim, "(connected to "+addr+")") + "\n")
	}
	return nc, nil
}

// expectRedial notes that the client has closed its connections to addrs
// itself, so that the next connection to each is not reported.
func (r *REPL) expectRedial(addrs ...string) {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	for _, a := range addrs {
		if r.connected[a] {
			r.redial[a] = true
		}
	}
}

// print writes s to Out.
func (r *REPL) print(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.cfg.Out, s) // nowhere to report a failed write to the user's terminal
}

// printErr writes one error line to Err.
func (r *REPL) printErr(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.cfg.Err, r.paint(red, s)+"\n") // as print
}

// report prints why a command failed on Err: the server's error reply as
// the server put it, or what went wrong before or instead of a reply.
func (r *REPL) report(err error) {
	if errors.Is(err, errReported) {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			r.report(e)
		}
		return
	}
	var (
		connErr   *client.ConnectError
		clientErr *client.ClientError
		serverErr *client.ServerError
	)
	switch {
	case errors.As(err, &clientErr):
		r.printErr("CLIENT_ERROR " + clientErr.Msg)
	case errors.As(err, &serverErr):
		r.printErr("SERVER_ERROR " + serverErr.Msg)
	case errors.Is(err, client.ErrUnknownCommand):
		r.printErr("ERROR (the server does not know this command)")
	case errors.Is(err, client.ErrMalformedKey):
		r.printErr(fmt.Sprintf("bad key: a key is 1 to %d bytes, with no spaces or control characters", client.MaxKeyLen))
	case errors.As(err, &connErr):
		r.printErr(err.Error())
		if r.cfg.Interactive {
			r.print(r.paint(dim, connectHint) + "\n")
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		r.printErr(err.Error())
		r.printErr("(the server closed the connection without a reply: it may have stopped, or it is twemproxy, which does that for commands it does not forward, such as stats and flush_all)")
	default:
		r.printErr(err.Error())
	}
}
