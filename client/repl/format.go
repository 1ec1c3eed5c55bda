package repl

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/memcached-lite/memcached-lite/client"
)

// splitWords splits a friendly command line into words at spaces and tabs.
// "Double quotes" make one word of what they hold, with the escapes \n \t
// \r \0 \\ \" \' and \xHH; 'single quotes' hold text as it is. Quotes may
// also join a word's parts, as in a shell: key"with space".
func splitWords(line string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord := false
	for i := 0; i < len(line); {
		switch c := line[i]; c {
		case ' ', '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
			i++
		case '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("no closing ' in %s", line[i:])
			}
			b.WriteString(line[i+1 : i+1+end])
			i += end + 2
			inWord = true
		case '"':
			j, err := unquote(line, i+1, &b)
			if err != nil {
				return nil, err
			}
			i = j
			inWord = true
		default:
			b.WriteByte(c)
			i++
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// unquote copies the double-quoted text starting at line[i] to b, escapes
// replaced, and returns the index after the closing quote.
func unquote(line string, i int, b *strings.Builder) (int, error) {
	start := i - 1
	for i < len(line) {
		c := line[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		case i+1 == len(line):
			return 0, fmt.Errorf("no closing \" in %s", line[start:])
		}
		switch e := line[i+1]; e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		case '\\', '"', '\'':
			b.WriteByte(e)
		case 'x':
			if i+4 > len(line) {
				return 0, fmt.Errorf(`bad escape %s: \x takes two hex digits, as in \x00`, line[i:])
			}
			n, err := strconv.ParseUint(line[i+2:i+4], 16, 8)
			if err != nil {
				return 0, fmt.Errorf(`bad escape %s: \x takes two hex digits, as in \x00`, line[i:i+4])
			}
			b.WriteByte(byte(n))
			i += 2
		default:
			return 0, fmt.Errorf(`bad escape \%c: use \n \t \r \0 \\ \" or \xHH`, e)
		}
		i += 2
	}
	return 0, fmt.Errorf("no closing \" in %s", line[start:])
}

// showValue returns how a value is printed: as it is when it is plain text
// (printable UTF-8 with no space at either end), else quoted with Go's
// escapes; then notes for the parentheses after it: its length, and
// "binary" when it is not text.
func showValue(v []byte) (string, []string) {
	if plainText(v) {
		return string(v), nil
	}
	notes := []string{plural(len(v), "byte")}
	if binary(v) {
		notes = append(notes, "binary")
	}
	return strconv.Quote(string(v)), notes
}

func plainText(v []byte) bool {
	if len(v) == 0 || v[0] == ' ' || v[len(v)-1] == ' ' || !utf8.Valid(v) {
		return false
	}
	for _, c := range string(v) {
		if !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

// binary reports whether v is not text: not UTF-8, or with control
// characters other than tab, newline and carriage return.
func binary(v []byte) bool {
	if !utf8.Valid(v) {
		return true
	}
	for _, c := range string(v) {
		if unicode.IsControl(c) && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// maxTraceLine is how many bytes of one line trace shows.
const maxTraceLine = 200

// escapeWire shows bytes as they go over the wire: printable ASCII as it
// is, \r \n \t and \\ escaped, any other byte as \xHH. A long line is cut
// with a note of its length.
func escapeWire(p []byte) string {
	var b strings.Builder
	for i, c := range p {
		if i == maxTraceLine && len(p) > maxTraceLine+10 {
			fmt.Fprintf(&b, "... (%d bytes in all)", len(p))
			break
		}
		switch {
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\\':
			b.WriteString(`\\`)
		case c >= ' ' && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// escapeControls returns p with control bytes other than tab as \xHH, so
// that a raw reply cannot upset a terminal.
func escapeControls(p []byte) string {
	var b strings.Builder
	for _, c := range p {
		if c < ' ' && c != '\t' || c == 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// table formats rows as two aligned columns.
func table(rows [][2]string) string {
	width := 0
	for _, row := range rows {
		width = max(width, len(row[0]))
	}
	var b strings.Builder
	for _, row := range rows {
		fmt.Fprintf(&b, "%-*s  %s\n", width, row[0], row[1])
	}
	return b.String()
}

// color is an ANSI SGR parameter.
type color string

const (
	red     color = "31"
	green   color = "32"
	yellow  color = "33"
	magenta color = "35"
	cyan    color = "36"
	dim     color = "2"
)

// paint wraps s in colour c when the REPL uses colours.
func (r *REPL) paint(c color, s string) string {
	if !r.cfg.Color || s == "" {
		return s
	}
	return "\x1b[" + string(c) + "m" + s + "\x1b[0m"
}

// The objects --json prints, one a line.
type (
	// replyJSON is a command's one-word reply: STORED, NOT_FOUND, OK, ...
	replyJSON struct {
		Command string `json:"command"`
		Key     string `json:"key,omitempty"`
		Reply   string `json:"reply"`
	}
	// numberJSON is the result of incr or decr.
	numberJSON struct {
		Command string `json:"command"`
		Key     string `json:"key"`
		Value   uint64 `json:"value"`
	}
	// itemJSONFields is one key of a get: found or not, with its value as
	// a string when it is UTF-8, else in base64.
	itemJSONFields struct {
		Key         string  `json:"key"`
		Found       bool    `json:"found"`
		Value       *string `json:"value,omitempty"`
		ValueBase64 *string `json:"value_base64,omitempty"`
		Flags       *uint32 `json:"flags,omitempty"`
		CAS         *uint64 `json:"cas,omitempty"`
	}
	// statsJSON is one server's statistics, and its lines that are not
	// statistics (RESET).
	statsJSON struct {
		Server string            `json:"server"`
		Stats  map[string]string `json:"stats"`
		Other  []string          `json:"other,omitempty"`
	}
	versionJSON struct {
		Server  string `json:"server"`
		Version string `json:"version"`
	}
	// serverJSON is a line of "servers": a server, or the server of a key.
	serverJSON struct {
		Key    string `json:"key,omitempty"`
		Server string `json:"server"`
	}
	// rawJSON is the reply to a raw command, exactly as received.
	rawJSON struct {
		Server string `json:"server"`
		Reply  string `json:"reply"`
	}
)

// jsonLine returns v as JSON on one line. The values printed are plain
// structs of strings and numbers, which always marshal.
func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("{\"error\":%q}\n", err.Error())
	}
	return string(b) + "\n"
}

func (r *REPL) printJSON(v any) { r.print(jsonLine(v)) }

// itemJSON returns the JSON line for key, found as it (nil: a miss).
func itemJSON(key string, it *client.Item, withCAS bool) string {
	f := itemJSONFields{Key: key, Found: it != nil}
	if it != nil {
		v := string(it.Value)
		if utf8.ValidString(v) {
			f.Value = &v
		} else {
			b64 := base64.StdEncoding.EncodeToString(it.Value)
			f.ValueBase64 = &b64
		}
		f.Flags = &it.Flags
		if withCAS {
			f.CAS = &it.CAS
		}
	}
	return jsonLine(f)
}
