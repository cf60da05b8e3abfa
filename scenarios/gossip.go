// Package scenarios runs distsync's workloads and fault schedules in the
// simulator and checks them. For now it holds the kernel's own chaos run:
// the gossip example cluster under the kernel's random nemesis
// (sim.Chaos), with its safety and liveness checks. Scenario files, the
// service workloads and their checkers build on it.
package scenarios

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/sim"
)

// GossipChaos configures one chaos run of the gossip cluster.
type GossipChaos struct {
	Seed     sim.Seed
	Nodes    int           // cluster size (1..64)
	Duration time.Duration // fault phase; a quiet phase of Settle follows
	Settle   time.Duration // time after the last fault for gossip to converge
	Every    time.Duration // mean time between faults
	Trace    io.Writer     // JSON Lines trace, if not nil
}

// Validate reports an unusable configuration, naming the field.
func (c GossipChaos) Validate() error {
	switch {
	case c.Nodes < 1 || c.Nodes > 64:
		return fmt.Errorf("nodes: %d outside [1, 64]", c.Nodes)
	case c.Duration <= 0:
		return fmt.Errorf("duration: %v must be positive", c.Duration)
	case c.Settle < 0:
		return fmt.Errorf("settle: negative %v", c.Settle)
	case c.Every <= 0:
		return fmt.Errorf("every: %v must be positive", c.Every)
	}
	return nil
}

// GossipResult is the outcome of one chaos run.
type GossipResult struct {
	Seed      sim.Seed
	TraceHash string
	Stats     sim.Stats
	End       time.Duration
	Converged int    // nodes that know every token at the end
	Failure   string // the first broken check, or ""
}

// OK reports whether every check held.
func (r GossipResult) OK() bool { return r.Failure == "" }

// RunGossipChaos runs the gossip cluster under every fault kind of the
// kernel and checks two things: safety after every event (no node knows a
// token that no node ever had), and liveness at the end (after the quiet
// phase every node knows every token).
func RunGossipChaos(c GossipChaos) (GossipResult, error) {
	if err := c.Validate(); err != nil {
		return GossipResult{}, fmt.Errorf("gossip chaos: %w", err)
	}
	ids := make([]nodes.NodeID, c.Nodes)
	for i := range ids {
		ids[i] = nodes.NodeID(fmt.Sprintf("n%d", i+1))
	}
	w, err := sim.New(sim.Config{
		Seed: c.Seed, Nodes: ids, Factory: gossip.New(20 * time.Millisecond),
		Network: sim.LinkConfig{
			Latency: sim.Exponential(time.Millisecond, 4*time.Millisecond),
			Loss:    0.02, Duplicate: 0.02, Reorder: 0.02, ReorderDelay: 20 * time.Millisecond,
		},
		Disk: sim.DiskConfig{
			WriteLatency: sim.Uniform(10*time.Microsecond, 50*time.Microsecond),
			SyncLatency:  sim.Normal(500*time.Microsecond, 200*time.Microsecond),
			TornWrites:   0.5,
		},
		WireCheck: true,
	})
	if err != nil {
		return GossipResult{}, err
	}
	if c.Trace != nil {
		w.Trace().Stream(c.Trace)
		w.SetMessageDescriber(func(m nodes.Message) string { return fmt.Sprint(m) })
	}
	if err := sim.AllFaults(c.Every).Schedule(w, c.Duration); err != nil {
		return GossipResult{}, err
	}
	valid := make([]string, len(ids))
	for i, id := range ids {
		valid[i] = string(id)
	}
	w.AddChecker("gossip-safety", func(w *sim.World) error {
		for _, id := range w.Nodes() {
			g, ok := w.Node(id).(*gossip.Node)
			if !ok {
				continue
			}
			for _, tok := range g.Known() {
				if _, found := slices.BinarySearch(valid, tok); !found {
					return fmt.Errorf("node %s knows token %q that no node ever had", id, tok)
				}
			}
		}
		return nil
	})
	res := GossipResult{Seed: c.Seed}
	runErr := w.Run(c.Duration + c.Settle)
	res.TraceHash, res.Stats, res.End = w.Trace().HashString(), w.Stats(), w.Now()
	if err := w.Trace().Flush(); err != nil {
		return res, err
	}
	if runErr != nil {
		res.Failure = runErr.Error()
		return res, nil
	}
	var behind []string
	for _, id := range ids {
		if g, ok := w.Node(id).(*gossip.Node); ok && g.Converged() {
			res.Converged++
		} else {
			behind = append(behind, string(id))
		}
	}
	if len(behind) > 0 {
		res.Failure = fmt.Sprintf("liveness at t=%v: %s did not converge", res.End, strings.Join(behind, ","))
	}
	return res, nil
}
