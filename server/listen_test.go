package server_test

import (
	"net"
	"testing"

	"github.com/memcached-lite/memcached-lite/server"
)

func TestListenNetwork(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":        "tcp4",
		"0.0.0.0":          "tcp4",
		"10.1.2.3":         "tcp4",
		"::1":              "tcp6",
		"::":               "tcp6",
		"::ffff:127.0.0.1": "tcp6",
		"fe80::1%lo":       "tcp6",
		"localhost":        "tcp",
		"example.org":      "tcp",
		"":                 "tcp",
	} {
		if got := server.Network(host); got != want {
			t.Errorf("Network(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestExposed(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": false,
		"127.0.0.2": false,
		"::1":       false,
		"0.0.0.0":   true,
		"::":        true,
		"10.0.0.1":  true,
	} {
		if got := server.Exposed(&net.TCPAddr{IP: net.ParseIP(addr), Port: 11211}); got != want {
			t.Errorf("exposed(%s) = %v, want %v", addr, got, want)
		}
	}
}
