package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/reports"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

type replayFlags struct {
	seed     uint64
	trace    string
	from, to time.Duration
	node     string
	// diagram, if set, is where the space-time diagram of the window goes
	// (SVG); clients and maxMessages shape it.
	diagram     string
	clients     bool
	maxMessages int
	quiet       bool
	wireCheck   bool // scenarios.RunOptions.WireCheck
}

func newReplayCmd() *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay FILE --seed N",
		Short: "Run one seed again, exactly, and print what happened event by event",
		Long: `replay runs a scenario's seed again — the same run, bit for bit — and prints a
human-readable trace: one line per event with the virtual time, the node, its
Raft role and term at that moment, and the event. --from, --to and --node
narrow it down. It ends with the verdict: the failure and its message, or ok.

--diagram OUT.svg also draws the window as a space-time (Lamport) diagram:
one vertical lane per node with time flowing downward, each message an arrow
from its sender to its receiver labelled with its type, a red X where the
network dropped one, crashes, restarts, pauses, leaders and faults marked. All
lock servers get a lane; with --clients (the default) so does every client that
sends or receives a message in the window, and --clients=false keeps only the
messages between servers. --node keeps the messages that node sends or
receives. Without --from/--to the diagram covers the whole run; it draws at
most --max-messages messages and says so in the SVG when it stops early.

--wire-check verifies that every message round-tripped through the TCP codec,
as in every scenario run (so the replay is the same run, with the same
trace-hash, with or without it).`,
		Example: `  distsync replay scenarios/leader-crash.yaml --seed 913
  distsync replay scenarios/leader-crash.yaml --seed 913 --from 12s --to 12.5s --node n3 --trace out/913.jsonl
  distsync replay scenarios/leader-crash.yaml --seed 913 --from 4s --to 4.3s --diagram out/913.svg --quiet`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runReplay(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.Uint64Var(&f.seed, "seed", 1, "the seed to replay")
	fl.StringVar(&f.trace, "trace", "", "also write the JSON Lines trace to this file")
	fl.DurationVar(&f.from, "from", 0, "print events from this virtual time")
	fl.DurationVar(&f.to, "to", 0, "print events up to this virtual time (0: the end)")
	fl.StringVar(&f.node, "node", "", "print only events of this node")
	fl.StringVar(&f.diagram, "diagram", "", "write a space-time diagram of the window to this SVG file")
	fl.BoolVar(&f.clients, "clients", true, "--diagram: draw client lanes (false: messages between servers only)")
	fl.IntVar(&f.maxMessages, "max-messages", reports.DefaultMaxMessages, "--diagram: draw at most this many messages")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the verdict and the trace-hash, not every event")
	fl.BoolVar(&f.wireCheck, "wire-check", false, "verify that every message round-trips through the TCP codec (the wire check, on in every scenario run)")
	return cmd
}

func runReplay(cmd *cobra.Command, path string, f replayFlags) error {
	if !cmd.Flags().Changed("seed") {
		return usageError{fmt.Errorf("--seed is required: replay runs one seed again")}
	}
	s, err := loadScenario(path)
	if err != nil {
		return err
	}
	if err := checkOutputs(map[string]string{"--trace": f.trace}); err != nil {
		return err
	}
	if f.node != "" {
		servers, clients := s.Nodes()
		if !slices.Contains(servers, f.node) && !slices.Contains(clients, f.node) {
			return usageError{fmt.Errorf("--node: %q is not a node of %s (servers %v, clients %v)", f.node, s.Name, servers, clients)}
		}
	}
	if f.from < 0 || f.to < 0 || (f.to > 0 && f.to < f.from) {
		return usageError{fmt.Errorf("--from %v and --to %v: want 0 <= from <= to", f.from, f.to)}
	}
	if f.diagram != "" {
		if f.maxMessages < 1 || f.maxMessages > 100_000 {
			return usageError{fmt.Errorf("--max-messages: %d outside [1, 100000]", f.maxMessages)}
		}
		if err := reports.CheckWritable(filepath.Dir(f.diagram)); err != nil {
			return usageError{fmt.Errorf("--diagram: %w", err)}
		}
	}
	out := cmd.OutOrStdout()
	var tell func(*sim.Record, nodes.Message, *scenarios.Run)
	if !f.quiet {
		tell = narrator(out, f)
	}
	var diagram *reports.LamportBuilder
	opts := scenarios.RunOptions{Seed: sim.Seed(f.seed), WireCheck: f.wireCheck, Watch: func(r *sim.Record, m nodes.Message, run *scenarios.Run) {
		if tell != nil {
			tell(r, m, run)
		}
		if f.diagram != "" {
			if diagram == nil {
				diagram = newDiagram(path, f, run.Servers())
			}
			diagram.Add(r, m)
		}
	}}
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
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	if f.diagram != "" {
		if diagram == nil { // no record at all: an empty diagram
			diagram = newDiagram(path, f, nil)
		}
		for _, e := range res.Elections {
			diagram.AddMark(reports.LaneMark{Kind: reports.MarkLeader, Node: nodes.NodeID(e.Node), At: e.At, Text: fmt.Sprintf("term %d", e.Term)})
		}
		d := diagram.Diagram(res.Virtual)
		var svg bytes.Buffer
		if err := d.WriteSVG(&svg); err != nil {
			return err
		}
		if err := reports.WriteFileAtomic(f.diagram, svg.Bytes()); err != nil {
			return err
		}
		fmt.Fprintf(out, "diagram: %s (%v to %v, %d lanes, %d messages, %d dropped or lost", f.diagram, d.From, d.To,
			len(d.Lanes), d.Messages, d.Count(reports.EndLost)+d.Count(reports.EndDropped))
		if d.Truncated {
			fmt.Fprintf(out, "; truncated at %v: %d more messages not drawn", d.To, d.Omitted)
		}
		fmt.Fprintln(out, ")")
	}
	printVerdict(out, res)
	fmt.Fprintf(out, "trace-hash: %s\n", res.TraceHash)
	if !res.Passed {
		return errChecksFailed
	}
	return nil
}

// newDiagram starts the space-time diagram of a replay.
func newDiagram(path string, f replayFlags, servers []nodes.NodeID) *reports.LamportBuilder {
	title := fmt.Sprintf("%s, seed %d", path, f.seed)
	if f.node != "" {
		title += ", messages of " + f.node
	}
	return reports.NewLamportBuilder(reports.LamportOptions{
		From: f.from, To: f.to, Servers: servers, Clients: f.clients,
		Node: nodes.NodeID(f.node), MaxMessages: f.maxMessages, Title: title, Label: messageLabel,
	})
}

// messageLabel names a message on its diagram arrow by what it carries: a
// Raft message by its kind (MsgApp, MsgVote, ...), a client request by its
// command (Acquire, Release, ...), a reply by "reply" or its service error.
func messageLabel(m nodes.Message) string {
	switch m := m.(type) {
	case *locks.RaftMsg:
		return m.M.Type.String()
	case *locks.Request:
		cmd, err := lockmgr.DecodeCommand(m.Cmd)
		if err != nil {
			return "request?"
		}
		name := fmt.Sprintf("%T", cmd)
		return name[strings.LastIndexByte(name, '.')+1:]
	case *locks.Reply:
		if m.Service != nodes.ServiceOK {
			return "reply " + m.Service.String()
		}
		return "reply"
	}
	return ""
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
		if run.Locks != nil && run.Locks.Server(r.Node) != nil {
			st := run.Locks.Server(r.Node).Raft().Status()
			role = fmt.Sprintf("%s/%d", st.Role, st.Term)
		} else if run.Queues != nil && run.Queues.Server(r.Node) != nil {
			role = fmt.Sprintf("epoch %d, %d groups", run.Queues.Server(r.Node).Epoch(), len(run.Queues.Server(r.Node).Groups()))
		} else if r.Node != "" && !run.World().Up(r.Node) {
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
