package repl

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/memcached-lite/memcached-lite/client"
)

// Raw mode: which lines are the protocol itself, and how they are sent.
//
// A line is sent as typed when it starts with "raw", or when its first word
// is a protocol verb and the line has a shape only the protocol gives it:
//
//   - set/add/replace/append/prepend KEY FLAGS EXPTIME BYTES: three numbers
//     after the key, where the friendly form has a value and key=value options;
//   - cas KEY FLAGS EXPTIME BYTES CAS: four numbers after the key;
//   - any protocol command ending in "noreply";
//   - a verb with no friendly form: gat, gats, flush_all, verbosity, the meta
//     commands (mg, ms, md, ma, mn, me) and the other server commands.
//
// get, gets, delete, incr, decr, touch, stats and version look the same in
// both forms, so they are friendly unless the line starts with "raw".

// rawOnly reports whether v is a protocol verb with no friendly command.
func rawOnly(v string) bool {
	switch v {
	case "gat", "gats", "bget", "flush_all", "verbosity", "mg", "ms", "md", "ma", "mn", "me",
		"shutdown", "cache_memlimit", "slabs", "lru", "lru_crawler", "misbehave":
		return true
	}
	return false
}

// protocolVerb reports whether v is a memcached text or meta protocol verb.
func protocolVerb(v string) bool {
	switch v {
	case "get", "gets", "set", "add", "replace", "append", "prepend", "cas", "delete",
		"incr", "decr", "touch", "stats", "version", "quit":
		return true
	}
	return rawOnly(v)
}

// protocolVerbs lists the verbs offered after "raw" by tab completion.
var protocolVerbs = []string{"add", "append", "cas", "decr", "delete", "flush_all", "gat", "gats",
	"get", "gets", "incr", "ma", "md", "me", "mg", "mn", "ms", "prepend", "quit", "replace",
	"set", "stats", "touch", "verbosity", "version"}

// isRawLine reports whether a line, split at spaces, is sent as typed.
func isRawLine(w []string) bool {
	if len(w) == 0 {
		return false
	}
	if w[0] == "raw" {
		return true
	}
	if len(w) > 1 && w[len(w)-1] == "noreply" {
		return protocolVerb(w[0])
	}
	switch w[0] {
	case "set", "add", "replace", "append", "prepend":
		return len(w) == 5 && isUint(w[2]) && isInt(w[3]) && isUint(w[4])
	case "cas":
		return len(w) == 6 && isUint(w[2]) && isInt(w[3]) && isUint(w[4]) && isUint(w[5])
	}
	return rawOnly(w[0])
}

func isUint(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func isInt(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// dataLength returns the length of the data block a command line announces,
// or -1.
func dataLength(w []string) int {
	pos := -1
	switch w[0] {
	case "set", "add", "replace", "append", "prepend", "cas":
		pos = 4
	case "ms":
		pos = 2
	}
	if pos < 0 || pos >= len(w) {
		return -1
	}
	n, err := strconv.ParseUint(w[pos], 10, 31)
	if err != nil {
		return -1
	}
	return int(n)
}

// noReply reports whether a command may get no reply at all, so that the
// client package follows it with a "version" request (its barrier).
func noReply(w []string) bool {
	switch w[0] {
	case "mg", "ms", "md", "ma":
		return len(w) > 2 && slices.Contains(w[2:], "q")
	case "me", "mn", "version", "quit":
		return false
	case "shutdown":
		return true
	}
	return len(w) > 1 && w[len(w)-1] == "noreply"
}

// rawKey returns the key a command line names, or "".
func rawKey(w []string) string {
	switch w[0] {
	case "gat", "gats":
		if len(w) > 2 {
			return w[2]
		}
	case "get", "gets", "bget", "set", "add", "replace", "append", "prepend", "cas",
		"delete", "incr", "decr", "touch", "mg", "ms", "md", "ma":
		if len(w) > 1 {
			return w[1]
		}
	}
	return ""
}

// raw sends a protocol line as typed (after "raw ", if it starts so) and
// prints the reply as received. A storage command's data line is read from
// the input. Without the raw prefix it must have the length the command
// announces, or nothing is sent. With it, what is typed is sent as it is,
// as telnet would: a line too long gets the server's CLIENT_ERROR bad data
// chunk, and after a line too short the server waits for more bytes, so
// the REPL reads more lines, each sent with its \r\n, until it has them.
func (r *REPL) raw(line string) error {
	line = strings.TrimSpace(line)
	explicit := false
	if rest, ok := strings.CutPrefix(line, "raw"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
		line, explicit = strings.TrimSpace(rest), true
	}
	w := strings.Fields(line)
	if len(w) == 0 {
		return usage(r.cmds["raw"], "missing LINE")
	}
	if w[0] == "watch" {
		return errors.New("raw watch would stream the server's log without end: use the watch command, which follows it")
	}
	req := line + "\r\n"
	if n := dataLength(w); n >= 0 {
		data, err := r.dataLines(w[0], n, explicit)
		if err != nil {
			return err
		}
		req += data
	}
	quiet := noReply(w)
	servers := r.c.Servers()
	targets := servers
	if key := rawKey(w); key != "" && len(servers) > 1 {
		targets = servers[:1]
		if addr, err := r.c.ServerFor(key); err == nil {
			targets = []string{addr}
		}
	}
	failed := false
	var errs []error
	for _, addr := range targets {
		if len(targets) > 1 && r.cfg.Format != FormatJSON {
			r.print(r.paint(dim, "-- "+addr) + "\n")
		}
		r.quiet.Store(quiet)
		reply, err := r.c.Do(addr, []byte(req))
		r.quiet.Store(false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if w[0] == "quit" || errorLine(reply) {
			r.expectRedial(addr) // the client closes the connection after these
		}
		r.printRaw(addr, reply, w[0], quiet)
		failed = failed || failureReply(reply)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if failed {
		return errReported
	}
	return nil
}

// dataLines reads the data block of a raw storage command from the input
// and returns it as it goes on the wire: the line and "\r\n", or, when
// explicit, as many lines (each with "\r\n") as it takes to reach the
// n bytes and "\r\n" the server waits for.
func (r *REPL) dataLines(verb string, n int, explicit bool) (string, error) {
	prompt := ""
	if r.cfg.Interactive {
		prompt = "data> "
	}
	var sent strings.Builder
	for {
		data, err := r.in.readLine(prompt, false)
		switch {
		case errors.Is(err, errAborted):
			return "", fmt.Errorf("%s: cancelled, nothing sent", verb)
		case err != nil && sent.Len() == 0:
			return "", fmt.Errorf("%s: no data line to send (%w)", verb, err)
		case err != nil:
			return "", fmt.Errorf("%s: the input ended while the server still waited for %d bytes: nothing sent (%w)", verb, n+2-sent.Len(), err)
		case !explicit && len(data) != n:
			return "", fmt.Errorf("%s: the data line has %d bytes, but the command announces %d: nothing sent "+
				"(\"raw %s ...\" sends it anyway, to see what the server does)", verb, len(data), n, verb)
		}
		sent.WriteString(data + "\r\n")
		if sent.Len() >= n+2 {
			return sent.String(), nil
		}
		if r.cfg.Interactive || r.trace.Load() {
			r.print(r.paint(dim, fmt.Sprintf("(%d of the %d bytes the server waits for: the %d-byte value and its \\r\\n; the next line is sent too, with its \\r\\n)",
				sent.Len(), n+2, n)) + "\n")
		}
	}
}

// errorLine reports whether a raw reply holds an error line, after which
// the client closes the connection.
func errorLine(reply []byte) bool {
	for _, line := range bytes.Split(reply, []byte("\r\n")) {
		if isErrorLine(string(line)) {
			return true
		}
	}
	return false
}

// printRaw prints a raw reply: its lines as received, without "\r\n" and
// with control bytes escaped. With trace on, the trace has shown it already.
func (r *REPL) printRaw(addr string, reply []byte, verb string, quiet bool) {
	switch {
	case r.cfg.Format == FormatJSON:
		r.printJSON(rawJSON{Server: addr, Reply: string(reply)})
	case len(reply) == 0 && verb == "quit":
		r.print(r.paint(dim, "(no reply: quit closes the connection; the next command opens a new one)") + "\n")
	case len(reply) == 0 && quiet:
		r.print(r.paint(dim, "(no reply: noreply asks the server to send nothing back)") + "\n")
	case len(reply) == 0:
		r.print(r.paint(dim, "(no reply)") + "\n")
	case r.trace.Load():
	default:
		var b strings.Builder
		for _, line := range bytes.SplitAfter(reply, []byte("\r\n")) {
			if len(line) > 0 {
				b.WriteString(escapeControls(bytes.TrimSuffix(line, []byte("\r\n"))) + "\n")
			}
		}
		r.print(b.String())
	}
}

// failureReply reports whether a raw reply ends with a line that says the
// command failed: an error, or NOT_STORED, EXISTS, NOT_FOUND (or the meta
// protocol's NS, EX, NF).
func failureReply(reply []byte) bool {
	reply = bytes.TrimSuffix(reply, []byte("\r\n"))
	if i := bytes.LastIndex(reply, []byte("\r\n")); i >= 0 {
		reply = reply[i+2:]
	}
	last := string(reply)
	if isErrorLine(last) {
		return true
	}
	word, _, _ := strings.Cut(last, " ")
	switch word {
	case "NOT_STORED", "EXISTS", "NOT_FOUND", "NS", "EX", "NF":
		return true
	}
	return false
}

// isErrorLine reports whether a reply line is ERROR, CLIENT_ERROR ... or
// SERVER_ERROR ....
func isErrorLine(line string) bool {
	return strings.HasPrefix(line, "ERROR") || strings.HasPrefix(line, "CLIENT_ERROR") ||
		strings.HasPrefix(line, "SERVER_ERROR")
}

// barrier is what the client package sends after a command that may get no
// reply; trace hides it, and the VERSION line it brings back.
var barrier = []byte("version\r\n")

// traceWire is the client's Trace function: with trace on, it prints every
// line sent (">>") and received ("<<") with "\r\n" and control bytes
// visible. It runs on the goroutines that make requests.
func (r *REPL) traceWire(addr string, dir client.Direction, p []byte) {
	if !r.trace.Load() || r.probing.Load() {
		return
	}
	hidden := false
	if r.quiet.Load() {
		switch dir {
		case client.Sent:
			p, hidden = bytes.CutSuffix(p, barrier)
		case client.Received:
			if bytes.HasPrefix(p, []byte("VERSION ")) {
				return
			}
		}
	}
	arrow, c := dir.String(), cyan
	if dir == client.Received {
		c = magenta
	}
	if len(r.cfg.Servers) > 1 {
		arrow = addr + " " + arrow
	}
	var b strings.Builder
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
		}
		p = p[len(line):]
		b.WriteString(r.paint(c, arrow) + " " + escapeWire(line) + "\n")
	}
	if hidden {
		b.WriteString(r.paint(dim, `   (hidden: after noreply the client sends "version\r\n" and reads up to its VERSION reply, to know the server has read the command)`) + "\n")
	}
	r.print(b.String())
}
