package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

type replayFlags struct {
	seed     uint64
	trace    string
	from, to time.Duration
	node     string
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay FILE --seed N",
		Short: "Run one seed again, exactly, and print what happened event by event",
		Long: `replay runs a scenario's seed again — the same run, bit for bit — and prints a
human-readable trace: one line per event with the virtual time, the node, its
Raft role and term at that moment, and the event. --from, --to and --node
narrow it down. It ends with the verdict: the failure and its message, or ok.`,
		Example: `  distsync replay scenarios/leader-crash.yaml --seed 913
  distsync replay scenarios/leader-crash.yaml --seed 913 --from 12s --to 12.5s --node n3 --trace out/913.jsonl`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReplay(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed to replay")
	fl.StringVar(&f.trace, "trace", "", "also write the JSON Lines trace to this file")
	fl.DurationVar(&f.from, "from", 0, "print events from this virtual time")
	fl.DurationVar(&f.to, "to", 0, "print events up to this virtual time (0: the end)")
	fl.StringVar(&f.node, "node", "", "print only events of this node")
	_ = cmd.MarkFlagRequired("seed")
	return cmd
}

func runReplay(cmd *cobra.Command, path string, f replayFlags) error {
	s, err := loadScenario(path)
	if err != nil {
		return err
	}
	if f.from < 0 || f.to < 0 || (f.to > 0 && f.to < f.from) {
		return usageError{fmt.Errorf("--from %v and --to %v: want 0 <= from <= to", f.from, f.to)}
	}
	out := cmd.OutOrStdout()
	opts := scenarios.RunOptions{Seed: sim.Seed(f.seed), Watch: narrator(out, f)}
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
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	printVerdict(out, res)
	fmt.Fprintf(out, "trace-hash: %s\n", res.TraceHash)
	if !res.Passed {
		return errChecksFailed
	}
	return nil
}

// narrator prints one line per trace record in the window.
func narrator(out io.Writer, f replayFlags) func(*sim.Record, nodes.Message, *scenarios.Run) {
	return func(r *sim.Record, m nodes.Message, run *scenarios.Run) {
		if r.At < f.from || (f.to > 0 && r.At > f.to) {
			return
		}
		if f.node != "" && string(r.Node) != f.node && string(r.Peer) != f.node {
			return
		}
		role := "-"
		if srv := run.Locks.Server(r.Node); srv != nil {
			st := srv.Raft().Status()
			role = fmt.Sprintf("%s/%d", st.Role, st.Term)
		} else if r.Node != "" && !run.Locks.World.Up(r.Node) {
			role = "down"
		}
		node := string(r.Node)
		if node == "" {
			node = "*"
		}
		what := r.Kind.String()
		switch {
		case m != nil:
			dir := "from"
			if r.Kind == sim.TraceSend {
				dir = "to"
			}
			what = fmt.Sprintf("%s %s %s %s #%d", what, nodes.TypeName(r.Msg), dir, r.Peer, r.MsgID)
			if str, ok := m.(fmt.Stringer); ok {
				what += " " + str.String()
			}
		case r.Text != "":
			what += " " + r.Text
		}
		fmt.Fprintf(out, "%12s %-4s %-14s %s\n", r.At, node, role, what)
	}
}
