package loadgen

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsTileTheLine(t *testing.T) {
	prevHi := uint64(0)
	for i := range 40 * subBuckets {
		lo, hi := bucketBounds(i)
		require.Equal(t, prevHi, lo, "bucket %d starts where %d ends", i, i-1)
		require.Equal(t, i, bucketOf(lo))
		require.Equal(t, i, bucketOf(hi-1))
		if lo >= 2*subBuckets {
			require.LessOrEqual(t, float64(hi-lo)/float64(lo), 1.0/subBuckets, "bucket %d is too wide", i)
		}
		prevHi = hi
	}
}

func TestQuantilesAreWithinABucketOfTheExactOnes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var exact []time.Duration
	for range 20000 {
		d := time.Duration(math.Exp(rng.NormFloat64()*1.5+8)) * time.Microsecond // lognormal around 3ms
		h.Record(d)
		exact = append(exact, d)
	}
	slices.Sort(exact)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
		want := exact[int(math.Ceil(q*float64(len(exact))))-1]
		got := h.Quantile(q)
		assert.InEpsilon(t, float64(want), float64(got), 0.04, "q=%v: got %v, exact %v", q, got, want)
	}
	assert.Equal(t, exact[len(exact)-1], h.Max())
	assert.Equal(t, exact[0], h.Min())
	assert.Equal(t, h.Max(), h.Quantile(1))
	cdf := h.CDF()
	assert.Equal(t, 1.0, cdf[len(cdf)-1].Fraction)
	for i := 1; i < len(cdf); i++ {
		assert.Less(t, cdf[i-1].Latency, cdf[i].Latency)
		assert.Less(t, cdf[i-1].Fraction, cdf[i].Fraction)
	}
}

func TestMergeAndJSONKeepEverything(t *testing.T) {
	var a, b, all Histogram
	for i := range 1000 {
		d := time.Duration(i*i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	a.Merge(nil)
	assert.Equal(t, all, a)
	data, err := json.Marshal(&a)
	require.NoError(t, err)
	var back Histogram
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, a, back)
	var empty Histogram
	assert.Equal(t, time.Duration(0), empty.Quantile(0.5))
	assert.Nil(t, empty.CDF())
}
