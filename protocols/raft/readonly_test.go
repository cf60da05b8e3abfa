package raft

import (
	"errors"
	"testing"
)

// drainTo delivers queued messages in order until pred matches one that
// is still queued (which it leaves undelivered) or the queue is empty.
func (nw *network) deliverAll(pred func(Message) bool) {
	nw.t.Helper()
	for k := 0; k < len(nw.queue); {
		if pred(nw.queue[k]) {
			nw.deliverAt(k)
			continue
		}
		k++
	}
}

func TestReadIndexSafeNeedsQuorum(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "w")
	commit := nw.node("n1").Status().Commit
	if err := nw.node("n1").ReadIndex([]byte("r1")); err != nil {
		t.Fatal(err)
	}
	nw.process("n1")
	if len(nw.nodes["n1"].reads) != 0 {
		t.Fatalf("read served before any confirmation")
	}
	if n := nw.countQueued(func(m Message) bool { return m.Type == MsgHeartbeat && string(m.Context) == "r1" }); n != 2 {
		t.Fatalf("%d confirming heartbeats queued, want 2", n)
	}
	// Deliver the heartbeat to n2 only, and its response.
	nw.deliverAll(func(m Message) bool { return m.To == "n2" && m.Type == MsgHeartbeat })
	if len(nw.nodes["n1"].reads) != 0 {
		t.Fatalf("read served before the quorum answered")
	}
	nw.deliverAll(func(m Message) bool { return m.From == "n2" && m.Type == MsgHeartbeatResp })
	reads := nw.nodes["n1"].reads
	if len(reads) != 1 || string(reads[0].Ctx) != "r1" || reads[0].Index != commit {
		t.Fatalf("reads %+v, want r1 at %d", reads, commit)
	}
	if err := nw.node("n1").ReadIndex(nil); err == nil {
		t.Errorf("ReadIndex accepted an empty context")
	}
}

func TestReadIndexWaitsForFirstCommitOfTerm(t *testing.T) {
	nw := newNetwork(t, 3)
	// Win the election but hold the appends carrying the no-op.
	nw.filter = func(m *Message) bool { return m.Type != MsgApp }
	nw.elect("n1")
	if err := nw.node("n1").ReadIndex([]byte("early")); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	if len(nw.nodes["n1"].reads) != 0 {
		t.Fatalf("read served before the leader committed an entry of its term")
	}
	nw.filter = nil
	nw.run(DefaultHeartbeatTicks)
	reads := nw.nodes["n1"].reads
	if len(reads) != 1 || reads[0].Index < 1 {
		t.Fatalf("reads %+v, want one at the no-op's index", reads)
	}
}

func TestReadIndexNeverOnDeposedLeader(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "a")
	nw.isolate("n1")
	if err := nw.node("n1").ReadIndex([]byte("stale?")); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	// The majority elects a new leader and writes.
	var lead NodeID
	for range 20 * DefaultElectionTicks {
		nw.run(1)
		if l := nw.leader(); l != "" && l != "n1" {
			lead = l
			break
		}
	}
	if lead == "" {
		t.Fatal("majority elected no leader")
	}
	nw.mustPropose(lead, "b")
	nw.heal()
	nw.run(3 * DefaultElectionTicks)
	if reads := nw.nodes["n1"].reads; len(reads) != 0 {
		t.Fatalf("deposed leader served reads %+v", reads)
	}
	// A fresh read on the new leader sees b.
	if err := nw.node(lead).ReadIndex([]byte("fresh")); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	reads := nw.nodes[lead].reads
	if len(reads) != 1 || reads[0].Index < nw.node(lead).Status().Commit {
		t.Fatalf("new leader reads %+v", reads)
	}
}

func TestReadIndexFromFollower(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "a")
	if err := nw.node("n3").ReadIndex([]byte("f1")); err != nil {
		t.Fatal(err)
	}
	nw.stabilize()
	reads := nw.nodes["n3"].reads
	if len(reads) != 1 || string(reads[0].Ctx) != "f1" || reads[0].Index != nw.node("n1").Status().Commit {
		t.Fatalf("follower reads %+v", reads)
	}
	fresh := newNetwork(t, 3)
	if err := fresh.node("n2").ReadIndex([]byte("x")); !errors.Is(err, ErrReadIndexDropped) {
		t.Fatalf("read without leader: %v, want ErrReadIndexDropped", err)
	}
}

func TestReadIndexSingleNode(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.elect("n1")
	if err := nw.node("n1").ReadIndex([]byte("solo")); err != nil {
		t.Fatal(err)
	}
	nw.process("n1")
	if reads := nw.nodes["n1"].reads; len(reads) != 1 || reads[0].Index != 1 {
		t.Fatalf("reads %+v", reads)
	}
}

func TestLeaseRead(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.ReadOnly = ReadOnlyLeaseBased })
	nw.elect("n1")
	nw.run(DefaultHeartbeatTicks) // a heartbeat round renews the lease
	r := nw.node("n1")
	if err := r.ReadIndex([]byte("lease")); err != nil {
		t.Fatal(err)
	}
	rd := r.Ready()
	for _, m := range rd.Messages {
		if m.Type == MsgHeartbeat {
			t.Fatalf("lease read sent a heartbeat round: %v", m)
		}
	}
	if len(rd.ReadStates) != 1 || rd.ReadStates[0].Index != r.Status().Commit {
		t.Fatalf("lease read states %+v", rd.ReadStates)
	}
	r.Advance()
	// Cut off, the lease expires after ElectionTicks-1 ticks; reads then
	// need a heartbeat round, which cannot complete.
	nw.isolate("n1")
	for range DefaultElectionTicks - 1 {
		r.Tick()
		nw.process("n1")
	}
	if err := r.ReadIndex([]byte("expired")); err != nil {
		t.Fatal(err)
	}
	nw.process("n1")
	nw.stabilize()
	for _, rs := range nw.nodes["n1"].reads {
		if string(rs.Ctx) == "expired" {
			t.Fatalf("read served on an expired lease")
		}
	}
}

// TestLeaseReadUnsafeUnderClockDrift demonstrates the documented hazard of
// ReadOnlyLeaseBased: the lease is counted in the leader's own ticks, so a
// leader whose clock runs slow believes in a lease the followers consider
// expired, and serves a stale read after a new leader committed a write.
// ReadOnlySafe does not.
func TestLeaseReadUnsafeUnderClockDrift(t *testing.T) {
	for _, tc := range []struct {
		option    ReadOnlyOption
		wantStale bool
	}{{ReadOnlyLeaseBased, true}, {ReadOnlySafe, false}} {
		t.Run(tc.option.String(), func(t *testing.T) {
			nw := newNetwork(t, 3, func(c *Config) { c.ReadOnly = tc.option })
			nw.elect("n1")
			nw.run(DefaultHeartbeatTicks)
			nw.isolate("n1")
			// n1's clock stops; n2 and n3 keep ticking and elect n2.
			for range 4 * DefaultElectionTicks {
				for _, id := range []NodeID{"n2", "n3"} {
					nw.node(id).Tick()
					nw.process(id)
				}
				nw.stabilize()
				if nw.leader() == "n2" || nw.leader() == "n3" {
					break
				}
			}
			lead := nw.leader()
			if lead == "n1" || lead == "" {
				t.Fatalf("no new leader on the majority side (leader %q)", lead)
			}
			nw.mustPropose(lead, "write")
			newCommit := nw.node(lead).Status().Commit
			if err := nw.node("n1").ReadIndex([]byte("read")); err != nil {
				t.Fatal(err)
			}
			nw.process("n1")
			reads := nw.nodes["n1"].reads
			stale := len(reads) == 1 && reads[0].Index < newCommit
			if stale != tc.wantStale {
				t.Fatalf("reads %+v with new commit %d: stale=%v, want %v", reads, newCommit, stale, tc.wantStale)
			}
		})
	}
}

// TestLeaseExpiresBeforeAnotherLeader isolates a lease-holding leader just
// after a heartbeat round and lets the others elect a leader as early as
// their timeouts allow (no randomization): at no tick may the old leader
// believe in its lease while another leader exists.
func TestLeaseExpiresBeforeAnotherLeader(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		nw := newNetwork(t, 3, func(c *Config) { c.ReadOnly, c.PreVote = ReadOnlyLeaseBased, preVote })
		nw.elect("n1")
		for nw.node("n1").heartbeatElapsed != 0 || nw.node("n1").ticks == 0 {
			nw.run(1)
		}
		if !nw.node("n1").leaseValid() {
			t.Fatalf("no lease after a heartbeat round")
		}
		nw.isolate("n1")
		// n2 times out as early as allowed, exactly ElectionTicks after it
		// last heard from n1; n3 later, so that the votes do not split.
		nw.node("n2").randomizedElectionTimeout = DefaultElectionTicks
		nw.node("n3").randomizedElectionTimeout = 2*DefaultElectionTicks - 1
		elected := false
		for tick := 1; tick <= 3*DefaultElectionTicks; tick++ {
			nw.run(1)
			other := nw.leader() != "n1" && nw.leader() != ""
			elected = elected || other
			if other && nw.node("n1").leaseValid() {
				t.Fatalf("preVote=%v: tick %d: %s leads while n1 still holds its lease", preVote, tick, nw.leader())
			}
		}
		if !elected {
			t.Fatalf("preVote=%v: no new leader elected", preVote)
		}
	}
}

// TestBootLeaseProtectsLeaseReads: a follower that acknowledged the
// leader's lease, crashes and restarts at once must not help elect
// another leader before that lease has expired.
func TestBootLeaseProtectsLeaseReads(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.ReadOnly, c.PreVote = ReadOnlyLeaseBased, false })
	nw.elect("n1")
	nw.mustPropose("n1", "v1")
	// n3 loses n1 for good; n1 keeps its lease through n2.
	nw.partition([]NodeID{"n1", "n2"}, []NodeID{"n3"})
	nw.cut[[2]NodeID{"n2", "n3"}], nw.cut[[2]NodeID{"n3", "n2"}] = false, false
	nw.run(2 * DefaultElectionTicks)
	for nw.node("n1").heartbeatElapsed != 0 {
		nw.run(1)
	}
	// n2 crashes right after acknowledging a heartbeat, and n3 campaigns.
	nw.crash("n2")
	nw.restart("n2")
	nw.node("n3").Campaign()
	nw.stabilize()
	if l := nw.leader(); l == "n3" {
		// Had n2 voted, n3 could commit a write that n1's lease read misses.
		nw.mustPropose("n3", "v2")
	}
	r := nw.node("n1")
	if err := r.ReadIndex([]byte("lease")); err != nil {
		t.Fatal(err)
	}
	nw.process("n1")
	for _, rs := range nw.nodes["n1"].reads {
		if committed := nw.checker.CommittedIndex(); rs.Index < committed {
			t.Fatalf("stale lease read at %d, %d committed elsewhere", rs.Index, committed)
		}
	}
	if nw.leader() == "n3" {
		t.Fatalf("restarted n2 voted for n3 within n1's lease")
	}
}
