package raft

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// rapidTB adapts rapid.T to the test network.
type rapidTB struct{ *rapid.T }

func (rapidTB) Helper() {}

// schedule is one random run: a cluster, and the bookkeeping that checks
// reads are linearizable (a ReadState's index is at least everything
// committed anywhere before the read was requested).
type schedule struct {
	t       *rapid.T
	nw      *network
	seq     int
	reads   map[string]uint64 // ctx -> highest commit known when requested
	crashes int
	// lockstep ticks every node together (clocks without drift) and never
	// forces a campaign, the conditions under which lease reads are safe.
	lockstep bool
}

// TestPropertyRandomSchedules drives 3-5 nodes through random schedules:
// messages delivered out of order, dropped and duplicated; random ticks,
// proposals, crashes and restarts (losing nothing persisted), partitions,
// compactions, reads and leadership transfers. The ClusterChecker and the
// persistence contract run after every step. After healing everything,
// all logs and state machines must converge. Scale with -rapid.checks.
func TestPropertyRandomSchedules(t *testing.T) {
	maxSteps := 4000
	if testing.Short() {
		maxSteps = 500
	}
	var runs, leaders, committed, crashes int
	defer func() {
		if runs > 0 {
			t.Logf("%d runs: %.1f leaders and %.1f committed entries per run, %d crashes in all",
				runs, float64(leaders)/float64(runs), float64(committed)/float64(runs), crashes)
		}
	}()
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(3, 5).Draw(rt, "nodes")
		preVote := rapid.Bool().Draw(rt, "preVote")
		checkQuorum := rapid.Bool().Draw(rt, "checkQuorum")
		overhead := rapid.Uint64Range(0, 8).Draw(rt, "overhead")
		inflight := rapid.IntRange(1, 8).Draw(rt, "inflight")
		msgSize := rapid.Uint64Range(1, 64).Draw(rt, "msgSize")
		nw := newNetwork(rapidTB{rt}, n, func(c *Config) {
			c.ElectionTicks, c.HeartbeatTicks = 4, 1
			c.PreVote, c.CheckQuorum = preVote, checkQuorum
			c.CompactionOverhead = overhead
			c.MaxInflightMsgs = inflight
			c.MaxSizePerMsg, c.MaxInflightBytes = msgSize, 4*msgSize
		})
		s := &schedule{t: rt, nw: nw, reads: map[string]uint64{}}
		nw.onRead = s.checkRead
		steps := rapid.IntRange(maxSteps/3, maxSteps).Draw(rt, "steps")
		for range steps {
			s.step()
		}
		runs++
		leaders += len(nw.checker.Leaders())
		committed += int(nw.checker.CommittedIndex())
		crashes += s.crashes
		s.healAndConverge()
	})
}

// TestPropertyLeaseReadsWithoutDrift runs random schedules with lease-based
// reads while every clock ticks at the same rate: then, and only then,
// lease reads are linearizable (message delays, losses, crashes and
// partitions notwithstanding). TestLeaseReadUnsafeUnderClockDrift shows
// the other case.
func TestPropertyLeaseReadsWithoutDrift(t *testing.T) {
	maxSteps := 3000
	if testing.Short() {
		maxSteps = 500
	}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(3, 5).Draw(rt, "nodes")
		preVote := rapid.Bool().Draw(rt, "preVote")
		nw := newNetwork(rapidTB{rt}, n, func(c *Config) {
			c.ElectionTicks, c.HeartbeatTicks = 6, 2
			c.PreVote, c.CheckQuorum, c.ReadOnly = preVote, true, ReadOnlyLeaseBased
		})
		s := &schedule{t: rt, nw: nw, reads: map[string]uint64{}, lockstep: true}
		nw.onRead = s.checkRead
		steps := rapid.IntRange(maxSteps/3, maxSteps).Draw(rt, "steps")
		for range steps {
			s.step()
		}
		s.healAndConverge()
	})
}

func (s *schedule) pick(label string) NodeID {
	return rapid.SampledFrom(s.nw.ids).Draw(s.t, label)
}

// step performs one random action. Weights (out of 100) favour message
// delivery and ticks, so that elections and replication really happen
// between the rarer faults.
func (s *schedule) step() {
	nw := s.nw
	a := rapid.IntRange(0, 99).Draw(s.t, "action")
	switch {
	case a < 40:
		if len(nw.queue) == 0 {
			nw.tickAll()
			return
		}
		nw.deliverAt(rapid.IntRange(0, len(nw.queue)-1).Draw(s.t, "deliver"))
	case a < 44:
		if len(nw.queue) > 0 {
			k := rapid.IntRange(0, len(nw.queue)-1).Draw(s.t, "drop")
			nw.queue = append(nw.queue[:k], nw.queue[k+1:]...)
		}
	case a < 47:
		if len(nw.queue) > 0 {
			nw.queue = append(nw.queue, nw.queue[rapid.IntRange(0, len(nw.queue)-1).Draw(s.t, "dup")])
		}
	case a < 57 && s.lockstep:
		nw.tickAll()
	case a < 57:
		if id := s.pick("tick"); nw.nodes[id].up {
			nw.node(id).Tick()
			nw.process(id)
		}
	case a < 67:
		nw.tickAll()
	case a < 77:
		if id := s.pick("propose"); nw.nodes[id].up {
			s.seq++
			_ = nw.propose(id, fmt.Sprintf("cmd-%d", s.seq))
		}
	case a < 79:
		if id := s.pick("crash"); nw.nodes[id].up {
			nw.crash(id)
			s.crashes++
		}
	case a < 83:
		if id := s.pick("restart"); !nw.nodes[id].up {
			nw.restart(id)
		}
	case a < 85:
		s.partition()
	case a < 88:
		nw.heal()
	case a < 90:
		if id := s.pick("compact"); nw.nodes[id].up && nw.nodes[id].applied > nw.node(id).Snapshot().Index {
			if err := nw.compact(id); err != nil {
				s.t.Fatalf("compact %s: %v", id, err)
			}
		}
	case a < 94:
		s.read(s.pick("read"))
	case a < 96:
		if l := nw.leader(); l != "" {
			_ = nw.node(l).TransferLeader(s.pick("transferee"))
			nw.process(l)
		}
	case s.lockstep:
		nw.tickAll()
	default:
		if id := s.pick("campaign"); nw.nodes[id].up {
			nw.node(id).Campaign()
			nw.process(id)
		}
	}
}

// partition splits the nodes in two random sides.
func (s *schedule) partition() {
	var a, b []NodeID
	for _, id := range s.nw.ids {
		if rapid.Bool().Draw(s.t, "side") {
			a = append(a, id)
		} else {
			b = append(b, id)
		}
	}
	s.nw.heal()
	s.nw.partition(a, b)
}

func (s *schedule) read(id NodeID) {
	if !s.nw.nodes[id].up {
		return
	}
	s.seq++
	ctx := fmt.Sprintf("read-%d", s.seq)
	if s.nw.node(id).ReadIndex([]byte(ctx)) == nil {
		s.reads[ctx] = s.nw.checker.CommittedIndex()
	}
	s.nw.process(id)
}

func (s *schedule) checkRead(id NodeID, rs ReadState) {
	floor, ok := s.reads[string(rs.Ctx)]
	if !ok {
		s.t.Fatalf("%s: read state for unknown ctx %q", id, rs.Ctx)
	}
	if rs.Index < floor {
		s.t.Fatalf("%s: read %q at index %d, but %d was committed before it was requested", id, rs.Ctx, rs.Index, floor)
	}
	// The Ready carrying the read may also carry the commit that covers it.
	if known := max(s.nw.checker.CommittedIndex(), s.nw.node(id).Status().Commit); rs.Index > known {
		s.t.Fatalf("%s: read %q at index %d beyond anything committed (%d)", id, rs.Ctx, rs.Index, known)
	}
}

// healAndConverge repairs everything and runs until one final proposal is
// committed and applied everywhere, then checks that all nodes agree.
func (s *schedule) healAndConverge() {
	nw := s.nw
	nw.heal()
	nw.filter = nil
	for _, id := range nw.ids {
		if !nw.nodes[id].up {
			nw.restart(id)
		}
	}
	proposed := false
	for range 60 * DefaultElectionTicks {
		nw.run(1)
		l := nw.leader()
		if l == "" {
			continue
		}
		if !proposed {
			proposed = nw.propose(l, "final") == nil
			continue
		}
		if s.converged() {
			nw.checkConverged()
			return
		}
	}
	s.t.Fatalf("cluster did not converge after healing")
}

// converged reports whether every node holds the leader's whole log,
// ending with an entry of the leader's term, committed and applied.
func (s *schedule) converged() bool {
	l := s.nw.leader()
	if l == "" {
		return false
	}
	ls := s.nw.node(l).Status()
	if t, err := s.nw.node(l).Term(ls.LastIndex); err != nil || t != ls.Term {
		return false
	}
	for _, id := range s.nw.ids {
		tn := s.nw.nodes[id]
		st := tn.raft.Status()
		if st.LastIndex != ls.LastIndex || st.Commit != st.LastIndex || tn.applied != st.Commit {
			return false
		}
	}
	return true
}
