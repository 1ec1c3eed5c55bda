package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// after is what each reply test puts behind the reply: the checker must
// leave it unread.
const after = "NEXT\r\n"

func TestCheckGetReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reply   string
		wantHit bool
		wantErr bool
	}{
		{name: "miss", reply: "END\r\n"},
		{name: "hit", reply: "VALUE k 0 2\r\nhi\r\nEND\r\n", wantHit: true},
		{name: "hit with flags and cas", reply: "VALUE k 4294967295 5 99\r\nhello\r\nEND\r\n", wantHit: true},
		{name: "empty value", reply: "VALUE k 0 0\r\n\r\nEND\r\n", wantHit: true},
		{name: "value holding CRLF", reply: "VALUE k 0 4\r\n\r\n\r\n\r\nEND\r\n", wantHit: true},
		{name: "other key", reply: "VALUE x 0 2\r\nhi\r\nEND\r\n", wantErr: true},
		{name: "key with our key as prefix", reply: "VALUE kk 0 2\r\nhi\r\nEND\r\n", wantErr: true},
		{name: "data longer than announced", reply: "VALUE k 0 2\r\nhiX\r\nEND\r\n", wantErr: true},
		{name: "no END", reply: "VALUE k 0 2\r\nhi\r\n", wantErr: true},
		{name: "two values", reply: "VALUE k 0 2\r\nhi\r\nVALUE k 0 2\r\nhi\r\nEND\r\n", wantErr: true},
		{name: "ERROR", reply: "ERROR\r\n", wantErr: true},
		{name: "SERVER_ERROR", reply: "SERVER_ERROR out of memory\r\n", wantErr: true},
		{name: "bare LF", reply: "END\n", wantErr: true},
		{name: "length not a number", reply: "VALUE k 0 abc\r\n", wantErr: true},
		{name: "negative length", reply: "VALUE k 0 -2\r\nhi\r\nEND\r\n", wantErr: true},
		{name: "length too large", reply: "VALUE k 0 99999999999\r\n", wantErr: true},
		{name: "no length", reply: "VALUE k 0\r\n", wantErr: true},
		{name: "bad cas", reply: "VALUE k 0 2 x\r\nhi\r\nEND\r\n", wantErr: true},
		{name: "cut short", reply: "VALUE k 0 2\r\nh", wantErr: true},
		{name: "nothing", reply: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.reply
			if !tc.wantErr {
				in += after
			}
			br := bufio.NewReader(strings.NewReader(in))
			hit, err := checkGetReply(br, []byte("k"))
			if (err != nil) != tc.wantErr || hit != tc.wantHit {
				t.Fatalf("get k, reply %q: hit=%v err=%v; want hit=%v error=%v", tc.reply, hit, err, tc.wantHit, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if rest, _ := io.ReadAll(br); string(rest) != after {
				t.Errorf("get k, reply %q: left %q unread, want %q", tc.reply, rest, after)
			}
		})
	}
}

func TestCheckSetReply(t *testing.T) {
	for _, tc := range []struct {
		reply   string
		wantErr bool
	}{
		{"STORED\r\n", false},
		{"NOT_STORED\r\n", true},
		{"EXISTS\r\n", true},
		{"SERVER_ERROR object too large for cache\r\n", true},
		{"CLIENT_ERROR bad data chunk\r\n", true},
		{"STORED\n", true},
		{"STORED\r", true},
		{"", true},
	} {
		br := bufio.NewReader(strings.NewReader(tc.reply + after))
		err := checkSetReply(br, []byte("k"))
		if (err != nil) != tc.wantErr {
			t.Errorf("set k, reply %q: err=%v, want error=%v", tc.reply, err, tc.wantErr)
		}
	}
}

func TestReplyErrorNamesRequest(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("NOT_STORED\r\n"))
	err := checkSetReply(br, []byte("user:1"))
	var re *replyError
	if !errors.As(err, &re) {
		t.Fatalf("set reply NOT_STORED: err %v (%T), want a *replyError", err, err)
	}
	if re.req != "set user:1" || re.got != `"NOT_STORED\r\n"` {
		t.Errorf("set reply NOT_STORED: req %q got %q, want %q and %q", re.req, re.got, "set user:1", `"NOT_STORED\r\n"`)
	}
	br = bufio.NewReader(strings.NewReader(""))
	if _, err := checkGetReply(br, []byte("k")); !errors.Is(err, io.EOF) {
		t.Errorf("get with no reply: err %v, want it to wrap io.EOF", err)
	}
}

func TestCheckRepliesDoNotAllocate(t *testing.T) {
	replies := []byte("VALUE bench:42 0 5\r\nhello\r\nEND\r\nEND\r\nSTORED\r\n")
	key := []byte("bench:42")
	rd := bytes.NewReader(replies)
	br := bufio.NewReader(rd)
	n := testing.AllocsPerRun(1000, func() {
		rd.Reset(replies)
		br.Reset(rd)
		if hit, err := checkGetReply(br, key); !hit || err != nil {
			t.Fatalf("hit: %v %v", hit, err)
		}
		if hit, err := checkGetReply(br, key); hit || err != nil {
			t.Fatalf("miss: %v %v", hit, err)
		}
		if err := checkSetReply(br, key); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("checking a hit, a miss and a set allocates %v times, want 0", n)
	}
}
