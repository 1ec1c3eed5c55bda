package server_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server/servertest"
	"github.com/memcached-lite/memcached-lite/storage"
)

// The tests here check that the server and the store agree on each of
// memcached's rules, each of which has one home.

// TestNumberRuleAgrees: a string is a number as an incr delta (read by the
// server) exactly when it is one as a stored value (read by the store).
func TestNumberRuleAgrees(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	c := dial(t, ts.Addr)
	for _, s := range []string{"0", "1", "+5", "-0", "-1", "007", "18446744073709551615",
		"18446744073709551616", "1a", "a1", "+", "-", "--1", "+-1", "0x10", "1.5", "99999999999999999999"} {
		_, valueOK := storage.ParseUint([]byte(s))
		delta := "CLIENT_ERROR invalid numeric delta argument\r\n"
		value := "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
		if n, ok := storage.ParseUint([]byte(s)); ok {
			delta, value = fmt.Sprintf("%d\r\n", n), fmt.Sprintf("%d\r\n", n)
		}
		roundTrip(t, c, fmt.Sprintf("set z 0 0 1\r\n0\r\nincr z %s\r\n", s), "STORED\r\n"+delta)
		roundTrip(t, c, fmt.Sprintf("set v 0 0 %d\r\n%s\r\nincr v 0\r\n", len(s), s), "STORED\r\n"+value)
		if t.Failed() {
			t.Fatalf("%q: the server and the store disagree (store: number %v)", s, valueOK)
		}
	}
}

// TestKeyRuleAgrees: the longest key the server takes is the store's.
func TestKeyRuleAgrees(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{})
	c := dial(t, ts.Addr)
	longest := strings.Repeat("k", storage.MaxKeySize)
	roundTrip(t, c, "set "+longest+" 0 0 1\r\nx\r\nset "+longest+"k 0 0 1\r\n",
		"STORED\r\nCLIENT_ERROR bad command line format\r\n")
	if err := ts.Store.Set(storage.Item{Key: longest + "k", Value: []byte("x")}); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("store Set of a %d-byte key = %v, want ErrInvalidKey", storage.MaxKeySize+1, err)
	}
}

// TestItemSizeRuleAgrees: at -I 2m the server refuses, before reading it, a
// value one byte over what the store takes, and stores the largest.
func TestItemSizeRuleAgrees(t *testing.T) {
	ts := servertest.Start(t, servertest.Options{Store: storage.Options{MaxItemSize: 2 << 20}})
	c := dial(t, ts.Addr)
	for _, flags := range []uint32{0, 9} {
		n := ts.Store.MaxValueSize(1, flags)
		if want := 2<<20 - 60 - 4*min(int(flags), 1); n != want {
			t.Fatalf("MaxValueSize(1, %d) = %d, want %d (memcached 1.6.18 at -I 2m)", flags, n, want)
		}
		v := strings.Repeat("v", n+1)
		roundTrip(t, c, fmt.Sprintf("set k %d 0 %d\r\n%s\r\nset k %d 0 %d\r\n%s\r\n", flags, n+1, v, flags, n, v[:n]),
			"SERVER_ERROR object too large for cache\r\nSTORED\r\n")
		if err := ts.Store.Set(storage.Item{Key: "k", Value: []byte(v), Flags: flags}); !errors.Is(err, storage.ErrTooLarge) {
			t.Errorf("store Set of %d bytes with flags %d = %v, want ErrTooLarge", n+1, flags, err)
		}
	}
}
