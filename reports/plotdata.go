package reports

import (
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"time"

	"github.com/distsync/distsync/scenarios"
)

// PlotKind says how a plot draws its series.
type PlotKind int

// Plot kinds.
const (
	Scatter   PlotKind = iota // one dot per point
	Lines                     // a line through each series' points
	Stems                     // a vertical line from 0 up to each point, and a dot
	Histogram                 // bars over Bins
)

// Series is one named, coloured set of points.
type Series struct {
	Name  string
	Color color.RGBA
	X, Y  []float64
}

// Band is a shaded window of time on a plot, labelled: a fault, drawn the
// way Jepsen draws its nemesis. End == Start is an instant, drawn as a
// thin line.
type Band struct {
	Start, End float64 // virtual seconds
	Kind       string  // the fault kind; picks the colour
	Label      string
}

// Bin is one bar of a histogram: Count values in [Lo, Hi).
type Bin struct {
	Lo, Hi float64
	Count  int
}

// PlotData is everything a plot shows, before it is drawn: plots are
// tested through it, and Render draws it.
type PlotData struct {
	// Name is the file name, without extension.
	Name                  string
	Title, XLabel, YLabel string
	Kind                  PlotKind
	LogX, LogY            bool
	Series                []Series
	Bands                 []Band
	Bins                  []Bin
	// XMin and XMax fix the X range when XMax > XMin (time axes span the
	// whole run, not just its points).
	XMin, XMax float64
}

// Points counts the points of every series (or the values binned).
func (p PlotData) Points() int {
	n := 0
	for _, s := range p.Series {
		n += len(s.X)
	}
	for _, b := range p.Bins {
		n += b.Count
	}
	return n
}

// Empty reports whether there is nothing to draw.
func (p PlotData) Empty() bool { return p.Points() == 0 }

// Colours of the outcomes, Jepsen's: ok blue, fail pink, unknown (Jepsen's
// "info") orange.
var outcomeColors = map[string]color.RGBA{
	scenarios.OutcomeOK:      {0x81, 0xBF, 0xFC, 0xFF},
	scenarios.OutcomeFail:    {0xFF, 0x1E, 0x90, 0xFF},
	scenarios.OutcomeUnknown: {0xFF, 0xA4, 0x00, 0xFF},
}

// palette colours series that are not outcomes.
var palette = []color.RGBA{
	{0x1F, 0x77, 0xB4, 0xFF}, {0x2C, 0xA0, 0x2C, 0xFF}, {0xD6, 0x27, 0x28, 0xFF},
	{0x94, 0x67, 0xBD, 0xFF}, {0x8C, 0x56, 0x4B, 0xFF}, {0xE3, 0x77, 0xC2, 0xFF},
	{0x7F, 0x7F, 0x7F, 0xFF}, {0xBC, 0xBD, 0x22, 0xFF}, {0x17, 0xBE, 0xCF, 0xFF},
}

// minLatencyMs is the floor of latencies on a log axis (an answer in the
// same virtual instant would be log(0)).
const minLatencyMs = 0.001

func msOf(d time.Duration) float64 {
	return max(minLatencyMs, float64(d)/float64(time.Millisecond))
}

func title(r *scenarios.Result, what string) string {
	return fmt.Sprintf("%s, seed %d: %s", r.Scenario, r.Seed, what)
}

// LatencyPlotData is the latency of every operation against the time it
// was invoked, one point per operation, coloured by outcome, on a log
// axis, over the fault bands. An operation never answered is drawn at the
// time it waited until the end of the run (a lower bound).
func LatencyPlotData(r *scenarios.Result) PlotData {
	p := PlotData{Name: "latency", Title: title(r, "latency of each operation"), Kind: Scatter, LogY: true,
		XLabel: "time invoked (virtual s)", YLabel: "latency (ms, log)", Bands: FaultBands(r), XMax: r.Virtual.Seconds()}
	names := map[string]string{
		scenarios.OutcomeOK: "ok", scenarios.OutcomeFail: "failed",
		scenarios.OutcomeUnknown: "unknown (waiting at the end)",
	}
	for _, outcome := range []string{scenarios.OutcomeOK, scenarios.OutcomeFail, scenarios.OutcomeUnknown} {
		s := Series{Name: names[outcome], Color: outcomeColors[outcome]}
		for _, o := range r.Ops {
			if o.Outcome != outcome {
				continue
			}
			lat := o.Latency()
			if outcome == scenarios.OutcomeUnknown {
				lat = r.Virtual - o.Call
			}
			s.X, s.Y = append(s.X, o.Call.Seconds()), append(s.Y, msOf(lat))
		}
		if len(s.X) > 0 {
			p.Series = append(p.Series, s)
		}
	}
	return p
}

// ThroughputBucket is the width of the time buckets of a throughput plot
// of a run that lasted virtual: about 50 buckets, a multiple of 100ms.
func ThroughputBucket(virtual time.Duration) time.Duration {
	return max(100*time.Millisecond, (virtual / 50).Round(100*time.Millisecond))
}

// ThroughputPlotData is the rate of operations completed ok over time,
// one line per operation kind, over the fault bands.
func ThroughputPlotData(r *scenarios.Result) PlotData {
	bucket := ThroughputBucket(r.Virtual)
	p := PlotData{Name: "throughput", Kind: Lines, Bands: FaultBands(r), XMax: r.Virtual.Seconds(),
		Title:  title(r, fmt.Sprintf("operations ok per second (buckets of %v)", bucket)),
		XLabel: "time answered (virtual s)", YLabel: "operations ok / s"}
	if r.Virtual <= 0 {
		return p
	}
	n := int(r.Virtual/bucket) + 1
	for i, kind := range Kinds(r, "") {
		counts := make([]float64, n)
		any := false
		for _, o := range r.Ops {
			if o.Kind == kind && o.Outcome == scenarios.OutcomeOK {
				counts[min(n-1, int(o.Return/bucket))]++
				any = true
			}
		}
		if !any {
			continue
		}
		s := Series{Name: kind, Color: palette[i%len(palette)]}
		for b, c := range counts {
			s.X = append(s.X, (time.Duration(b)*bucket + bucket/2).Seconds())
			s.Y = append(s.Y, c/bucket.Seconds())
		}
		p.Series = append(p.Series, s)
	}
	return p
}

// LatencyCDFPlotData is the cumulative distribution of the latencies of
// the answered operations, one line per operation kind, on a log axis.
func LatencyCDFPlotData(r *scenarios.Result) PlotData {
	p := PlotData{Name: "latency-cdf", Title: title(r, "latency CDF per operation kind"), Kind: Lines, LogX: true,
		XLabel: "latency (ms, log)", YLabel: "fraction of answered operations"}
	for i, kind := range Kinds(r, "") {
		var lat []float64
		for _, o := range r.Ops {
			if o.Kind == kind && o.Outcome != scenarios.OutcomeUnknown {
				lat = append(lat, msOf(o.Latency()))
			}
		}
		if len(lat) == 0 {
			continue
		}
		slices.Sort(lat)
		s := Series{Name: kind, Color: palette[i%len(palette)], X: lat, Y: make([]float64, len(lat))}
		for j := range lat {
			s.Y[j] = float64(j+1) / float64(len(lat))
		}
		p.Series = append(p.Series, s)
	}
	return p
}

// RecoveryPlotData is the time to elect a new leader after each loss of
// the leader (a crash or a step-down), at the time of the loss, over the
// fault bands. A loss with no leader by the end is drawn up to the end of
// the run, in its own series.
func RecoveryPlotData(r *scenarios.Result) PlotData {
	p := PlotData{Name: "recovery", Title: title(r, "time to elect a leader after each leader loss"), Kind: Stems,
		XLabel: "leader lost at (virtual s)", YLabel: "time to elect (ms)", Bands: FaultBands(r), XMax: r.Virtual.Seconds()}
	ok := Series{Name: "new leader elected", Color: palette[0]}
	never := Series{Name: "no leader by the end", Color: outcomeColors[scenarios.OutcomeFail]}
	for _, rec := range r.Recoveries() {
		if rec.Elected > 0 {
			ok.X, ok.Y = append(ok.X, rec.Lost.Seconds()), append(ok.Y, ms(rec.Elected-rec.Lost))
		} else {
			never.X, never.Y = append(never.X, rec.Lost.Seconds()), append(never.Y, ms(r.Virtual-rec.Lost))
		}
	}
	for _, s := range []Series{ok, never} {
		if len(s.X) > 0 {
			p.Series = append(p.Series, s)
		}
	}
	return p
}

// HistogramPlotData is the histogram of metric m over the seeds of one
// scenario of a sweep.
func HistogramPlotData(sc *ScenarioSweep, m Metric) PlotData {
	vals := MetricValues(m, sc.Seeds)
	return PlotData{Name: sc.Scenario + "-" + m.Name, Kind: Histogram, Bins: Bins(vals),
		Title:  fmt.Sprintf("%s: %s over %d seeds", sc.Scenario, m.Label, len(sc.Seeds)),
		XLabel: m.Label, YLabel: "seeds"}
}

// Bins splits values into about 2·√n equal bins (at most 40); equal
// values make one bin of width 1 around them.
func Bins(values []float64) []Bin {
	if len(values) == 0 {
		return nil
	}
	lo, hi := slices.Min(values), slices.Max(values)
	if lo == hi {
		return []Bin{{Lo: lo - 0.5, Hi: hi + 0.5, Count: len(values)}}
	}
	n := min(40, 2*int(math.Ceil(math.Sqrt(float64(len(values))))))
	w := (hi - lo) / float64(n)
	bins := make([]Bin, n)
	for i := range bins {
		bins[i] = Bin{Lo: lo + float64(i)*w, Hi: lo + float64(i+1)*w}
	}
	for _, v := range values {
		bins[min(n-1, int((v-lo)/w))].Count++
	}
	return bins
}

// closers pair a fault that has no end with the later fault that ends it:
// a crash with the restart of the same target, a pause with its resume, a
// partition of any shape with the next heal.
var closers = map[string]string{
	"crash": "restart", "pause": "resume",
	"partition": "heal", "one-way": "heal", "isolate": "heal", "bridge": "heal",
}

// FaultBands returns a band per applied fault: [Start, End), or from a
// fault without an end to the fault that ends it (a crash to its
// restart), or an instant. Faults that only end another are not drawn
// on their own.
func FaultBands(r *scenarios.Result) []Band {
	used := make([]bool, len(r.Faults))
	ends := make([]int, len(r.Faults))
	for i, f := range r.Faults {
		ends[i] = -1
		if f.Applied && f.End == 0 {
			if j := closer(r.Faults, i, used); j >= 0 {
				used[j], ends[i] = true, j
			}
		}
	}
	var out []Band
	for i, f := range r.Faults {
		if !f.Applied || used[i] {
			continue
		}
		b := Band{Start: f.Start.Seconds(), End: f.End.Seconds(), Kind: f.Kind, Label: f.Kind}
		if f.Target != "" {
			b.Label += " " + f.Target
		}
		switch {
		case ends[i] >= 0:
			b.End = r.Faults[ends[i]].Start.Seconds()
		case f.End == 0:
			b.End = b.Start
		}
		out = append(out, b)
	}
	slices.SortStableFunc(out, func(a, b Band) int { return cmp.Compare(a.Start, b.Start) })
	return out
}

// closer returns the index of the first applied fault after fault i (in
// time) that ends it, or -1.
func closer(faults []scenarios.FaultRecord, i int, used []bool) int {
	f := faults[i]
	want, ok := closers[f.Kind]
	if !ok {
		return -1
	}
	best := -1
	for j, g := range faults {
		if j == i || used[j] || !g.Applied || g.Kind != want || g.Start < f.Start {
			continue
		}
		if want != "heal" && g.Target != f.Target {
			continue
		}
		if best < 0 || g.Start < faults[best].Start {
			best = j
		}
	}
	return best
}
