package reports

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// OriginalFigure is one cell of the original design's scaling table.
type OriginalFigure struct {
	Nodes      int     `json:"nodes"`
	Throughput float64 `json:"throughput"`
}

// OriginalScaling is the original design's "Horizontal Scaling" table
// (original-design.md, Scalability): throughput at 1, 3 and 5 nodes, per
// service, in the unit ScalingUnit gives.
var OriginalScaling = map[string][]OriginalFigure{
	"locks": {{1, 100}, {3, 250}, {5, 400}},
	"queue": {{1, 2000}, {3, 5000}, {5, 8000}},
	"cache": {{1, 5000}, {3, 12000}, {5, 18000}},
}

// ScalingUnit returns the throughput unit of service: msg/s for the queue,
// ops/s otherwise.
func ScalingUnit(service string) string {
	if service == "queue" {
		return "msg/s"
	}
	return "ops/s"
}

// OriginalThroughput returns the original design's figure for service at
// a cluster size, if its table has one.
func OriginalThroughput(service string, nodes int) (float64, bool) {
	for _, f := range OriginalScaling[service] {
		if f.Nodes == nodes {
			return f.Throughput, true
		}
	}
	return 0, false
}

// ScalingRow is what one cluster size measured.
type ScalingRow struct {
	Nodes int `json:"nodes"`
	// Throughput is Ops per virtual second.
	Throughput float64 `json:"throughput"`
	Ops        int     `json:"ops"`
	// LatencyP50 and LatencyP99 are of LatencySamples operations (for the
	// lock service: granted acquires).
	LatencyP50     time.Duration `json:"latency_p50_ns"`
	LatencyP99     time.Duration `json:"latency_p99_ns"`
	LatencySamples int           `json:"latency_samples"`
	Rejected       int           `json:"rejected"`
	Retries        uint64        `json:"retries"`
	// Events, Messages and Syncs are the simulator's counts over the
	// measured window.
	Events    uint64 `json:"events"`
	Messages  uint64 `json:"messages"`
	Syncs     uint64 `json:"syncs"`
	Elections int    `json:"elections"`
	// Wall is how long the run took on this machine.
	Wall time.Duration `json:"wall_ns"`
	// Original is the original design's figure at this size (0: none).
	Original float64 `json:"original,omitempty"`
}

// ScalingReport is a scaling benchmark: the same workload at several
// cluster sizes, the model it assumes, and the original design's figures.
type ScalingReport struct {
	Service  string `json:"service"`
	Unit     string `json:"unit"`
	Workload string `json:"workload"`
	// Model states the simulated network and disk the figures assume, one
	// statement a line.
	Model    []string         `json:"model"`
	Seed     uint64           `json:"seed"`
	Window   time.Duration    `json:"window_ns"`
	Rows     []ScalingRow     `json:"rows"`
	Original []OriginalFigure `json:"original"`
	// Notes explain what the figures show.
	Notes []string `json:"notes"`
}

// perSecond divides a count over the report's window.
func (s *ScalingReport) perSecond(n uint64) float64 {
	if s.Window <= 0 {
		return 0
	}
	return float64(n) / s.Window.Seconds()
}

// TableRows returns the header and one row per cluster size. The columns
// fit the 100-column tables of Table: latencies are in milliseconds, and
// counts per second are per virtual second of the measured window.
func (s *ScalingReport) TableRows() ([]string, [][]string) {
	header := []string{"nodes", s.Unit, "p50 ms", "p99 ms", "rejected", "retries",
		"events/s", "msgs/s", "fsyncs/s", "original"}
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
	f0 := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	rows := make([][]string, 0, len(s.Rows))
	for _, r := range s.Rows {
		orig := "-"
		if r.Original > 0 {
			orig = f0(r.Original)
		}
		rows = append(rows, []string{strconv.Itoa(r.Nodes), f0(r.Throughput), ms(r.LatencyP50), ms(r.LatencyP99),
			strconv.Itoa(r.Rejected), strconv.FormatUint(r.Retries, 10),
			f0(s.perSecond(r.Events)), f0(s.perSecond(r.Messages)), f0(s.perSecond(r.Syncs)), orig})
	}
	return header, rows
}

// TableLegend explains the table's columns in one line.
func (s *ScalingReport) TableLegend() string {
	return fmt.Sprintf("%s: operations per virtual second; p50/p99: latency of granted acquires; rejected, retries: acquires refused and client retransmissions in the window; events, msgs, fsyncs: the simulator's events, messages sent and disk syncs (all nodes) per virtual second; original: the original design's %s at that size.",
		s.Unit, s.Unit)
}

// WriteScalingTable writes the report's table in format f.
func WriteScalingTable(w io.Writer, f Format, s *ScalingReport) error {
	header, rows := s.TableRows()
	return Table(w, f, header, rows)
}

// scalingYTicks are gonum's default ticks, labelled without trailing
// zeros ("2000", not "2000.00").
type scalingYTicks struct{}

// Ticks implements plot.Ticker.
func (scalingYTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}

// scalingTicks marks exactly the measured cluster sizes on the x axis.
type scalingTicks []int

// Ticks implements plot.Ticker.
func (t scalingTicks) Ticks(lo, hi float64) []plot.Tick {
	out := make([]plot.Tick, 0, len(t))
	for _, n := range t {
		if v := float64(n); v >= lo && v <= hi {
			out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(n)})
		}
	}
	return out
}

// ScalingPlots draws the report: throughput against nodes (with the
// original design's figures), and acquire latency p50/p99 against nodes.
func ScalingPlots(s *ScalingReport) (throughput, latency *plot.Plot, err error) {
	if len(s.Rows) == 0 {
		return nil, nil, fmt.Errorf("scaling plot: no rows")
	}
	sizes := make(scalingTicks, 0, len(s.Rows))
	tput := make(plotter.XYs, len(s.Rows))
	p50 := make(plotter.XYs, len(s.Rows))
	p99 := make(plotter.XYs, len(s.Rows))
	lo, hi := s.Rows[0].Nodes, s.Rows[0].Nodes
	for i, r := range s.Rows {
		sizes = append(sizes, r.Nodes)
		lo, hi = min(lo, r.Nodes), max(hi, r.Nodes)
		x := float64(r.Nodes)
		tput[i] = plotter.XY{X: x, Y: r.Throughput}
		p50[i] = plotter.XY{X: x, Y: float64(r.LatencyP50) / 1e6}
		p99[i] = plotter.XY{X: x, Y: float64(r.LatencyP99) / 1e6}
	}
	for _, o := range s.Original {
		if !scalingHasSize(sizes, o.Nodes) {
			sizes = append(sizes, o.Nodes)
		}
		lo, hi = min(lo, o.Nodes), max(hi, o.Nodes)
	}
	axes := func(p *plot.Plot, title, y string) {
		p.Title.Text = title
		p.X.Label.Text = "nodes (lock servers)"
		p.Y.Label.Text = y
		p.X.Tick.Marker = sizes
		p.Y.Tick.Marker = scalingYTicks{}
		p.X.Min, p.X.Max = float64(lo)-0.5, float64(hi)+0.5
		p.Y.Min = 0
		p.Legend.Top = true
		p.Add(plotter.NewGrid())
	}

	// Leave room above the lines for the legend.
	headroom := func(p *plot.Plot, xys ...plotter.XYs) {
		top := 0.0
		for _, x := range xys {
			for _, v := range x {
				top = max(top, v.Y)
			}
		}
		p.Y.Max = scalingNiceCeil(max(top*1.3, 1))
	}

	throughput = plot.New()
	axes(throughput, fmt.Sprintf("%s: throughput (simulated)", s.Service), s.Unit+" (per virtual second)")
	if err := addScalingLine(throughput, "simulated", tput, color.RGBA{R: 31, G: 119, B: 180, A: 255}, false); err != nil {
		return nil, nil, err
	}
	if len(s.Original) > 0 {
		orig := make(plotter.XYs, len(s.Original))
		for i, o := range s.Original {
			orig[i] = plotter.XY{X: float64(o.Nodes), Y: o.Throughput}
		}
		if err := addScalingLine(throughput, "original design (table)", orig, color.RGBA{R: 150, G: 150, B: 150, A: 255}, true); err != nil {
			return nil, nil, err
		}
		headroom(throughput, tput, orig)
	} else {
		headroom(throughput, tput)
	}

	latency = plot.New()
	axes(latency, fmt.Sprintf("%s: acquire latency (simulated)", s.Service), "milliseconds")
	if err := addScalingLine(latency, "p50", p50, color.RGBA{R: 44, G: 160, B: 44, A: 255}, false); err != nil {
		return nil, nil, err
	}
	if err := addScalingLine(latency, "p99", p99, color.RGBA{R: 214, G: 39, B: 40, A: 255}, false); err != nil {
		return nil, nil, err
	}
	headroom(latency, p50, p99)
	return throughput, latency, nil
}

// scalingNiceCeil rounds v up to a round number (1, 1.5, 2, 2.5, 3, 4, 5,
// 6 or 8 times a power of ten), so that the axis ends on a tick.
func scalingNiceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func scalingHasSize(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

// addScalingLine adds a line with points, dashed if asked, to p.
func addScalingLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return fmt.Errorf("scaling plot: %s: %w", name, err)
	}
	l.Color, pts.Color = c, c
	l.Width = vg.Points(1.5)
	pts.Shape = draw.CircleGlyph{}
	pts.Radius = vg.Points(3)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	p.Add(l, pts)
	p.Legend.Add(name, l, pts)
	return nil
}

// Size of the scaling figure: two panels side by side.
const (
	scalingWidth  = 11 * vg.Inch
	scalingHeight = 4.5 * vg.Inch
)

// WriteScalingPlot draws the two panels of the report side by side and
// writes the figure to w as "png" or "svg".
func WriteScalingPlot(w io.Writer, s *ScalingReport, format string) error {
	tp, lat, err := ScalingPlots(s)
	if err != nil {
		return err
	}
	var c draw.Canvas
	var out io.WriterTo
	switch format {
	case "png":
		img := vgimg.New(scalingWidth, scalingHeight)
		c, out = draw.New(img), vgimg.PngCanvas{Canvas: img}
	case "svg":
		svg := vgsvg.New(scalingWidth, scalingHeight)
		c, out = draw.New(svg), svg
	default:
		return fmt.Errorf("scaling plot: format %q: want png or svg", format)
	}
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	plots := [][]*plot.Plot{{tp, lat}}
	canvases := plot.Align(plots, tiles, c)
	tp.Draw(canvases[0][0])
	lat.Draw(canvases[0][1])
	if _, err := out.WriteTo(w); err != nil {
		return fmt.Errorf("scaling plot: write %s: %w", format, err)
	}
	return nil
}
