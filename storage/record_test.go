package storage

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var recordCmp = cmp.Options{cmp.AllowUnexported(record{}), cmpopts.EquateEmpty()}

func TestRecordRoundTrip(t *testing.T) {
	records := []record{
		{},
		{flags: 1, expires: 2, cas: 3, updated: 4, value: []byte("value")},
		{flags: math.MaxUint32, expires: math.MaxInt64, cas: math.MaxUint64, updated: math.MaxInt64, value: []byte{0, '\r', '\n', 255}},
		{expires: -1, updated: math.MinInt64, value: bytes.Repeat([]byte("x"), 1<<12)},
	}
	for _, r := range records {
		enc := appendRecord(nil, r)
		if len(enc) != recordHeaderSize+len(r.value) {
			t.Errorf("appendRecord(%+v): %d bytes, want %d", r, len(enc), recordHeaderSize+len(r.value))
		}
		got, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("decodeRecord(appendRecord(%+v)): %v", r, err)
		}
		if diff := cmp.Diff(r, got, recordCmp); diff != "" {
			t.Errorf("round trip mismatch (-want +got):\n%s", diff)
		}
		// appendRecord appends: a prefix in dst is kept.
		if enc2 := appendRecord([]byte("prefix"), r); !bytes.Equal(enc2, append([]byte("prefix"), enc...)) {
			t.Errorf("appendRecord with a prefix = %q, want %q", enc2, append([]byte("prefix"), enc...))
		}
	}
}

func TestRecordLayout(t *testing.T) {
	got := appendRecord(nil, record{flags: 0x01020304, expires: 0x05, cas: 0x06, updated: 0x07, value: []byte("v")})
	want := []byte{
		recordVersion,
		1, 2, 3, 4, // flags
		0, 0, 0, 0, 0, 0, 0, 5, // expires
		0, 0, 0, 0, 0, 0, 0, 6, // cas
		0, 0, 0, 0, 0, 0, 0, 7, // updated
		'v',
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("appendRecord =\n%v\nwant\n%v", got, want)
	}
}

func TestDecodeRecordCorrupt(t *testing.T) {
	valid := appendRecord(nil, record{value: []byte("v")})
	bad := map[string][]byte{
		"nil":            nil,
		"short header":   valid[:recordHeaderSize-1],
		"version 0":      append([]byte{0}, valid[1:]...),
		"version 2":      append([]byte{recordVersion + 1}, valid[1:]...),
		"only version":   {recordVersion},
		"header of 0xff": bytes.Repeat([]byte{0xff}, recordHeaderSize),
	}
	for name, b := range bad {
		if r, err := decodeRecord(b); !errors.Is(err, errCorrupt) {
			t.Errorf("decodeRecord(%s) = %+v, %v; want errCorrupt", name, r, err)
		}
	}
	if _, err := decodeRecord(valid[:recordHeaderSize]); err != nil {
		t.Errorf("decodeRecord of a header with an empty value: %v", err)
	}
}

func TestUnixNano(t *testing.T) {
	tests := []struct {
		in        time.Time
		want      int64
		roundTrip bool // fromUnixNano(want) is the same instant as in
	}{
		{time.Time{}, 0, true},
		{time.Unix(0, 0), -1, false}, // the epoch is a past instant, not "never"
		{time.Unix(0, 1), 1, true},
		{time.Unix(1700000000, 5), 1700000000_000000005, true},
		{time.Unix(-1, 0), -1_000000000, true},
		{time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), math.MaxInt64, false}, // clamped
		{time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), math.MinInt64, false},
	}
	for _, tc := range tests {
		got := unixNano(tc.in)
		if got != tc.want {
			t.Errorf("unixNano(%v) = %d, want %d", tc.in, got, tc.want)
		}
		if back := fromUnixNano(got); tc.roundTrip && !back.Equal(tc.in) {
			t.Errorf("fromUnixNano(unixNano(%v)) = %v", tc.in, back)
		}
	}
}

// FuzzRecord checks the record codec both ways: a record built from the
// fuzzed fields survives a round trip, and decodeRecord on arbitrary bytes
// never panics and either fails or decodes what re-encodes to the same bytes.
func FuzzRecord(f *testing.F) {
	f.Add(uint32(0), int64(0), uint64(1), int64(1), []byte("v"), appendRecord(nil, record{cas: 1, value: []byte("v")}))
	f.Add(uint32(7), int64(-1), uint64(math.MaxUint64), int64(5), []byte{}, []byte{recordVersion})
	f.Add(uint32(3<<29), int64(9), uint64(2), int64(5), []byte("x"), appendRecord(nil, record{cas: 2, state: StateStale | StateWon, value: []byte("x")}))
	f.Add(uint32(0), int64(0), uint64(1), int64(1), []byte{}, append(append([]byte{recordVersionState}, appendRecord(nil, record{cas: 1})[1:]...), 0)) // state 0 in a version 2 record: corrupt
	f.Fuzz(func(t *testing.T, flags uint32, expires int64, cas uint64, updated int64, value, raw []byte) {
		// The meta state rides on the flags' top bits, so that the
		// corpus keeps its shape.
		r := record{flags: flags, expires: expires, cas: cas, updated: updated, state: State(flags>>29) & stateMask, value: value}
		enc := appendRecord(nil, r)
		got, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("decodeRecord(appendRecord(%+v)): %v", r, err)
		}
		if diff := cmp.Diff(r, got, recordCmp); diff != "" {
			t.Fatalf("round trip mismatch (-want +got):\n%s", diff)
		}

		d, err := decodeRecord(raw)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeRecord(%q): error %v, want errCorrupt", raw, err)
			}
			return
		}
		if again := appendRecord(nil, d); !bytes.Equal(again, raw) {
			t.Fatalf("decodeRecord(%q) re-encodes to %q", raw, again)
		}
	})
}
