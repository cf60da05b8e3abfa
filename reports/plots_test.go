package reports

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/scenarios"
)

func seriesNames(p PlotData) []string {
	var out []string
	for _, s := range p.Series {
		out = append(out, s.Name)
	}
	return out
}

func TestFaultBandsPairCrashesWithRestarts(t *testing.T) {
	bands := FaultBands(fixture())
	require.Len(t, bands, 4, "the restart ends the crash of n3; the fault never applied is not drawn")
	assert.Equal(t, Band{Start: 2, End: 4, Kind: "crash", Label: "crash leader(locks)"}, bands[0])
	assert.Equal(t, Band{Start: 5, End: 6, Kind: "crash", Label: "crash n3"}, bands[1])
	assert.Equal(t, Band{Start: 7, End: 8, Kind: "loss", Label: "loss all links"}, bands[2])
	assert.Equal(t, Band{Start: 9, End: 9, Kind: "skew", Label: "skew n2"}, bands[3], "an instant fault is a thin band")
}

func TestFaultBandsPairPartitionsWithTheNextHeal(t *testing.T) {
	r := &scenarios.Result{Faults: []scenarios.FaultRecord{
		{Kind: "heal", Start: 4 * s1, Applied: true},
		{Kind: "partition", Target: "n1,n2|n3", Start: 2 * s1, Applied: true},
		{Kind: "pause", Target: "n2", Start: 5 * s1, Applied: true},
	}}
	bands := FaultBands(r)
	require.Len(t, bands, 2)
	assert.Equal(t, Band{Start: 2, End: 4, Kind: "partition", Label: "partition n1,n2|n3"}, bands[0], "the heal listed first still ends it")
	assert.Equal(t, Band{Start: 5, End: 5, Kind: "pause", Label: "pause n2"}, bands[1], "a pause with no resume is an instant")
}

func TestLatencyPlotHasAPointPerOperation(t *testing.T) {
	r := fixture()
	p := LatencyPlotData(r)
	assert.Equal(t, []string{"ok", "failed", "unknown (waiting at the end)"}, seriesNames(p))
	assert.Equal(t, len(r.Ops), p.Points())
	assert.Len(t, p.Series[1].X, 2)
	assert.Len(t, p.Series[2].X, 2)
	assert.True(t, p.LogY)
	assert.Len(t, p.Bands, 4)
	assert.Equal(t, 10.0, p.XMax, "the time axis spans the run")
	for _, s := range p.Series {
		for _, y := range s.Y {
			assert.Positive(t, y, "a log axis needs positive values")
		}
	}
	assert.InDelta(t, 400.0, p.Series[2].Y[0], 1e-9, "unknown: waited from 9.6s to the end at 10s")
}

func TestThroughputPlotCountsOKOperationsPerKind(t *testing.T) {
	r := fixture()
	p := ThroughputPlotData(r)
	assert.Equal(t, []string{"open", "keepalive", "acquire", "release"}, seriesNames(p))
	bucket := ThroughputBucket(r.Virtual)
	assert.Equal(t, 200*time.Millisecond, bucket)
	want := map[string]int{"open": 4, "keepalive": 1, "acquire": 24, "release": 24}
	for _, s := range p.Series {
		assert.Len(t, s.X, int(r.Virtual/bucket)+1)
		sum := 0.0
		for _, y := range s.Y {
			sum += y * bucket.Seconds()
		}
		assert.InDelta(t, float64(want[s.Name]), sum, 1e-6, s.Name)
	}
	assert.Len(t, p.Bands, 4)
}

func TestLatencyCDFPerKind(t *testing.T) {
	p := LatencyCDFPlotData(fixture())
	assert.Equal(t, []string{"open", "keepalive", "acquire", "release"}, seriesNames(p))
	counts := map[string]int{"open": 4, "keepalive": 1, "acquire": 26, "release": 24}
	for _, s := range p.Series {
		assert.Len(t, s.X, counts[s.Name], s.Name)
		assert.True(t, slices.IsSorted(s.X), s.Name)
		assert.Equal(t, 1.0, s.Y[len(s.Y)-1], s.Name)
	}
	assert.True(t, p.LogX)
	assert.Empty(t, p.Bands, "a CDF has no time axis")
}

func TestRecoveryPlot(t *testing.T) {
	p := RecoveryPlotData(fixture())
	require.Equal(t, []string{"new leader elected", "no leader by the end"}, seriesNames(p))
	assert.Equal(t, []float64{2, 5}, p.Series[0].X)
	assert.InDeltaSlice(t, []float64{180, 210}, p.Series[0].Y, 1e-9)
	assert.Equal(t, []float64{9.5}, p.Series[1].X)
	assert.InDeltaSlice(t, []float64{500}, p.Series[1].Y, 1e-9)
	assert.Len(t, p.Bands, 4)
	assert.True(t, RecoveryPlotData(&scenarios.Result{Virtual: s1}).Empty(), "no leader lost, nothing to draw")
}

func TestHistogram(t *testing.T) {
	m, err := LookupMetric("p99")
	require.NoError(t, err)
	sw := sweepFixture()
	p := HistogramPlotData(&sw.Scenarios[0], m)
	assert.Equal(t, "leader-crash-p99", p.Name)
	assert.Equal(t, 4, p.Points(), "every seed is binned")
	assert.Len(t, p.Bins, 4)
	assert.Equal(t, 300.0, p.Bins[0].Lo)
	assert.Equal(t, 420.0, p.Bins[len(p.Bins)-1].Hi)
	same := HistogramPlotData(&sw.Scenarios[1], m)
	assert.Equal(t, []Bin{{Lo: 149.5, Hi: 150.5, Count: 2}}, same.Bins, "equal values make one bin")
	assert.Empty(t, Bins(nil))
}

func TestUnknownMetricIsAClearError(t *testing.T) {
	_, err := LookupMetric("latency")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown metric "latency"`)
	assert.Contains(t, err.Error(), "p99")
	_, err = LookupMetric(DefaultMetric)
	assert.NoError(t, err)
}

// assertPNG decodes data as a PNG of the plot's size.
func assertPNG(t *testing.T, data []byte) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err)
	assert.Positive(t, img.Bounds().Dx())
	assert.Positive(t, img.Bounds().Dy())
}

// assertSVG parses data as XML with an <svg> root.
func assertSVG(t *testing.T, data []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	root := ""
	for {
		tok, err := dec.Token()
		if err != nil {
			require.ErrorContains(t, err, "EOF", "SVG is not well-formed XML")
			break
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	assert.Equal(t, "svg", root)
}

func TestRenderedPlotsAreValidPNGAndSVG(t *testing.T) {
	r := fixture()
	m, _ := LookupMetric("p99")
	plots := append(RunPlots(r), HistogramPlotData(&sweepFixture().Scenarios[0], m))
	for _, p := range plots {
		pngData, err := Render(p, "png")
		require.NoError(t, err, p.Name)
		assertPNG(t, pngData)
		svgData, err := Render(p, "svg")
		require.NoError(t, err, p.Name)
		assertSVG(t, svgData)
	}
	_, err := Render(plots[0], "gif")
	assert.ErrorContains(t, err, `unknown format "gif"`)
}
