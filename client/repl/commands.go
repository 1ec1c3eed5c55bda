package repl

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

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
	at := slices.IndexFunc(list, func(c *command) bool { return c.name == "flush" })
	list = slices.Insert(list, at, metaCommands()...)
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

// unknownCommand is the error for a first word that is no command, with
// the command it most likely meant.
func unknownCommand(word string) error {
	names := make([]string, 0, len(protocolVerbs)+20)
	list, _ := commandTable()
	for name := range list {
		names = append(names, name)
	}
	names = append(names, protocolVerbs...)
	slices.Sort(names)
	if s := Closest(strings.ToLower(word), names); s != "" {
		return fmt.Errorf("unknown command %s; did you mean %s?", word, s)
	}
	return fmt.Errorf("unknown command %s; \"help\" lists the commands, and \"raw %s\" sends the line to the server as it is", word, word)
}

// Closest returns the name in names nearest to word, if it is near enough
// to be what was meant (one typo, or two in a name of seven letters or
// more: a letter added, left out or changed, or two swapped), else "".
// Of names equally near, the first wins.
func Closest(word string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		limit := 1
		if len(n) >= 7 {
			limit = 2
		}
		if d := editDistance(word, n); d <= limit && d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// replyError is a reply line that reports an error (ERROR, CLIENT_ERROR ...,
// SERVER_ERROR ...) met outside the client package's parsing.
type replyError struct{ line string }

func (e *replyError) Error() string { return e.line }

// ok prints a reply to cmd (about key, if not "") that means success.
func (r *REPL) ok(cmd *command, key, word string) {
	switch r.cfg.Format {
	case FormatJSON:
		r.printJSON(replyJSON{Command: cmd.name, Key: key, Reply: word})
	case FormatValues:
		r.print(word + "\n")
	default:
		r.print(r.paint(green, word) + "\n")
	}
}

// outcome prints a reply to cmd that means the command did not do its
// work, with a short explanation, and returns errReported.
func (r *REPL) outcome(cmd *command, key, word, why string) error {
	switch r.cfg.Format {
	case FormatJSON:
		r.printJSON(replyJSON{Command: cmd.name, Key: key, Reply: word})
	case FormatValues:
		r.print(word + "\n")
	default:
		r.print(r.paint(yellow, word) + " " + r.paint(dim, "("+why+")") + "\n")
	}
	return errReported
}

// warn prints a warning about a command that is sent all the same.
func (r *REPL) warn(cmd *command, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _ = io.WriteString(r.cfg.Err, r.paint(yellow, cmd.name+": warning: "+fmt.Sprintf(format, args...))+"\n") // as print
}

func (r *REPL) cmdStore(cmd *command, args []string) error {
	verb := cmd.name
	need := 2
	if verb == "cas" {
		need = 3
	}
	if err := protocolShape(cmd, args); err != nil {
		return err
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
	keepsOptions := verb == "append" || verb == "prepend"
	for _, opt := range args[need:] {
		name, value, isOpt := strings.Cut(opt, "=")
		switch {
		case isOpt && !keepsOptions && name == "ttl":
			n, err := parseTTL(value)
			if err != nil {
				return usage(cmd, "ttl=%s: %v", value, err)
			}
			it.Expiration = n
		case isOpt && !keepsOptions && name == "flags":
			n, err := strconv.ParseUint(value, 10, 32)
			if err != nil {
				return usage(cmd, "flags=%s: want a number from 0 to 4294967295", value)
			}
			it.Flags = uint32(n)
		case isOpt && (name == "ttl" || name == "flags"):
			return usage(cmd, "%s keeps the stored item's ttl and flags", verb)
		case isOpt && keepsOptions:
			return usage(cmd, "unknown option %s: %s takes no options (it keeps the stored item's ttl and flags; a VALUE with spaces goes in quotes)", opt, verb)
		case isOpt:
			return usage(cmd, "unknown option %s: %s takes ttl=SECONDS and flags=N (a VALUE with spaces goes in quotes)", opt, verb)
		default:
			return usage(cmd, "unexpected %q: a VALUE with spaces goes in quotes, as in %s %s \"%s %s\"",
				opt, verb, it.Key, args[1], opt)
		}
	}
	r.warnExpired(cmd, it.Expiration)
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
		r.ok(cmd, it.Key, "STORED")
		return nil
	case errors.Is(err, client.ErrNotStored) && verb == "add":
		return r.outcome(cmd, it.Key, "NOT_STORED", "add stores only new keys, and "+k+" already exists")
	case errors.Is(err, client.ErrNotStored):
		return r.outcome(cmd, it.Key, "NOT_STORED", verb+" needs an existing key, and there is no "+k)
	case errors.Is(err, client.ErrCASConflict):
		return r.outcome(cmd, it.Key, "EXISTS", k+" has changed since your gets: its CAS is no longer "+args[2])
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome(cmd, it.Key, "NOT_FOUND", "there is no "+k+" to compare with")
	}
	return err
}

// protocolShape catches a storage command typed in the protocol's own
// shape (set KEY FLAGS EXPTIME BYTES) with a field that is not a number,
// which the friendly form would misread, and explains the fields.
func protocolShape(cmd *command, args []string) error {
	fields := []string{"FLAGS", "EXPTIME", "BYTES"}
	if cmd.name == "cas" {
		fields = append(fields, "CAS")
	}
	if len(args) != 1+len(fields) || !isUint(args[1]) {
		return nil
	}
	for _, a := range args[2:] {
		if strings.Contains(a, "=") {
			return nil // friendly options
		}
	}
	for i, f := range fields {
		v := args[1+i]
		ok := isUint(v)
		if f == "EXPTIME" {
			ok = isInt(v)
		}
		if !ok {
			return fmt.Errorf("%s: %s %q is not a number. In the protocol's form, %s %s %s, the numbers after the key are "+
				"FLAGS (kept with the value, 0 if unsure), EXPTIME (seconds to live, 0 for ever) and BYTES (the length of the value, "+
				"which goes on the next line)%s: try %s %s 0 0 5, then hello. Or store in one line: %s",
				cmd.name, f, v, cmd.name, "KEY", strings.Join(fields, " "), casField(cmd), cmd.name, args[0], cmd.usage())
		}
	}
	return nil
}

func casField(cmd *command) string {
	if cmd.name == "cas" {
		return ", then CAS (the number gets showed)"
	}
	return ""
}

// warnExpired warns that a ttl stores an item that is already expired: a
// negative one, or one over 30 days, which memcached reads as a Unix time,
// that has passed.
func (r *REPL) warnExpired(cmd *command, ttl int32) {
	switch {
	case ttl < 0:
		r.warn(cmd, "ttl=%d is negative: the item is stored already expired, and a get will not find it (ttl=0 never expires)", ttl)
	case ttl > maxRelativeTTL && int64(ttl) <= time.Now().Unix():
		r.warn(cmd, "ttl=%d is over 30 days, so it is a Unix time, and that time has passed: the item is stored already expired", ttl)
	}
}

// maxRelativeTTL is the largest exptime memcached counts from now (30
// days); a larger one is a Unix time.
const maxRelativeTTL = 30 * 24 * 60 * 60

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
			r.printItems(args, nil, withCAS)
			return nil
		case err != nil:
			return err
		}
		r.printItems(args, map[string]*client.Item{it.Key: it}, withCAS)
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
	r.printItems(args, items, withCAS)
	return nil
}

// printItems prints what a get of keys found, in the order of keys, each
// key once.
func (r *REPL) printItems(keys []string, items map[string]*client.Item, withCAS bool) {
	var b strings.Builder
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		it := items[k]
		if it != nil {
			r.keys[k] = true
		}
		switch {
		case r.cfg.Format == FormatJSON:
			b.WriteString(itemJSON(k, it, withCAS))
		case r.cfg.Format == FormatValues && it == nil:
			b.WriteString("\n")
		case r.cfg.Format == FormatValues && withCAS:
			b.WriteString(strconv.FormatUint(it.CAS, 10) + " " + string(it.Value) + "\n")
		case r.cfg.Format == FormatValues:
			b.WriteString(string(it.Value) + "\n")
		case len(keys) == 1 && it == nil:
			b.WriteString(r.paint(dim, "(not found)") + "\n")
		case len(keys) == 1:
			b.WriteString(r.showItem(it, withCAS) + "\n")
		case it == nil:
			b.WriteString(k + ": " + r.paint(dim, "(not found)") + "\n")
		default:
			b.WriteString(k + ": " + r.showItem(it, withCAS) + "\n")
		}
	}
	r.print(b.String())
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
		r.ok(cmd, args[0], "DELETED")
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome(cmd, args[0], "NOT_FOUND", "there is no "+strconv.Quote(args[0]))
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
		other := map[string]string{"incr": "decr", "decr": "incr"}[cmd.name]
		switch {
		case err != nil && strings.HasPrefix(args[1], "-") && isUint(args[1][1:]):
			return usage(cmd, "%s is negative: %s only %s; to %s %s, use %s %s %s", args[1], cmd.name,
				map[string]string{"incr": "adds", "decr": "subtracts"}[cmd.name],
				map[string]string{"incr": "subtract", "decr": "add"}[cmd.name], args[1][1:], other, args[0], args[1][1:])
		case err != nil:
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
		switch r.cfg.Format {
		case FormatJSON:
			r.printJSON(numberJSON{Command: cmd.name, Key: args[0], Value: n})
		case FormatValues:
			r.print(strconv.FormatUint(n, 10) + "\n")
		default:
			r.print(r.paint(green, strconv.FormatUint(n, 10)) + "\n")
		}
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome(cmd, args[0], "NOT_FOUND", fmt.Sprintf("there is no %q, and %s does not create one: set it to a number first", args[0], cmd.name))
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
	r.warnExpired(cmd, ttl)
	err = r.c.Touch(args[0], ttl)
	switch {
	case err == nil:
		r.ok(cmd, args[0], "TOUCHED")
		return nil
	case errors.Is(err, client.ErrCacheMiss):
		return r.outcome(cmd, args[0], "NOT_FOUND", "there is no "+strconv.Quote(args[0]))
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
	r.ok(cmd, "", "OK")
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
		if len(servers) > 1 && r.cfg.Format != FormatJSON {
			r.print(r.paint(dim, "-- "+addr) + "\n")
		}
		reply, err := r.c.Do(addr, []byte(req+"\r\n"))
		if err == nil {
			err = r.printStats(addr, reply)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// printStats prints the STAT lines of a stats reply from addr as a table,
// in the server's order, and any other line (RESET, ...) as it is.
func (r *REPL) printStats(addr string, reply []byte) error {
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
	switch r.cfg.Format {
	case FormatJSON:
		m := make(map[string]string, len(rows))
		for _, row := range rows {
			m[row[0]] = row[1]
		}
		r.printJSON(statsJSON{Server: addr, Stats: m, Other: other})
		return nil
	case FormatValues:
		var b strings.Builder
		for _, row := range rows {
			b.WriteString(row[0] + " " + row[1] + "\n")
		}
		for _, l := range other {
			b.WriteString(l + "\n")
		}
		r.print(b.String())
		return nil
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
		case r.cfg.Format == FormatJSON:
			b.WriteString(jsonLine(versionJSON{Server: addr, Version: v}))
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
			if r.cfg.Format == FormatJSON {
				b.WriteString(jsonLine(serverJSON{Server: addr}))
			} else {
				b.WriteString(addr + "\n")
			}
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
		if r.cfg.Format == FormatJSON {
			b.WriteString(jsonLine(serverJSON{Key: k, Server: addr}))
		} else {
			b.WriteString(k + " -> " + addr + "\n")
		}
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
