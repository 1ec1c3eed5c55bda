package repl

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/peterh/liner"
)

// errAborted: the user pressed Ctrl-C at the prompt, cancelling the line.
var errAborted = errors.New("repl: line cancelled")

// lineReader is where commands and data lines come from.
type lineReader interface {
	// readLine shows prompt (if not "") and returns the next line without
	// its end of line: io.EOF at the end of the input, errAborted if the
	// user cancelled it. command is false for a raw command's data line,
	// which is not kept in the history.
	readLine(prompt string, command bool) (string, error)
}

// scanLines reads Config.In line by line.
type scanLines struct {
	r  *REPL
	sc *bufio.Scanner // nil when there is no input
}

// lines returns the reader of Config.In. The scanner is made once, so
// lines it has buffered are not lost between Run and RunArgs calls.
func (r *REPL) lines() lineReader {
	if r.stdin == nil && r.cfg.In != nil {
		r.stdin = bufio.NewScanner(r.cfg.In)
		r.stdin.Buffer(make([]byte, 0, 64<<10), maxLine)
	}
	return scanLines{r: r, sc: r.stdin}
}

func (s scanLines) readLine(prompt string, command bool) (string, error) {
	if s.sc == nil {
		return "", io.EOF
	}
	if prompt != "" {
		s.r.print(prompt)
	}
	if !s.sc.Scan() {
		if err := s.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return s.sc.Text(), nil
}

// terminal reads lines from the terminal on os.Stdin with line editing,
// history and tab completion. Its prompts go to os.Stdout.
type terminal struct {
	r      *REPL
	ln     *liner.State
	path   string // history file; "" keeps none
	warned bool   // a history error was shown
}

// newTerminal puts the terminal in raw mode (until close) and loads the
// history.
func (r *REPL) newTerminal() *terminal {
	t := &terminal{r: r, ln: liner.NewLiner(), path: r.cfg.HistoryPath}
	t.ln.SetCtrlCAborts(true)
	t.ln.SetTabCompletionStyle(liner.TabPrints)
	t.ln.SetWordCompleter(r.complete)
	if t.path != "" {
		f, err := os.Open(t.path)
		if err == nil {
			_, err = t.ln.ReadHistory(f)
			err = errors.Join(err, f.Close())
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.warn(err)
		}
	}
	return t
}

func (t *terminal) readLine(prompt string, command bool) (string, error) {
	line, err := t.ln.Prompt(prompt)
	if errors.Is(err, liner.ErrPromptAborted) {
		return "", errAborted
	}
	if err != nil {
		return "", err
	}
	if h := strings.TrimSpace(line); command && h != "" {
		// AppendHistory skips a repeat of the last line. Saving now, not at
		// the end, means a closed terminal loses nothing.
		t.ln.AppendHistory(h)
		t.save()
	}
	return line, nil
}

// save writes the history file through a temporary file, which
// os.CreateTemp makes with mode 0600.
func (t *terminal) save() {
	if t.path == "" {
		return
	}
	dir := filepath.Dir(t.path)
	err := os.MkdirAll(dir, 0o700)
	var f *os.File
	if err == nil {
		f, err = os.CreateTemp(dir, ".history-*")
	}
	if err == nil {
		_, err = t.ln.WriteHistory(f)
		err = errors.Join(err, f.Close())
		if err == nil {
			err = os.Rename(f.Name(), t.path)
		}
		if err != nil {
			_ = os.Remove(f.Name()) // best effort: the error below is what matters
		}
	}
	if err != nil {
		t.warn(err)
	}
}

func (t *terminal) warn(err error) {
	if !t.warned {
		t.warned = true
		t.r.printErr("history " + t.path + ": " + err.Error())
	}
}

// close gives the terminal back its own mode.
func (t *terminal) close() {
	_ = t.ln.Close() // it only restores the terminal mode; nothing to do if that fails
}

// complete is liner's word completer: command names for the first word,
// then what the command takes at that place: keys seen in this session,
// command names after help, on and off after trace, protocol verbs after
// raw.
func (r *REPL) complete(line string, pos int) (head string, completions []string, tail string) {
	runes := []rune(line)
	pos = min(max(pos, 0), len(runes))
	before, tail := string(runes[:pos]), string(runes[pos:])
	start := strings.LastIndexAny(before, " \t") + 1
	head, word := before[:start], before[start:]
	prev := strings.Fields(head)
	var candidates []string
	switch {
	case len(prev) == 0:
		candidates = r.names
	case prev[0] == "help" && len(prev) == 1:
		candidates = r.names
	case prev[0] == "trace" && len(prev) == 1:
		candidates = []string{"on", "off"}
	case prev[0] == "raw" && len(prev) == 1:
		candidates = protocolVerbs
	case prev[0] == "raw", r.cmds[strings.ToLower(prev[0])] != nil && r.cmds[strings.ToLower(prev[0])].takesKey(len(prev)):
		for k := range r.keys {
			candidates = append(candidates, k)
		}
		slices.Sort(candidates)
	}
	space := " "
	if strings.HasPrefix(tail, " ") {
		space = ""
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, word) {
			completions = append(completions, c+space)
		}
	}
	return head, completions, tail
}
