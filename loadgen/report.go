package loadgen

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/reports"
)

// Warning says what the figures of a load run are, and are not; every
// summary starts with it.
const Warning = "WARNING: real processes, not a simulation. This load ran over TCP against the cluster's node " +
	"processes on this machine: the figures depend on the machine, its other load and the OS, " +
	"are not deterministic, and no seed replays them."

// Files of a load report directory.
const (
	SummaryTextFile = "summary.txt"
	SummaryMDFile   = "summary.md"
	ResultFile      = "result.json"
)

// Headline is the one-line account of a run.
func (r *Result) Headline() string {
	who := fmt.Sprintf("%d clients", r.Clients)
	if r.Consumers > 0 {
		who = fmt.Sprintf("%d producers and %d consumers", r.Clients, r.Consumers)
	}
	what := map[string]string{
		ServiceLocks: fmt.Sprintf("acquire+release of %d resources (exclusive, wait %v)", r.Resources, time.Duration(r.Wait)),
		ServiceQueue: fmt.Sprintf("%d queues, %d-byte messages", r.Resources, r.ValueBytes),
		ServiceCache: fmt.Sprintf("%d keys (Zipf), %d-byte values, %.0f%% puts", r.Resources, r.ValueBytes, 100*r.Writes),
	}[r.Service]
	return fmt.Sprintf("load %s: %s, %s, for %v on %d endpoint(s); measured %v",
		r.Service, who, what, time.Duration(r.Duration), len(r.Endpoints), time.Duration(r.Elapsed).Round(time.Millisecond))
}

// TableHeader is the header of the summary table.
var TableHeader = []string{"op", "ok", "errors", "ops/s", "p50", "p95", "p99", "max"}

// TableRows returns the summary table: a row per kind of operation, its
// ok and failed counts, ok operations per second of the window, and the
// latency percentiles of the ok operations.
func (r *Result) TableRows() ([]string, [][]string) {
	rows := make([][]string, 0, len(r.Ops))
	el := time.Duration(r.Elapsed)
	for _, o := range r.Ops {
		h := o.Latency
		rows = append(rows, []string{o.Kind, strconv.FormatInt(o.OK, 10), strconv.FormatInt(o.ErrorCount(), 10),
			strconv.FormatFloat(o.PerSecond(el), 'f', 1, 64),
			reports.Dur(h.Quantile(0.5)), reports.Dur(h.Quantile(0.95)), reports.Dur(h.Quantile(0.99)), reports.Dur(h.Max())})
	}
	return TableHeader, rows
}

// Notes explain the table: the errors by code and the misses.
func (r *Result) Notes() []string {
	var notes []string
	for _, o := range r.Ops {
		if len(o.Errors) > 0 {
			codes := make([]string, 0, len(o.Errors))
			for code := range o.Errors {
				codes = append(codes, code)
			}
			slices.Sort(codes)
			parts := make([]string, len(codes))
			for i, c := range codes {
				parts[i] = fmt.Sprintf("%s %d", c, o.Errors[c])
			}
			notes = append(notes, fmt.Sprintf("%s errors: %s", o.Kind, strings.Join(parts, ", ")))
		}
		if o.Misses > 0 {
			what := map[string]string{KindDequeue: "empty queue", KindGet: "key never written"}[o.Kind]
			notes = append(notes, fmt.Sprintf("%s: %d of the ok answers found nothing (%s)", o.Kind, o.Misses, what))
		}
	}
	notes = append(notes, "ops/s: ok operations per second of the measured window; p50..max: latency of the ok operations "+
		"(a log-linear histogram, within 3%), from the client's call to its answer, redirects and retries included.")
	return notes
}

// WriteSummary writes the warning, the headline, the table and its notes
// in format f.
func WriteSummary(w io.Writer, f reports.Format, r *Result) error {
	warn, head := wrap(Warning, reports.MaxWidth), wrap(r.Headline(), reports.MaxWidth)
	if f == reports.Markdown {
		warn, head = "**"+Warning+"**", "# "+r.Headline()
	}
	if _, err := fmt.Fprintf(w, "%s\n\n%s\n\n", warn, head); err != nil {
		return err
	}
	header, rows := r.TableRows()
	if err := reports.Table(w, f, header, rows); err != nil {
		return err
	}
	for _, n := range r.Notes() {
		if f == reports.Markdown {
			n = "- " + n
		} else {
			n = wrap(n, reports.MaxWidth)
		}
		if _, err := fmt.Fprintf(w, "\n%s", n); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w)
	return err
}

// palette colours the kinds of operations.
var palette = []color.RGBA{
	{0x1F, 0x77, 0xB4, 0xFF}, {0xD6, 0x27, 0x28, 0xFF}, {0x2C, 0xA0, 0x2C, 0xFF},
	{0x94, 0x67, 0xBD, 0xFF}, {0xFF, 0x7F, 0x0E, 0xFF}, {0x8C, 0x56, 0x4B, 0xFF},
}

// lighter is c faded halfway to white (a kind's p50 next to its p99).
func lighter(c color.RGBA) color.RGBA {
	return color.RGBA{R: c.R/2 + 0x80, G: c.G/2 + 0x80, B: c.B/2 + 0x80, A: c.A}
}

// minMs floors latencies on log axes.
const minMs = 0.001

func ms(d time.Duration) float64 { return max(minMs, float64(d)/float64(time.Millisecond)) }

// minSecond is the shortest last second of a run the plots over time
// show: a few milliseconds of stragglers make no rate.
const minSecond = 0.25

// Plots returns the plots of a run: latency over time (p50 and p99 of
// each second, per kind), the latency CDF per kind, and ok operations per
// second over time, per kind. The last second of the run, usually cut
// short, is drawn at its rate if it lasted at least minSecond.
func Plots(r *Result) []reports.PlotData {
	title := func(what string) string {
		return fmt.Sprintf("load %s, %d clients (real processes, not deterministic): %s", r.Service, r.Clients, what)
	}
	span := time.Duration(r.Elapsed).Seconds()
	lat := reports.PlotData{Name: "latency", Title: title("latency per second"), Kind: reports.Lines, LogY: true,
		XLabel: "time (s)", YLabel: "latency of ok operations (ms, log)", XMax: span}
	cdf := reports.PlotData{Name: "latency-cdf", Title: title("latency CDF"), Kind: reports.Lines, LogX: true,
		XLabel: "latency (ms, log)", YLabel: "fraction of ok operations"}
	tput := reports.PlotData{Name: "throughput", Title: title("ok operations per second"), Kind: reports.Lines,
		XLabel: "time (s)", YLabel: "ok operations / s", XMax: span}
	for i, o := range r.Ops {
		col := palette[i%len(palette)]
		p50 := reports.Series{Name: o.Kind + " p50", Color: lighter(col)}
		p99 := reports.Series{Name: o.Kind + " p99", Color: col}
		ops := reports.Series{Name: o.Kind, Color: col}
		for _, s := range o.Timeline {
			width := min(1, span-float64(s.At)) // the last second may be cut short
			if width < minSecond {
				continue
			}
			x := float64(s.At) + width/2
			ops.X, ops.Y = append(ops.X, x), append(ops.Y, float64(s.OK)/width)
			if s.OK > 0 {
				p50.X, p50.Y = append(p50.X, x), append(p50.Y, ms(s.P50))
				p99.X, p99.Y = append(p99.X, x), append(p99.Y, ms(s.P99))
			}
		}
		for _, s := range []reports.Series{p50, p99} {
			if len(s.X) > 0 {
				lat.Series = append(lat.Series, s)
			}
		}
		if o.OK > 0 {
			tput.Series = append(tput.Series, ops)
			c := reports.Series{Name: o.Kind, Color: col}
			c.X, c.Y = append(c.X, ms(o.Latency.Min())), append(c.Y, 0)
			for _, p := range o.Latency.CDF() {
				c.X, c.Y = append(c.X, ms(p.Latency)), append(c.Y, p.Fraction)
			}
			cdf.Series = append(cdf.Series, c)
		}
	}
	return []reports.PlotData{lat, cdf, tput}
}

// WriteReport writes a run's report into dir: summary.txt and summary.md
// (the tables), result.json (the Result), and each plot of Plots as PNG
// and SVG. Every file is written atomically. It returns the files
// written, relative to dir.
func WriteReport(dir string, r *Result) ([]string, error) {
	if err := reports.CheckWritable(dir); err != nil {
		return nil, err
	}
	var files []string
	for _, s := range []struct {
		name string
		f    reports.Format
	}{{SummaryTextFile, reports.Text}, {SummaryMDFile, reports.Markdown}} {
		var b bytes.Buffer
		if err := WriteSummary(&b, s.f, r); err != nil {
			return files, err
		}
		if err := reports.WriteFileAtomic(filepath.Join(dir, s.name), b.Bytes()); err != nil {
			return files, err
		}
		files = append(files, s.name)
	}
	if err := reports.WriteJSONAtomic(filepath.Join(dir, ResultFile), r); err != nil {
		return files, err
	}
	files = append(files, ResultFile)
	for _, p := range Plots(r) {
		if p.Empty() {
			continue
		}
		for _, format := range []string{"png", "svg"} {
			data, err := reports.Render(p, format)
			if err != nil {
				return files, err
			}
			name := p.Name + "." + format
			if err := reports.WriteFileAtomic(filepath.Join(dir, name), data); err != nil {
				return files, err
			}
			files = append(files, name)
		}
	}
	return files, nil
}

// wrap breaks s into lines of at most width runes at spaces (a longer
// word stays whole).
func wrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len([]rune(word)) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len([]rune(word))
	}
	return b.String()
}
