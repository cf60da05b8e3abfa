package reports

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Layout of a space-time diagram, in SVG user units (pixels).
const (
	lamportLaneGap      = 110.0 // between two lanes
	lamportLeft         = 110.0 // left of the first lane: the time scale
	lamportRight        = 170.0 // right of the last lane: fault labels
	lamportTop          = 120.0 // above the window: title, legend, lane labels
	lamportBottom       = 110.0 // below the window: lane labels, notes
	lamportPxPerArrow   = 12.0  // height per arrow, so that dense windows stay readable
	lamportPxPerLatency = 24.0  // height of an arrow of median latency, so that arrows slope visibly
	lamportMinHeight    = 480.0
	lamportMaxHeight    = 24000.0
	lamportLostPx       = 12.0 // how far down a lost message's short arrow goes
	lamportXSize        = 4.5  // half the size of a drop's X
)

// lamportPalette colours arrow labels (sorted by name); labels past it
// are drawn grey.
var lamportPalette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b",
	"#e377c2", "#17becf", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39",
	"#7b4173", "#3182bd", "#e6550d", "#31a354"}

const lamportOther = "#999999"

// lamportCSS styles the diagram; classes also name what each element is
// (tests count them).
const lamportCSS = `
text { font-family: sans-serif; fill: #222; }
.title { font-size: 15px; font-weight: bold; }
.sub, .note { font-size: 11px; fill: #444; }
.lanelabel { font-size: 12px; font-weight: bold; text-anchor: middle; }
.lanelabel.client { fill: #555; font-weight: normal; }
.tick { stroke: #e4e4e4; stroke-width: 1; }
.ticklabel { font-size: 10px; text-anchor: end; fill: #666; }
.lane { stroke: #333; stroke-width: 1.5; }
.lane.client { stroke: #888; stroke-dasharray: 1 0; }
.down { stroke: #f3b0b0; stroke-width: 7; stroke-opacity: 0.8; }
.arrow { stroke-width: 1.1; fill: none; }
.arrow.beyond { stroke-dasharray: 4 3; }
.mlabel { font-size: 7px; fill: #555; }
.drop { stroke: #d00; stroke-width: 2; fill: none; }
.dead { stroke: #333; stroke-width: 1.2; fill: #fff; }
.crash { stroke: #d00; stroke-width: 3; fill: none; }
.restart { stroke: #2a2; stroke-width: 3; fill: none; }
.pause, .resume { stroke: #e90; stroke-width: 3; fill: none; }
.leader { fill: #1f5fbf; }
.nodefault { fill: #8a2be2; }
.fault { stroke: #8a2be2; stroke-width: 1; stroke-dasharray: 6 4; }
.marklabel { font-size: 9px; fill: #333; }
.faultlabel { font-size: 9px; fill: #8a2be2; }
.legend { font-size: 10px; }
`

// lamportCanvas maps the diagram's times and lanes to coordinates.
type lamportCanvas struct {
	d      *LamportDiagram
	laneX  map[string]float64
	height float64
	span   time.Duration
}

func (c *lamportCanvas) y(t time.Duration) float64 {
	return lamportTop + float64(t-c.d.From)/float64(c.span)*c.height
}

func (c *lamportCanvas) bottom() float64 { return lamportTop + c.height }

// WriteSVG renders the diagram as a standalone SVG document: lanes as
// vertical lines, time flowing downward with a scale on the left, each
// message an arrow from its sender's lane to its receiver's, coloured by
// type and labelled; a red X where the network dropped one; marks for
// crashes, restarts, pauses, leaders and faults.
func (d *LamportDiagram) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	c := &lamportCanvas{d: d, laneX: map[string]float64{}, span: d.To - d.From}
	if c.span <= 0 {
		c.span = time.Millisecond
	}
	c.height = math.Min(lamportMaxHeight, math.Max(lamportMinHeight, math.Max(
		lamportPxPerArrow*float64(len(d.Arrows)), lamportPxPerLatency*float64(c.span)/float64(d.medianLatency()))))
	for i, l := range d.Lanes {
		c.laneX[string(l.ID)] = lamportLeft + float64(i)*lamportLaneGap
	}
	lanes := max(len(d.Lanes), 1)
	width := lamportLeft + float64(lanes-1)*lamportLaneGap + lamportRight
	height := lamportTop + c.height + lamportBottom
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }

	p(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f">`+"\n", width, height, width, height)
	p("<style>%s</style>\n", lamportCSS)
	p(`<rect x="0" y="0" width="%.0f" height="%.0f" fill="#fff"/>`+"\n", width, height)
	p(`<text class="title" x="12" y="22">%s</text>`+"\n", lamportEsc(d.Title))
	p(`<text class="sub" x="12" y="40">%s</text>`+"\n", lamportEsc(d.summary()))
	colours := c.legend(p)
	c.scale(p, width)
	c.lanes(p)
	for i := range d.Arrows {
		c.arrow(p, &d.Arrows[i], colours)
	}
	c.marks(p, width)
	y := c.bottom() + 40
	for _, line := range d.notes() {
		p(`<text class="note" x="12" y="%.1f">%s</text>`+"\n", y, lamportEsc(line))
		y += 15
	}
	p("</svg>\n")
	return bw.Flush()
}

// medianLatency returns the median time a delivered message took (1ms if
// none was delivered).
func (d *LamportDiagram) medianLatency() time.Duration {
	var lat []time.Duration
	for _, a := range d.Arrows {
		if a.End == EndDelivered && a.At > a.Sent {
			lat = append(lat, a.At-a.Sent)
		}
	}
	if len(lat) == 0 {
		return time.Millisecond
	}
	slices.Sort(lat)
	return lat[len(lat)/2]
}

// summary is the line under the title.
func (d *LamportDiagram) summary() string {
	s := fmt.Sprintf("virtual time %v to %v · %d lanes · %d messages (%d arrows: %d delivered, %d lost, %d dropped, %d to a crashed node, %d in flight)",
		d.From, d.To, len(d.Lanes), d.Messages, len(d.Arrows), d.Count(EndDelivered), d.Count(EndLost),
		d.Count(EndDropped), d.Count(EndDead), d.Count(EndInFlight))
	return s
}

// notes explain the drawing, and say so when it is truncated.
func (d *LamportDiagram) notes() []string {
	out := []string{
		"Time flows downward. Solid arrow: delivered; red X: lost at send (short arrow) or dropped on arrival; circle: reached a crashed node;",
		"dashed: continues past the end of the window (or was still in flight when the run ended). Arrows entering at the top were sent before the window.",
	}
	if d.Truncated {
		out = append(out, fmt.Sprintf("TRUNCATED: drew the first %d messages; the diagram stops at %v and %d more messages of the window are not drawn (narrow --from/--to or use --node).",
			d.MaxMessages, d.To, d.Omitted))
	}
	if d.OmittedMarks > 0 {
		out = append(out, fmt.Sprintf("%d more marks (crashes, faults) are not drawn.", d.OmittedMarks))
	}
	return out
}

// legend draws one coloured swatch per message type and returns the
// colours.
func (c *lamportCanvas) legend(p func(string, ...any)) map[string]string {
	var types []string
	for _, a := range c.d.Arrows {
		if !slices.Contains(types, a.Label) {
			types = append(types, a.Label)
		}
	}
	slices.Sort(types)
	colours := map[string]string{}
	x, y := 12.0, 60.0
	for i, t := range types {
		col := lamportOther
		if i < len(lamportPalette) {
			col = lamportPalette[i]
		}
		colours[t] = col
		if i > len(lamportPalette) {
			continue
		}
		label := t
		if i == len(lamportPalette) {
			label = "other types"
		}
		p(`<rect x="%.1f" y="%.1f" width="14" height="4" fill="%s"/>`, x, y-4, col)
		p(`<text class="legend" x="%.1f" y="%.1f">%s</text>`+"\n", x+18, y, lamportEsc(label))
		x += 28 + 6.5*float64(len(label))
		if x > 900 {
			x, y = 12, y+16
		}
	}
	return colours
}

// scale draws horizontal ticks across the window with their times.
func (c *lamportCanvas) scale(p func(string, ...any), width float64) {
	step := lamportNiceStep(c.span, int(c.height/70))
	first := (c.d.From + step - 1) / step * step
	for t := first; t <= c.d.From+c.span && t-first <= step*1000; t += step {
		y := c.y(t)
		p(`<line class="tick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, lamportLeft-30, y, width-lamportRight+60, y)
		p(`<text class="ticklabel" x="%.1f" y="%.1f">%s</text>`+"\n", lamportLeft-34, y+3, lamportEsc(t.String()))
	}
}

// lamportNiceStep returns a round tick step (1, 2 or 5 times a power of
// ten nanoseconds) giving about n ticks over span.
func lamportNiceStep(span time.Duration, n int) time.Duration {
	n = max(n, 2)
	raw := float64(span) / float64(n)
	step := time.Duration(1)
	for float64(step)*10 <= raw {
		step *= 10
	}
	for _, m := range []time.Duration{1, 2, 5, 10} {
		if float64(step*m) >= raw {
			return step * m
		}
	}
	return step * 10
}

// lanes draws each node's vertical line, its down spans and its labels.
func (c *lamportCanvas) lanes(p func(string, ...any)) {
	top, bottom := lamportTop, c.bottom()
	for _, l := range c.d.Lanes {
		x := c.laneX[string(l.ID)]
		class := ""
		if l.Client {
			class = " client"
		}
		p(`<text class="lanelabel%s" x="%.1f" y="%.1f">%s</text>`, class, x, top-12, lamportEsc(string(l.ID)))
		p(`<text class="lanelabel%s" x="%.1f" y="%.1f">%s</text>`+"\n", class, x, bottom+20, lamportEsc(string(l.ID)))
		p(`<line class="lane%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`+"\n", class, x, top, x, bottom)
		for _, s := range l.Down {
			p(`<line class="down" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>%s down %v to %v</title></line>`+"\n",
				x, c.y(s.From), x, c.y(s.To), lamportEsc(string(l.ID)), s.From, s.To)
		}
	}
}

// arrow draws one message: its line (clipped to the window), its head or
// its X, its label and a tooltip.
func (c *lamportCanvas) arrow(p func(string, ...any), a *Arrow, colours map[string]string) {
	x1, ok1 := c.laneX[string(a.From)]
	x2, ok2 := c.laneX[string(a.To)]
	if !ok1 || !ok2 {
		return
	}
	y1, y2 := c.y(a.Sent), c.y(a.At)
	if a.End == EndLost {
		dx := 0.35 * (x2 - x1)
		if a.From == a.To {
			dx = 20
		}
		x2, y2 = x1+dx, y1+lamportLostPx
	}
	// Clip to the window: an arrow sent before it enters at the top, one
	// that ends after it leaves at the bottom.
	top, bottom := lamportTop, c.bottom()
	if y1 < top && y2 > y1 {
		x1, y1 = x1+(x2-x1)*(top-y1)/(y2-y1), top
	}
	beyond := y2 > bottom+0.01 && a.End != EndLost
	if beyond {
		x2, y2 = x1+(x2-x1)*(bottom-y1)/(y2-y1), bottom
	}
	col := colours[a.Label]
	class := "arrow " + a.End.String()
	if beyond {
		class += " beyond"
	}
	if a.Dup {
		class += " dup"
	}
	tip := fmt.Sprintf("#%d %s (%s) %s→%s sent %v, %s at %v", a.MsgID, a.Label, a.Type, a.From, a.To, a.Sent, a.End, a.At)
	if a.Dup {
		tip += " (duplicated by the network)"
	}
	p(`<g><title>%s</title>`, lamportEsc(tip))
	p(`<line class="%s" stroke="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, class, col, x1, y1, x2, y2)
	if !beyond {
		switch a.End {
		case EndDelivered:
			p(`<path class="head" fill="%s" d="%s"/>`, col, lamportHead(x1, y1, x2, y2))
		case EndLost, EndDropped:
			k := lamportXSize
			p(`<path class="drop" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f"/>`, x2-k, y2-k, x2+k, y2+k, x2-k, y2+k, x2+k, y2-k)
		case EndDead:
			p(`<circle class="dead" cx="%.1f" cy="%.1f" r="3"/>`, x2, y2)
		}
	}
	label := a.Label
	if a.Dup {
		label += " (dup)"
	}
	mx, my := (x1+x2)/2, (y1+y2)/2
	p(`<text class="mlabel" x="%.1f" y="%.1f">%s</text></g>`+"\n", mx+3, my-2, lamportEsc(label))
}

// lamportHead is the path of a filled arrowhead at (x2, y2) pointing
// along the line from (x1, y1).
func lamportHead(x1, y1, x2, y2 float64) string {
	dx, dy := x2-x1, y2-y1
	n := math.Hypot(dx, dy)
	if n == 0 {
		dx, dy, n = 1, 0, 1
	}
	ux, uy := dx/n, dy/n
	const length, half = 7.0, 3.0
	bx, by := x2-ux*length, y2-uy*length
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fZ", x2, y2, bx-uy*half, by+ux*half, bx+uy*half, by-ux*half)
}

// marks draws crashes, restarts, pauses, leaders and faults.
func (c *lamportCanvas) marks(p func(string, ...any), width float64) {
	for _, m := range c.d.Marks {
		y := c.y(m.At)
		text := m.Kind.String()
		if m.Text != "" {
			text += " " + m.Text
		}
		if m.Node == "" {
			p(`<line class="fault" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, lamportLeft-30, y, width-lamportRight+60, y)
			p(`<text class="faultlabel" x="%.1f" y="%.1f">%s</text>`+"\n", width-lamportRight+64, y+3, lamportEsc(lamportShort(m.Text, 40)))
			continue
		}
		x, ok := c.laneX[string(m.Node)]
		if !ok {
			continue
		}
		switch m.Kind {
		case MarkCrash:
			p(`<path class="crash" d="M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f"/>`, x-7, y-7, x+7, y+7, x-7, y+7, x+7, y-7)
		case MarkRestart, MarkPause, MarkResume:
			p(`<path class="%s" d="M%.1f %.1fL%.1f %.1f"/>`, m.Kind, x-9, y, x+9, y)
		case MarkLeader:
			p(`<circle class="leader" cx="%.1f" cy="%.1f" r="4"/>`, x, y)
		default:
			p(`<path class="nodefault" d="M%.1f %.1fL%.1f %.1fL%.1f %.1fL%.1f %.1fZ"/>`, x, y-5, x+5, y, x, y+5, x-5, y)
		}
		p(`<text class="marklabel" x="%.1f" y="%.1f">%s</text>`+"\n", x+10, y-4, lamportEsc(lamportShort(text, 32)))
	}
}

// lamportShort cuts s to at most n runes.
func lamportShort(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// lamportEsc escapes s for XML text and attributes.
func lamportEsc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
