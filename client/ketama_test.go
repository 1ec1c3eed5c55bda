package client_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/memcached-lite/memcached-lite/client"
	"github.com/memcached-lite/memcached-lite/server/servertest"
)

// TestKetamaMatchesTwemproxy stores keys through a real twemproxy
// (nutcracker, hash md5, distribution ketama) in front of three memcached
// servers, asks each memcached which keys it holds, and requires the Client
// to place every key on the same server.
func TestKetamaMatchesTwemproxy(t *testing.T) {
	servertest.Tool(t, "nutcracker") // skip, if it is missing, before starting the backends
	backends := []string{servertest.StartMemcached(t).Addr, servertest.StartMemcached(t).Addr, servertest.StartMemcached(t).Addr}

	for _, tc := range []struct {
		name    string
		weights []int
		names   []string // twemproxy's optional server names
		addrs   []string // what the Client is given; nil means backends
	}{
		{name: "equal weights", weights: []int{1, 1, 1}},
		{name: "weights 1 2 3", weights: []int{1, 2, 3}},
		{name: "weights 3 7 11", weights: []int{3, 7, 11}},
		{name: "weights 1 1 100", weights: []int{1, 1, 100}}, // the light servers get 4 points each
		{name: "named servers", weights: []int{1, 2, 1}, names: []string{"alpha", "beta", "gamma"}},
		{
			// twemproxy hashes "host" alone for port 11211. The Client is
			// given port 11211 addresses (it only computes placement here),
			// twemproxy the real ports named as it would name 11211 servers.
			name:    "port 11211 drops the port",
			weights: []int{1, 1, 1},
			names:   []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"},
			addrs:   []string{"127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := strings.ReplaceAll(tc.name, " ", "-") + ":"
			pool := make([]servertest.TwemproxyServer, len(backends))
			for i, b := range backends {
				pool[i] = servertest.TwemproxyServer{Addr: b, Weight: tc.weights[i]}
				if tc.names != nil {
					pool[i].Name = tc.names[i]
				}
			}
			proxy := servertest.StartTwemproxy(t, pool...).Addr
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("%skey-%d", prefix, i)
			}
			through := client.New(proxy)
			defer through.Close()
			for _, k := range keys {
				if err := through.Set(&client.Item{Key: k, Value: []byte("v")}); err != nil {
					t.Fatalf("Set %q through nutcracker: %v", k, err)
				}
			}

			// Where did twemproxy put each key?
			actual := map[string]int{}
			for i, b := range backends {
				direct := client.New(b)
				items, err := direct.GetMulti(keys)
				direct.Close()
				if err != nil {
					t.Fatalf("GetMulti from %s: %v", b, err)
				}
				for k := range items {
					if j, dup := actual[k]; dup {
						t.Fatalf("%q is on servers %d and %d", k, j, i)
					}
					actual[k] = i
				}
			}
			if len(actual) != len(keys) {
				t.Fatalf("found %d of %d keys on the servers", len(actual), len(keys))
			}

			addrs := tc.addrs
			if addrs == nil {
				addrs = backends
			}
			servers := make([]client.Server, len(addrs))
			index := map[string]int{}
			for i, a := range addrs {
				servers[i] = client.Server{Addr: a, Weight: tc.weights[i]}
				if tc.names != nil && tc.addrs == nil {
					servers[i].Name = tc.names[i]
				}
				index[a] = i
			}
			ring, err := client.NewWithOptions(client.Options{}, servers...)
			if err != nil {
				t.Fatal(err)
			}
			defer ring.Close()
			counts := make([]int, len(servers))
			mismatches := 0
			for _, k := range keys {
				owner, err := ring.ServerFor(k)
				if err != nil {
					t.Fatal(err)
				}
				counts[actual[k]]++
				if index[owner] != actual[k] {
					if mismatches++; mismatches <= 5 {
						t.Errorf("%q: Client picks server %d, twemproxy put it on %d", k, index[owner], actual[k])
					}
				}
			}
			t.Logf("keys per server %v, %d mismatches of %d", counts, mismatches, len(keys))
			if mismatches > 0 {
				t.Fatalf("%d of %d keys placed differently from twemproxy", mismatches, len(keys))
			}
		})
	}
}

// placement returns the server address the Client picks for each key.
func placement(t *testing.T, addrs []string, keys []string) map[string]string {
	t.Helper()
	c := client.New(addrs...)
	defer c.Close()
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		owner, err := c.ServerFor(k)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = owner
	}
	return m
}

// TestKetamaAddRemove checks consistent hashing: a fifth server takes about a
// fifth of the keys, all from the others and none moved between them, and
// removing a server moves only its own keys.
func TestKetamaAddRemove(t *testing.T) {
	addrs := []string{"127.0.0.1:21001", "127.0.0.1:21002", "127.0.0.1:21003", "127.0.0.1:21004", "127.0.0.1:21005"}
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d", i)
	}
	four := placement(t, addrs[:4], keys)
	five := placement(t, addrs, keys)
	moved := 0
	for _, k := range keys {
		if four[k] != five[k] {
			moved++
			if five[k] != addrs[4] {
				t.Fatalf("%q moved from %s to %s, not to the new server", k, four[k], five[k])
			}
		}
	}
	if pct := float64(moved) / float64(len(keys)) * 100; pct < 12 || pct > 28 {
		t.Errorf("adding a 5th server moved %.1f%% of keys, want 12%%-28%% (about 20%%)", pct)
	} else {
		t.Logf("adding a 5th server moved %.1f%% of %d keys", pct, len(keys))
	}

	without := []string{addrs[0], addrs[1], addrs[3]} // drop addrs[2]
	three := placement(t, without, keys)
	onRemoved := 0
	for _, k := range keys {
		switch {
		case four[k] == addrs[2]:
			onRemoved++
		case three[k] != four[k]:
			t.Fatalf("%q moved from %s to %s though its server stayed", k, four[k], three[k])
		}
	}
	if onRemoved < len(keys)/8 || onRemoved > len(keys)*3/8 {
		t.Errorf("removed server held %d of %d keys, want about a quarter", onRemoved, len(keys))
	}
}
