package reports

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot sizes.
const (
	plotWidth  = 9 * vg.Inch
	plotHeight = 4.5 * vg.Inch
)

// Image formats a plot is rendered in.
var plotFormats = []string{"png", "svg"}

// Render draws p as an image in format "png" or "svg".
func Render(p PlotData, format string) ([]byte, error) {
	if format != "png" && format != "svg" {
		return nil, fmt.Errorf("plot %s: unknown format %q (want png or svg)", p.Name, format)
	}
	pl, err := build(p)
	if err != nil {
		return nil, fmt.Errorf("plot %s: %w", p.Name, err)
	}
	wt, err := pl.WriterTo(plotWidth, plotHeight, format)
	if err != nil {
		return nil, fmt.Errorf("plot %s: %w", p.Name, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("plot %s: %s: %w", p.Name, format, err)
	}
	return buf.Bytes(), nil
}

// build turns plot data into a gonum plot: bands first, so the data is
// drawn over them.
func build(p PlotData) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text, pl.Y.Label.Text = p.XLabel, p.YLabel
	pl.Legend.Top = true
	pl.Legend.TextStyle.Font.Size = vg.Points(9)
	pl.Legend.YOffs = -vg.Points(6)
	pl.Add(plotter.NewGrid())
	if len(p.Bands) > 0 {
		pl.Add(&bandPlotter{bands: p.Bands})
	}
	var err error
	switch p.Kind {
	case Histogram:
		err = addHistogram(pl, p.Bins)
	default:
		err = addSeries(pl, p)
	}
	if err != nil {
		return nil, err
	}
	if p.XMax > p.XMin {
		pl.X.Min, pl.X.Max = p.XMin, p.XMax
	}
	if p.LogY {
		pl.Y.Scale, pl.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if p.LogX {
		pl.X.Scale, pl.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if !p.LogY {
		pl.Y.Min = min(0, pl.Y.Min)
		pl.Y.Max += (pl.Y.Max - pl.Y.Min) * 0.08 // room for the legend
	} else {
		pl.Y.Max *= 2
	}
	return pl, nil
}

func addSeries(pl *plot.Plot, p PlotData) error {
	for _, s := range p.Series {
		xys := make(plotter.XYs, len(s.X))
		for i := range s.X {
			xys[i] = plotter.XY{X: s.X[i], Y: s.Y[i]}
		}
		switch p.Kind {
		case Lines:
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("series %s: %w", s.Name, err)
			}
			l.Color, l.Width = s.Color, vg.Points(1.2)
			pl.Add(l)
			pl.Legend.Add(s.Name, l)
		default:
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return fmt.Errorf("series %s: %w", s.Name, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: s.Color, Radius: vg.Points(1.3), Shape: draw.CircleGlyph{}}
			if p.Kind == Stems {
				sc.GlyphStyle.Radius = vg.Points(3)
				pl.Add(&stemPlotter{xys: xys, color: s.Color})
			}
			pl.Add(sc)
			pl.Legend.Add(s.Name, sc)
		}
	}
	return nil
}

func addHistogram(pl *plot.Plot, bins []Bin) error {
	if len(bins) == 0 {
		return nil
	}
	h := &plotter.Histogram{Width: bins[0].Hi - bins[0].Lo, FillColor: palette[0]}
	h.LineStyle = draw.LineStyle{Color: color.White, Width: vg.Points(1)}
	for _, b := range bins {
		h.Bins = append(h.Bins, plotter.HistogramBin{Min: b.Lo, Max: b.Hi, Weight: float64(b.Count)})
	}
	pl.Add(h)
	return nil
}

// stemPlotter draws a vertical line from 0 up to each point.
type stemPlotter struct {
	xys   plotter.XYs
	color color.Color
}

// Plot implements plot.Plotter.
func (s *stemPlotter) Plot(c draw.Canvas, pl *plot.Plot) {
	trX, trY := pl.Transforms(&c)
	sty := draw.LineStyle{Color: s.color, Width: vg.Points(1.5)}
	for _, p := range s.xys {
		c.StrokeLine2(sty, trX(p.X), trY(max(0, pl.Y.Min)), trX(p.X), trY(p.Y))
	}
}

// DataRange implements plot.DataRanger: stems start at 0.
func (s *stemPlotter) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, _, ymax = plotter.XYRange(s.xys)
	return xmin, xmax, 0, ymax
}

// bandColors shade the fault bands by kind: process faults red, network
// splits orange, network degradation yellow, clocks blue, disks brown.
var bandColors = map[string]color.NRGBA{
	"crash": {0xE4, 0x1A, 0x1C, 0x30}, "pause": {0x98, 0x4E, 0xA3, 0x30},
	"partition": {0xFF, 0x7F, 0x00, 0x30}, "one-way": {0xFF, 0x7F, 0x00, 0x30},
	"isolate": {0xFF, 0x7F, 0x00, 0x30}, "bridge": {0xFF, 0x7F, 0x00, 0x30},
	"loss": {0xE6, 0xC2, 0x00, 0x30}, "duplicate": {0xE6, 0xC2, 0x00, 0x30},
	"reorder": {0xE6, 0xC2, 0x00, 0x30}, "clog": {0xE6, 0xC2, 0x00, 0x30},
	"skew": {0x37, 0x7E, 0xB8, 0x30}, "drift": {0x37, 0x7E, 0xB8, 0x30},
	"disk": {0xA6, 0x56, 0x28, 0x30},
}

var defaultBandColor = color.NRGBA{0x80, 0x80, 0x80, 0x30}

// bandPlotter shades each fault window across the whole height of the
// plot and labels it at the bottom, in as many rows as labels overlap.
type bandPlotter struct{ bands []Band }

// Plot implements plot.Plotter.
func (b *bandPlotter) Plot(c draw.Canvas, pl *plot.Plot) {
	trX, _ := pl.Transforms(&c)
	sty := pl.Legend.TextStyle
	sty.Font.Size = vg.Points(8)
	sty.Color = color.RGBA{0x40, 0x40, 0x40, 0xFF}
	var rowEnds []vg.Length
	for _, band := range b.bands {
		col, ok := bandColors[band.Kind]
		if !ok {
			col = defaultBandColor
		}
		x0, x1 := trX(band.Start), trX(band.End)
		if x1-x0 < vg.Points(1.5) {
			x1 = x0 + vg.Points(1.5)
			col.A = 0x90
		}
		c.FillPolygon(col, c.ClipPolygonX([]vg.Point{{X: x0, Y: c.Min.Y}, {X: x1, Y: c.Min.Y}, {X: x1, Y: c.Max.Y}, {X: x0, Y: c.Max.Y}}))
		row := 0
		for row < len(rowEnds) && rowEnds[row] > x0 {
			row++
		}
		w := sty.Width(band.Label)
		if row == len(rowEnds) {
			rowEnds = append(rowEnds, 0)
		}
		rowEnds[row] = x0 + w + vg.Points(4)
		y := c.Min.Y + vg.Points(2) + vg.Length(row)*sty.Height(band.Label)
		if c.ContainsX(x0) {
			c.FillText(sty, vg.Point{X: x0 + vg.Points(2), Y: y}, band.Label)
		}
	}
}
