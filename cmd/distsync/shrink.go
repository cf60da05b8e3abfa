package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

type shrinkFlags struct {
	seed    uint64
	out     string
	maxRuns int
	maxTime time.Duration
}

func newShrinkCmd() *cobra.Command {
	var f shrinkFlags
	cmd := &cobra.Command{
		Use:   "shrink FILE --seed N",
		Short: "Shrink a failing seed to the smallest fault schedule that still fails",
		Long: `shrink runs delta debugging over a failing scenario's fault schedule: it drops
faults, shortens fault windows, moves faults earlier, shortens the run and
removes clients, for as long as the same check still fails on the same seed.
It writes the smallest failing scenario it found (a file that 'distsync run
--seed N' reproduces) and prints the fault count and length before and after.`,
		Example: `  distsync shrink scenarios/leader-crash.yaml --seed 913 -o out/leader-crash-min.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE:    func(cmd *cobra.Command, args []string) error { return runShrink(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "the failing seed")
	fl.StringVarP(&f.out, "output", "o", "", "where to write the minimized scenario (default out/NAME-min.yaml)")
	fl.IntVar(&f.maxRuns, "max-runs", 200, "stop after this many runs")
	fl.DurationVar(&f.maxTime, "max-time", 0, "stop after this much wall-clock time (0: no limit)")
	return cmd
}

func runShrink(cmd *cobra.Command, path string, f shrinkFlags) error {
	if !cmd.Flags().Changed("seed") {
		return usageError{fmt.Errorf("--seed is required: shrink starts from a failing seed")}
	}
	s, err := loadScenario(path)
	if err != nil {
		return err
	}
	if f.maxRuns < 1 {
		return usageError{fmt.Errorf("--max-runs: %d must be at least 1", f.maxRuns)}
	}
	out := cmd.OutOrStdout()
	res, err := scenarios.Shrink(s, sim.Seed(f.seed), scenarios.ShrinkOptions{
		MaxRuns: f.maxRuns, MaxTime: f.maxTime,
		Progress: func(step string, run, faults int) {
			fmt.Fprintf(cmd.ErrOrStderr(), "shrink: run %d (%s): %d faults\n", run, step, faults)
		},
	})
	if err != nil {
		return err
	}
	data, err := spec.Marshal(res.Scenario)
	if err != nil {
		return err
	}
	dest := f.out
	if dest == "" {
		dest = "out/" + res.Scenario.Name + ".yaml"
	}
	if err := reports.WriteFileAtomic(dest, data); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	b, a := res.Before, res.After
	fmt.Fprintf(out, "shrunk %s seed %d (check %s) in %d runs:\n", s.Name, f.seed, res.Check, res.Runs)
	fmt.Fprintf(out, "  faults      %d -> %d\n", b.Faults, a.Faults)
	fmt.Fprintf(out, "  fault time  %.3fs -> %.3fs\n", b.FaultSeconds, a.FaultSeconds)
	fmt.Fprintf(out, "  duration    %v -> %v\n", b.Duration, a.Duration)
	fmt.Fprintf(out, "  clients     %d -> %d\n", b.Clients, a.Clients)
	if res.Exhausted {
		fmt.Fprintln(out, "  (the budget ran out: a smaller schedule may exist)")
	}
	fmt.Fprintf(out, "FAIL %s at t=%v: %s\n", res.Failure.Check, res.Failure.At, res.Failure.Message)
	fmt.Fprintf(out, "wrote %s\nreplay: distsync replay %s --seed %d\n", dest, dest, f.seed)
	return nil
}
