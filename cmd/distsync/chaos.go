package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

type chaosFlags struct {
	seed     uint64
	seeds    int
	first    uint64
	nodes    int
	duration time.Duration
	settle   time.Duration
	every    time.Duration
	trace    string
	markdown bool
}

func newChaosCmd() *cobra.Command {
	var f chaosFlags
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Sweep seeds of the kernel's chaos run (gossip cluster under every fault kind)",
		Long: `chaos runs the gossip example cluster in the simulator under the kernel's random
nemesis: message loss, duplication and reordering, partitions (groups, one-way,
isolate, bridge), crashes with torn writes, pauses, clogged links, clock skew
and drift, slow syncs and corrupt reads. Each seed is checked for safety after
every event and for convergence at the end, and prints its trace-hash.

With --seed it runs that one seed (and --trace writes its JSON Lines trace):
the same seed always gives the same trace-hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChaos(cmd, f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "run only this seed")
	fl.IntVar(&f.seeds, "seeds", 20, "number of seeds to sweep")
	fl.Uint64Var(&f.first, "first-seed", 1, "first seed of the sweep")
	fl.IntVar(&f.nodes, "nodes", 5, "cluster size")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "virtual time under faults")
	fl.DurationVar(&f.settle, "settle", 3*time.Second, "quiet virtual time after the faults")
	fl.DurationVar(&f.every, "every", 300*time.Millisecond, "mean virtual time between faults")
	fl.StringVar(&f.trace, "trace", "", "write the JSON Lines trace of --seed to this file")
	fl.BoolVar(&f.markdown, "markdown", false, "print the table as Markdown")
	return cmd
}

func runChaos(cmd *cobra.Command, f chaosFlags) error {
	single := cmd.Flags().Changed("seed")
	if f.trace != "" && !single {
		return usageError{fmt.Errorf("--trace needs --seed: a trace is of one run")}
	}
	if !single && (f.seeds < 1 || f.seeds > 1_000_000) {
		return usageError{fmt.Errorf("--seeds: %d outside [1, 1000000]", f.seeds)}
	}
	seeds := make([]sim.Seed, 0, f.seeds)
	if single {
		seeds = append(seeds, sim.Seed(f.seed))
	} else {
		for i := 0; i < f.seeds; i++ {
			seeds = append(seeds, sim.Seed(f.first+uint64(i)))
		}
	}
	out := cmd.OutOrStdout()
	var rows [][]string
	var failed []scenarios.GossipResult
	for _, seed := range seeds {
		c := scenarios.GossipChaos{Seed: seed, Nodes: f.nodes, Duration: f.duration, Settle: f.settle, Every: f.every}
		var traceFile *os.File
		if f.trace != "" {
			var err error
			if traceFile, err = os.Create(f.trace); err != nil {
				return fmt.Errorf("--trace: %w", err)
			}
			c.Trace = traceFile
		}
		res, err := scenarios.RunGossipChaos(c)
		if traceFile != nil {
			if cerr := traceFile.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("--trace: %w", cerr)
			}
		}
		if err != nil {
			return usageError{err}
		}
		rows = append(rows, chaosRow(res))
		if !res.OK() {
			failed = append(failed, res)
		}
	}
	format := reports.Text
	if f.markdown {
		format = reports.Markdown
	}
	header := []string{"seed", "events", "sent", "lost", "dup", "cut", "crashes", "partitions", "pauses", "torn", "converged", "result", "trace-hash"}
	if err := reports.Table(out, format, header, rows); err != nil {
		return err
	}
	if single {
		fmt.Fprintf(out, "trace-hash: %s\n", rows[0][len(header)-1])
	}
	return reportFailures(out, f, failed, len(seeds))
}

func chaosRow(r scenarios.GossipResult) []string {
	s := r.Stats
	u := func(v uint64) string { return strconv.FormatUint(v, 10) }
	result := "ok"
	if !r.OK() {
		result = "FAIL"
	}
	return []string{
		u(uint64(r.Seed)), u(s.Events), u(s.Net.Sent), u(s.Net.DroppedLoss), u(s.Net.Duplicated),
		u(s.Net.DroppedPartition), u(s.Crashes), u(s.Partitions), u(s.Pauses), u(s.Disk.TornWrites),
		strconv.Itoa(r.Converged), result, r.TraceHash,
	}
}

func reportFailures(out io.Writer, f chaosFlags, failed []scenarios.GossipResult, total int) error {
	if len(failed) == 0 {
		fmt.Fprintf(out, "%d of %d seeds passed\n", total, total)
		return nil
	}
	for _, r := range failed {
		fmt.Fprintf(out, "FAIL seed %d: %s\n", r.Seed, r.Failure)
		fmt.Fprintf(out, "replay: distsync chaos --seed %d --nodes %d --duration %v --settle %v --every %v --trace out/%d.jsonl\n",
			r.Seed, f.nodes, f.duration, f.settle, f.every, r.Seed)
	}
	fmt.Fprintf(out, "%d of %d seeds failed\n", len(failed), total)
	return errChecksFailed
}
