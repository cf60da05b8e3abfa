package raft

import (
	"errors"
	"fmt"
	"testing"
)

// proposeN proposes n commands on id, stabilizing after each.
func (nw *network) proposeN(id NodeID, prefix string, n int) {
	nw.t.Helper()
	for i := range n {
		nw.mustPropose(id, fmt.Sprintf("%s-%d", prefix, i))
	}
}

func TestCompactKeepsOverhead(t *testing.T) {
	nw := newNetwork(t, 1, func(c *Config) { c.CompactionOverhead = 5 })
	nw.elect("n1")
	nw.proposeN("n1", "c", 30) // indexes 2..31
	r := nw.node("n1")
	if err := nw.compact("n1"); err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if st.SnapshotIndex != 31 || st.FirstIndex != 27 || st.LastIndex != 31 {
		t.Fatalf("after compact at 31 with overhead 5: snapshot %d first %d last %d", st.SnapshotIndex, st.FirstIndex, st.LastIndex)
	}
	if _, err := r.Entries(26, 28); !errors.Is(err, ErrCompacted) {
		t.Errorf("Entries below first: %v, want ErrCompacted", err)
	}
	if _, err := r.Entries(27, 33); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Entries beyond last: %v, want ErrUnavailable", err)
	}
	if _, err := r.Term(10); !errors.Is(err, ErrCompacted) {
		t.Errorf("Term(10): %v, want ErrCompacted", err)
	}
	if tm, err := r.Term(31); err != nil || tm != 1 {
		t.Errorf("Term(31) = %d, %v", tm, err)
	}
	if err := r.Compact(31, nil); !errors.Is(err, ErrSnapOutOfDate) {
		t.Errorf("compact at the snapshot index: %v, want ErrSnapOutOfDate", err)
	}
	if err := r.Compact(40, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("compact beyond applied: %v, want ErrUnavailable", err)
	}
}

func TestSnapshotSendAndInstall(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.CompactionOverhead = 5 })
	nw.elect("n1")
	nw.crash("n3")
	nw.proposeN("n1", "s", 40)
	for _, id := range []NodeID{"n1", "n2"} {
		if err := nw.compact(id); err != nil {
			t.Fatal(err)
		}
	}
	snaps := 0
	nw.seen = func(m Message) {
		if m.Type == MsgSnap {
			snaps++
		}
	}
	nw.restart("n3")
	nw.run(2 * DefaultHeartbeatTicks)
	if snaps != 1 || nw.nodes["n3"].snaps != 1 {
		t.Fatalf("%d snapshots sent, %d installed; want 1 and 1", snaps, nw.nodes["n3"].snaps)
	}
	if st := nw.nodes["n3"].store; st.Snapshot.Index != 41 {
		t.Fatalf("n3 persisted snapshot %d, want 41", st.Snapshot.Index)
	}
	nw.mustPropose("n1", "after")
	nw.run(1)
	nw.checkConverged()
	if got := nw.appliedData("n3"); len(got) != 1 || got[0] != "after" {
		t.Fatalf("n3 applied %v after the snapshot, want [after]", got)
	}
	// n3 restarts from its persisted snapshot and entries.
	nw.crash("n3")
	nw.restart("n3")
	nw.run(2)
	nw.checkConverged()
}

func TestSlowFollowerCatchesUpFromOverhead(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.CompactionOverhead = 50 })
	nw.elect("n1")
	nw.isolate("n3")
	nw.proposeN("n1", "o", 20)
	if err := nw.compact("n1"); err != nil {
		t.Fatal(err)
	}
	snaps := 0
	nw.seen = func(m Message) {
		if m.Type == MsgSnap {
			snaps++
		}
	}
	nw.heal()
	nw.run(2 * DefaultHeartbeatTicks)
	if snaps != 0 {
		t.Fatalf("sent %d snapshots to a follower within the compaction overhead", snaps)
	}
	nw.checkConverged()
}

func TestLostSnapshotIsResent(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.CompactionOverhead = 0 })
	nw.elect("n1")
	nw.crash("n3")
	nw.proposeN("n1", "l", 10)
	if err := nw.compact("n1"); err != nil {
		t.Fatal(err)
	}
	dropped, sent := 0, 0
	nw.filter = func(m *Message) bool {
		if m.Type == MsgSnap {
			sent++
			if dropped == 0 {
				dropped++
				return false
			}
		}
		return true
	}
	nw.restart("n3")
	nw.run(4 * DefaultElectionTicks)
	if sent < 2 || nw.nodes["n3"].snaps != 1 {
		t.Fatalf("snapshot sent %d times, installed %d; want a resend after the loss", sent, nw.nodes["n3"].snaps)
	}
	nw.checkConverged()
}

func TestRestartFromSnapshotAndEntries(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.CompactionOverhead = 3 })
	nw.elect("n1")
	nw.proposeN("n1", "r", 15)
	for _, id := range nw.ids {
		if err := nw.compact(id); err != nil {
			t.Fatal(err)
		}
	}
	nw.proposeN("n1", "t", 5)
	for _, id := range nw.ids {
		nw.crash(id)
	}
	nw.queue = nil
	for _, id := range nw.ids {
		nw.restart(id)
		if st := nw.node(id).Status(); st.SnapshotIndex != 16 || st.Applied != 16 || st.LastIndex != 21 {
			t.Fatalf("%s restarted with snapshot %d applied %d last %d", id, st.SnapshotIndex, st.Applied, st.LastIndex)
		}
	}
	lead := nw.runUntilLeader(20 * DefaultElectionTicks)
	nw.mustPropose(lead, "u")
	nw.run(1)
	nw.checkConverged()
}

func TestNewRejectsInconsistentStorage(t *testing.T) {
	ok := Storage{HardState: HardState{Term: 2, Commit: 2}, Entries: logWithTerms(1, 1, 2)}
	for _, tc := range []struct {
		name string
		st   Storage
	}{
		{"commit beyond last", Storage{HardState: HardState{Term: 1, Commit: 5}, Entries: logWithTerms(1, 1)}},
		{"gap", Storage{HardState: HardState{Term: 1}, Entries: []Entry{{Term: 1, Index: 1}, {Term: 1, Index: 3}}}},
		{"term above hard state", Storage{HardState: HardState{Term: 1}, Entries: logWithTerms(1, 2)}},
		{"decreasing terms", Storage{HardState: HardState{Term: 3}, Entries: logWithTerms(1, 2, 1)}},
		{"starts after snapshot", Storage{HardState: HardState{Term: 1}, Snapshot: Snapshot{Index: 2, Term: 1}, Entries: logWithTerms(4, 1)}},
		{"snapshot term mismatch", Storage{HardState: HardState{Term: 2}, Snapshot: Snapshot{Index: 1, Term: 2}, Entries: logWithTerms(1, 1)}},
		{"vote not a peer", Storage{HardState: HardState{Term: 1, Vote: "zz"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, 3)
			if _, err := New(nw.nodes["n1"].cfg, tc.st); !errors.Is(err, ErrInvalidStorage) {
				t.Fatalf("New: %v, want ErrInvalidStorage", err)
			}
			if _, err := New(nw.nodes["n1"].cfg, ok); err != nil {
				t.Fatalf("New on consistent storage: %v", err)
			}
		})
	}
}
