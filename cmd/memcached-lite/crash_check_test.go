package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashModel is the data the server must hold, as last checked.
type crashModel struct {
	ctr  [crashCounters]uint64
	logs [crashLogs]string
	regs [crashRegs]crashItem
	cas  [crashCASKeys]uint64
}

// crashItem is a key's state as a get shows it.
type crashItem struct {
	present bool
	val     string
	flags   uint32
}

func (it crashItem) String() string {
	if !it.present {
		return "absent"
	}
	return fmt.Sprintf("%.40q (flags %d)", it.val, it.flags)
}

// crashTally counts what TestCrash checked.
type crashTally struct {
	cycles          int
	checked, lost   int // acknowledged writes
	flying, applied int // writes without a reply, and those the server had applied
}

// create writes the keys that are only ever updated.
func (m *crashModel) create(w *wire) {
	w.t.Helper()
	for k := range crashCounters {
		w.expect(fmt.Sprintf("set ctr:%d 0 0 1\r\n0\r\n", k), "STORED\r\n")
	}
	for k := range crashLogs {
		w.expect(fmt.Sprintf("set log:%d 0 0 0\r\n\r\n", k), "STORED\r\n")
	}
	for k := range crashCASKeys {
		w.expect(fmt.Sprintf("set cas:%d 0 0 1\r\n0\r\n", k), "STORED\r\n")
	}
}

// check reads every key after a restart, checks it against the model and
// the writes of the cycle, and makes what it read the model.
func (m *crashModel) check(t *testing.T, w *wire, ops []crashOp, tally *crashTally) {
	t.Helper()
	byKind := make(map[crashKind][][]crashOp)
	for _, n := range []struct {
		k crashKind
		n int
	}{{crashIncr, crashCounters}, {crashAppend, crashLogs}, {crashSet, crashRegs}, {crashCAS, crashCASKeys}} {
		byKind[n.k] = make([][]crashOp, n.n)
	}
	for _, op := range ops {
		kind := op.kind
		if kind == crashDelete {
			kind = crashSet // a delete is a write of "absent"
		}
		byKind[kind][op.key] = append(byKind[kind][op.key], op)
		if !op.acked {
			tally.flying++
		} else if op.kind != crashCAS || op.stored {
			tally.checked++
		}
	}
	items := 0
	for k := range crashCounters {
		key := fmt.Sprintf("ctr:%d", k)
		m.ctr[k] = checkCounter(t, key, w.item(key), m.ctr[k], byKind[crashIncr][k], tally)
		items++
	}
	for k := range crashCASKeys {
		key := fmt.Sprintf("cas:%d", k)
		m.cas[k] = checkCounter(t, key, w.item(key), m.cas[k], byKind[crashCAS][k], tally)
		items++
	}
	for k := range crashLogs {
		key := fmt.Sprintf("log:%d", k)
		m.logs[k] = checkLog(t, key, w.item(key), m.logs[k], byKind[crashAppend][k], tally)
		items++
		if len(m.logs[k]) > crashLogLimit {
			w.expect("set "+key+" 0 0 0\r\n\r\n", "STORED\r\n")
			m.logs[k] = ""
		}
	}
	for k := range crashRegs {
		key := fmt.Sprintf("reg:%d", k)
		m.regs[k] = checkRegister(t, key, w.item(key), m.regs[k], byKind[crashSet][k], tally)
		if m.regs[k].present {
			items++
		}
	}
	// The item count is kept in the file with the items: it must agree.
	if got := w.stats("")["curr_items"]; got != strconv.Itoa(items) {
		t.Errorf("stats curr_items = %s after the restart, want %d", got, items)
	}
}

// checkCounter checks a key only incremented by 1 (incr, or a successful
// cas of n to n+1) from base: every acknowledged increment is counted, at
// most those in flight are added, and each reply is a distinct value.
func checkCounter(t *testing.T, key string, got crashItem, base uint64, ops []crashOp, tally *crashTally) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(got.val, 10, 64)
	if !got.present || got.flags != 0 || err != nil {
		t.Errorf("%s = %v, want a number with flags 0", key, got)
		tally.lost++
		return base
	}
	var acked, flying uint64
	seen := make(map[uint64]bool)
	for _, op := range ops {
		switch {
		case !op.acked:
			flying++
		case op.kind == crashCAS && !op.stored: // EXISTS: no write
		default:
			acked++
			if op.noreply {
				continue // no reply, no value to check
			}
			if seen[op.num] || op.num <= base || op.num > v {
				t.Errorf("%s: an acknowledged increment gave %d: want each in (%d, %d] once", key, op.num, base, v)
			}
			seen[op.num] = true
		}
	}
	switch lo := base + acked; {
	case v < lo:
		t.Errorf("%s = %d, want at least %d (%d before + %d acknowledged increments)", key, v, lo, base, acked)
		tally.lost += int(lo - v)
	case v > lo+flying:
		t.Errorf("%s = %d, want at most %d (%d before + %d acknowledged + %d in flight)", key, v, lo+flying, base, acked, flying)
	default:
		tally.applied += int(v - lo)
	}
	return v
}

// checkLog checks a key only appended to with unique tokens: the log from
// before the cycle, then whole tokens sent in this cycle, each at most once,
// each connection's in the order it sent them, every acknowledged one there.
func checkLog(t *testing.T, key string, got crashItem, base string, ops []crashOp, tally *crashTally) string {
	t.Helper()
	if !got.present || got.flags != 0 || !strings.HasPrefix(got.val, base) || (len(got.val)-len(base))%crashTokenLen != 0 {
		t.Errorf("%s = %v, want the %d bytes from before the restart and then whole %d-byte tokens", key, got, len(base), crashTokenLen)
		tally.lost += len(ops)
		return got.val
	}
	sent := make(map[string]*crashOp, len(ops))
	for i := range ops {
		sent[ops[i].val] = &ops[i]
	}
	found := make(map[string]bool)
	last := make(map[int]int) // connection -> seq of its last token
	for rest := got.val[len(base):]; rest != ""; rest = rest[crashTokenLen:] {
		tok := rest[:crashTokenLen]
		op := sent[tok]
		switch {
		case op == nil:
			t.Errorf("%s holds %q, which was never appended (a torn or foreign write)", key, tok)
		case found[tok]:
			t.Errorf("%s holds %q twice", key, tok)
		case op.seq <= last[op.worker]:
			t.Errorf("%s holds %q after a later token of the same connection", key, tok)
		default:
			last[op.worker] = op.seq
			if !op.acked {
				tally.applied++
			}
		}
		found[tok] = true
	}
	for _, op := range ops {
		if op.acked && !found[op.val] {
			t.Errorf("%s lacks the acknowledged token %q", key, op.val)
			tally.lost++
		}
	}
	return got.val
}

// checkRegister checks a key that is set and deleted: what it holds must be
// what some write left (or what it held before the cycle, if no write was
// acknowledged), and not what a write superseded by an acknowledged one
// left: by one that began after it was acknowledged, or one that came after
// it on the same connection.
func checkRegister(t *testing.T, key string, got, base crashItem, ops []crashOp, tally *crashTally) crashItem {
	t.Helper()
	var lastStart time.Time // of the acknowledged writes
	for _, op := range ops {
		if op.acked && op.start.After(lastStart) {
			lastStart = op.start
		}
	}
	if lastStart.IsZero() && got == base {
		return got // nothing acknowledged, and no write in flight applied
	}
	lastSeq := make(map[int]int) // connection -> its last acknowledged write
	for _, op := range ops {
		if op.acked {
			lastSeq[op.worker] = max(lastSeq[op.worker], op.seq)
		}
	}
	for _, op := range ops {
		if op.acked && lastStart.After(op.end) || op.seq < lastSeq[op.worker] {
			continue // superseded by a write that began after it was acknowledged, or came after it on its connection
		}
		want := crashItem{}
		if op.kind == crashSet {
			want = crashItem{present: true, val: op.val, flags: op.flags}
		}
		if got == want {
			if !op.acked {
				tally.applied++
			}
			return got
		}
	}
	t.Errorf("%s = %v: no write that can be the last one left that (%d writes in the cycle; before it %v)", key, got, len(ops), base)
	tally.lost++
	return got
}

// item reads key with get.
func (w *wire) item(key string) crashItem {
	w.t.Helper()
	w.send("get " + key + "\r\n")
	line := w.line()
	if line == "END\r\n" {
		return crashItem{}
	}
	var flags uint32
	var n int
	if _, err := fmt.Sscanf(line, "VALUE "+key+" %d %d\r\n", &flags, &n); err != nil {
		w.t.Fatalf("get %s: got %q", key, line)
	}
	data := make([]byte, n+len("\r\nEND\r\n"))
	if _, err := io.ReadFull(w.r, data); err != nil || string(data[n:]) != "\r\nEND\r\n" {
		w.t.Fatalf("get %s: got %q%q, %v", key, line, data, err)
	}
	return crashItem{present: true, val: string(data[:n]), flags: flags}
}

// bboltCheck runs bbolt check on a data file no process has open.
func bboltCheck(t testing.TB, bbolt, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), crashBboltTime)
	defer cancel()
	out, err := exec.CommandContext(ctx, bbolt, "check", path).CombinedOutput()
	if err != nil || string(out) != "OK\n" {
		t.Errorf("bbolt check %s: %v\n%s", path, err, out)
	}
}
