package raft

import (
	"errors"
	"testing"
)

// viewOf builds a LogView of entries starting at first with the given
// terms, after a snapshot at (snapIndex, snapTerm).
func viewOf(snapIndex, snapTerm, first uint64, terms ...uint64) LogView {
	v := LogView{SnapshotIndex: snapIndex, SnapshotTerm: snapTerm, FirstIndex: first, LastIndex: first + uint64(len(terms)) - 1}
	for i, t := range terms {
		if len(v.Runs) == 0 || v.Runs[len(v.Runs)-1].Term != t {
			v.Runs = append(v.Runs, TermRun{Term: t, First: first + uint64(i)})
		}
	}
	return v
}

func statusOf(id NodeID, role Role, term, commit uint64) Status {
	return Status{ID: id, Role: role, Term: term, Commit: commit}
}

func wantViolation(t *testing.T, err error, inv Invariant) {
	t.Helper()
	var v *Violation
	if !errors.As(err, &v) || v.Invariant != inv {
		t.Fatalf("got %v, want a %s violation", err, inv)
	}
}

func TestCheckerElectionSafety(t *testing.T) {
	c := NewClusterChecker()
	if err := c.Observe("a", statusOf("a", RoleLeader, 2, 0), viewOf(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	// The same leader observed again, and another leader in another term.
	if err := c.Observe("a", statusOf("a", RoleLeader, 2, 0), viewOf(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.Observe("b", statusOf("b", RoleLeader, 3, 0), viewOf(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	// A second leader of term 2, even after the first stepped down.
	wantViolation(t, c.Observe("c", statusOf("c", RoleLeader, 2, 0), viewOf(0, 0, 1)), ElectionSafety)
	if got := c.Leaders(); len(got) != 2 || got[0].Leader != "a" || got[1].Term != 3 {
		t.Errorf("Leaders() = %+v", got)
	}
}

func TestCheckerLogMatching(t *testing.T) {
	c := NewClusterChecker()
	if err := c.Observe("a", statusOf("a", RoleFollower, 3, 0), viewOf(0, 0, 1, 1, 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	// Diverging suffixes are fine.
	if err := c.Observe("b", statusOf("b", RoleFollower, 3, 0), viewOf(0, 0, 1, 1, 1, 3)); err != nil {
		t.Fatal(err)
	}
	// A log compacted up to a snapshot that agrees.
	if err := c.Observe("d", statusOf("d", RoleFollower, 3, 2), viewOf(2, 1, 3, 2, 3)); err != nil {
		t.Fatal(err)
	}
	// Agreeing at index 4 (term 3) but not at 2: impossible.
	wantViolation(t, c.Observe("e", statusOf("e", RoleFollower, 3, 0), viewOf(0, 0, 1, 1, 2, 2, 3)), LogMatching)
	// Same via a snapshot term that disagrees with the entries.
	c2 := NewClusterChecker()
	if err := c2.Observe("a", statusOf("a", RoleFollower, 3, 0), viewOf(0, 0, 1, 1, 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c2.Observe("f", statusOf("f", RoleFollower, 3, 2), viewOf(2, 2, 3, 2, 3)), LogMatching)
}

func TestCheckerLeaderCompleteness(t *testing.T) {
	c := NewClusterChecker()
	// a commits 1..3 (terms 1, 1, 2).
	if err := c.Observe("a", statusOf("a", RoleLeader, 2, 3), viewOf(0, 0, 1, 1, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if c.CommittedIndex() != 3 {
		t.Fatalf("committed index %d", c.CommittedIndex())
	}
	// b becomes leader of term 3 without entry 3: incomplete.
	wantViolation(t, c.Observe("b", statusOf("b", RoleLeader, 3, 2), viewOf(0, 0, 1, 1, 1)), LeaderCompleteness)
	// c becomes leader of term 4 holding it, behind a snapshot.
	if err := c.Observe("c", statusOf("c", RoleLeader, 4, 3), viewOf(2, 1, 3, 2, 4)); err != nil {
		t.Fatal(err)
	}
}

func TestCheckerCommittedAgreement(t *testing.T) {
	c := NewClusterChecker()
	if err := c.Observe("a", statusOf("a", RoleFollower, 2, 2), viewOf(0, 0, 1, 1, 2)); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c.Observe("b", statusOf("b", RoleFollower, 3, 2), viewOf(0, 0, 1, 1, 3)), CommittedAgreement)
}

func TestCheckerCommitIndex(t *testing.T) {
	c := NewClusterChecker()
	wantViolation(t, c.Observe("a", statusOf("a", RoleFollower, 1, 5), viewOf(0, 0, 1, 1, 1)), CommitBound)
	wantViolation(t, c.Observe("a", statusOf("a", RoleFollower, 1, 1), viewOf(3, 1, 4, 1)), CommitBound)
	if err := c.Observe("a", statusOf("a", RoleFollower, 1, 2), viewOf(0, 0, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c.Observe("a", statusOf("a", RoleFollower, 1, 1), viewOf(0, 0, 1, 1, 1)), CommitMonotonic)
	// A restart may reset the commit index to the persisted value.
	c.ObserveRestart("a")
	if err := c.Observe("a", statusOf("a", RoleFollower, 1, 1), viewOf(0, 0, 1, 1, 1)); err != nil {
		t.Fatal(err)
	}
}

func TestCheckerStateMachineSafety(t *testing.T) {
	c := NewClusterChecker()
	x, y := EntryHash(Entry{Data: []byte("x")}), EntryHash(Entry{Data: []byte("y")})
	if err := c.ObserveApplied("a", 1, 1, x); err != nil {
		t.Fatal(err)
	}
	if err := c.ObserveApplied("b", 1, 1, x); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c.ObserveApplied("c", 1, 1, y), StateMachineSafety)
	wantViolation(t, c.ObserveApplied("a", 1, 1, x), StateMachineSafety) // applied twice
	if err := c.ObserveSnapshot("d", 10); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c.ObserveApplied("d", 5, 1, x), StateMachineSafety)
	c.ObserveRestart("a")
	if err := c.ObserveApplied("a", 1, 1, x); err != nil {
		t.Fatalf("re-applying after restart: %v", err)
	}
	// Applying a term that contradicts the known committed term.
	if err := c.Observe("e", statusOf("e", RoleFollower, 2, 2), viewOf(0, 0, 1, 1, 2)); err != nil {
		t.Fatal(err)
	}
	wantViolation(t, c.ObserveApplied("e", 2, 3, y), StateMachineSafety)
}
