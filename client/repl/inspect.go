package repl

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/signal"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/memcached-lite/memcached-lite/client"
)

// A listed item is one line of lru_crawler metadump, decoded.
type listed struct {
	key  string
	exp  int64 // Unix seconds; -1 never
	size int   // memcached's size of the item: key, value and overhead
}

// metadump lists the live items of every server with lru_crawler metadump
// all (memcached 1.4.33 and later, and memcached-lite).
func (r *REPL) metadump() ([]listed, error) {
	var items []listed
	var errs []error
	for _, addr := range r.c.Servers() {
		reply, err := r.c.Do(addr, []byte("lru_crawler metadump all\r\n"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, line := range strings.Split(string(reply), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if isErrorLine(line) {
				errs = append(errs, &replyError{line: line})
				break
			}
			if it, ok := parseMetadump(line); ok {
				items = append(items, it)
			}
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	return items, errors.Join(errs...)
}

// parseMetadump decodes "key=K exp=E la=L cas=C fetch=F cls=N size=S".
func parseMetadump(line string) (listed, bool) {
	var it listed
	var haveKey bool
	for _, f := range strings.Fields(line) {
		name, v, _ := strings.Cut(f, "=")
		switch name {
		case "key":
			k, err := uriDecode(v)
			if err != nil {
				return it, false
			}
			it.key, haveKey = k, true
		case "exp":
			it.exp, _ = strconv.ParseInt(v, 10, 64)
		case "size":
			it.size, _ = strconv.Atoi(v)
		}
	}
	return it, haveKey
}

// uriDecode undoes memcached's uriencode of keys (%XX for each byte
// outside A-Z a-z 0-9 - . _ ~).
func uriDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("bad escape in %q", s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}

// keyJSON is a line of keys, and of ttl, under FormatJSON.
type keyJSON struct {
	Key  string `json:"key"`
	TTL  int64  `json:"ttl"`            // seconds left; -1 never expires
	Size int    `json:"size,omitempty"` // keys only
}

// ttlSeconds is the whole seconds an item has left, -1 for never.
func ttlSeconds(exp int64, now time.Time) int64 {
	if exp < 0 {
		return -1
	}
	return max(int64(math.Round(float64(time.Unix(exp, 0).Sub(now))/float64(time.Second))), 0)
}

// ttlLeft describes the time an item has left.
func ttlLeft(exp int64, now time.Time) string {
	if exp < 0 {
		return "never"
	}
	return strconv.FormatInt(ttlSeconds(exp, now), 10) + "s"
}

func (r *REPL) cmdKeys(cmd *command, args []string) error {
	if len(args) > 1 {
		return usage(cmd, "at most one PATTERN")
	}
	pattern := "*"
	if len(args) == 1 {
		pattern = args[0]
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return usage(cmd, "bad pattern %q", pattern)
	}
	items, err := r.metadump()
	now := time.Now()
	var rows [][3]string
	for _, it := range items {
		if ok, _ := path.Match(pattern, it.key); !ok {
			continue
		}
		r.keys[it.key] = true
		switch r.cfg.Format {
		case FormatValues:
			r.print(it.key + "\n")
		case FormatJSON:
			r.printJSON(keyJSON{Key: it.key, TTL: ttlSeconds(it.exp, now), Size: it.size})
		default:
			rows = append(rows, [3]string{quoteKey(it.key), ttlLeft(it.exp, now), strconv.Itoa(it.size)})
		}
	}
	if r.cfg.Format != FormatText {
		return err
	}
	if len(rows) == 0 {
		r.print(r.paint(dim, "(no keys)") + "\n")
		return err
	}
	w := [3]int{len("KEY"), len("TTL"), len("SIZE")}
	for _, row := range rows {
		for i := range row {
			w[i] = max(w[i], len(row[i]))
		}
	}
	var b strings.Builder
	line := func(row [3]string) {
		fmt.Fprintf(&b, "%-*s  %-*s  %s\n", w[0], row[0], w[1], row[1], row[2])
	}
	b.WriteString(r.paint(dim, fmt.Sprintf("%-*s  %-*s  %s", w[0], "KEY", w[1], "TTL", "SIZE")) + "\n")
	for _, row := range rows {
		line(row)
	}
	fmt.Fprintf(&b, "%s\n", r.paint(dim, fmt.Sprintf("(%d keys)", len(rows))))
	r.print(b.String())
	return err
}

// quoteKey shows a key as it is when it is printable, else quoted.
func quoteKey(k string) string {
	for _, c := range []byte(k) {
		if c <= ' ' || c >= 0x7f || c == '"' {
			return strconv.Quote(k)
		}
	}
	return k
}

func (r *REPL) cmdTTL(cmd *command, args []string) error {
	if len(args) != 1 {
		return usage(cmd, "one KEY wanted")
	}
	key := args[0]
	items, err := r.metadump()
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.key == key {
			switch r.cfg.Format {
			case FormatValues:
				r.print(strconv.FormatInt(ttlSeconds(it.exp, time.Now()), 10) + "\n")
				return nil
			case FormatJSON:
				r.printJSON(keyJSON{Key: key, TTL: ttlSeconds(it.exp, time.Now())})
				return nil
			}
			if it.exp < 0 {
				r.print(quoteKey(key) + " never expires\n")
			} else {
				r.print(quoteKey(key) + " expires in " + ttlLeft(it.exp, time.Now()) + "\n")
			}
			return nil
		}
	}
	return r.outcome(cmd, key, "NOT_FOUND", fmt.Sprintf("no item %q", key))
}

// watchTypes are the arguments watch passes on to the server.
var watchTypes = []string{"fetchers", "mutations", "connevents"}

func (r *REPL) cmdWatch(cmd *command, args []string) error {
	count := 0
	var kinds []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "count="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return usage(cmd, "count= wants a number of events, not %q", v)
			}
			count = n
			continue
		}
		found := false
		for _, t := range watchTypes {
			found = found || a == t
		}
		if !found {
			return usage(cmd, "unknown event type %q (fetchers, mutations, connevents)", a)
		}
		kinds = append(kinds, a)
	}
	if len(kinds) == 0 {
		kinds = watchTypes
	}
	servers := r.c.Servers()
	if len(servers) != 1 {
		return usage(cmd, "watch one server at a time (client -s HOST:PORT)")
	}
	addr := servers[0]
	network := "tcp"
	if strings.Contains(addr, "/") {
		network = "unix"
	}
	timeout := r.cfg.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	nc, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return err
	}
	defer nc.Close()
	req := "watch " + strings.Join(kinds, " ") + "\r\n"
	r.traceWire(addr, client.Sent, []byte(req))
	nc.SetDeadline(time.Now().Add(timeout))
	if _, err := nc.Write([]byte(req)); err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	r.traceWire(addr, client.Received, []byte(line))
	if line != "OK\r\n" {
		return &replyError{line: strings.TrimSuffix(line, "\r\n")}
	}
	nc.SetDeadline(time.Time{})
	// Ctrl-C stops watching: close the connection to end the read.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	defer signal.Stop(stop)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			nc.Close()
		case <-done:
		}
	}()
	// The header is for a person: with values or JSON it goes to Err.
	header := "watching " + strings.Join(kinds, " ") + " (Ctrl-C to stop)\n"
	if r.cfg.Format == FormatText {
		r.print(r.paint(dim, header))
	} else {
		r.printErr(header)
	}
	for n := 0; count == 0 || n < count; n++ {
		line, err := br.ReadString('\n')
		if err != nil {
			if r.cfg.Format == FormatText {
				r.print(r.paint(dim, "(stopped watching)") + "\n")
			}
			return nil
		}
		line = strings.TrimSuffix(line, "\n")
		switch r.cfg.Format {
		case FormatValues:
			r.print(line + "\n") // as the server sent it
		case FormatJSON:
			r.printJSON(eventJSON(line))
		default:
			r.print(r.formatEvent(line) + "\n")
		}
	}
	return nil
}

// eventJSON turns a watch line into its fields, with the key decoded.
func eventJSON(line string) map[string]string {
	f := make(map[string]string)
	for _, tok := range strings.Fields(line) {
		name, v, _ := strings.Cut(tok, "=")
		if name == "key" {
			if k, err := uriDecode(v); err == nil {
				v = k
			}
		}
		f[name] = v
	}
	return f
}

// formatEvent turns a watch line into a short, coloured one:
//
//	23:01:02.123456 store   set k stored ttl=0 size=2
func (r *REPL) formatEvent(line string) string {
	if n, ok := strings.CutPrefix(line, "skipped="); ok {
		return r.paint(red, "(the server dropped "+n+" events: this terminal read too slowly)")
	}
	f := map[string]string{}
	var order []string
	for _, tok := range strings.Fields(line) {
		name, v, _ := strings.Cut(tok, "=")
		f[name] = v
		order = append(order, name)
	}
	when := f["ts"]
	if sec, usec, ok := strings.Cut(when, "."); ok {
		s, _ := strconv.ParseInt(sec, 10, 64)
		u, _ := strconv.ParseInt(usec, 10, 64)
		when = time.Unix(s, u*1000).Format("15:04:05.000000")
	}
	key := f["key"]
	if k, err := uriDecode(key); err == nil {
		key = quoteKey(k)
	}
	var what string
	var c color
	switch f["type"] {
	case "item_get":
		c, what = cyan, "get     "+key+" "+f["status"]+" size="+f["size"]
	case "item_store":
		c, what = green, "store   "+f["cmd"]+" "+key+" "+f["status"]+" ttl="+f["ttl"]+" size="+f["size"]
	case "conn_new":
		c, what = magenta, "connect "+f["rip"]+":"+f["rport"]
	case "conn_close":
		c, what = magenta, "close   "+f["rip"]+":"+f["rport"]+" "+f["reason"]
	default:
		var rest []string
		for _, n := range order {
			if n != "ts" && n != "gid" {
				rest = append(rest, n+"="+f[n])
			}
		}
		c, what = yellow, strings.Join(rest, " ")
	}
	return r.paint(dim, when) + " " + r.paint(c, what)
}
