package suite

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/memcached-lite/memcached-lite/client/loadgen"
)

// Table groups: one per workload, each with one anchor server. A workload
// whose durable and non-durable results answer different questions (SET)
// is split in two groups.
const (
	groupGetHit       = "get-hit"
	groupSetDurable   = "set-durable"
	groupSetNone      = "set-none"
	groupMix          = "mix"
	groupLargeSetDur  = "large-set-durable"
	groupLargeSetNone = "large-set-none"
	groupLargeGet     = "large-get"
	groupMemaslap     = "memaslap-mix"
	groupLoad         = "load-1m"
	groupColdGet      = "cold-get"
	groupGet1M        = "get-1m-ram"
	groupRSSLoad      = "rss-load"
	groupRSSGet       = "rss-get"
	groupStartup      = "startup"
)

// groupOrder is the order of the groups in the table.
func groupOrder() []string {
	return []string{groupGetHit, groupSetDurable, groupSetNone, groupMix, groupMemaslap,
		groupLargeSetDur, groupLargeSetNone, groupLargeGet, groupLoad, groupColdGet, groupGet1M,
		groupRSSLoad, groupRSSGet, groupStartup}
}

// sortRows orders rows by group, keeping the order of rows within a group.
func sortRows(rows []Row) {
	order := groupOrder()
	slices.SortStableFunc(rows, func(a, b Row) int {
		return slices.Index(order, a.Group) - slices.Index(order, b.Group)
	})
}

// toolLoadgen is the Tool of the rows measured with client/loadgen.
const toolLoadgen = "loadgen"

// Server names in the table.
const (
	srvLiteAlways = "memcached-lite sync=always"
	srvLiteNone   = "memcached-lite sync=none"
	srvMemcached  = "memcached"
	srvRedis      = "redis appendfsync=always"
)

// A Row is one figure of the suite's table: the median of its runs.
type Row struct {
	Group    string    `json:"group"`
	Workload string    `json:"workload"`
	Server   string    `json:"server"`
	Tool     string    `json:"tool"` // the load generator, or "proc" for memory and start-up
	Unit     string    `json:"unit"` // ops/s, MiB or ms
	Value    float64   `json:"value"`
	Runs     []float64 `json:"runs"`
	P50US    float64   `json:"p50_us,omitempty"` // from the median run; 0 if the tool gives none
	P99US    float64   `json:"p99_us,omitempty"`
	P999US   float64   `json:"p999_us,omitempty"`
	HitRatio float64   `json:"hit_ratio,omitempty"`
	Errors   uint64    `json:"errors"` // over all runs
	Anchor   string    `json:"anchor,omitempty"`
	IsAnchor bool      `json:"is_anchor,omitempty"`
	Ratio    float64   `json:"ratio,omitempty"` // Value / the anchor's
	Target   string    `json:"target,omitempty"`
	Pass     *bool     `json:"pass,omitempty"`
	Note     string    `json:"note,omitempty"` // why a figure is missing, or what it means
}

// anchorOf names the row each group's ratios are to.
func anchorOf(group string) (anchorGroup, server string) {
	switch group {
	case groupSetDurable, groupLargeSetDur:
		return group, srvRedis
	case groupColdGet:
		return groupGetHit, srvLiteAlways
	case groupGetHit, groupSetNone, groupMix, groupLargeSetNone, groupLargeGet, groupMemaslap, groupLoad:
		return group, srvMemcached
	}
	return "", ""
}

// A target is a goal the project set, checked against one row.
type target struct {
	group, server string
	text          string
	ok            func(r Row) bool
}

func targets() []target {
	ratioAtLeast := func(min float64) func(Row) bool {
		return func(r Row) bool { return r.Ratio >= min }
	}
	atMost96MiB := func(r Row) bool { return r.Value <= 96 }
	return []target{
		{groupGetHit, srvLiteAlways, ">= 1.0x memcached", ratioAtLeast(1.0)},
		{groupSetDurable, srvLiteAlways, ">= 1.0x redis (stretch 1.5x)", ratioAtLeast(1.0)},
		{groupSetNone, srvLiteNone, ">= 0.6x memcached", ratioAtLeast(0.6)},
		{groupMemaslap, srvLiteAlways, ">= 0.8x memcached", ratioAtLeast(0.8)},
		{groupColdGet, srvLiteAlways, ">= 0.5x hot GET", ratioAtLeast(0.5)},
		{groupRSSLoad, srvLiteNone + " -m 64", "<= 96 MiB", atMost96MiB},
		{groupRSSGet, srvLiteAlways + " -m 64", "<= 96 MiB", atMost96MiB},
		{groupStartup, srvLiteAlways + " -m 64", "< 1 s", func(r Row) bool { return r.Value < 1000 }},
	}
}

// finish computes ratios to the anchors and checks the targets. A target
// fails if its row has no figure or any error.
func finishRows(rows []Row) {
	find := func(group, server string) *Row {
		for i := range rows {
			if rows[i].Group == group && rows[i].Server == server {
				return &rows[i]
			}
		}
		return nil
	}
	for i := range rows {
		r := &rows[i]
		ag, as := anchorOf(r.Group)
		if ag == "" {
			continue
		}
		if ag == r.Group && as == r.Server {
			r.IsAnchor = true
			continue
		}
		r.Anchor = as
		if ag != r.Group {
			r.Anchor = as + " " + ag
		}
		if a := find(ag, as); a != nil && a.Value > 0 && r.Value > 0 {
			r.Ratio = r.Value / a.Value
		}
	}
	for _, t := range targets() {
		r := find(t.group, t.server)
		if r == nil {
			continue
		}
		pass := r.Value > 0 && r.Errors == 0 && t.ok(*r)
		r.Target, r.Pass = t.text, &pass
	}
}

// medianRun returns the middle value (the mean of the two middle ones for an
// even count) and the index in v of the run nearest to it.
func medianRun(v []float64) (float64, int) {
	if len(v) == 0 {
		return 0, -1
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	best := 0
	for i, x := range v {
		if absFloat(x-m) < absFloat(v[best]-m) {
			best = i
		}
	}
	return m, best
}

func absFloat(x float64) float64 { return max(x, -x) }

// cells returns a row's table cells: workload, server, value, p50, p99,
// p999, hits, errors, ratio, target, result.
func (r *Row) cells() []string {
	dash := func(us float64) string {
		if us == 0 {
			return "-"
		}
		return loadgen.FormatMicros(us)
	}
	value := "-"
	if r.Value > 0 {
		value = formatValue(r.Value, r.Unit)
	}
	hits := "-"
	if r.HitRatio > 0 {
		hits = strconv.FormatFloat(100*r.HitRatio, 'f', 1, 64) + "%"
	}
	ratio := ""
	switch {
	case r.IsAnchor:
		ratio = "anchor"
	case r.Ratio > 0:
		ratio = strconv.FormatFloat(r.Ratio, 'f', 2, 64) + "x"
	case r.Anchor != "":
		ratio = "n/a"
	}
	result := ""
	if r.Pass != nil {
		result = "FAIL"
		if *r.Pass {
			result = "PASS"
		}
	}
	server := r.Server
	if r.Tool != toolLoadgen && r.Tool != "proc" {
		server += " [" + r.Tool + "]"
	}
	if r.Note != "" {
		server += " (" + r.Note + ")"
	}
	return []string{r.Workload, server, value, dash(r.P50US), dash(r.P99US), dash(r.P999US),
		hits, strconv.FormatUint(r.Errors, 10), ratio, r.Target, result}
}

// tableHeader returns the names of the table's columns.
func tableHeader() []string {
	return []string{"workload", "server", "median", "p50", "p99", "p99.9", "get hits", "errors", "vs anchor", "target", "result"}
}

// formatValue formats a figure with its unit: ops/s with thousands separators.
func formatValue(v float64, unit string) string {
	if unit == "ops/s" || unit == "sets/s" {
		s := strconv.FormatFloat(v, 'f', 0, 64)
		var b strings.Builder
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String() + " " + unit
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

// A Report is what a run of the suite found: the lines that describe the
// run, then one row per figure. Its JSON form is suite.json.
type Report struct {
	Header []string `json:"header"` // what was run, on what, and how fairly
	Rows   []Row    `json:"rows"`
}

// WriteText prints the header lines and then the rows as an aligned text
// table, the workload named on the first row of its group only.
func (rep Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, h := range rep.Header {
		b.WriteString(h + "\n")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(tableHeader(), "\t")+"\t")
	last := ""
	for _, r := range rep.Rows {
		c := r.cells()
		if r.Workload == last {
			c[0] = ""
		}
		last = r.Workload
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown prints the header lines as a list and the rows as a
// Markdown table.
func (rep Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# memcached-lite benchmark suite\n\n")
	for _, h := range rep.Header {
		b.WriteString("- " + h + "\n")
	}
	b.WriteString("\n| " + strings.Join(tableHeader(), " | ") + " |\n|")
	b.WriteString(strings.Repeat(" --- |", len(tableHeader())) + "\n")
	for _, r := range rep.Rows {
		c := r.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", `\|`)
		}
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as indented JSON.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// Save writes suite.json and suite.md under dir, creating it, and names
// each file it wrote on log.
func (rep Report) Save(dir string, log io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"suite.json", rep.WriteJSON}, {"suite.md", rep.WriteMarkdown}} {
		path := filepath.Join(dir, f.name)
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := errors.Join(f.write(out), out.Close()); err != nil {
			return fmt.Errorf("suite: write %s: %w", path, err)
		}
		fmt.Fprintf(log, "suite: wrote %s\n", path)
	}
	return nil
}

// Missed returns "workload / server" for each row that missed its target.
func (rep Report) Missed() []string {
	var missed []string
	for _, r := range rep.Rows {
		if r.Pass != nil && !*r.Pass {
			missed = append(missed, r.Workload+" / "+r.Server)
		}
	}
	return missed
}
