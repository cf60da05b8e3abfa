package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

type runFlags struct {
	seed   uint64
	trace  string
	json   string
	quiet  bool
	report string
	format string
	// wireCheck asks RunScenario to verify the wire check.
	wireCheck bool
	// tcp names a cluster file: run against that real cluster.
	tcp string
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

--report DIR writes a report directory: summary.md, plots as PNG and SVG
(latency of each operation over time with the fault windows shaded, throughput
over time, latency CDF, time to elect after each leader loss), porcupine's
view of a history that is not linearizable, and index.html linking them.
--format md prints the tables as Markdown; --format json prints the result
as JSON instead of tables.

--wire-check makes sure that every message was encoded and decoded by the
TCP codec on its way (the receiver gets the decoded copy), so a codec bug
fails the run deterministically. Scenario runs always do so; the flag makes
the run an error if any delivered message skipped the codec. It changes
neither the run nor its trace-hash.

--tcp cluster.yaml runs the scenario against a real cluster instead: its
workload over the HTTP API, its faults applied for real (a crash is a SIGKILL
and a restart, a pause SIGSTOP and SIGCONT, partitions, loss, duplication,
reordering and clogs go through each node's fault filter, set through its
admin endpoint, so start the cluster with --enable-fault-injection), and the
same history checks (linearizability, queue safety, at-least-once,
liveness). Checks that read every replica's internal state (raft-safety,
lock-safety, coherence) need the simulator and are reported as not checked;
clock, disk and ring faults and triggers are refused. Such a run is not
deterministic: no trace-hash, no replay.

Exit code: 0 when every check passes, 1 when one fails, 2 on bad input.`,
		Example: `  distsync run scenarios/leader-crash.yaml
  distsync run scenarios/leader-crash.yaml --seed 913 --trace out/913.jsonl --json out/913.json
  distsync run scenarios/leader-crash.yaml --seed 913 --report out/913
  distsync run scenarios/queue-owner-crash.yaml --seed 7 --wire-check
  distsync cluster up --nodes 3 --enable-fault-injection && distsync run scenarios/leader-crash.yaml --tcp out/cluster/cluster.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRun(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed to run")
	fl.StringVar(&f.trace, "trace", "", "write the JSON Lines trace to this file")
	fl.StringVar(&f.json, "json", "", "write the result as JSON to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the verdict and the trace-hash")
	fl.StringVar(&f.report, "report", "", "write a report directory (index.html, summary.md, plots) here")
	fl.StringVar(&f.format, "format", "text", "terminal output: text, md or json (the result)")
	fl.StringVar(&f.tcp, "tcp", "", "run against the real cluster of this cluster file (started with --enable-fault-injection for network faults): not deterministic")
	fl.BoolVar(&f.wireCheck, "wire-check", false, "verify that every message round-trips through the TCP codec (the wire check, on in every scenario run)")
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
	if err := checkOutputs(map[string]string{"--trace": f.trace, "--json": f.json}); err != nil {
		return err
	}
	format, err := parseFormat(f.format)
	if err != nil {
		return err
	}
	if err := checkReportDir(f.report); err != nil {
		return err
	}
	if f.tcp != "" {
		return runTCP(cmd, s, f, format)
	}
	opts := scenarios.RunOptions{Seed: sim.Seed(f.seed), WireCheck: f.wireCheck}
	var trace *outFile
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
	return finishRun(cmd, f, format, res)
}

// finishRun writes a run's JSON, prints it, writes its report, and turns
// a failed check into exit code 1.
func finishRun(cmd *cobra.Command, f runFlags, format outputFormat, res *scenarios.Result) error {
	if f.json != "" {
		if err := writeJSON(f.json, res); err != nil {
			return err
		}
	}
	if err := printRun(cmd.OutOrStdout(), format, res, f.quiet); err != nil {
		return err
	}
	if f.report != "" {
		index, err := reports.WriteRun(f.report, res, reports.RunOptions{})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "report: %s\n", index)
	}
	if !res.Passed {
		return errChecksFailed
	}
	return nil
}

// printRun prints a run's result: its tables (unless quiet), the verdict
// and, last, the trace-hash; or, in JSON, the result alone.
func printRun(out io.Writer, format outputFormat, res *scenarios.Result, quiet bool) error {
	if format.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	if !quiet {
		fmt.Fprintf(out, "%s\n\n", reports.Headline(res))
		if err := reports.WriteSections(out, format.table, reports.RunSummary(res)); err != nil {
			return err
		}
	}
	printVerdict(out, res)
	if !res.Real {
		fmt.Fprintf(out, "trace-hash: %s\n", res.TraceHash)
	}
	return nil
}

// checkOutputs checks, before anything runs, that each named output file's
// directory can be written: a bad path is bad input (exit 2), found at once
// rather than after a long run.
func checkOutputs(files map[string]string) error {
	for _, flag := range []string{"--trace", "--json", "--diagram"} {
		if path := files[flag]; path != "" {
			if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
				return usageError{fmt.Errorf("%s: %w", flag, err)}
			}
			if err := reports.CheckWritable(dirOf(path)); err != nil {
				return usageError{fmt.Errorf("%s: %w", flag, err)}
			}
		}
	}
	return nil
}

// outFile is an output file written under a temporary name in its
// directory and renamed into place by Close: a reader never sees it
// half-written, and a failed run leaves no partial file behind.
type outFile struct {
	*os.File
	final string
	done  bool
}

// createFile creates the directory of path and a temporary file beside it.
func createFile(path string) (*outFile, error) {
	if err := os.MkdirAll(dirOf(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, err := os.CreateTemp(dirOf(path), ".distsync-*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &outFile{File: f, final: path}, nil
}

// Close finishes the file and renames it into place.
func (o *outFile) Close() error {
	if o.done {
		return nil
	}
	o.done = true
	if err := o.File.Close(); err != nil {
		_ = os.Remove(o.File.Name())
		return fmt.Errorf("write %s: %w", o.final, err)
	}
	if err := os.Rename(o.File.Name(), o.final); err != nil {
		_ = os.Remove(o.File.Name())
		return fmt.Errorf("write %s: %w", o.final, err)
	}
	return nil
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
}

// writeJSON writes v as JSON to path, atomically (a temporary file
// renamed into place).
func writeJSON(path string, v any) error {
	if err := reports.WriteJSONAtomic(path, v); err != nil {
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
	if r.Real {
		fmt.Fprintln(out, "(a run against a real cluster cannot be replayed; run the scenario in the simulator and sweep its seeds)")
		return
	}
	fmt.Fprintf(out, "replay: %s\n", r.ReplayCommand())
}
