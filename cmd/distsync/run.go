package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

type runFlags struct {
	seed  uint64
	trace string
	json  string
	quiet bool
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run FILE",
		Short: "Run one seed of a scenario file and check it",
		Long: `run runs one seed of a scenario in the simulator, checks it (the scenario's
checks: raft-safety and lock-safety after every event, liveness after the last
fault, linearizable at the end), and prints a summary: operations and their
latencies, faults and whether each applied, the simulator's counters, and the
checks. The last line is the run's trace-hash: the same seed always prints the
same one.

Exit code: 0 when every check passes, 1 when one fails, 2 on bad input.`,
		Example: `  distsync run scenarios/leader-crash.yaml
  distsync run scenarios/leader-crash.yaml --seed 913 --trace out/913.jsonl --json out/913.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed to run")
	fl.StringVar(&f.trace, "trace", "", "write the JSON Lines trace to this file")
	fl.StringVar(&f.json, "json", "", "write the result as JSON to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the verdict and the trace-hash")
	return cmd
}

// loadScenario loads a scenario file; any problem is bad input (exit 2).
func loadScenario(path string) (*spec.Scenario, error) {
	s, err := spec.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	return s, nil
}

func runRun(cmd *cobra.Command, path string, f runFlags) error {
	s, err := loadScenario(path)
	if err != nil {
		return err
	}
	opts := scenarios.RunOptions{Seed: sim.Seed(f.seed)}
	var trace *os.File
	if f.trace != "" {
		if trace, err = createFile(f.trace); err != nil {
			return err
		}
		opts.Trace = trace
	}
	res, err := scenarios.RunScenario(s, opts)
	if trace != nil {
		if cerr := trace.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("--trace: %w", cerr)
		}
	}
	if err != nil {
		return err
	}
	if f.json != "" {
		if err := writeJSON(f.json, res); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if !f.quiet {
		if err := printResult(out, res); err != nil {
			return err
		}
	}
	printVerdict(out, res)
	fmt.Fprintf(out, "trace-hash: %s\n", res.TraceHash)
	if !res.Passed {
		return errChecksFailed
	}
	return nil
}

// createFile creates path and its directory.
func createFile(path string) (*os.File, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}

func writeJSON(path string, v any) error {
	f, err := createFile(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	err = enc.Encode(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// printVerdict prints the failure in the form DESIGN.md shows, with the
// command that replays it, or "ok".
func printVerdict(out io.Writer, r *scenarios.Result) {
	if r.Passed {
		fmt.Fprintf(out, "ok %s seed %d: every check passed\n", r.Scenario, r.Seed)
		return
	}
	fmt.Fprintf(out, "FAIL %s at t=%v: %s\n", r.Failure.Check, r.Failure.At, r.Failure.Message)
	fmt.Fprintf(out, "replay: %s\n", r.ReplayCommand())
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Microsecond).String()
}

func printResult(out io.Writer, r *scenarios.Result) error {
	fmt.Fprintf(out, "scenario %s, seed %d: %v virtual in %v (%d events, %.0f sim-s per wall-s)\n\n",
		r.Scenario, r.Seed, r.Virtual, r.Wall.Round(time.Millisecond), r.Stats.Events, r.Virtual.Seconds()/max(r.Wall.Seconds(), 1e-9))
	if err := opsTable(out, r); err != nil {
		return err
	}
	if err := faultsTable(out, r); err != nil {
		return err
	}
	if err := countersTable(out, r); err != nil {
		return err
	}
	rows := [][]string{}
	for _, c := range r.Checks {
		v := "pass"
		if !c.Passed {
			v = "FAIL"
		}
		rows = append(rows, []string{c.Name, v, c.Detail})
	}
	return reports.Table(out, reports.Text, []string{"check", "result", "detail"}, rows)
}

func opsTable(out io.Writer, r *scenarios.Result) error {
	type agg struct{ ok, fail, unknown int }
	kinds := []string{"open", "keepalive", "acquire", "release"}
	counts := map[string]*agg{}
	for _, k := range kinds {
		counts[k] = &agg{}
	}
	for _, o := range r.Ops {
		a := counts[o.Kind]
		if a == nil {
			continue
		}
		switch o.Outcome {
		case scenarios.OutcomeOK:
			a.ok++
		case scenarios.OutcomeFail:
			a.fail++
		default:
			a.unknown++
		}
	}
	var rows [][]string
	for _, k := range kinds {
		a := counts[k]
		if a.ok+a.fail+a.unknown == 0 {
			continue
		}
		p50, _ := r.Percentile(k, 50)
		p95, _ := r.Percentile(k, 95)
		p99, _ := r.Percentile(k, 99)
		pmax, _ := r.Percentile(k, 100)
		rows = append(rows, []string{"locks", k, strconv.Itoa(a.ok), strconv.Itoa(a.fail), strconv.Itoa(a.unknown),
			fmt.Sprintf("%.1f", float64(a.ok)/r.Virtual.Seconds()), dur(p50), dur(p95), dur(p99), dur(pmax)})
	}
	during, outside := r.Availability()
	pct := func(v float64) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*v)
	}
	if err := reports.Table(out, reports.Text, []string{"service", "op", "ok", "failed", "unknown", "ok/s", "p50", "p95", "p99", "max"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(out, "availability: %s of operations ok during fault windows, %s outside\n\n", pct(during), pct(outside))
	return nil
}

func faultsTable(out io.Writer, r *scenarios.Result) error {
	if len(r.Faults) == 0 && len(r.Swarm) == 0 {
		return nil
	}
	var rows [][]string
	for _, f := range r.Faults {
		applied := "yes"
		if !f.Applied {
			applied = "NO"
		}
		line := "-"
		if f.Line > 0 {
			line = strconv.Itoa(f.Line)
		}
		rows = append(rows, []string{strconv.Itoa(f.Index), line, f.Kind, f.Target, dur(f.Start), dur(f.End), applied, f.Note})
	}
	if len(rows) > 0 {
		if err := reports.Table(out, reports.Text, []string{"#", "line", "fault", "target", "start", "end", "applied", "note"}, rows); err != nil {
			return err
		}
	}
	if len(r.Swarm) > 0 {
		fmt.Fprintf(out, "swarm: this seed switched on %v\n", r.Swarm)
	}
	fmt.Fprintln(out)
	return nil
}

func countersTable(out io.Writer, r *scenarios.Result) error {
	s := r.Stats
	rows := [][]string{
		{"events", u(s.Events)}, {"messages sent", u(s.Net.Sent)}, {"delivered", u(s.Net.Delivered)},
		{"dropped (loss)", u(s.Net.DroppedLoss)}, {"dropped (partition)", u(s.Net.DroppedPartition)},
		{"dropped (dead node)", u(s.Net.DroppedDead)}, {"duplicated", u(s.Net.Duplicated)},
		{"reordered", u(s.Net.Reordered)}, {"clogged", u(s.Net.Clogged)},
		{"crashes", u(s.Crashes)}, {"restarts", u(s.Restarts)}, {"pauses", u(s.Pauses)},
		{"partitions", u(s.Partitions)}, {"clock faults", u(s.ClockFaults)},
		{"torn writes", u(s.Disk.TornWrites)}, {"corrupt reads", u(s.Disk.CorruptReads)},
		{"bytes lost at crashes", u(s.Disk.LostBytes)}, {"syncs", u(s.Disk.Syncs)},
		{"raft terms", u(r.Terms)},
	}
	if err := reports.Table(out, reports.Text, []string{"counter", "value"}, rows); err != nil {
		return err
	}
	fmt.Fprintln(out)
	return nil
}
