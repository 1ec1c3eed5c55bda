package server

import (
	"strconv"

	"github.com/memcached-lite/memcached-lite/storage"
)

// lruCrawler answers "lru_crawler metadump all|hash|<classes>", memcached's
// listing of every live item, one line per item then END:
//
//	key=k exp=-1 la=1700000000 cas=7 fetch=no cls=1 size=66
//
// The keys are URL-encoded as memcached's uriencode does, and the lines end
// in "\n" alone, as memcached's. The listing is read from the file a chunk
// at a time (storage.Store.Scan), each chunk in its own short read
// transaction, so it never holds the key set in memory nor makes writers
// wait; the items are in key order (memcached's follow its LRUs).
//
// Synthetic fields: la is the item's last write, not its last read;
// fetch is always no; cls is always 1. size is memcached's item size for
// the key, value and flags (storage.MemcachedItemSize).
//
// Other lru_crawler subcommands are not implemented and get ERROR.
func (c *conn) lruCrawler(cmd *command) {
	if len(cmd.args) != 2 || string(cmd.args[0]) != "metadump" || !metadumpArg(cmd.args[1]) {
		c.write(replyError)
		return
	}
	noCAS := c.s.opts.DisableCAS
	var b []byte
	var after string
	for {
		b = b[:0]
		last, done, err := c.s.st.Scan(after, 0, false, func(e *storage.Entry) bool {
			if e.Dead == nil {
				b = appendMetadump(b, e, noCAS)
			}
			return true
		})
		if err != nil {
			c.s.opts.Logger.Error("lru_crawler metadump", "err", err)
			c.write(errorReplyLine(err))
			return
		}
		c.bw.Write(b)
		if c.werr != nil {
			return
		}
		if done || last == "" {
			break
		}
		after = last
	}
	c.write(replyEnd)
}

// metadumpArg reports whether a is a class list metadump takes: all, hash,
// or classes by number; memcached-lite's one class is 1.
func metadumpArg(a []byte) bool {
	s := string(a)
	if s == "all" || s == "hash" {
		return true
	}
	for _, f := range splitComma(s) {
		if n, err := strconv.Atoi(f); err != nil || n < 1 || n > 63 {
			return false
		}
	}
	return s != ""
}

func splitComma(s string) []string {
	var out []string
	for s != "" {
		i := 0
		for i < len(s) && s[i] != ',' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}

// appendMetadump appends e's metadump line.
func appendMetadump(b []byte, e *storage.Entry, noCAS bool) []byte {
	b = append(b, "key="...)
	b = uriEncode(b, []byte(e.Key))
	b = append(b, " exp="...)
	if e.Expires.IsZero() {
		b = append(b, "-1"...)
	} else {
		b = strconv.AppendInt(b, e.Expires.Unix(), 10)
	}
	b = append(b, " la="...)
	b = strconv.AppendInt(b, e.Updated.Unix(), 10)
	b = append(b, " cas="...)
	cas := e.CAS
	if noCAS {
		cas = 0
	}
	b = strconv.AppendUint(b, cas, 10)
	b = append(b, " fetch=no cls=1 size="...)
	b = strconv.AppendInt(b, int64(e.ItemSize(noCAS)), 10)
	return append(b, '\n')
}

// missIf returns storage.ErrNotFound when miss, else nil.
func missIf(miss bool) error {
	if miss {
		return storage.ErrNotFound
	}
	return nil
}
