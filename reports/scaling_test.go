package reports

import (
	"bytes"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func scalingFixture() *ScalingReport {
	rep := &ScalingReport{Service: "locks", Unit: ScalingUnit("locks"), Window: 2 * time.Second,
		Original: OriginalScaling["locks"], Model: []string{"network: test"}}
	for i, n := range []int{1, 3, 5, 7} {
		orig, _ := OriginalThroughput("locks", n)
		rep.Rows = append(rep.Rows, ScalingRow{Nodes: n, Throughput: 2000 - 10*float64(i), Ops: 4000 - 20*i,
			LatencyP50: time.Duration(30+i) * time.Millisecond, LatencyP99: time.Duration(50+i) * time.Millisecond,
			Events: uint64(200000 * (i + 1)), Messages: uint64(8000 * (i + 1)), Syncs: uint64(4000 * n), Original: orig})
	}
	return rep
}

func TestOriginalScalingTable(t *testing.T) {
	for _, c := range []struct {
		service string
		want    [3]float64
	}{{"locks", [3]float64{100, 250, 400}}, {"queue", [3]float64{2000, 5000, 8000}}, {"cache", [3]float64{5000, 12000, 18000}}} {
		for i, n := range []int{1, 3, 5} {
			v, ok := OriginalThroughput(c.service, n)
			assert.True(t, ok)
			assert.Equal(t, c.want[i], v, "%s at %d nodes", c.service, n)
		}
		_, ok := OriginalThroughput(c.service, 7)
		assert.False(t, ok, "the original table stops at 5 nodes")
	}
	assert.Equal(t, "msg/s", ScalingUnit("queue"))
	assert.Equal(t, "ops/s", ScalingUnit("cache"))
}

func TestScalingTableHasARowPerSize(t *testing.T) {
	rep := scalingFixture()
	header, rows := rep.TableRows()
	require.Len(t, rows, 4)
	assert.Equal(t, "nodes", header[0])
	assert.Equal(t, []string{"1", "2000", "30.00", "50.00", "0", "0", "100000", "4000", "2000", "100"}, rows[0])
	assert.Equal(t, "-", rows[3][len(header)-1], "no original figure at 7 nodes")
	for _, f := range []Format{Text, Markdown} {
		var buf bytes.Buffer
		require.NoError(t, WriteScalingTable(&buf, f, rep))
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			assert.LessOrEqual(t, len([]rune(line)), MaxWidth, "fits a terminal: %q", line)
		}
		assert.NotContains(t, buf.String(), "…", "no cell cut short")
	}
}

func TestScalingPlotsArePNGAndSVG(t *testing.T) {
	rep := scalingFixture()
	var pngBuf bytes.Buffer
	require.NoError(t, WriteScalingPlot(&pngBuf, rep, "png"))
	img, err := png.Decode(&pngBuf)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), img.Bounds().Dy(), "two panels side by side")

	var svgBuf bytes.Buffer
	require.NoError(t, WriteScalingPlot(&svgBuf, rep, "svg"))
	c := lamportSVGCounts(t, svgBuf.Bytes())
	assert.Equal(t, 1, c["svg"])
	assert.Positive(t, c["path"], "lines and points are paths")
	for _, want := range []string{"throughput", "latency", "original design", "p99"} {
		assert.Contains(t, svgBuf.String(), want)
	}

	assert.Error(t, WriteScalingPlot(&bytes.Buffer{}, rep, "gif"))
	assert.Error(t, WriteScalingPlot(&bytes.Buffer{}, &ScalingReport{Service: "locks"}, "png"), "no rows, no plot")
}

func TestScalingNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{2596: 3000, 1: 1, 70: 80, 101: 150, 0.3: 0.3} {
		assert.InDelta(t, want, scalingNiceCeil(v), 1e-9, "%v", v)
	}
}
