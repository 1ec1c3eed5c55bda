package storage_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/memcached-lite/memcached-lite/storage"
)

const benchKeys = 1024

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = "user:" + strconv.Itoa(i)
	}
	return keys
}

// benchGet sets benchKeys items of 100 bytes and gets them in turn.
func benchGet(b *testing.B, opts storage.Options) {
	s, _ := openStore(b, opts)
	keys := benchKeyNames()
	value := bytes.Repeat([]byte("v"), 100)
	for _, k := range keys {
		mustSet(b, s, storage.Item{Key: k, Value: value})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(keys[i%benchKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetCached(b *testing.B) {
	benchGet(b, storage.Options{Sync: storage.SyncNone})
}

func BenchmarkGetDisk(b *testing.B) {
	benchGet(b, storage.Options{Sync: storage.SyncNone, CacheBytes: 0})
}

func BenchmarkGetMiss(b *testing.B) {
	s, _ := openStore(b, storage.Options{Sync: storage.SyncNone})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Get("absent"); err == nil {
			b.Fatal("Get(absent) found an item")
		}
	}
}

// benchSet runs b.N Sets of 100-byte values spread over writers goroutines,
// and reports the rate and the mean number of writes per commit.
func benchSet(b *testing.B, mode storage.SyncMode, writers int) {
	benchSetKeys(b, storage.Options{Sync: mode}, writers, benchKeyNames())
}

// benchSetKeys is benchSet with the given options, over the given keys in turn.
func benchSetKeys(b *testing.B, opts storage.Options, writers int, keys []string) {
	s, _ := openStore(b, opts)
	value := bytes.Repeat([]byte("v"), 100)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := s.Set(storage.Item{Key: keys[i%int64(len(keys))], Value: value}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sets/s")
	b.ReportMetric(s.Stats().AvgBatch(), "sets/commit")
}

// BenchmarkSetDurable measures group commit: with SyncAlways every commit
// waits for fsync, so more concurrent writers should mean more sets per commit
// and per second.
func BenchmarkSetDurable(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			benchSet(b, storage.SyncAlways, writers)
		})
	}
}

func BenchmarkSetNoSync(b *testing.B) {
	for _, writers := range []int{1, 64} {
		b.Run("writers="+strconv.Itoa(writers), func(b *testing.B) {
			benchSet(b, storage.SyncNone, writers)
		})
	}
}

// BenchmarkSetSuite is the suite's SET workload without the network: 50
// writers over 10,000 keys of 100 bytes, durable and without fsync.
func BenchmarkSetSuite(b *testing.B) {
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:%010d", i)
	}
	// Random order, as the suite's load generator picks keys.
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), reflect.Swapper(keys))
	for _, mode := range []storage.SyncMode{storage.SyncAlways, storage.SyncNone} {
		b.Run("sync="+mode.String(), func(b *testing.B) {
			benchSetKeys(b, storage.Options{Sync: mode, CacheBytes: 1 << 30}, 50, keys)
		})
	}
}
