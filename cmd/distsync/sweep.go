package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

type sweepFlags struct {
	seeds       int
	seedRange   string
	first       uint64
	parallel    int
	shard       string
	swarm       bool
	json        string
	failFast    bool
	determinism float64
	report      string
	metric      string
	format      string
	wireCheck   bool // every run verifies the wire check (scenarios.RunOptions.WireCheck)
}

// The sweep's JSON types live in package reports, which draws them.
type (
	// SeedOutcome is one seed of a sweep, as its JSON records it.
	SeedOutcome = reports.SeedOutcome
	// ScenarioSweep is the sweep of one scenario.
	ScenarioSweep = reports.ScenarioSweep
	// SweepReport is what `sweep --json` writes and `sweep merge` combines.
	SweepReport = reports.SweepReport
)

func newSweepCmd() *cobra.Command {
	var f sweepFlags
	cmd := &cobra.Command{
		Use:   "sweep FILE|DIR",
		Short: "Run many seeds of one scenario file or of every scenario in a directory",
		Long: `sweep runs many seeds of each scenario, in parallel across cores (each
simulation stays single-threaded), and prints a summary per scenario: seeds
run and failed, events per second, simulated seconds per wall second, and how
many seeds exercised each fault kind. Each failing seed is listed with the
command that replays it.

--shard I/N runs the I-th of N slices of the seeds, so N machines (a
Kubernetes Indexed Job, a CI matrix) can split one sweep; 'distsync sweep
merge' combines their --json files. --check-determinism re-runs a sample of
the seeds (5% by default) and fails on any trace-hash mismatch.

--report DIR writes a report directory: summary.md, a histogram of --metric
over the seeds of each scenario, and for each scenario the full report (plots,
tables, porcupine's view of a history that is not linearizable) of its first
failing seed, or else its first seed; index.html links everything.

--wire-check makes every seed verify that each message round-tripped through
the TCP codec (as scenario runs always do), and stops the sweep with an error
if one did not.

Exit code: 0 when every seed passes, 1 when one fails, 2 on bad input.`,
		Example: `  distsync sweep scenarios/ --seeds 100
  distsync sweep scenarios/leader-crash.yaml --seed-range 1000-1999 --parallel 2 --json out/sweep.json
  distsync sweep scenarios/ --seeds 1000 --shard 0/4 --json out/shard0.json
  distsync sweep scenarios/ --seeds 10 --report out/report --metric recovery`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runSweep(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.seeds, "seeds", 20, "number of seeds per scenario")
	fl.StringVar(&f.seedRange, "seed-range", "", "seeds A-B (inclusive) instead of --seeds")
	fl.Uint64Var(&f.first, "first-seed", 1, "first seed with --seeds")
	fl.IntVar(&f.parallel, "parallel", runtime.NumCPU(), "seeds run at once")
	fl.StringVar(&f.shard, "shard", "", "run only slice I of N: I/N")
	fl.BoolVar(&f.swarm, "swarm", false, "add random swarm faults to scenarios that have no swarm section")
	fl.StringVar(&f.json, "json", "", "write every seed's outcome as JSON to this file")
	fl.BoolVar(&f.failFast, "fail-fast", false, "stop at the first failing seed")
	fl.Float64Var(&f.determinism, "check-determinism", 0, "re-run this fraction of the seeds and compare trace hashes")
	fl.Lookup("check-determinism").NoOptDefVal = "0.05"
	fl.StringVar(&f.report, "report", "", "write a report directory (index.html, summary.md, plots) here")
	fl.StringVar(&f.metric, "metric", reports.DefaultMetric, "the metric of the report's histograms: "+strings.Join(reports.MetricNames(), ", "))
	fl.StringVar(&f.format, "format", "text", "terminal output: text, md or json (the SweepReport)")
	fl.BoolVar(&f.wireCheck, "wire-check", false, "verify that every message round-trips through the TCP codec (the wire check, on in every scenario run)")
	cmd.AddCommand(newMergeCmd())
	return cmd
}

func loadScenarios(path string) ([]*spec.Scenario, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	if !info.IsDir() {
		s, err := loadScenario(path)
		if err != nil {
			return nil, err
		}
		return []*spec.Scenario{s}, nil
	}
	all, err := spec.LoadDir(path)
	if err != nil {
		return nil, usageError{err}
	}
	return all, nil
}

// seedList turns the flags into this shard's seeds.
func (f sweepFlags) seedList() ([]sim.Seed, error) {
	var all []sim.Seed
	if f.seedRange != "" {
		a, b, ok := strings.Cut(f.seedRange, "-")
		lo, err1 := strconv.ParseUint(a, 10, 64)
		hi, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || hi < lo || hi-lo >= 10_000_000 {
			return nil, fmt.Errorf("--seed-range: %q is not A-B with A <= B and at most 10M seeds", f.seedRange)
		}
		for s := lo; s <= hi; s++ {
			all = append(all, sim.Seed(s))
		}
	} else {
		if f.seeds < 1 || f.seeds > 10_000_000 {
			return nil, fmt.Errorf("--seeds: %d outside [1, 10000000]", f.seeds)
		}
		for i := 0; i < f.seeds; i++ {
			all = append(all, sim.Seed(f.first+uint64(i)))
		}
	}
	if f.shard == "" {
		return all, nil
	}
	a, b, ok := strings.Cut(f.shard, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("--shard: %q is not I/N with 0 <= I < N", f.shard)
	}
	var mine []sim.Seed
	for k, s := range all {
		if k%n == i {
			mine = append(mine, s)
		}
	}
	return mine, nil
}

// defaultSwarm is what --swarm adds to a scenario without a swarm section.
var defaultSwarm = spec.Swarm{
	Faults: []string{"crash", "partition", "pause", "clog", "loss", "duplicate", "reorder", "clock", "disk"},
	Every:  spec.Range{Min: spec.Duration(300 * time.Millisecond), Max: spec.Duration(2 * time.Second)},
}

type job struct {
	scenario int
	seed     sim.Seed
}

func runSweep(cmd *cobra.Command, path string, f sweepFlags) error {
	all, err := loadScenarios(path)
	if err != nil {
		return err
	}
	if f.seedRange != "" && (cmd.Flags().Changed("seeds") || cmd.Flags().Changed("first-seed")) {
		return usageError{fmt.Errorf("--seed-range and --seeds/--first-seed: give one or the other")}
	}
	seeds, err := f.seedList()
	if err != nil {
		return usageError{err}
	}
	if f.json != "" {
		if err := reports.CheckWritable(dirOf(f.json)); err != nil {
			return usageError{fmt.Errorf("--json: %w", err)}
		}
	}
	if f.parallel < 1 || f.parallel > 256 {
		return usageError{fmt.Errorf("--parallel: %d outside [1, 256]", f.parallel)}
	}
	if !(f.determinism >= 0 && f.determinism <= 1) {
		return usageError{fmt.Errorf("--check-determinism: fraction %v outside [0, 1]", f.determinism)}
	}
	format, err := parseFormat(f.format)
	if err != nil {
		return err
	}
	metric, err := reports.LookupMetric(f.metric)
	if err != nil {
		return usageError{fmt.Errorf("--metric: %w", err)}
	}
	if err := checkReportDir(f.report); err != nil {
		return err
	}
	if f.swarm {
		for _, s := range all {
			if s.Swarm == nil {
				sw := defaultSwarm
				s.Swarm = &sw
			}
		}
	}
	out, progress := cmd.OutOrStdout(), cmd.OutOrStdout()
	if format.json {
		progress = cmd.ErrOrStderr() // stdout carries only the JSON
	}
	report := SweepReport{Version: reports.SweepVersion, Shard: f.shard, Swarm: f.swarm}
	for _, s := range all {
		report.Scenarios = append(report.Scenarios, ScenarioSweep{Scenario: s.Name, File: s.File})
	}
	var jobs []job
	for i := range all {
		for _, seed := range seeds {
			jobs = append(jobs, job{i, seed})
		}
	}
	start := time.Now()
	results, err := runJobs(progress, all, jobs, f)
	if err != nil {
		return err
	}
	for k, r := range results {
		if r != nil {
			sc := &report.Scenarios[jobs[k].scenario]
			sc.Seeds = append(sc.Seeds, reports.Outcome(r))
		}
	}
	mismatches, err := checkDeterminism(progress, all, jobs, results, f.determinism)
	if err != nil {
		return err
	}
	if f.json != "" {
		if err := writeJSON(f.json, report); err != nil {
			return err
		}
	}
	failed, err := printSweep(out, format, report, metric, time.Since(start))
	if err != nil {
		return err
	}
	if f.report != "" {
		index, err := reports.WriteSweep(f.report, &report, metric, sweepRepresentatives(&report, jobs, results, all))
		if err != nil {
			return err
		}
		fmt.Fprintf(progress, "report: %s\n", index)
	}
	if failed > 0 || mismatches > 0 {
		return errChecksFailed
	}
	return nil
}

// runJobs runs every job on f.parallel workers, with a progress bar on a
// terminal and plain lines otherwise. Results come back in job order.
func runJobs(out io.Writer, all []*spec.Scenario, jobs []job, f sweepFlags) ([]*scenarios.Result, error) {
	results := make([]*scenarios.Result, len(jobs))
	var (
		mu      sync.Mutex
		next    int
		firstEr error
		stop    bool
		done    int
	)
	tty := false
	if file, ok := out.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		tty = true
	}
	var bar *progressbar.ProgressBar
	if tty {
		bar = progressbar.NewOptions(len(jobs), progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription("sweep"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	var wg sync.WaitGroup
	for range min(f.parallel, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= len(jobs) || stop {
					mu.Unlock()
					return
				}
				k := next
				next++
				mu.Unlock()
				j := jobs[k]
				r, err := scenarios.RunScenario(all[j.scenario], scenarios.RunOptions{Seed: j.seed, WireCheck: f.wireCheck})
				mu.Lock()
				done++
				if err != nil && firstEr == nil {
					firstEr, stop = err, true
				}
				results[k] = r
				if r != nil && !r.Passed && f.failFast {
					stop = true
				}
				if bar != nil {
					_ = bar.Add(1)
				} else if r != nil && (!r.Passed || done%50 == 0 || done == len(jobs)) {
					fmt.Fprintf(out, "[%d/%d] %s seed %d: %s\n", done, len(jobs), r.Scenario, r.Seed, verdictWord(r))
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
	}
	return results, firstEr
}

func verdictWord(r *scenarios.Result) string {
	if r.Passed {
		return "ok"
	}
	return "FAIL " + r.Failure.Check
}

// checkDeterminism re-runs a sample of the seeds (at least one when the
// fraction is positive), as FoundationDB's unseed check does, and reports
// any trace-hash mismatch.
func checkDeterminism(out io.Writer, all []*spec.Scenario, jobs []job, results []*scenarios.Result, frac float64) (int, error) {
	if frac <= 0 || len(jobs) == 0 {
		return 0, nil
	}
	step := max(1, int(1/frac))
	checked, bad := 0, 0
	for k := 0; k < len(jobs); k += step {
		if results[k] == nil {
			continue
		}
		j := jobs[k]
		again, err := scenarios.RunScenario(all[j.scenario], scenarios.RunOptions{Seed: j.seed})
		if err != nil {
			return bad, err
		}
		checked++
		if again.TraceHash != results[k].TraceHash {
			bad++
			fmt.Fprintf(out, "NONDETERMINISM %s seed %d: trace-hash %s then %s\n", again.Scenario, j.seed, results[k].TraceHash, again.TraceHash)
		}
	}
	fmt.Fprintf(out, "determinism: %d seeds re-run, %d mismatches\n", checked, bad)
	return bad, nil
}

// printSweep prints the sweep's tables (and its failing seeds with their
// replay commands) in the chosen format, and returns how many seeds failed.
func printSweep(out io.Writer, format outputFormat, report SweepReport, metric reports.Metric, wall time.Duration) (int, error) {
	failed := report.Failed()
	if format.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return failed, enc.Encode(report)
	}
	if err := reports.WriteSections(out, format.table, reports.SweepSummary(&report, metric)); err != nil {
		return failed, err
	}
	var virtual time.Duration
	seedsRun := 0
	for _, sc := range report.Scenarios {
		for _, o := range sc.Seeds {
			virtual += o.Virtual
		}
		seedsRun += len(sc.Seeds)
	}
	if wall <= 0 { // merged or read back: the sweep's wall time is unknown
		fmt.Fprintf(out, "%d seeds: %d failed\n", seedsRun, failed)
		return failed, nil
	}
	fmt.Fprintf(out, "%d seeds in %v (%.1f seeds/s, %.0f simulated seconds per wall second on %d cores): %d failed\n",
		seedsRun, wall.Round(time.Millisecond), float64(seedsRun)/max(wall.Seconds(), 1e-9),
		virtual.Seconds()/max(wall.Seconds(), 1e-9), runtime.NumCPU(), failed)
	return failed, nil
}

// sweepRepresentatives picks, per scenario, the seed the report shows in
// full (the first failing seed, else the first) from the runs in memory.
func sweepRepresentatives(report *SweepReport, jobs []job, results []*scenarios.Result, all []*spec.Scenario) []reports.Representative {
	var reps []reports.Representative
	for i := range report.Scenarios {
		sc := &report.Scenarios[i]
		o, ok := sc.Representative()
		if !ok {
			continue
		}
		rep := reports.Representative{Scenario: sc.Scenario, Seed: o.Seed, Why: whyChosen(o)}
		for k, j := range jobs {
			if all[j.scenario].Name == sc.Scenario && uint64(j.seed) == o.Seed {
				rep.Result = results[k]
			}
		}
		reps = append(reps, rep)
	}
	return reps
}

func whyChosen(o SeedOutcome) string {
	if o.Passed {
		return "the first seed, as every seed passed"
	}
	return "the first failing seed"
}

func newMergeCmd() *cobra.Command {
	var outPath string
	cmd := &cobra.Command{
		Use:   "merge FILE.json...",
		Short: "Combine the --json files of sweep shards into one report",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			merged := SweepReport{Version: reports.SweepVersion}
			index := map[string]int{}
			type seedKey struct {
				scenario string
				seed     uint64
			}
			seen := map[seedKey]string{}
			for k, path := range args {
				in, err := reports.Load(path)
				if err != nil {
					return usageError{err}
				}
				if in.Sweep == nil {
					return usageError{fmt.Errorf("%s: a run result, not a sweep report", path)}
				}
				r := in.Sweep
				if k > 0 && r.Swarm != merged.Swarm {
					return usageError{fmt.Errorf("%s: swarm %v, but %s has swarm %v: shards of different sweeps", path, r.Swarm, args[0], merged.Swarm)}
				}
				merged.Swarm = r.Swarm
				for _, sc := range r.Scenarios {
					for _, o := range sc.Seeds {
						key := seedKey{sc.Scenario, o.Seed}
						if prev, dup := seen[key]; dup {
							return usageError{fmt.Errorf("%s: scenario %s seed %d is also in %s: shards overlap", path, sc.Scenario, o.Seed, prev)}
						}
						seen[key] = path
					}
					i, ok := index[sc.Scenario]
					if !ok {
						i = len(merged.Scenarios)
						index[sc.Scenario] = i
						merged.Scenarios = append(merged.Scenarios, ScenarioSweep{Scenario: sc.Scenario, File: sc.File})
					}
					merged.Scenarios[i].Seeds = append(merged.Scenarios[i].Seeds, sc.Seeds...)
				}
			}
			for i := range merged.Scenarios {
				slices.SortFunc(merged.Scenarios[i].Seeds, func(a, b SeedOutcome) int { return cmpU(a.Seed, b.Seed) })
			}
			if outPath != "" {
				if err := writeJSON(outPath, merged); err != nil {
					return err
				}
			}
			metric, _ := reports.LookupMetric(reports.DefaultMetric)
			failed, err := printSweep(cmd.OutOrStdout(), outputFormat{table: reports.Text}, merged, metric, 0)
			if err != nil {
				return err
			}
			if failed > 0 {
				return errChecksFailed
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "write the merged JSON here")
	return cmd
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
