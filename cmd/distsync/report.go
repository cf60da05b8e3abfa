package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// outputFormat is what --format asks of the terminal output: tables in
// text or Markdown, or JSON alone.
type outputFormat struct {
	table reports.Format
	json  bool
}

// parseFormat reads --format: text, md (or markdown) or json.
func parseFormat(s string) (outputFormat, error) {
	switch s {
	case "text", "":
		return outputFormat{table: reports.Text}, nil
	case "md", "markdown":
		return outputFormat{table: reports.Markdown}, nil
	case "json":
		return outputFormat{json: true}, nil
	}
	return outputFormat{}, usageError{fmt.Errorf("--format: unknown format %q (want text, md or json)", s)}
}

// checkReportDir proves a report directory can be written before any work
// is done; a directory that cannot be is bad input (exit 2).
func checkReportDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := reports.CheckWritable(dir); err != nil {
		return usageError{fmt.Errorf("--report: %w", err)}
	}
	return nil
}

type reportFlags struct {
	out    string
	metric string
	format string
}

func newReportCmd() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report RESULTS.json --out DIR",
		Short: "Write the report directory (tables, plots, index.html) of a run's or a sweep's JSON",
		Long: `report reads the JSON that 'run --json' or 'sweep --json' wrote and writes a
report directory: summary.md (tables), plots as PNG and SVG, and index.html,
which links everything with the scenario, seed and trace-hash.

For a run: latency of each operation over time, coloured by outcome, with the
fault windows shaded and labelled; throughput over time per operation kind;
latency CDF per kind; time to elect after each leader loss; and porcupine's
visualisation when the history is not linearizable (the seed is run again for
it: the JSON does not hold the checker's state).

For a sweep: the per-scenario tables, a histogram of --metric over the seeds
of each scenario, and the full report of one seed per scenario (its first
failing seed, or else its first), run again from the scenario file.

Exit code: 0 when the report is written, 1 when it cannot be finished, 2 on
bad input: a missing, truncated or other-version results file, an unknown
metric, an output directory that cannot be written.`,
		Example: `  distsync run scenarios/leader-crash.yaml --seed 3 --json out/3.json
  distsync report out/3.json --out out/report-3
  distsync sweep scenarios/ --seeds 10 --json out/sweep.json
  distsync report out/sweep.json --out out/report --metric recovery`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReport(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "", "the report directory to write (required)")
	fl.StringVar(&f.metric, "metric", reports.DefaultMetric, "a sweep's histogram metric: "+strings.Join(reports.MetricNames(), ", "))
	fl.StringVar(&f.format, "format", "text", "terminal output: text, md or json")
	return cmd
}

func runReport(cmd *cobra.Command, path string, f reportFlags) error {
	if f.out == "" {
		return usageError{errors.New("--out: the report directory is required")}
	}
	format, err := parseFormat(f.format)
	if err != nil {
		return err
	}
	metric, err := reports.LookupMetric(f.metric)
	if err != nil {
		return usageError{fmt.Errorf("--metric: %w", err)}
	}
	in, err := reports.Load(path)
	if err != nil {
		return usageError{err}
	}
	if err := reports.CheckWritable(f.out); err != nil {
		return usageError{fmt.Errorf("--out: %w", err)}
	}
	out := cmd.OutOrStdout()
	var index string
	if in.Result != nil {
		r := in.Result
		var notes []string
		if note := attachLinearization(r); note != "" {
			notes = append(notes, note)
		}
		if index, err = reports.WriteRun(f.out, r, reports.RunOptions{Notes: notes}); err != nil {
			return err
		}
		if err := printRun(out, format, r, false); err != nil {
			return err
		}
	} else {
		reps := rerunRepresentatives(in.Sweep)
		if index, err = reports.WriteSweep(f.out, in.Sweep, metric, reps); err != nil {
			return err
		}
		if _, err := printSweep(out, format, *in.Sweep, metric, 0); err != nil {
			return err
		}
	}
	w := out
	if format.json {
		w = cmd.ErrOrStderr()
	}
	fmt.Fprintf(w, "report: %s\n", index)
	return nil
}

// rerun runs one seed of a scenario file again, as the sweep ran it (with
// the default swarm faults when the sweep added them), and says how it
// went when it could not or its trace-hash differs from want.
func rerun(file string, seed uint64, swarm bool, want string) (*scenarios.Result, string) {
	s, err := loadScenario(file)
	if err != nil {
		return nil, fmt.Sprintf("seed %d could not be run again: %v", seed, err)
	}
	if swarm && s.Swarm == nil {
		sw := defaultSwarm
		s.Swarm = &sw
	}
	r, err := scenarios.RunScenario(s, scenarios.RunOptions{Seed: sim.Seed(seed)})
	if err != nil {
		return nil, fmt.Sprintf("seed %d could not be run again: %v", seed, err)
	}
	if want != "" && r.TraceHash != want {
		return r, fmt.Sprintf("seed %d run again gave trace-hash %s, not the recorded %s: %s changed since", seed, r.TraceHash, want, file)
	}
	return r, ""
}

// attachLinearization runs a result's seed again when its history was not
// linearizable, to get porcupine's account of it (the JSON does not hold
// it); it returns a note when that was not possible.
func attachLinearization(r *scenarios.Result) string {
	if r.Linearization != nil || r.File == "" {
		return ""
	}
	failed := false
	for _, c := range r.Checks {
		failed = failed || c.Name == spec.CheckLinearizable && !c.Passed
	}
	if !failed {
		return ""
	}
	again, note := rerun(r.File, r.Seed, false, r.TraceHash)
	if note == "" && again != nil {
		r.Linearization = again.Linearization
	}
	return note
}

// rerunRepresentatives runs again, in parallel, the seed of each scenario
// of a sweep that its report shows in full.
func rerunRepresentatives(sw *reports.SweepReport) []reports.Representative {
	reps := make([]reports.Representative, len(sw.Scenarios))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	for i := range sw.Scenarios {
		sc := &sw.Scenarios[i]
		o, ok := sc.Representative()
		if !ok {
			continue
		}
		reps[i] = reports.Representative{Scenario: sc.Scenario, Seed: o.Seed, Why: whyChosen(o)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			reps[i].Result, reps[i].Note = rerun(sc.File, o.Seed, sw.Swarm, o.TraceHash)
		}()
	}
	wg.Wait()
	return reps
}
