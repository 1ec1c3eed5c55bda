package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram buckets are log-linear, as in HdrHistogram: below 2*histSub
// nanoseconds every value has its own bucket; above, each power of two is
// split into histSub equal buckets, so a bucket is at most 1/histSub (1.6%)
// wide relative to its values. Values from histMax up land in the last bucket.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histMaxBits = 40 // 2^40 ns is about 18 minutes
	histBuckets = (histMaxBits - histSubBits + 1) * histSub
	histMax     = 1<<histMaxBits - 1
)

// A Histogram counts latencies in fixed log-linear buckets: its memory is the
// same however many values it records, and recording does not allocate. The
// zero value is empty and ready to use. It is not safe for concurrent use:
// each load-generator connection keeps its own and they are merged at the end.
type Histogram struct {
	counts [histBuckets]uint64
	n      uint64
	sum    uint64 // nanoseconds
	min    uint64
	max    uint64
}

// histBucket returns the index of the bucket that holds v nanoseconds.
func histBucket(v uint64) int {
	if v > histMax {
		v = histMax
	}
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits - 1 // v>>shift is in [histSub, 2*histSub)
	return (shift+1)*histSub + int(v>>shift) - histSub
}

// histBucketRange returns the smallest value in bucket i and the bucket's width.
func histBucketRange(i int) (lo, width uint64) {
	if i < 2*histSub {
		return uint64(i), 1
	}
	shift := i/histSub - 1
	return uint64(i%histSub+histSub) << shift, 1 << shift
}

// Record adds one latency; a negative one (a clock step back) counts as 0.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[histBucket(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Quantile returns the latency below which a fraction q (0..1) of the
// recorded values fall: the middle of the bucket that holds the value of rank
// ceil(q*n), clamped to the smallest and largest values recorded. It is 0 for
// an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, width := histBucketRange(i)
			v := lo + width/2
			return time.Duration(min(max(v, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// Mean returns the average latency, 0 for an empty histogram.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
