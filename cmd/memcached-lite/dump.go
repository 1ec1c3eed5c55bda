package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v2"

	"github.com/memcached-lite/memcached-lite/storage"
)

func dumpCommand() *cli.Command {
	return &cli.Command{
		Name:  "dump",
		Usage: "print every live item of a stopped server's data file",
		Description: "One line per item: key, flags, exptime (Unix seconds, 0 never), cas, size and\n" +
			"the value, quoted as a Go string. --json writes one JSON object a line instead,\n" +
			"--raw the record bytes in hex, field by field. Opens the file read-only and never\n" +
			"changes a byte; fails at once on a file a running server holds.",
		Flags: []cli.Flag{
			dataFlag(),
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per item"},
			&cli.BoolFlag{Name: "expired", Usage: "also the expired and flushed items the sweeper has not removed yet"},
			&cli.BoolFlag{Name: "raw", Usage: "the on-disk record of each item in hex"},
		},
		Action: runDump,
	}
}

// dumpItem is an item as --json writes it.
type dumpItem struct {
	Key         string `json:"key"`
	Flags       uint32 `json:"flags"`
	Exptime     int64  `json:"exptime"`
	CAS         uint64 `json:"cas"`
	Value       string `json:"value,omitempty"`
	ValueBase64 []byte `json:"value_base64,omitempty"` // when the value is not UTF-8
	State       string `json:"state,omitempty"`        // expired or flushed (--expired)
}

func runDump(c *cli.Context) error {
	f, err := openOffline(c)
	if err != nil {
		return err
	}
	defer f.Close()
	w := c.App.Writer
	now := time.Now()
	expired, asJSON, raw := c.Bool("expired"), c.Bool("json"), c.Bool("raw")
	enc := json.NewEncoder(w)
	var werr error
	var after string
	for {
		last, done, err := f.Scan(after, 0, true, now, func(e *storage.Entry) bool {
			if e.Dead != nil && !expired {
				return true
			}
			switch {
			case raw:
				werr = writeRaw(w, e)
			case asJSON:
				werr = enc.Encode(jsonItem(e))
			default:
				werr = writeText(w, e)
			}
			return werr == nil
		})
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
		if done || last == "" {
			return nil
		}
		after = last
	}
}

func exptime(e *storage.Entry) int64 {
	if e.Expires.IsZero() {
		return 0
	}
	return e.Expires.Unix()
}

func state(e *storage.Entry) string {
	switch e.Dead {
	case nil:
		return ""
	case storage.ErrExpired:
		return "expired"
	}
	return "flushed"
}

func jsonItem(e *storage.Entry) dumpItem {
	d := dumpItem{Key: e.Key, Flags: e.Flags, Exptime: exptime(e), CAS: e.CAS, State: state(e)}
	if utf8.Valid(e.Value) {
		d.Value = string(e.Value)
	} else {
		d.ValueBase64 = e.Value
	}
	return d
}

func writeText(w io.Writer, e *storage.Entry) error {
	b := []byte("key=")
	b = strconv.AppendQuote(b, e.Key)
	b = fmt.Appendf(b, " flags=%d exptime=%d cas=%d size=%d", e.Flags, exptime(e), e.CAS, e.Size)
	if s := state(e); s != "" {
		b = append(b, " state="...)
		b = append(b, s...)
	}
	b = append(b, " value="...)
	b = strconv.AppendQuote(b, string(e.Value))
	_, err := w.Write(append(b, '\n'))
	return err
}

// writeRaw writes the record under e.Key in hex, one field a line.
func writeRaw(w io.Writer, e *storage.Entry) error {
	b := fmt.Appendf(nil, "key %q: %d bytes\n", e.Key, len(e.Raw))
	for _, fl := range storage.RecordLayout(e.Raw[0]) {
		end := fl.Offset + fl.Len
		if fl.Len < 0 || end > len(e.Raw) {
			end = len(e.Raw)
		}
		field := e.Raw[fl.Offset:end]
		b = fmt.Appendf(b, "  %02d %-8s %s", fl.Offset, fl.Name, hex.EncodeToString(field))
		switch fl.Name {
		case "flags":
			b = fmt.Appendf(b, "  = %d", e.Flags)
		case "expires":
			b = fmt.Appendf(b, "  = %s", nanos(e.Expires))
		case "cas":
			b = fmt.Appendf(b, "  = %d", e.CAS)
		case "updated":
			b = fmt.Appendf(b, "  = %s", nanos(e.Updated))
		case "value":
			b = fmt.Appendf(b, "  = %q", field)
		}
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

func nanos(t time.Time) string {
	if t.IsZero() {
		return "0 (never)"
	}
	return strconv.FormatInt(t.UnixNano(), 10) + " ns (" + t.UTC().Format(time.RFC3339Nano) + ")"
}
