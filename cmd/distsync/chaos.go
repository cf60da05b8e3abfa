package main

import (
	"fmt"
	"io"
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
	service  string
	clients  int
}

func newChaosCmd() *cobra.Command {
	var f chaosFlags
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Sweep seeds of a cluster under random faults: the lock service, or the kernel's gossip example",
		Long: `chaos runs a cluster in the simulator under the kernel's random nemesis: message
loss, duplication and reordering, partitions (groups, one-way, isolate,
bridge), crashes with torn writes, pauses, clogged links and slow syncs — and,
for the gossip example, clock skew and drift and corrupt reads too.

--service locks (the default) runs the lock service: Raft-replicated lock
servers and clients that acquire, hold and release locks. Raft safety (one
leader per term, log matching, leader completeness, state machine safety,
commit monotonic) and lock safety (no conflicting grants, fencing tokens
increasing, no waiter blocked on a free lock, an acyclic wait-for graph) are
checked after every event; liveness (a leader, every request answered) after
the faults stop; the clients' history is checked for linearizability with
porcupine.

--service gossip runs the kernel's example node: safety after every event,
convergence at the end.

Every seed prints its trace-hash.

With --seed it runs that one seed (and --trace writes its JSON Lines trace):
the same seed always gives the same trace-hash.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runChaos(cmd, f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 0, "run only this seed")
	fl.IntVar(&f.seeds, "seeds", 20, "number of seeds to sweep")
	fl.Uint64Var(&f.first, "first-seed", 1, "first seed of the sweep")
	fl.StringVar(&f.service, "service", "locks", "what to run: locks or gossip")
	fl.IntVar(&f.nodes, "nodes", 5, "cluster size (servers)")
	fl.IntVar(&f.clients, "clients", 6, "lock clients (--service locks)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "virtual time under faults")
	fl.DurationVar(&f.settle, "settle", 3*time.Second, "quiet virtual time after the faults")
	fl.DurationVar(&f.every, "every", 300*time.Millisecond, "mean virtual time between faults")
	fl.StringVar(&f.trace, "trace", "", "write the JSON Lines trace of --seed to this file")
	fl.BoolVar(&f.markdown, "markdown", false, "print the table as Markdown")
	return cmd
}

// seedRun is the outcome of one seed, whatever the service.
type seedRun struct {
	seed    sim.Seed
	row     []string
	failure string
}

func runChaos(cmd *cobra.Command, f chaosFlags) error {
	single := cmd.Flags().Changed("seed")
	if f.trace != "" && !single {
		return usageError{fmt.Errorf("--trace needs --seed: a trace is of one run")}
	}
	if !single && (f.seeds < 1 || f.seeds > 1_000_000) {
		return usageError{fmt.Errorf("--seeds: %d outside [1, 1000000]", f.seeds)}
	}
	var header []string
	var run func(seed sim.Seed, trace io.Writer) (seedRun, error)
	switch f.service {
	case "locks":
		header, run = lockHeader, func(seed sim.Seed, trace io.Writer) (seedRun, error) { return runLockSeed(f, seed, trace) }
	case "gossip":
		header, run = gossipHeader, func(seed sim.Seed, trace io.Writer) (seedRun, error) { return runGossipSeed(f, seed, trace) }
	default:
		return usageError{fmt.Errorf("--service: %q is not locks or gossip", f.service)}
	}
	seeds := []sim.Seed{sim.Seed(f.seed)}
	if !single {
		seeds = seeds[:0]
		for i := 0; i < f.seeds; i++ {
			seeds = append(seeds, sim.Seed(f.first+uint64(i)))
		}
	}
	out := cmd.OutOrStdout()
	var rows [][]string
	var failed []seedRun
	for _, seed := range seeds {
		res, err := runWithTrace(f.trace, seed, run)
		if err != nil {
			return err
		}
		rows = append(rows, res.row)
		if res.failure != "" {
			failed = append(failed, res)
		}
	}
	format := reports.Text
	if f.markdown {
		format = reports.Markdown
	}
	if err := reports.Table(out, format, header, rows); err != nil {
		return err
	}
	if single {
		fmt.Fprintf(out, "trace-hash: %s\n", rows[0][len(header)-1])
	}
	return reportFailures(out, f, failed, len(seeds))
}

// runWithTrace runs one seed, writing its trace to path if path is set.
func runWithTrace(path string, seed sim.Seed, run func(sim.Seed, io.Writer) (seedRun, error)) (seedRun, error) {
	if path == "" {
		res, err := run(seed, nil)
		if err != nil {
			return res, usageError{err}
		}
		return res, nil
	}
	file, err := createFile(path)
	if err != nil {
		return seedRun{}, fmt.Errorf("--trace: %w", err)
	}
	res, err := run(seed, file)
	if cerr := file.Close(); err == nil && cerr != nil {
		return res, fmt.Errorf("--trace: %w", cerr)
	}
	if err != nil {
		return res, usageError{err}
	}
	return res, nil
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

func verdict(failure string) string {
	if failure == "" {
		return "ok"
	}
	return "FAIL"
}

// The chaos tables keep to 100 columns: short headers, the counters that
// say most (the full counters are in a run's --json of a scenario).
var gossipHeader = []string{"seed", "events", "dup", "cut", "crash", "parts", "pause", "torn", "conv", "result", "trace-hash"}

func runGossipSeed(f chaosFlags, seed sim.Seed, trace io.Writer) (seedRun, error) {
	r, err := scenarios.RunGossipChaos(scenarios.GossipChaos{
		Seed: seed, Nodes: f.nodes, Duration: f.duration, Settle: f.settle, Every: f.every, Trace: trace,
	})
	if err != nil {
		return seedRun{}, err
	}
	s := r.Stats
	return seedRun{seed: seed, failure: r.Failure, row: []string{
		u(uint64(r.Seed)), u(s.Events), u(s.Net.Duplicated),
		u(s.Net.DroppedPartition), u(s.Crashes), u(s.Partitions), u(s.Pauses), u(s.Disk.TornWrites),
		strconv.Itoa(r.Converged), verdict(r.Failure), r.TraceHash,
	}}, nil
}

var lockHeader = []string{"seed", "events", "crash", "parts", "pause", "terms", "grants", "lin", "result", "trace-hash"}

func runLockSeed(f chaosFlags, seed sim.Seed, trace io.Writer) (seedRun, error) {
	r, err := scenarios.RunLockChaos(scenarios.LockChaos{
		Seed: seed, Servers: f.nodes, Clients: f.clients, Duration: f.duration, Settle: f.settle, Every: f.every, Trace: trace,
	})
	if err != nil {
		return seedRun{}, err
	}
	s := r.Stats
	return seedRun{seed: seed, failure: r.Failure, row: []string{
		u(uint64(r.Seed)), u(s.Events), u(s.Crashes), u(s.Partitions),
		u(s.Pauses), u(r.Terms), u(r.Grants), string(r.Linearizable), verdict(r.Failure), r.TraceHash,
	}}, nil
}

func reportFailures(out io.Writer, f chaosFlags, failed []seedRun, total int) error {
	if len(failed) == 0 {
		fmt.Fprintf(out, "%d of %d seeds passed\n", total, total)
		return nil
	}
	for _, r := range failed {
		fmt.Fprintf(out, "FAIL seed %d: %s\n", r.seed, r.failure)
		fmt.Fprintf(out, "replay: distsync chaos --service %s --seed %d --nodes %d --clients %d --duration %v --settle %v --every %v --trace out/%d.jsonl\n",
			f.service, r.seed, f.nodes, f.clients, f.duration, f.settle, f.every, r.seed)
	}
	fmt.Fprintf(out, "%d of %d seeds failed\n", len(failed), total)
	return errChecksFailed
}
