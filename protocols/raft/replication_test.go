package raft

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestLogReplication(t *testing.T) {
	nw := newNetwork(t, 5)
	nw.elect("n1")
	for i := range 10 {
		nw.mustPropose("n1", fmt.Sprintf("cmd-%d", i))
	}
	// A follower forwards proposals to the leader.
	nw.mustPropose("n3", "forwarded")
	nw.run(1)
	want := nw.appliedData("n1")
	if len(want) != 11 || want[10] != "forwarded" {
		t.Fatalf("leader applied %v", want)
	}
	for _, id := range nw.ids {
		if got := nw.appliedData(id); !slices.Equal(got, want) {
			t.Errorf("%s applied %v, want %v", id, got, want)
		}
	}
	nw.checkConverged()
}

func TestProposalForwardingDisabled(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.DisableProposalForwarding = true })
	nw.elect("n1")
	if err := nw.node("n2").Propose([]byte("x")); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("propose on follower: %v, want ErrProposalDropped", err)
	}
	fresh := newNetwork(t, 3)
	if err := fresh.node("n2").Propose([]byte("x")); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("propose without leader: %v, want ErrProposalDropped", err)
	}
	big := make([]byte, MaxEntryDataBytes+1)
	if err := nw.node("n1").Propose(big); !errors.Is(err, ErrProposalDropped) {
		t.Fatalf("oversized proposal: %v", err)
	}
}

func TestPartitionedOldLeaderEntriesOverwritten(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	nw.mustPropose("n1", "committed")
	nw.isolate("n1")
	for i := range 3 {
		if err := nw.propose("n1", fmt.Sprintf("lost-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	nw.stabilize()
	oldLast := nw.node("n1").Status().LastIndex
	// The majority side elects a new leader and commits its own entries.
	lead := nw.runUntilLeader(10 * DefaultElectionTicks)
	for lead == "n1" {
		nw.run(1)
		lead = nw.leader()
	}
	nw.mustPropose(lead, "new-1")
	nw.mustPropose(lead, "new-2")
	nw.heal()
	nw.run(3 * DefaultElectionTicks)
	st := nw.node("n1").Status()
	if st.Role == RoleLeader && st.Term <= 1 {
		t.Fatalf("old leader still leads term %d", st.Term)
	}
	got := nw.appliedData("n1")
	if want := []string{"committed", "new-1", "new-2"}; !slices.Equal(got, want) {
		t.Fatalf("old leader applied %v, want %v (its uncommitted entries up to %d must be overwritten)", got, want, oldLast)
	}
	nw.checkConverged()
}

// logWithTerms builds entries [from, from+len(terms)) with the given terms.
func logWithTerms(from uint64, terms ...uint64) []Entry {
	ents := make([]Entry, len(terms))
	for i, t := range terms {
		ents[i] = Entry{Term: t, Index: from + uint64(i), Data: []byte(fmt.Sprintf("e%d/t%d", from+uint64(i), t))}
	}
	return ents
}

func repeatTerm(term uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = term
	}
	return out
}

// install replaces node id's persisted state and restarts it.
func (nw *network) install(id NodeID, st Storage) {
	nw.t.Helper()
	nw.nodes[id].store = st
	nw.crash(id)
	nw.restart(id)
}

func TestFastBackoffSkipsWholeTerms(t *testing.T) {
	// The follower n3 holds 100 entries of terms 2..11 (10 each) that the
	// leader never had; the leader's log (1/t1, then 2..50/t12 and its
	// no-op at 51) diverges right after index 1. Over the leader's range
	// [2, 51] the follower has 5 conflicting terms (2..6): fast back-off
	// needs one rejection per term, where decrementing by one entry would
	// need 50.
	var followerTerms []uint64
	for term := uint64(2); term <= 11; term++ {
		followerTerms = append(followerTerms, repeatTerm(term, 10)...)
	}
	leaderLog := append(logWithTerms(1, 1), logWithTerms(2, repeatTerm(12, 49)...)...)
	follower := append(logWithTerms(1, 1), logWithTerms(2, followerTerms...)...)
	nw := newNetwork(t, 3, func(c *Config) { c.PreVote, c.CheckQuorum = false, false })
	nw.install("n1", Storage{HardState: HardState{Term: 12, Commit: 1}, Entries: leaderLog})
	nw.install("n2", Storage{HardState: HardState{Term: 12, Commit: 1}, Entries: leaderLog})
	nw.install("n3", Storage{HardState: HardState{Term: 11, Commit: 1}, Entries: follower})
	rejections := 0
	nw.seen = func(m Message) {
		if m.Type == MsgAppResp && m.Reject && m.From == "n3" {
			rejections++
		}
	}
	nw.elect("n1")
	nw.mustPropose("n1", "after")
	nw.checkConverged()
	if rejections == 0 || rejections > 5+1 {
		t.Errorf("%d rejections to skip 5 conflicting terms, want 1..6", rejections)
	}
	t.Logf("caught up over %d conflicting entries with %d rejections", len(follower)-1, rejections)
}

func TestConflictHint(t *testing.T) {
	// Follower log: 1/t1, 2..4/t2, 5..6/t3.
	st := Storage{HardState: HardState{Term: 3, Commit: 1}, Entries: append(logWithTerms(1, 1), logWithTerms(2, 2, 2, 2, 3, 3)...)}
	nw := newNetwork(t, 3)
	nw.install("n2", st)
	r := nw.node("n2")
	for _, tc := range []struct {
		index, wantHint, wantTerm uint64
	}{
		{10, 6, 0}, // shorter log: hint is the last index
		{6, 5, 3},  // first index of term 3
		{4, 2, 2},  // first index of term 2
		{2, 2, 2},
	} {
		hint, term := r.conflictHint(tc.index)
		if hint != tc.wantHint || term != tc.wantTerm {
			t.Errorf("conflictHint(%d) = %d, t%d; want %d, t%d", tc.index, hint, term, tc.wantHint, tc.wantTerm)
		}
	}
}

func TestFigure8CommitRule(t *testing.T) {
	nw := newNetwork(t, 5, func(c *Config) {
		c.PreVote, c.CheckQuorum = false, false
		c.MaxSizePerMsg, c.MaxInflightBytes = 1, 1 // one entry per message
	})
	s1, s2, s3, s4, s5 := NodeID("n1"), NodeID("n2"), NodeID("n3"), NodeID("n4"), NodeID("n5")
	// (a) s1 leads term 1 and replicates entry 2 only to s2.
	nw.elect(s1)
	nw.partition([]NodeID{s1, s2}, []NodeID{s3, s4, s5})
	nw.mustPropose(s1, "a")
	if st := nw.node(s2).Status(); st.LastIndex != 2 {
		t.Fatalf("s2 last index %d, want 2", st.LastIndex)
	}
	// (b) s1 crashes; s5 wins term 2 with s3, s4 and appends entry 2/t2,
	// which reaches nobody.
	nw.crash(s1)
	nw.heal()
	nw.filter = func(m *Message) bool { return !(m.From == s5 && m.Type == MsgApp) }
	nw.elect(s5)
	nw.crash(s5)
	nw.filter = nil
	// (c) s1 restarts and wins a later term with s2, s3, s4. It replicates
	// entry 2/t1 to s3 (now on a majority: s1, s2, s3) but its own no-op
	// at index 3 reaches nobody.
	nw.restart(s1)
	nw.filter = func(m *Message) bool {
		if m.From == s1 && m.Type == MsgApp {
			if m.To == s4 {
				return len(m.Entries) == 0
			}
			m.Entries = slices.DeleteFunc(slices.Clone(m.Entries), func(e Entry) bool { return e.Index >= 3 })
		}
		return true
	}
	nw.campaignUntilLeader(s1)
	term := nw.node(s1).Status().Term
	nw.run(2)
	if tm, _ := nw.node(s3).Term(2); tm != 1 {
		t.Fatalf("s3 entry 2 has term %d, want 1 (replicated by s1)", tm)
	}
	if c := nw.node(s1).Status().Commit; c >= 2 {
		t.Fatalf("Figure 8 violated: s1 (term %d) committed index %d, an entry of term 1, by counting replicas", term, c)
	}
	// (d) s1 crashes; s5 restarts and wins, overwriting entry 2/t1 with its
	// own 2/t2. That is safe precisely because 2/t1 was never committed.
	nw.crash(s1)
	nw.filter = nil
	nw.restart(s5)
	nw.campaignUntilLeader(s5)
	nw.mustPropose(s5, "b")
	nw.restart(s1)
	nw.run(3 * DefaultElectionTicks)
	for _, id := range nw.ids {
		if tm, _ := nw.node(id).Term(2); tm != 2 {
			t.Errorf("%s entry 2 has term %d, want 2", id, tm)
		}
		if got := strings.Join(nw.appliedData(id), ","); got != "b" {
			t.Errorf("%s applied %q, want only b", id, got)
		}
	}
}

// campaignUntilLeader makes id campaign until it wins (terms may need to
// catch up with the voters').
func (nw *network) campaignUntilLeader(id NodeID) {
	nw.t.Helper()
	for range 10 {
		nw.node(id).Campaign()
		nw.stabilize()
		if nw.node(id).Status().Role == RoleLeader {
			return
		}
	}
	nw.t.Fatalf("%s could not win an election", id)
}

func TestInflightLimit(t *testing.T) {
	const window = 4
	nw := newNetwork(t, 3, func(c *Config) {
		c.MaxInflightMsgs = window
		c.MaxSizePerMsg = 1 // one entry per message
	})
	nw.elect("n1")
	// Hold every acknowledgement from n2 and n3.
	nw.filter = func(m *Message) bool { return m.Type != MsgAppResp }
	for i := range 20 {
		if err := nw.propose("n1", fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	appends := nw.countQueued(func(m Message) bool { return m.Type == MsgApp && m.To == "n2" && len(m.Entries) > 0 })
	if appends != window {
		t.Fatalf("%d append messages in flight to n2, want the window %d", appends, window)
	}
	for _, pr := range nw.node("n1").Status().Progress {
		if pr.ID != "n1" && (pr.Inflight != window || pr.State != StateReplicate) {
			t.Errorf("%s: inflight %d state %s, want %d replicate", pr.ID, pr.Inflight, pr.State, window)
		}
	}
	nw.filter = nil
	nw.stabilize()
	nw.run(2)
	if got := len(nw.appliedData("n3")); got != 20 {
		t.Fatalf("n3 applied %d of 20 after releasing the window", got)
	}
}

func TestInflightBytesLimit(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) {
		c.MaxSizePerMsg = 100
		c.MaxInflightBytes = 300
	})
	nw.elect("n1")
	nw.filter = func(m *Message) bool { return m.Type != MsgAppResp }
	payload := strings.Repeat("x", 90)
	for range 20 {
		if err := nw.propose("n1", payload); err != nil {
			t.Fatal(err)
		}
	}
	for _, pr := range nw.node("n1").Status().Progress {
		if pr.ID == "n1" {
			continue
		}
		// The window closes once it holds MaxInflightBytes: at most one
		// message beyond the limit's worth.
		if pr.InflightBytes < 300 || pr.InflightBytes >= 300+100 {
			t.Errorf("%s: %d inflight bytes, want the window full near 300", pr.ID, pr.InflightBytes)
		}
	}
}

func TestMaxUncommittedBytes(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxUncommittedBytes = 1000 })
	nw.elect("n1")
	nw.isolate("n1")
	accepted := 0
	var err error
	for range 100 {
		if err = nw.propose("n1", strings.Repeat("y", 100)); err != nil {
			break
		}
		accepted++
	}
	if !errors.Is(err, ErrProposalDropped) || accepted != 10 {
		t.Fatalf("accepted %d proposals of 100 bytes under a 1000-byte limit (err %v), want 10", accepted, err)
	}
	nw.heal()
	nw.run(2)
	if err := nw.propose("n1", "more"); err != nil {
		t.Fatalf("proposal after commit freed the budget: %v", err)
	}
}

func TestCrashRestartAllNodes(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	for i := range 5 {
		nw.mustPropose("n1", fmt.Sprintf("v%d", i))
	}
	// n2 receives one more entry but crashes before persisting it: its
	// acknowledgement is never sent and the entry is lost on n2 only.
	if err := nw.node("n1").Propose([]byte("unpersisted")); err != nil {
		t.Fatal(err)
	}
	nw.process("n1")
	for len(nw.queue) > 0 {
		m := nw.queue[0]
		if m.To == "n2" && m.Type == MsgApp {
			nw.queue = nw.queue[1:]
			if err := nw.node("n2").Step(m); err != nil {
				t.Fatal(err)
			}
			_ = nw.node("n2").Ready() // never persisted: crash now
			break
		}
		nw.deliverAt(0)
	}
	before := nw.appliedData("n1")
	for _, id := range nw.ids {
		nw.crash(id)
	}
	nw.queue = nil
	for _, id := range nw.ids {
		nw.restart(id)
	}
	lead := nw.runUntilLeader(20 * DefaultElectionTicks)
	nw.mustPropose(lead, "after-restart")
	nw.run(2)
	for _, id := range nw.ids {
		got := nw.appliedData(id)
		if len(got) < len(before) || !slices.Equal(got[:len(before)], before) {
			t.Fatalf("%s applied %v after restart, want prefix %v", id, got, before)
		}
	}
	nw.checkConverged()
}

func TestReadyPersistenceContract(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.PreVote = false })
	r2 := nw.node("n2")
	// A vote is granted in the same Ready that persists it.
	if err := r2.Step(Message{Type: MsgVote, From: "n1", To: "n2", Term: 1}); err != nil {
		t.Fatal(err)
	}
	rd := r2.Ready()
	if rd.HardState == nil || rd.HardState.Vote != "n1" || rd.HardState.Term != 1 || !rd.MustSync {
		t.Fatalf("vote Ready hard state %+v mustSync %v", rd.HardState, rd.MustSync)
	}
	if len(rd.Messages) != 1 || rd.Messages[0].Type != MsgVoteResp || rd.Messages[0].Reject {
		t.Fatalf("vote Ready messages %v", rd.Messages)
	}
	r2.Advance()
	// Entries and their acknowledgement travel in the same Ready.
	ents := []Entry{{Term: 1, Index: 1, Type: EntryNoOp}, {Term: 1, Index: 2, Data: []byte("x")}}
	if err := r2.Step(Message{Type: MsgApp, From: "n1", To: "n2", Term: 1, Entries: ents, Commit: 1}); err != nil {
		t.Fatal(err)
	}
	rd = r2.Ready()
	if len(rd.Entries) != 2 || len(rd.Messages) != 1 || rd.Messages[0].Index != 2 || !rd.MustSync {
		t.Fatalf("append Ready: %d entries, messages %v, mustSync %v", len(rd.Entries), rd.Messages, rd.MustSync)
	}
	if rd.HardState == nil || rd.HardState.Commit != 1 || len(rd.CommittedEntries) != 1 {
		t.Fatalf("append Ready: hard state %+v, committed %v", rd.HardState, rd.CommittedEntries)
	}
	r2.Advance()
	if r2.HasReady() {
		t.Fatalf("HasReady after everything was handed out")
	}
	// The leader's proposal and the append carrying it share a Ready.
	nw = newNetwork(t, 3)
	nw.elect("n1")
	if err := nw.node("n1").Propose([]byte("p")); err != nil {
		t.Fatal(err)
	}
	rd = nw.node("n1").Ready()
	last := rd.Entries[len(rd.Entries)-1]
	for _, m := range rd.Messages {
		if m.Type == MsgApp && len(m.Entries) > 0 && m.Entries[len(m.Entries)-1].Index > last.Index {
			t.Fatalf("leader sent entry %d beyond its Ready entries ending at %d", m.Entries[len(m.Entries)-1].Index, last.Index)
		}
	}
	nw.node("n1").Advance()
}

func TestReadyAdvanceMisuse(t *testing.T) {
	nw := newNetwork(t, 1)
	r := nw.node("n1")
	r.Campaign()
	_ = r.Ready()
	mustPanic(t, "Ready twice", func() { r.Ready() })
	r.Advance()
	mustPanic(t, "Advance twice", func() { r.Advance() })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s did not panic", what)
		}
	}()
	f()
}

// TestLeaderSendsBeforePersist: a leader's appends may go out before it
// writes its own log, and entries committed in earlier Readies may be
// applied before the persist (network.checkEarly checks every Ready).
// Acknowledgements that come back before the leader's persist do not
// commit the entry; if the leader crashes in between, having sent entries
// it never stored, the followers' copies decide their fate and nothing
// committed is lost.
func TestLeaderSendsBeforePersist(t *testing.T) {
	nw := newNetwork(t, 3)
	nw.elect("n1")
	for i := range 5 {
		nw.mustPropose("n1", fmt.Sprintf("cmd-%d", i))
	}
	nw.stabilize()
	if nw.sentFirst == 0 || nw.appliedFirst == 0 {
		t.Fatalf("no Ready allowed an early send (%d) or apply (%d)", nw.sentFirst, nw.appliedFirst)
	}

	// n2's acknowledgement comes back before n1 has persisted the entry
	// (n3 is cut off): n2 and n1 are a majority only once n1 has stored
	// it, so n1 must not commit it before Advance.
	if err := nw.node("n1").Propose([]byte("acked-early")); err != nil {
		t.Fatal(err)
	}
	tn := nw.nodes["n1"]
	rd := tn.raft.Ready()
	if !rd.SendFirst || len(rd.Entries) != 1 {
		t.Fatalf("leader's Ready: SendFirst %v, %d entries", rd.SendFirst, len(rd.Entries))
	}
	index := rd.Entries[0].Index
	nw.isolate("n3")
	nw.queue = append(nw.queue, rd.Messages...)
	for guard := 0; len(nw.queue) > 0 && guard < 100; guard++ {
		nw.deliverAt(0) // the append to n2, its ack to n1
	}
	if c := tn.raft.Status().Commit; c >= index {
		t.Fatalf("n1 committed %d with its copy of entry %d not yet persisted", c, index)
	}
	nw.persist(tn, rd)
	nw.apply(tn, rd)
	tn.raft.Advance()
	if c := tn.raft.Status().Commit; c < index {
		t.Fatalf("n1 commit %d after persisting entry %d that n2 acknowledged", c, index)
	}
	nw.heal()
	nw.stabilize()

	// n1 sends an append and crashes before persisting it.
	if err := nw.node("n1").Propose([]byte("unstored")); err != nil {
		t.Fatal(err)
	}
	rd = nw.node("n1").Ready()
	if !rd.SendFirst || len(rd.Entries) != 1 {
		t.Fatalf("leader's Ready: SendFirst %v, %d entries", rd.SendFirst, len(rd.Entries))
	}
	nw.queue = append(nw.queue, rd.Messages...)
	for range rd.Messages {
		nw.deliverAt(0) // the followers store the entry and answer
	}
	nw.crash("n1")
	nw.stabilize()
	nw.restart("n1")
	nw.run(50) // n2 or n3 wins: their logs are longer than n1's
	leader := nw.leader()
	if leader == "" || leader == "n1" {
		t.Fatalf("leader %q after the crash", leader)
	}
	nw.mustPropose(leader, "after")
	nw.run(1)
	nw.checkConverged()
	if got := nw.appliedData("n1"); !slices.Contains(got, "unstored") || !slices.Contains(got, "after") {
		t.Fatalf("n1 applied %v, want the followers' copy of the unstored entry, then the new one", got)
	}
}
