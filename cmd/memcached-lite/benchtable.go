package main

import (
	"encoding/json"
	"fmt"
	"io"
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

// suiteGroupOrder is the order of the groups in the table.
func suiteGroupOrder() []string {
	return []string{groupGetHit, groupSetDurable, groupSetNone, groupMix, groupMemaslap,
		groupLargeSetDur, groupLargeSetNone, groupLargeGet, groupLoad, groupColdGet, groupGet1M,
		groupRSSLoad, groupRSSGet, groupStartup}
}

// sortSuiteRows orders rows by group, keeping the order of rows within a group.
func sortSuiteRows(rows []suiteRow) {
	order := suiteGroupOrder()
	slices.SortStableFunc(rows, func(a, b suiteRow) int {
		return slices.Index(order, a.Group) - slices.Index(order, b.Group)
	})
}

// Server names in the table.
const (
	srvLiteAlways = "memcached-lite sync=always"
	srvLiteNone   = "memcached-lite sync=none"
	srvMemcached  = "memcached"
	srvRedis      = "redis appendfsync=always"
)

// A suiteRow is one figure of the suite's table: the median of its runs.
type suiteRow struct {
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

// suiteAnchor names the row each group's ratios are to.
func suiteAnchor(group string) (anchorGroup, server string) {
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

// A suiteTarget is a goal the project set, checked against one row.
type suiteTarget struct {
	group, server string
	text          string
	ok            func(r suiteRow) bool
}

func suiteTargets() []suiteTarget {
	ratioAtLeast := func(min float64) func(suiteRow) bool {
		return func(r suiteRow) bool { return r.Ratio >= min }
	}
	atMost96MiB := func(r suiteRow) bool { return r.Value <= 96 }
	return []suiteTarget{
		{groupGetHit, srvLiteAlways, ">= 1.0x memcached", ratioAtLeast(1.0)},
		{groupSetDurable, srvLiteAlways, ">= 1.5x redis", ratioAtLeast(1.5)},
		{groupSetNone, srvLiteNone, ">= 0.9x memcached", ratioAtLeast(0.9)},
		{groupColdGet, srvLiteAlways, ">= 0.5x hot GET", ratioAtLeast(0.5)},
		{groupRSSLoad, srvLiteNone + " -m 64", "<= 96 MiB", atMost96MiB},
		{groupRSSGet, srvLiteAlways + " -m 64", "<= 96 MiB", atMost96MiB},
		{groupStartup, srvLiteAlways + " -m 64", "< 1 s", func(r suiteRow) bool { return r.Value < 1000 }},
	}
}

// finish computes ratios to the anchors and checks the targets. A target
// fails if its row has no figure or any error.
func finishSuiteRows(rows []suiteRow) {
	find := func(group, server string) *suiteRow {
		for i := range rows {
			if rows[i].Group == group && rows[i].Server == server {
				return &rows[i]
			}
		}
		return nil
	}
	for i := range rows {
		r := &rows[i]
		ag, as := suiteAnchor(r.Group)
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
	for _, t := range suiteTargets() {
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
func (r *suiteRow) cells() []string {
	dash := func(us float64) string {
		if us == 0 {
			return "-"
		}
		return loadgen.FormatMicros(us)
	}
	value := "-"
	if r.Value > 0 {
		value = fmtSuiteValue(r.Value, r.Unit)
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
	if r.Tool != "bench" && r.Tool != "proc" {
		server += " [" + r.Tool + "]"
	}
	if r.Note != "" {
		server += " (" + r.Note + ")"
	}
	return []string{r.Workload, server, value, dash(r.P50US), dash(r.P99US), dash(r.P999US),
		hits, strconv.FormatUint(r.Errors, 10), ratio, r.Target, result}
}

// suiteTableHeader returns the names of the table's columns.
func suiteTableHeader() []string {
	return []string{"workload", "server", "median", "p50", "p99", "p99.9", "get hits", "errors", "vs anchor", "target", "result"}
}

// fmtSuiteValue formats a figure with its unit: ops/s with thousands separators.
func fmtSuiteValue(v float64, unit string) string {
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

// suiteReport is the suite's JSON file.
type suiteReport struct {
	Header []string   `json:"header"` // what was run, on what, and how fairly
	Rows   []suiteRow `json:"rows"`
}

// writeSuiteTable prints the rows as an aligned text table, the workload named
// on the first row of its group only.
func writeSuiteTable(w io.Writer, rows []suiteRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(suiteTableHeader(), "\t")+"\t")
	last := ""
	for _, r := range rows {
		c := r.cells()
		if r.Workload == last {
			c[0] = ""
		}
		last = r.Workload
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	return tw.Flush()
}

// writeSuiteMarkdown prints the header lines and the rows as a Markdown table.
func writeSuiteMarkdown(w io.Writer, rep suiteReport) error {
	var b strings.Builder
	b.WriteString("# memcached-lite benchmark suite\n\n")
	for _, h := range rep.Header {
		b.WriteString("- " + h + "\n")
	}
	b.WriteString("\n| " + strings.Join(suiteTableHeader(), " | ") + " |\n|")
	b.WriteString(strings.Repeat(" --- |", len(suiteTableHeader())) + "\n")
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

func writeSuiteJSON(w io.Writer, rep suiteReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
