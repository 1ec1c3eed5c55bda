package server_test

import (
	"bufio"
	"io"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/server"
	"github.com/memcached-lite/memcached-lite/storage"
)

// BenchmarkGetRoundTrip is one cached get over loopback: the client writes
// the request and waits for the whole reply before the next.
func BenchmarkGetRoundTrip(b *testing.B) {
	addr, st := startServerStore(b, server.Options{}, storage.Options{Sync: storage.SyncNone})
	if err := st.Set(storage.Item{Key: "user:1234", Value: []byte(strings.Repeat("v", 100))}); err != nil {
		b.Fatal(err)
	}
	c := dial(b, addr)
	br := bufio.NewReader(c)
	req := []byte("get user:1234\r\n")
	reply := make([]byte, len("VALUE user:1234 0 100\r\n")+100+2+len("END\r\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, reply); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSetRoundTrip is one set over loopback, committed without fsync
// (the commit path, not the disk).
func BenchmarkSetRoundTrip(b *testing.B) {
	addr, _ := startServerStore(b, server.Options{}, storage.Options{Sync: storage.SyncNone})
	c := dial(b, addr)
	br := bufio.NewReader(c)
	req := []byte("set user:1234 0 0 100\r\n" + strings.Repeat("v", 100) + "\r\n")
	reply := make([]byte, len("STORED\r\n"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(br, reply); err != nil {
			b.Fatal(err)
		}
	}
}
