package raft

import (
	"fmt"
	"sort"
)

// Status is a snapshot of a node's state for the node layer, traces and
// checkers.
type Status struct {
	// ID is this node.
	ID NodeID
	// Term is the current term (HardState).
	Term uint64
	// Vote is the vote cast in Term, or "" (HardState).
	Vote NodeID
	// Commit is the commit index (HardState).
	Commit uint64
	// Role is this node's role (SoftState).
	Role Role
	// Lead is the known leader of Term, or "" (SoftState).
	Lead NodeID
	// Applied is the highest index applied (acknowledged by Advance).
	Applied uint64
	// FirstIndex and LastIndex bound the entries held in memory (empty
	// when FirstIndex > LastIndex).
	FirstIndex, LastIndex uint64
	// SnapshotIndex is the index of the latest snapshot (0 if none).
	SnapshotIndex uint64
	// LeadTransferee is the target of a leadership transfer in progress.
	LeadTransferee NodeID
	// Progress is the leader's view of every peer, sorted by ID; nil on
	// other roles.
	Progress []PeerProgress
}

// Status returns the node's current state.
func (r *RawNode) Status() Status {
	st := Status{
		ID: r.id, Term: r.term, Vote: r.vote, Commit: r.log.committed,
		Role: r.role, Lead: r.lead, Applied: r.log.applied,
		FirstIndex: r.log.firstIndex(), LastIndex: r.log.lastIndex(),
		SnapshotIndex: r.log.snap.Index, LeadTransferee: r.leadTransferee,
	}
	if r.role != RoleLeader {
		return st
	}
	st.Progress = make([]PeerProgress, len(r.peers))
	for i, p := range r.peers {
		pr := &r.prs[i]
		st.Progress[i] = PeerProgress{
			ID: p, Match: pr.match, Next: pr.next, State: pr.state,
			RecentActive: pr.recentActive || i == r.self,
			Inflight:     pr.inflights.count, InflightBytes: pr.inflights.bytes,
			PendingSnapshot: pr.pendingSnapshot,
		}
	}
	return st
}

// Entries returns the entries [lo, hi) held in memory. They share the
// log's storage and must not be modified. It fails with ErrCompacted or
// ErrUnavailable outside [FirstIndex, LastIndex+1).
func (r *RawNode) Entries(lo, hi uint64) ([]Entry, error) {
	ents, err := r.log.between(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("raft: %s: %w", r.id, err)
	}
	return ents, nil
}

// Term returns the term of the entry at index (the snapshot's term at the
// snapshot index, 0 at index 0), or ErrCompacted / ErrUnavailable.
func (r *RawNode) Term(index uint64) (uint64, error) {
	t, err := r.log.term(index)
	if err != nil {
		return 0, fmt.Errorf("raft: %s: %w", r.id, err)
	}
	return t, nil
}

// TermRun says that the entries from First up to the next run's First
// (exclusive), or to the log's last index, all have Term.
type TermRun struct {
	// Term is the term of every entry in the run.
	Term uint64
	// First is the index of the run's first entry.
	First uint64
}

// LogView describes a log by its terms only, compactly: what the
// ClusterChecker compares across nodes.
type LogView struct {
	// SnapshotIndex and SnapshotTerm name the last entry covered by the
	// snapshot (0, 0 if none).
	SnapshotIndex, SnapshotTerm uint64
	// FirstIndex and LastIndex bound the entries in memory (empty when
	// FirstIndex > LastIndex).
	FirstIndex, LastIndex uint64
	// Runs cover [FirstIndex, LastIndex] in ascending order.
	Runs []TermRun
}

// LogView returns a term-level view of the log.
func (r *RawNode) LogView() LogView {
	return LogView{
		SnapshotIndex: r.log.snap.Index, SnapshotTerm: r.log.snap.Term,
		FirstIndex: r.log.firstIndex(), LastIndex: r.log.lastIndex(),
		Runs: r.log.termRuns(),
	}
}

// low is the lowest index whose term the view knows (the snapshot index
// counts; index 0 trivially has term 0 and is not counted).
func (v LogView) low() uint64 {
	if v.SnapshotIndex > 0 {
		return min(v.SnapshotIndex, v.FirstIndex)
	}
	return max(v.FirstIndex, 1)
}

// Term returns the term at index i, if the view knows it.
func (v LogView) Term(i uint64) (uint64, bool) {
	if i == v.SnapshotIndex && i > 0 {
		return v.SnapshotTerm, true
	}
	if i < v.FirstIndex || i > v.LastIndex || len(v.Runs) == 0 {
		return 0, false
	}
	k := sort.Search(len(v.Runs), func(k int) bool { return v.Runs[k].First > i })
	if k == 0 {
		return 0, false
	}
	return v.Runs[k-1].Term, true
}
