package reports

import (
	"bytes"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
)

// Files of a report directory.
const (
	IndexFile        = "index.html"
	SummaryFile      = "summary.md"
	ResultFile       = "result.json"
	SweepFile        = "sweep.json"
	LinearizableFile = "linearizability.html"
)

// RunOptions add to the report of one run.
type RunOptions struct {
	// Up, if set, is the link from this report back to a sweep's index.
	Up string
	// Notes are shown at the top of the index (why this seed, a caveat).
	Notes []string
}

// RunPlots returns the plots of one run, in the order the index shows
// them: latency over time, throughput over time, latency CDF, and the time
// to elect after each leader loss.
func RunPlots(r *scenarios.Result) []PlotData {
	return []PlotData{LatencyPlotData(r), ThroughputPlotData(r), LatencyCDFPlotData(r), RecoveryPlotData(r)}
}

// emptyNotes say why a plot with nothing to draw is left out.
var emptyNotes = map[string]string{
	"latency":     "no operations: no latency plot",
	"throughput":  "no operation completed ok: no throughput plot",
	"latency-cdf": "no operation was answered: no latency CDF",
	"recovery":    "no leader was lost in this run: no time-to-recover plot",
}

// WriteRun writes the report of one run into dir: summary.md, result.json,
// each plot as PNG and SVG, porcupine's visualisation of a history that is
// not linearizable, and last index.html, which links them all. It returns
// the path of index.html. Every file is written atomically.
func WriteRun(dir string, r *scenarios.Result, opts RunOptions) (string, error) {
	if err := CheckWritable(dir); err != nil {
		return "", err
	}
	page := runPage{Scenario: r.Scenario, File: r.File, Seed: r.Seed, TraceHash: r.TraceHash, Headline: Headline(r),
		Passed: r.Passed, Notes: opts.Notes, Up: opts.Up, Sections: RunSummary(r)}
	if r.Failure != nil {
		page.Failure = fmt.Sprintf("%s at t=%v: %s", r.Failure.Check, r.Failure.At, r.Failure.Message)
		page.Replay = r.ReplayCommand()
	}
	if err := WriteFileAtomic(filepath.Join(dir, SummaryFile), runMarkdown(r)); err != nil {
		return "", err
	}
	if err := WriteJSONAtomic(filepath.Join(dir, ResultFile), r); err != nil {
		return "", err
	}
	page.Links = []Link{{SummaryFile, "summary (Markdown)"}, {ResultFile, "result (JSON)"}}
	if len(r.Swarm) > 0 {
		page.Notes = append(page.Notes, "the swarm faults of this seed ("+strings.Join(r.Swarm, ", ")+
			") are drawn by the simulator's chaos schedule, which does not record them one by one: they are not shaded on the plots")
	}
	for _, p := range RunPlots(r) {
		if p.Empty() {
			page.Notes = append(page.Notes, emptyNotes[p.Name])
			continue
		}
		fig, err := writePlot(dir, p)
		if err != nil {
			return "", err
		}
		page.Figures = append(page.Figures, fig)
	}
	link, note, err := writeLinearization(dir, r)
	if err != nil {
		return "", err
	}
	if link != nil {
		page.Links = append(page.Links, *link)
	}
	if note != "" {
		page.Notes = append(page.Notes, note)
	}
	html, err := renderHTML(runTmpl, page)
	if err != nil {
		return "", err
	}
	index := filepath.Join(dir, IndexFile)
	return index, WriteFileAtomic(index, html)
}

// runMarkdown is summary.md of one run.
func runMarkdown(r *scenarios.Result) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s, seed %d\n\n%s\n\ntrace-hash: `%s`\n\n", r.Scenario, r.Seed, Headline(r), r.TraceHash)
	if r.Failure != nil {
		fmt.Fprintf(&b, "**FAIL** %s at t=%v: %s\n\nreplay: `%s`\n\n", r.Failure.Check, r.Failure.At, r.Failure.Message, r.ReplayCommand())
	} else if r.Passed {
		b.WriteString("Every check passed.\n\n")
	}
	_ = WriteSections(&b, Markdown, RunSummary(r)) // a bytes.Buffer does not fail
	return bytes.TrimRight(b.Bytes(), "\n")
}

// writePlot renders p as PNG and SVG into dir.
func writePlot(dir string, p PlotData) (Figure, error) {
	fig := Figure{Title: p.Title, PNG: p.Name + ".png", SVG: p.Name + ".svg"}
	for _, format := range plotFormats {
		data, err := Render(p, format)
		if err != nil {
			return fig, err
		}
		if err := WriteFileAtomic(filepath.Join(dir, p.Name+"."+format), data); err != nil {
			return fig, err
		}
	}
	return fig, nil
}

// writeLinearization writes porcupine's visualisation when the run kept
// one, or says how to get it when the linearizability check failed
// without one (a result read back from JSON).
func writeLinearization(dir string, r *scenarios.Result) (*Link, string, error) {
	if r.Linearization == nil {
		for _, c := range r.Checks {
			if c.Name == spec.CheckLinearizable && !c.Passed {
				return nil, fmt.Sprintf("the history is not known to be linearizable; for porcupine's visualisation run the seed again: distsync run %s --seed %d --report DIR", fileOr(r), r.Seed), nil
			}
		}
		return nil, "", nil
	}
	var buf bytes.Buffer
	if err := scenarios.VisualizeLinearization(&buf, r.Linearization); err != nil {
		return nil, "", err
	}
	if err := WriteFileAtomic(filepath.Join(dir, LinearizableFile), buf.Bytes()); err != nil {
		return nil, "", err
	}
	return &Link{LinearizableFile, "porcupine: the history that is not linearizable"}, "", nil
}

func fileOr(r *scenarios.Result) string {
	if r.File != "" {
		return r.File
	}
	return r.Scenario
}

// Representative is the one seed of a scenario that a sweep report shows
// in full.
type Representative struct {
	Scenario string
	Seed     uint64
	// Why says how it was chosen ("the first failing seed").
	Why string
	// Result is the seed's run; nil when it could not be run again.
	Result *scenarios.Result
	// Note is shown beside it (why it could not be run, a trace-hash that
	// differs from the sweep's).
	Note string
}

// WriteSweep writes the report of a sweep into dir: summary.md and
// sweep.json, a histogram of metric m over the seeds of each scenario,
// the full report of each representative seed in a subdirectory named
// after its scenario, and last index.html. It returns the path of
// index.html.
func WriteSweep(dir string, sw *SweepReport, m Metric, reps []Representative) (string, error) {
	if err := CheckWritable(dir); err != nil {
		return "", err
	}
	secs := SweepSummary(sw, m)
	var md bytes.Buffer
	fmt.Fprintf(&md, "# Sweep: %d seeds, %d failed\n\n", seedCount(sw), sw.Failed())
	_ = WriteSections(&md, Markdown, secs) // a bytes.Buffer does not fail
	if err := WriteFileAtomic(filepath.Join(dir, SummaryFile), bytes.TrimRight(md.Bytes(), "\n")); err != nil {
		return "", err
	}
	if err := WriteJSONAtomic(filepath.Join(dir, SweepFile), sw); err != nil {
		return "", err
	}
	page := sweepPage{Seeds: seedCount(sw), Failed: sw.Failed(), Metric: m.Name, Sections: secs,
		Links: []Link{{SummaryFile, "summary (Markdown)"}, {SweepFile, "every seed (JSON)"}}}
	page.Scenarios = make([]sweepScenario, len(sw.Scenarios))
	err := forEach(len(sw.Scenarios), func(i int) error {
		var err error
		page.Scenarios[i], err = writeSweepScenario(dir, &sw.Scenarios[i], m, reps)
		return err
	})
	if err != nil {
		return "", err
	}
	html, err := renderHTML(sweepTmpl, page)
	if err != nil {
		return "", err
	}
	index := filepath.Join(dir, IndexFile)
	return index, WriteFileAtomic(index, html)
}

// writeSweepScenario writes one scenario's histogram and representative
// report.
func writeSweepScenario(dir string, sc *ScenarioSweep, m Metric, reps []Representative) (sweepScenario, error) {
	out := sweepScenario{Name: sc.Scenario, File: sc.File, Seeds: len(sc.Seeds)}
	for _, o := range sc.Seeds {
		if !o.Passed {
			out.Failed++
		}
	}
	if p := HistogramPlotData(sc, m); !p.Empty() {
		fig, err := writePlot(dir, p)
		if err != nil {
			return out, err
		}
		out.Histogram = &fig
	} else {
		out.Notes = append(out.Notes, "no seed has a value of "+m.Name+": no histogram")
	}
	for _, rep := range reps {
		if rep.Scenario != sc.Scenario {
			continue
		}
		if rep.Note != "" {
			out.Notes = append(out.Notes, rep.Note)
		}
		if rep.Result == nil {
			continue
		}
		notes := []string{fmt.Sprintf("seed %d of the sweep's %d seeds of %s: %s", rep.Seed, len(sc.Seeds), sc.Scenario, rep.Why)}
		if _, err := WriteRun(filepath.Join(dir, sc.Scenario), rep.Result, RunOptions{Up: "../" + IndexFile, Notes: notes}); err != nil {
			return out, err
		}
		out.Report = &Link{sc.Scenario + "/" + IndexFile, fmt.Sprintf("seed %d, %s", rep.Seed, rep.Why)}
	}
	return out, nil
}

func seedCount(sw *SweepReport) int {
	n := 0
	for _, sc := range sw.Scenarios {
		n += len(sc.Seeds)
	}
	return n
}

// forEach runs f(0..n-1) on up to GOMAXPROCS goroutines and returns the
// first error (by index).
func forEach(n int, f func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
