package scenarios

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/scenarios/spec"
	"github.com/distsync/distsync/sim"
)

// QueueStats sum up a queue run: what the clients saw, and what the nodes
// did.
type QueueStats struct {
	Enqueued    uint64 `json:"enqueued"`
	Delivered   uint64 `json:"delivered"`
	Redelivered uint64 `json:"redelivered"`
	Acked       uint64 `json:"acked"`
	AckRefused  uint64 `json:"ack_refused"`
	// DeadLettered counts messages moved to a dead-letter queue, read
	// from the replica of each group that applied the most.
	DeadLettered uint64 `json:"dead_lettered"`
	// Undelivered is the acknowledged enqueues no client received by the
	// end (each still held by a replica, or the at-least-once check
	// failed).
	Undelivered int `json:"undelivered"`
	// Moves counts group replicas dropped after their queue moved.
	Moves uint64 `json:"moves"`
	// Epoch is the last ring epoch; RingChangesWaiting the joins and
	// leaves still waiting, at the end, for a move to finish.
	Epoch              uint64 `json:"epoch"`
	RingChangesWaiting int    `json:"ring_changes_waiting,omitempty"`
}

// queueCluster translates a queue scenario's cluster, network, disk and
// workloads.
func queueCluster(s *spec.Scenario, seed sim.Seed) (QueueCluster, error) {
	c := QueueCluster{Seed: seed, Servers: s.Cluster.Queues, Spares: s.Cluster.Spares, Duration: s.Duration.D(), Settle: settle(s)}
	var err error
	if c.Network, c.Disk, err = worldConfig(s); err != nil {
		return c, err
	}
	for i, wl := range s.Workload {
		cfg, err := queueClientConfig(wl)
		if err != nil {
			return c, fmt.Errorf("workload[%d]: %w", i, err)
		}
		c.Groups = append(c.Groups, QueueClientGroup{Count: wl.Clients, Config: cfg})
	}
	return c, nil
}

// queueClientConfig paces a queue workload: a group of N clients at R
// ops/s thinks N/R on average between operations.
func queueClientConfig(wl spec.Workload) (queues.ClientConfig, error) {
	if wl.Service != "queues" {
		return queues.ClientConfig{}, fmt.Errorf("service %q in a queue scenario", wl.Service)
	}
	cfg := queues.ClientConfig{
		Produce: wl.ProduceOrDefault(), Poison: wl.Poison, DLQ: wl.DLQ,
		Visibility: wl.Visibility.D(), Process: wl.Process.D(), PayloadBytes: wl.Payload,
	}
	for i := range max(wl.Resources, 1) {
		cfg.Queues = append(cfg.Queues, fmt.Sprintf("q%d", i))
	}
	rate := 100.0
	if r := wl.RatePerSecond(); r > 0 {
		rate = r
	}
	cfg.Think = max(time.Millisecond, time.Duration(float64(wl.Clients)/rate*float64(time.Second)))
	return cfg, nil
}

// Run runs the world until virtual time until. At until-quiet the
// producers stop and the consumers drain the queues; with liveness on, no
// operation invoked before until-quiet may still be waiting at until.
func (qs *QueueSim) Run(until, quiet time.Duration, liveness bool) error {
	qs.World.At(until-quiet, "drain", func(*sim.World) { qs.StopProducing() })
	if err := qs.World.Run(until); err != nil {
		return err
	}
	if !liveness {
		return nil
	}
	if op, ok := qs.History.OldestPending(); ok && op.Call < until-quiet {
		return fmt.Errorf("liveness at t=%v: %s of %s (seq %d) on %s invoked at %v never completed",
			qs.World.Now(), op.Op.Kind, op.Op.Client, op.Op.Seq, op.Op.Queue, op.Call)
	}
	return nil
}

// Lost returns the acknowledged enqueues that were never acked (and have
// no ack still waiting for its answer) and that no live replica of their
// queue's current group holds: messages the service lost, whether they
// were never delivered or delivered and then dropped.
func (qs *QueueSim) Lost() []QueueLost {
	var lost []QueueLost
	for _, m := range qs.History.Unacked() {
		if !qs.held(m) {
			lost = append(lost, m)
		}
	}
	return lost
}

// held reports whether a live replica of the current group of m's queue
// (as that replica's node sees the ring) holds m, ready or in flight, in
// the queue or its dead-letter queue. A copy left in a group the queue
// moved away from does not count: no client can reach it.
func (qs *QueueSim) held(m QueueLost) bool {
	for _, id := range qs.Servers {
		s := qs.server(id)
		if s == nil {
			continue
		}
		cur, _ := s.Placement(m.Queue)
		if r := s.Group(cur); r != nil && r.Manager().Has(m.ID) {
			return true
		}
	}
	return false
}

// executeQueues runs a queue scenario to the end and fills in the result.
func (run *Run) executeQueues(opts RunOptions) *Result {
	s, qs := run.Scenario, run.Queues
	on := run.checks()
	res := &Result{Scenario: s.Name, File: s.File, Seed: uint64(opts.Seed), Passed: true}
	err := qs.Run(s.Duration.D(), settle(s), on[spec.CheckLiveness])
	for _, name := range s.Check {
		res.Checks = append(res.Checks, CheckResult{Name: name, Passed: true})
	}
	if err != nil {
		res.fail(failureOf(err, qs.World))
	}
	if on[spec.CheckQueueSafety] && res.Passed {
		if err := qs.History.CheckFIFO(); err != nil {
			res.fail(&Failure{Check: spec.CheckQueueSafety, At: qs.World.Now(), Event: qs.World.Stats().Events, Message: err.Error()})
		}
	}
	if on[spec.CheckAtLeastOnce] && res.Passed {
		if lost := qs.Lost(); len(lost) > 0 {
			m := lost[0]
			res.fail(&Failure{Check: spec.CheckAtLeastOnce, At: qs.World.Now(), Event: qs.World.Stats().Events,
				Message: fmt.Sprintf("%d acknowledged enqueues lost: never delivered and held by no replica; the first, %.40q (id %d) on %s, was acknowledged at %v",
					len(lost), m.Payload, m.ID, m.Queue, m.Enqueued)})
		}
	}
	res.TraceHash = qs.World.Trace().HashString()
	res.Virtual, res.Stats, res.Terms = qs.World.Now(), qs.World.Stats(), qs.MaxTerm()
	res.Ops = queueOps(qs.History)
	res.Faults, res.Swarm = run.faults, run.swarm
	res.Elections, res.LeaderLost = qs.Elections, qs.LeaderLost
	res.Queues = qs.stats()
	return res
}

// MaxTerm returns the highest Raft term of any group replica that is up.
func (qs *QueueSim) MaxTerm() uint64 {
	var t uint64
	for _, id := range qs.Servers {
		if s := qs.server(id); s != nil {
			for _, gid := range s.Groups() {
				t = max(t, s.Group(gid).Raft().Status().Term)
			}
		}
	}
	return t
}

func (qs *QueueSim) stats() *QueueStats {
	c := qs.History.Counts()
	st := &QueueStats{
		Enqueued: c.Enqueued, Delivered: c.Delivered, Redelivered: c.Redelivered, Acked: c.Acked, AckRefused: c.AckRefused,
		Undelivered: len(qs.History.Undelivered()), Epoch: uint64(len(qs.Ring) - 1), RingChangesWaiting: len(qs.planned),
	}
	best := map[queues.GroupID]queue.Stats{}
	applied := map[queues.GroupID]uint64{}
	for _, id := range qs.Servers {
		s := qs.server(id)
		if s == nil {
			continue
		}
		st.Moves += s.Stats.GroupsDropped
		for _, gid := range s.Groups() {
			if r := s.Group(gid); r.Applied() >= applied[gid] {
				applied[gid], best[gid] = r.Applied(), r.Manager().Stats()
			}
		}
	}
	for _, gid := range sortedGroupIDs(best) {
		st.DeadLettered += best[gid].DeadLettered
	}
	return st
}

// queueOps turns a queue history into operation records.
func queueOps(h *QueueHistory) []OpRecord {
	out := make([]OpRecord, 0, len(h.Ops))
	for _, op := range h.Ops {
		r := OpRecord{Service: "queues", Kind: op.Op.Kind.String(), Client: string(op.Op.Client), Key: op.Op.Queue, Call: op.Call}
		switch {
		case !op.Done:
			r.Outcome = OutcomeUnknown
		case op.Result.Status == queue.StatusRejected:
			r.Return, r.Outcome, r.Detail = op.Return, OutcomeFail, op.Result.Err.Error()
		default:
			r.Return, r.Outcome = op.Return, OutcomeOK
			if op.Result.Status == queue.StatusEmpty {
				r.Detail = "empty"
			}
		}
		out = append(out, r)
	}
	return out
}

// ringChange applies a join or leave fault.
func (run *Run) ringChange(f *spec.Fault) error {
	if run.Queues == nil {
		return fmt.Errorf("join and leave need a queue cluster")
	}
	if f.Join != "" {
		return run.Queues.Join(nodes.NodeID(f.Join))
	}
	return run.Queues.Leave(nodes.NodeID(f.Leave))
}
