package loadgen

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Histogram layout: values are whole microseconds; below 2·subBuckets
// each value has its own bucket, above it every power of two is split
// into subBuckets buckets of equal width. A bucket is thus at most
// 1/subBuckets (about 3%) of the values it holds wide, HDR style, and a
// histogram of latencies up to an hour needs about 1,000 counters.
const (
	subBits    = 5
	subBuckets = 1 << subBits
)

// Histogram counts durations in log-linear buckets (see the layout
// above), from 1µs to hours, and keeps the exact minimum, maximum and
// sum. Its quantiles are within one bucket of the exact ones. The zero
// value is empty and ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      time.Duration
	min, max time.Duration
}

// bucketOf returns the bucket of v microseconds.
func bucketOf(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketBounds returns the range [lo, hi) of microseconds of bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < 2*subBuckets {
		return uint64(i), uint64(i) + 1
	}
	shift := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return m << shift, (m + 1) << shift
}

// Record adds one duration (a negative one counts as 0).
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	b := bucketOf(uint64(d / time.Microsecond))
	if b >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, b+1-len(h.counts))...)
	}
	h.counts[b]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
	h.sum += d
}

// Merge adds every value of o.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		h.counts = append(h.counts, make([]uint64, len(o.counts)-len(h.counts))...)
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

// Count returns the number of values.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest value (0 if none).
func (h *Histogram) Min() time.Duration { return h.min }

// Max returns the largest value (0 if none).
func (h *Histogram) Max() time.Duration { return h.max }

// Mean returns the mean value (0 if none).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value at quantile q in [0, 1]: the upper edge of
// the bucket holding the ceil(q·n)-th smallest value, kept within [Min,
// Max]; 0 for an empty histogram. Quantile(1) is Max. Quantiles never
// decrease with q.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	if rank >= h.n {
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return min(max(time.Duration(hi)*time.Microsecond-1, h.min), h.max)
		}
	}
	return h.max
}

// CDFPoint is one point of a cumulative distribution: the fraction of
// values at or below Latency.
type CDFPoint struct {
	Latency  time.Duration `json:"latency_ns"` // a latency
	Fraction float64       `json:"fraction"`   // the fraction of values at or below it
}

// CDF returns the cumulative distribution, a point per non-empty bucket
// (at its upper edge, within [Min, Max]).
func (h *Histogram) CDF() []CDFPoint {
	if h.n == 0 {
		return nil
	}
	var out []CDFPoint
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		_, hi := bucketBounds(i)
		lat := min(max(time.Duration(hi)*time.Microsecond-1, h.min), h.max)
		out = append(out, CDFPoint{Latency: lat, Fraction: float64(seen) / float64(h.n)})
	}
	return out
}

// histogramJSON is a Histogram in JSON: its non-empty buckets as [lower
// bound µs, count] pairs.
type histogramJSON struct {
	Unit    string      `json:"unit"`
	Count   uint64      `json:"count"`
	MinNs   int64       `json:"min_ns"`
	MaxNs   int64       `json:"max_ns"`
	SumNs   int64       `json:"sum_ns"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON implements json.Marshaler: {"unit": "us", "count",
// "min_ns", "max_ns", "sum_ns", "buckets": [[lo_us, count], ...]}, the
// non-empty buckets by their lower bound.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	out := histogramJSON{Unit: "us", Count: h.n, MinNs: int64(h.min), MaxNs: int64(h.max), SumNs: int64(h.sum), Buckets: [][2]uint64{}}
	for i, c := range h.counts {
		if c > 0 {
			lo, _ := bucketBounds(i)
			out.Buckets = append(out.Buckets, [2]uint64{lo, c})
		}
	}
	return json.Marshal(out)
}

// UnmarshalJSON implements json.Unmarshaler, reading what MarshalJSON
// writes.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var in histogramJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	if in.Unit != "us" {
		return fmt.Errorf("histogram: unit %q, want \"us\"", in.Unit)
	}
	*h = Histogram{min: time.Duration(in.MinNs), max: time.Duration(in.MaxNs), sum: time.Duration(in.SumNs)}
	for _, bc := range in.Buckets {
		i := bucketOf(bc[0])
		if lo, _ := bucketBounds(i); lo != bc[0] {
			return fmt.Errorf("histogram: %d is not the lower bound of a bucket", bc[0])
		}
		if i >= len(h.counts) {
			h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
		}
		h.counts[i] += bc[1]
		h.n += bc[1]
	}
	if h.n != in.Count {
		return fmt.Errorf("histogram: buckets hold %d values, count says %d", h.n, in.Count)
	}
	return nil
}
