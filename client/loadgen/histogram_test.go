package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistBucketHoldsValue(t *testing.T) {
	var values []uint64
	for v := range uint64(4096) {
		values = append(values, v)
	}
	for shift := 7; shift < histMaxBits; shift++ {
		p := uint64(1) << shift
		values = append(values, p-1, p, p+1, p+p/2)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		values = append(values, r.Uint64N(histMax))
	}
	for _, v := range values {
		b := histBucket(v)
		if b < 0 || b >= histBuckets {
			t.Fatalf("histBucket(%d) = %d, want 0..%d", v, b, histBuckets-1)
		}
		lo, width := histBucketRange(b)
		if v < lo || v >= lo+width {
			t.Errorf("histBucket(%d) = %d, which holds [%d, %d)", v, b, lo, lo+width)
		}
		if v >= 2*histSub && float64(width)/float64(lo) > 1.0/histSub {
			t.Errorf("bucket %d of %d is %d wide from %d: over 1/%d", b, v, width, lo, histSub)
		}
		if v > 0 && histBucket(v-1) > b {
			t.Errorf("histBucket(%d) = %d > histBucket(%d) = %d", v-1, histBucket(v-1), v, b)
		}
	}
	if got := histBucket(1 << 62); got != histBuckets-1 {
		t.Errorf("histBucket(2^62) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h Histogram
	for us := 1; us <= 10000; us++ { // 1µs .. 10ms, one of each
		h.Record(time.Duration(us) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0, time.Microsecond}, // clamped to the smallest value
		{0.5, 5 * time.Millisecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10 * time.Millisecond}, // clamped to the largest value
	} {
		got := h.Quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff < -1.0/histSub || diff > 1.0/histSub {
			t.Errorf("quantile(%v) of 1µs..10ms = %v, want %v within 1/%d", tc.q, got, tc.want, histSub)
		}
	}
	if got, want := h.Mean(), 5000500*time.Nanosecond; got != want {
		t.Errorf("mean of 1µs..10ms = %v, want %v", got, want)
	}
}

func TestHistSingleValueAndEmpty(t *testing.T) {
	var empty Histogram
	if got := empty.Quantile(0.99); got != 0 {
		t.Errorf("empty quantile(0.99) = %v, want 0", got)
	}
	if got := empty.Mean(); got != 0 {
		t.Errorf("empty mean = %v, want 0", got)
	}
	var one Histogram
	one.Record(123456 * time.Nanosecond)
	for _, q := range []float64{0, 0.5, 0.999, 1} {
		if got := one.Quantile(q); got != 123456 {
			t.Errorf("one value 123456ns: quantile(%v) = %d, want 123456", q, got)
		}
	}
	var neg Histogram
	neg.Record(-time.Second) // a clock step back counts as 0
	if neg.n != 1 || neg.max != 0 {
		t.Errorf("record(-1s): n=%d max=%d, want n=1 max=0", neg.n, neg.max)
	}
}

func TestHistMergeEqualsRecordingAll(t *testing.T) {
	var a, b, all Histogram
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		d := time.Duration(r.Int64N(int64(50 * time.Millisecond)))
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var merged Histogram
	merged.Merge(&a)
	merged.Merge(&b)
	merged.Merge(&Histogram{}) // merging nothing changes nothing
	if merged != all {
		t.Errorf("merge of two halves differs from recording all: n %d/%d, sum %d/%d, min %d/%d, max %d/%d",
			merged.n, all.n, merged.sum, all.sum, merged.min, all.min, merged.max, all.max)
	}
}

func TestHistRecordDoesNotAllocate(t *testing.T) {
	h := new(Histogram)
	d := time.Duration(1)
	if n := testing.AllocsPerRun(1000, func() { h.Record(d); d += 997 }); n != 0 {
		t.Errorf("record allocates %v times per call, want 0", n)
	}
}
