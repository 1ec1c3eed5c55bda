package client

import (
	"crypto/md5"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
)

// Ketama, as twemproxy 0.5 builds it (src/hashkit/nc_ketama.c ketama_update,
// ketama_dispatch; src/nc_conf.c conf_add_server) and libmemcached's weighted
// ketama before it:
//
//   - A server's name is the optional name of its "host:port:weight name"
//     line; without one, the host as written when the port is 11211 (for
//     compatibility with libmemcached), else "host:port". The weight is never
//     part of the name.
//   - A server of weight w out of a total W among n servers gets
//     floorf(w/W * 160/4 * n + 0.0000000001) * 4 points, computed in float32
//     as C does (160 for every server when the weights are equal).
//   - Point group i (0-based) is the md5 digest of "name-i"; each digest gives
//     4 points, its bytes 0-3, 4-7, 8-11 and 12-15 read little-endian.
//   - A key hashes to the first 4 bytes of md5(key), little-endian, and goes to
//     the first point >= that hash on the sorted ring, wrapping to the first.
const (
	ketamaPointsPerServer = 160
	ketamaPointsPerHash   = 4
	ketamaDefaultPort     = "11211"
)

// ketama is an immutable ring of points; safe for concurrent reads.
type ketama struct {
	points []ketamaPoint // sorted by value
}

type ketamaPoint struct {
	value  uint32
	server int // index into the server list
}

// ketamaName returns the name twemproxy hashes for a server: name if set,
// else host, plus ":port" unless the port is 11211.
func ketamaName(name, host, port string) string {
	switch {
	case name != "":
		return name
	case port == ketamaDefaultPort:
		return host
	}
	return host + ":" + port
}

// newKetama builds the ring for servers with the given names and weights
// (each >= 1). Equal point values keep server order, as a stable sort does;
// twemproxy's qsort leaves such ties unspecified.
func newKetama(names []string, weights []int) ketama {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := len(names)
	var k ketama
	for i, name := range names {
		count := ketamaPoints(weights[i], total, n)
		for g := 0; g < count/ketamaPointsPerHash; g++ {
			d := md5.Sum([]byte(name + "-" + strconv.Itoa(g)))
			for x := 0; x < ketamaPointsPerHash; x++ {
				v := binary.LittleEndian.Uint32(d[4*x:])
				k.points = append(k.points, ketamaPoint{value: v, server: i})
			}
		}
	}
	slices.SortStableFunc(k.points, func(a, b ketamaPoint) int {
		switch {
		case a.value < b.value:
			return -1
		case a.value > b.value:
			return 1
		}
		return 0
	})
	return k
}

// ketamaPoints is twemproxy's point count for a server of weight w out of
// total among n servers, in C's float32 arithmetic:
//
//	pct = (float)w / (float)total;
//	floorf((float)(pct * 160 / 4 * (float)n + 0.0000000001)) * 4
//
// The multiplications are float32; the addition of the double constant is
// done in float64 and rounded back to float32 before the floor.
func ketamaPoints(w, total, n int) int {
	pct := float32(w) / float32(total)
	x := pct * ketamaPointsPerServer / ketamaPointsPerHash * float32(n)
	f := float32(float64(x) + 0.0000000001)
	return int(math.Floor(float64(f))) * ketamaPointsPerHash
}

// pick returns the index of the server that owns key.
func (k ketama) pick(key string) int {
	h := ketamaHash(key)
	i, _ := slices.BinarySearchFunc(k.points, h, func(p ketamaPoint, h uint32) int {
		switch {
		case p.value < h:
			return -1
		case p.value > h:
			return 1
		}
		return 0
	})
	if i == len(k.points) {
		i = 0
	}
	return k.points[i].server
}

// ketamaHash is twemproxy's hash_md5: md5(key)[0:4] read little-endian.
func ketamaHash(key string) uint32 {
	d := md5.Sum([]byte(key))
	return binary.LittleEndian.Uint32(d[:4])
}
