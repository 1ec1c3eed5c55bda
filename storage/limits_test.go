package storage_test

import (
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/storage"
)

// TestMaxValueSize checks the size rule against the largest values memcached
// 1.6.18 stores (found by bisecting set against the Debian binary).
func TestMaxValueSize(t *testing.T) {
	tests := []struct {
		itemSize int
		noCAS    bool
		keyLen   int
		flags    uint32
		want     int
	}{
		{1 << 20, false, 1, 0, 1048516},
		{1 << 20, false, 1, 1, 1048512},
		{1 << 20, false, 1, 1<<32 - 1, 1048512},
		{1 << 20, false, 10, 0, 1048507},
		{1 << 20, false, 250, 0, 1048267},
		{1 << 20, true, 1, 0, 1048524},    // -C
		{1 << 20, true, 250, 0, 1048275},  // -C
		{2 << 20, false, 1, 0, 2097092},   // -I 2m
		{2 << 20, false, 250, 0, 2096843}, // -I 2m
	}
	for _, tc := range tests {
		c := newClock()
		opts := testOptions(c)
		opts.MaxItemSize, opts.NoCAS = tc.itemSize, tc.noCAS
		s, _ := openStore(t, opts)
		if got := s.MaxValueSize(tc.keyLen, tc.flags); got != tc.want {
			t.Errorf("-I %d, -C %v: MaxValueSize(%d, %d) = %d, want %d", tc.itemSize, tc.noCAS, tc.keyLen, tc.flags, got, tc.want)
		}
		key := strings.Repeat("k", tc.keyLen)
		v := make([]byte, tc.want+1)
		wantErr(t, "Set one byte past the limit", s.Set(storage.Item{Key: key, Value: v, Flags: tc.flags}), storage.ErrTooLarge)
		mustSet(t, s, storage.Item{Key: key, Value: v[:tc.want], Flags: tc.flags})
	}
}
