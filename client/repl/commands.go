package repl

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/memcached-lite/memcached-lite/client"
)

// keyArgs says which arguments of a command are keys, for completion.
type keyArgs uint8

const (
	noKeys   keyArgs = iota
	firstKey         // the first argument
	allKeys          // every argument
)

// command is one friendly command.
type command struct {
	name    string
	args    string // what follows the name in its usage line
	summary string // one line for "help"
	keys    keyArgs
	run     func(r *REPL, cmd *command, args []string) error
}

func (cmd *command) usage() string {
	if cmd.args == "" {
		return cmd.name
	}
	return cmd.name + " " + cmd.args
}

// takesKey reports whether the word after n words (the name included) is a key.
func (cmd *command) takesKey(n int) bool {
	return cmd.keys == allKeys && n >= 1 || cmd.keys == firstKey && n == 1
}

// commandTable returns the friendly commands by name, and their names in
// the order help lists them, then the alias exit.
func commandTable() (map[string]*command, []string) {
	const storeArgs = "KEY VALUE [ttl=SECONDS] [flags=N]"
	list := []*command{
		{name: "set", args: storeArgs, summary: "store a value", keys: firstKey, run: (*REPL).cmdStore},
		{name: "add", args: storeArgs, summary: "store a value only if the key is new", keys: firstKey, run: (*REPL).cmdStore},
		{name: "replace", args: storeArgs, summary: "store a value only if the key exists", keys: firstKey, run: (*REPL).cmdStore},
		{name: "append", args: "KEY VALUE", summary: "add bytes after a stored value", keys: firstKey, run: (*REPL).cmdStore},
		{name: "prepend", args: "KEY VALUE", summary: "add bytes before a stored value", keys: firstKey, run: (*REPL).cmdStore},
		{name: "cas", args: "KEY VALUE CAS [ttl=SECONDS] [flags=N]", summary: "store only if the item has not changed since gets", keys: firstKey, run: (*REPL).cmdStore},
		{name: "get", args: "KEY...", summary: "fetch values", keys: allKeys, run: (*REPL).cmdGet},
		{name: "gets", args: "KEY...", summary: "fetch values with their CAS numbers", keys: allKeys, run: (*REPL).cmdGet},
		{name: "delete", args: "KEY", summary: "remove an item", keys: firstKey, run: (*REPL).cmdDelete},
		{name: "incr", args: "KEY [N]", summary: "add N (default 1) to a stored number", keys: firstKey, run: (*REPL).cmdIncr},
		{name: "decr", args: "KEY [N]", summary: "subtract N (default 1) from a stored number, stopping at 0", keys: firstKey, run: (*REPL).cmdIncr},
		{name: "touch", args: "KEY TTL", summary: "give an item a new time to live", keys: firstKey, run: (*REPL).cmdTouch},
		{name: "flush", args: "[DELAY]", summary: "invalidate every item, now or in DELAY seconds", run: (*REPL).cmdFlush},
		{name: "keys", args: "[PATTERN]", summary: "list the keys (matching a pattern such as user:*), with ttl and size", run: (*REPL).cmdKeys},
		{name: "ttl", args: "KEY", summary: "how long an item has left to live", keys: firstKey, run: (*REPL).cmdTTL},
		{name: "watch", args: "[fetchers] [mutations] [connevents] [count=N]", summary: "show what the server does, as it happens (Ctrl-C to stop)", run: (*REPL).cmdWatch},
		{name: "stats", args: "[SECTION]", summary: "server statistics, or a section of them: settings, items, slabs", run: (*REPL).cmdStats},
		{name: "version", summary: "the server's version", run: (*REPL).cmdVersion},
		{name: "servers", args: "[KEY...]", summary: "the servers, and which one holds each KEY", keys: allKeys, run: (*REPL).cmdServers},
		{name: "trace", args: "[on|off]", summary: "show every byte sent and received", run: (*REPL).cmdTrace},
		{name: "raw", args: "LINE", summary: "send a protocol line as typed (see help raw)", run: (*REPL).cmdRaw},
		{name: "help", args: "[COMMAND]", summary: "list the commands, or explain one", run: (*REPL).cmdHelp},
		{name: "quit", summary: "leave (so do exit and Ctrl-D)", run: (*REPL).cmdQuit},
	}
	m := make(map[string]*command, len(list)+1)
	names := make([]string, 0, len(list)+1)
	for _, c := range list {
		m[c.name] = c
		names = append(names, c.name)
	}
	m["exit"] = m["quit"]
	names = append(names, "exit")
	return m, names
}

// errReported: the command failed and its reply, printed on Out, says so.
var errReported = errors.New("repl: failure already shown")

// usageError is a command line the REPL cannot make sense of; nothing was sent.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string {
	return e.cmd.name + ": " + e.msg + " (usage: " + e.cmd.usage() + ")"
}

func usage(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// replyError is a reply line that reports an error (ERROR, CLIENT_ERROR ...,
// SERVER_ERROR ...) met outside the client package's parsing.
type replyError struct{ line string }

func (e *replyError) Error() string { return e.line }

// ok prints a reply that means success.
func (r *REPL) ok(word string) {
	r.print(r.paint(green, word) + "\n")
}

// outcome prints a reply that means the command did not do its work, with
// a short explanation, and returns errReported.
func (r *REPL) outcome(word, why string) error {
	r.print(r.paint(yellow, word) + " " + r.paint(dim, "("+why+")") + "\n")
	return errReported
}

func (r *REPL) cmdStore(cmd *command, args []string) error {
	verb := cmd.name
	need := 2
	if verb == "cas" {
		need = 3
	}
	if len(args) < need {
		return usage(cmd, "missing %s", [...]string{"KEY", "VALUE", "CAS"}[len(args)])
	}
	it := &client.Item{Key: args[0], Value: []byte(args[1])}
	if verb == "cas" {
		n, err := strconv.ParseUint(args[2], 10, 64)
		if err != nil {
			return usage(cmd, "CAS %q is not a number: copy it from the reply to gets", args[2])
		}
		it.CAS = n
	}
	for _, opt := range args[need:] {
		name, value, isOpt := strings.Cut(opt, "=")
		switch {
		case isOpt && verb != "append" && verb != "prepend" && name == "ttl":
			n, err := parseTTL(value)
			if err != nil {
				return usage(cmd, "ttl=%s: %v", value, err)
			}
			it.Expiration = n
		case isOpt && verb != "append" && verb != "prepend" && name == "flags":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return usage(cmd, "flags=%s: want a number from 0 to 4294967295", value)
			}
			it.Flags = uint32(n)
		case isOpt && (name == "ttl" || name == "flags"):
			return usage(cmd, "%s keeps the stored item's ttl and flags", verb)
		default:
			return usage(cmd, "unexpected %q: a VALUE with spaces goes in quotes, as in %s %s \"%s %s\"",
				opt, verb, it.Key, args[1], opt)
		}
	}
	var err error
	switch verb {
	case "set":
		err = r.c.Set(it)
	case "add":
		err = r.c.Add(it)
	case "replace":
		err = r.c.Replace(it)
	case "append":
		err = r.c.Append(it)
	case "prepend":
		err = r.c.Prepend(it)
	case "cas":
		err = r.c.CompareAndSwap(it)
	}
	k := strconv.Quote(it.Key)
	switch {
	case err == nil:
		r.keys[it.Key] = true
		r.ok("STORED")
		return nil
	case errors.Is(err, client.ErrNotStored) && verb == "add":
		return r.outcome("NOT_STORED", "add stores only new keys, and "+k+" already exists")
	case errors.Is(err, client.ErrNotStored):
		return r.outcome("NOT_STORED", verb+" needs an existing key, and there is no "+k)
	case errors.Is(err, client.ErrCASConflict):
		return r.outcome("EXISTS", k+" has changed since your gets: its CAS is no longer "+args[2])
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome("NOT_FOUND", "there is no "+k+" to compare with")
	}
	return err
}

// parseTTL parses a memcached exptime.
func parseTTL(s string) (int32, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, errors.New("want seconds (0 never expires; over 2592000, 30 days, it is a Unix time)")
	}
	return int32(n), nil
}

func (r *REPL) cmdGet(cmd *command, args []string) error {
	if len(args) == 0 {
		return usage(cmd, "missing KEY")
	}
	withCAS := cmd.name == "gets"
	if len(args) == 1 {
		get := r.c.Get
		if withCAS {
			get = r.c.Gets
		}
		it, err := get(args[0])
		switch {
		case errors.Is(err, client.ErrCacheMiss):
			r.print(r.paint(dim, "(not found)") + "\n")
			return nil
		case err != nil:
			return err
		}
		r.keys[it.Key] = true
		r.print(r.showItem(it, withCAS) + "\n")
		return nil
	}
	getMulti := r.c.GetMulti
	if withCAS {
		getMulti = r.c.GetsMulti
	}
	items, err := getMulti(args)
	if err != nil {
		return err
	}
	var b strings.Builder
	seen := make(map[string]bool, len(args))
	for _, k := range args {
		if seen[k] {
			continue
		}
		seen[k] = true
		if it := items[k]; it != nil {
			r.keys[k] = true
			b.WriteString(k + ": " + r.showItem(it, withCAS) + "\n")
		} else {
			b.WriteString(k + ": " + r.paint(dim, "(not found)") + "\n")
		}
	}
	r.print(b.String())
	return nil
}

// showItem returns an item's value as printed, with its flags when not 0
// and its CAS when asked for.
func (r *REPL) showItem(it *client.Item, withCAS bool) string {
	text, notes := showValue(it.Value)
	if it.Flags != 0 {
		notes = append(notes, "flags="+strconv.FormatUint(uint64(it.Flags), 10))
	}
	if withCAS {
		notes = append(notes, "cas="+strconv.FormatUint(it.CAS, 10))
	}
	if len(notes) == 0 {
		return text
	}
	return text + " " + r.paint(dim, "("+strings.Join(notes, ", ")+")")
}

func (r *REPL) cmdDelete(cmd *command, args []string) error {
	if len(args) != 1 {
		return usage(cmd, "want one KEY")
	}
	err := r.c.Delete(args[0])
	switch {
	case err == nil:
		delete(r.keys, args[0])
		r.ok("DELETED")
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome("NOT_FOUND", "there is no "+strconv.Quote(args[0]))
	}
	return err
}

func (r *REPL) cmdIncr(cmd *command, args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return usage(cmd, "want a KEY and perhaps a number")
	}
	delta := uint64(1)
	if len(args) == 2 {
		n, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil {
			return usage(cmd, "%q is not a number from 0 to 18446744073709551615", args[1])
		}
		delta = n
	}
	op := r.c.Increment
	if cmd.name == "decr" {
		op = r.c.Decrement
	}
	n, err := op(args[0], delta)
	switch {
	case err == nil:
		r.keys[args[0]] = true
		r.print(r.paint(green, strconv.FormatUint(n, 10)) + "\n")
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome("NOT_FOUND", fmt.Sprintf("there is no %q, and %s does not create one: set it to a number first", args[0], cmd.name))
	}
	return err
}

func (r *REPL) cmdTouch(cmd *command, args []string) error {
	if len(args) != 2 {
		return usage(cmd, "want a KEY and a TTL")
	}
	ttl, err := parseTTL(args[1])
	if err != nil {
		return usage(cmd, "TTL %q: %v", args[1], err)
	}
	err = r.c.Touch(args[0], ttl)
	switch {
	case err == nil:
		r.ok("TOUCHED")
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome("NOT_FOUND", "there is no "+strconv.Quote(args[0]))
	}
	return err
}

func (r *REPL) cmdFlush(cmd *command, args []string) error {
	var delay int32
	switch len(args) {
	case 0:
	case 1:
		n, err := strconv.ParseInt(args[0], 10, 32)
		if err != nil || n < 0 {
			return usage(cmd, "DELAY %q: want seconds", args[0])
		}
		delay = int32(n)
	default:
		return usage(cmd, "too many arguments")
	}
	if err := r.c.FlushAll(delay); err != nil {
		return err
	}
	r.ok("OK")
	return nil
}

func (r *REPL) cmdStats(cmd *command, args []string) error {
	req := "stats"
	if len(args) > 0 {
		req += " " + strings.Join(args, " ")
	}
	servers := r.c.Servers()
	var errs []error
	for _, addr := range servers {
		if len(servers) > 1 {
			r.print(r.paint(dim, "-- "+addr) + "\n")
		}
		reply, err := r.c.Do(addr, []byte(req+"\r\n"))
		if err == nil {
			err = r.printStats(reply)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// printStats prints the STAT lines of a stats reply as a table, in the
// server's order, and any other line (RESET, ...) as it is.
func (r *REPL) printStats(reply []byte) error {
	var rows [][2]string
	var other []string
	for _, line := range strings.SplitAfter(string(reply), "\r\n") {
		line = strings.TrimSuffix(line, "\r\n")
		if stat, ok := strings.CutPrefix(line, "STAT "); ok {
			name, value, _ := strings.Cut(stat, " ")
			rows = append(rows, [2]string{name, value})
			continue
		}
		if isErrorLine(line) {
			return &replyError{line: line}
		}
		if line != "" && line != "END" {
			other = append(other, line)
		}
	}
	out := table(rows)
	for _, l := range other {
		out += l + "\n"
	}
	if out == "" {
		out = r.paint(dim, "(no statistics)") + "\n"
	}
	r.print(out)
	return nil
}

func (r *REPL) cmdVersion(cmd *command, args []string) error {
	if len(args) > 0 {
		return usage(cmd, "no arguments wanted")
	}
	vers, err := r.c.Version()
	servers := r.c.Servers()
	var b strings.Builder
	for _, addr := range servers {
		v, ok := vers[addr]
		switch {
		case !ok:
		case len(servers) == 1:
			b.WriteString(v + "\n")
		default:
			b.WriteString(addr + "  " + v + "\n")
		}
	}
	r.print(b.String())
	return err
}

func (r *REPL) cmdServers(cmd *command, args []string) error {
	var b strings.Builder
	if len(args) == 0 {
		for _, addr := range r.c.Servers() {
			b.WriteString(addr + "\n")
		}
		r.print(b.String())
		return nil
	}
	for _, k := range args {
		addr, err := r.c.ServerFor(k)
		if err != nil {
			r.print(b.String())
			return err
		}
		b.WriteString(k + " -> " + addr + "\n")
	}
	r.print(b.String())
	return nil
}

func (r *REPL) cmdTrace(cmd *command, args []string) error {
	switch {
	case len(args) == 0:
	case len(args) == 1 && args[0] == "on":
		r.trace.Store(true)
	case len(args) == 1 && args[0] == "off":
		r.trace.Store(false)
	default:
		return usage(cmd, "want on or off")
	}
	if r.trace.Load() {
		r.print("trace on\n")
	} else {
		r.print("trace off\n")
	}
	return nil
}

func (r *REPL) cmdRaw(cmd *command, args []string) error {
	return r.raw("raw " + strings.Join(args, " "))
}

func (r *REPL) cmdQuit(cmd *command, args []string) error {
	return usage(cmd, "no arguments wanted")
}
