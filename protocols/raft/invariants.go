package raft

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
)

// Invariant names a safety property checked by ClusterChecker.
type Invariant string

// The invariants ClusterChecker checks (paper, Figure 3, plus the commit
// index rules).
const (
	// ElectionSafety: at most one leader per term, over the whole history.
	ElectionSafety Invariant = "election-safety"
	// LogMatching: if two logs hold an entry with the same index and term,
	// they agree on every earlier entry they both hold.
	LogMatching Invariant = "log-matching"
	// LeaderCompleteness: an entry known committed is in the log, with the
	// same term, of every leader of a later term when it takes office.
	LeaderCompleteness Invariant = "leader-completeness"
	// CommittedAgreement: no two nodes have committed different terms at
	// one index.
	CommittedAgreement Invariant = "committed-agreement"
	// StateMachineSafety: no two nodes apply different entries (term, data
	// hash) at one index, and a node applies indexes in increasing order.
	StateMachineSafety Invariant = "state-machine-safety"
	// CommitMonotonic: a node's commit index never decreases, except that a
	// restart may reset it to the persisted value (never below the
	// snapshot).
	CommitMonotonic Invariant = "commit-monotonic"
	// CommitBound: a node's commit index lies between its snapshot index
	// and its last index.
	CommitBound Invariant = "commit-bound"
)

// Violation is a broken invariant, with the nodes and numbers that prove
// it.
type Violation struct {
	// Invariant is the property broken.
	Invariant Invariant
	// Nodes are the nodes involved, sorted.
	Nodes []NodeID
	// Term and Index locate the violation (0 where not meaningful).
	Term uint64
	// Index is the log index involved (see Term).
	Index uint64
	// Detail says what was observed, with the numbers.
	Detail string
}

// Error renders the violation on one line.
func (v *Violation) Error() string {
	ids := make([]string, len(v.Nodes))
	for i, n := range v.Nodes {
		ids[i] = string(n)
	}
	return fmt.Sprintf("raft invariant %s violated (nodes %s, term %d, index %d): %s",
		v.Invariant, strings.Join(ids, ","), v.Term, v.Index, v.Detail)
}

// EntryHash is the hash ClusterChecker.ObserveApplied expects: FNV-1a over
// the entry's type and data.
func EntryHash(e Entry) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(e.Type)})
	h.Write(e.Data)
	return h.Sum64()
}

// nodeRecord is what the checker remembers of one node.
type nodeRecord struct {
	view        LogView
	seen        bool
	commit      uint64
	restarted   bool
	leaderTerm  uint64 // latest term in which it was observed leading
	lastApplied uint64
}

// appliedRecord is the first application observed at one index.
type appliedRecord struct {
	term, hash uint64
	node       NodeID
}

// ClusterChecker checks Raft's safety properties over a cluster's whole
// history. Feed it every node's state after every event (Observe), every
// application of an entry (ObserveApplied, ObserveSnapshot) and every
// restart (ObserveRestart). Each method returns a *Violation as soon as
// an invariant breaks. It is deterministic: nodes are compared in sorted
// order. Not safe for concurrent use.
type ClusterChecker struct {
	nodes   map[NodeID]*nodeRecord
	ids     []NodeID // sorted keys of nodes
	leaders map[uint64]NodeID
	// committed describes the known committed prefix [1, committedMax] as
	// term runs; a run of term 0 covers indexes whose term is unknown
	// (compacted on every node that reported them).
	committed    []TermRun
	committedMax uint64
	// commitTerms records, as runs over the same indexes, the term of the
	// node that first reported each index committed. The entry was
	// committed by a leader of that term or an earlier one, so leader
	// completeness binds leaders of later terms only.
	commitTerms []TermRun
	applied     []appliedRecord // index i at applied[i-1]; term 0 = none yet
}

// NewClusterChecker returns an empty checker.
func NewClusterChecker() *ClusterChecker {
	return &ClusterChecker{nodes: map[NodeID]*nodeRecord{}, leaders: map[uint64]NodeID{}}
}

func (c *ClusterChecker) node(id NodeID) *nodeRecord {
	rec, ok := c.nodes[id]
	if !ok {
		rec = &nodeRecord{}
		c.nodes[id] = rec
		c.ids = append(c.ids, id)
		slices.Sort(c.ids)
	}
	return rec
}

// ObserveRestart records that node id restarted from its persisted state:
// its commit index may go back to the persisted value and it re-applies
// entries from its snapshot on.
func (c *ClusterChecker) ObserveRestart(id NodeID) {
	rec := c.node(id)
	rec.restarted = true
	rec.lastApplied = 0
}

// Observe checks node id's current state (st from Status, log from
// LogView) against the cluster's history, then records it.
func (c *ClusterChecker) Observe(id NodeID, st Status, log LogView) error {
	rec := c.node(id)
	if err := c.checkCommit(id, rec, st, log); err != nil {
		return err
	}
	if st.Role == RoleLeader {
		if err := c.checkLeader(id, rec, st, log); err != nil {
			return err
		}
	}
	for _, other := range c.ids {
		o := c.nodes[other]
		if other == id || !o.seen {
			continue
		}
		if err := checkLogMatching(id, log, other, o.view); err != nil {
			return err
		}
	}
	if err := c.extendCommitted(id, st.Term, st.Commit, log); err != nil {
		return err
	}
	rec.view = LogView{
		SnapshotIndex: log.SnapshotIndex, SnapshotTerm: log.SnapshotTerm,
		FirstIndex: log.FirstIndex, LastIndex: log.LastIndex,
		Runs: append(rec.view.Runs[:0], log.Runs...),
	}
	rec.seen = true
	rec.commit = st.Commit
	rec.restarted = false
	return nil
}

func (c *ClusterChecker) checkCommit(id NodeID, rec *nodeRecord, st Status, log LogView) error {
	if st.Commit > log.LastIndex || st.Commit < log.SnapshotIndex {
		return &Violation{Invariant: CommitBound, Nodes: []NodeID{id}, Term: st.Term, Index: st.Commit,
			Detail: fmt.Sprintf("commit %d outside [snapshot %d, last %d]", st.Commit, log.SnapshotIndex, log.LastIndex)}
	}
	if rec.seen && !rec.restarted && st.Commit < rec.commit {
		return &Violation{Invariant: CommitMonotonic, Nodes: []NodeID{id}, Term: st.Term, Index: st.Commit,
			Detail: fmt.Sprintf("commit went back from %d to %d without a restart", rec.commit, st.Commit)}
	}
	return nil
}

// checkLeader checks election safety and, when id takes office in a new
// term, leader completeness.
func (c *ClusterChecker) checkLeader(id NodeID, rec *nodeRecord, st Status, log LogView) error {
	if prev, ok := c.leaders[st.Term]; ok && prev != id {
		return &Violation{Invariant: ElectionSafety, Nodes: sortedPair(prev, id), Term: st.Term,
			Detail: fmt.Sprintf("%s and %s both lead term %d", prev, id, st.Term)}
	}
	c.leaders[st.Term] = id
	if rec.leaderTerm == st.Term {
		return nil
	}
	rec.leaderTerm = st.Term
	return c.checkCompleteness(id, st.Term, log)
}

// checkCompleteness checks that a new leader of term holds every entry
// committed in an earlier term (an entry first seen committed at term t was
// committed by a leader of term t or earlier, so every leader of a term
// above t must hold it).
func (c *ClusterChecker) checkCompleteness(id NodeID, term uint64, log LogView) error {
	for i := max(uint64(1), log.low()); i <= c.committedMax; i++ {
		if c.commitTermAt(i) >= term {
			continue
		}
		known := c.committedTerm(i)
		if known == 0 {
			continue // compacted everywhere it was reported: term unknown
		}
		if i > log.LastIndex {
			return &Violation{Invariant: LeaderCompleteness, Nodes: []NodeID{id}, Term: term, Index: i,
				Detail: fmt.Sprintf("new leader's log ends at %d, entry %d (term %d) was committed in term %d", log.LastIndex, i, known, c.commitTermAt(i))}
		}
		if got, ok := log.Term(i); ok && got != known {
			return &Violation{Invariant: LeaderCompleteness, Nodes: []NodeID{id}, Term: term, Index: i,
				Detail: fmt.Sprintf("new leader has term %d at %d, committed term is %d", got, i, known)}
		}
	}
	return nil
}

// nextBreak returns the next index after i at which the view's term may
// change, capped at end+1.
func nextBreak(v LogView, i, end uint64) uint64 {
	next := end + 1
	if v.SnapshotIndex >= i+1 && v.SnapshotIndex < next {
		next = v.SnapshotIndex
	}
	if v.SnapshotIndex+1 > i && v.SnapshotIndex+1 < next {
		next = v.SnapshotIndex + 1
	}
	if v.FirstIndex > i && v.FirstIndex < next {
		next = v.FirstIndex
	}
	k := sort.Search(len(v.Runs), func(k int) bool { return v.Runs[k].First > i })
	if k < len(v.Runs) && v.Runs[k].First < next {
		next = v.Runs[k].First
	}
	return next
}

// extendCommitted checks node id's committed entries against the known
// committed prefix and extends the prefix with any new ones.
func (c *ClusterChecker) extendCommitted(id NodeID, term, commit uint64, log LogView) error {
	lo := log.low()
	for i := lo; i <= min(commit, c.committedMax); {
		known := c.committedTerm(i)
		got, ok := log.Term(i)
		if ok && known != 0 && got != known {
			return &Violation{Invariant: CommittedAgreement, Nodes: []NodeID{id}, Term: got, Index: i,
				Detail: fmt.Sprintf("%s committed term %d at %d, another node committed term %d", id, got, i, known)}
		}
		i = min(nextBreak(log, i, c.committedMax), c.nextCommittedBreak(i))
	}
	for i := c.committedMax + 1; i <= commit; {
		t, ok := log.Term(i)
		if !ok {
			t = 0 // below the node's snapshot: unknown
		}
		next := nextBreak(log, i, commit)
		if !ok && i < lo {
			next = lo
		}
		if n := len(c.committed); n == 0 || c.committed[n-1].Term != t {
			c.committed = append(c.committed, TermRun{Term: t, First: i})
		}
		i = next
	}
	if commit > c.committedMax {
		if n := len(c.commitTerms); n == 0 || c.commitTerms[n-1].Term != term {
			c.commitTerms = append(c.commitTerms, TermRun{Term: term, First: c.committedMax + 1})
		}
	}
	c.committedMax = max(c.committedMax, commit)
	return nil
}

// commitTermAt returns the term in which index i was first seen committed.
func (c *ClusterChecker) commitTermAt(i uint64) uint64 {
	k := sort.Search(len(c.commitTerms), func(k int) bool { return c.commitTerms[k].First > i })
	if k == 0 {
		return 0
	}
	return c.commitTerms[k-1].Term
}

// committedTerm returns the known committed term at i (0 if unknown).
func (c *ClusterChecker) committedTerm(i uint64) uint64 {
	k := sort.Search(len(c.committed), func(k int) bool { return c.committed[k].First > i })
	if k == 0 || i > c.committedMax {
		return 0
	}
	return c.committed[k-1].Term
}

// nextCommittedBreak returns the first index after i where the committed
// runs change term.
func (c *ClusterChecker) nextCommittedBreak(i uint64) uint64 {
	k := sort.Search(len(c.committed), func(k int) bool { return c.committed[k].First > i })
	if k < len(c.committed) {
		return c.committed[k].First
	}
	return c.committedMax + 1
}

// checkLogMatching compares two logs over the indexes both know: once the
// terms agree at some index, they must agree at every earlier one.
func checkLogMatching(a NodeID, va LogView, b NodeID, vb LogView) error {
	lo, hi := max(va.low(), vb.low()), min(va.LastIndex, vb.LastIndex)
	mismatch := uint64(0)
	for i := lo; i <= hi; {
		ta, okA := va.Term(i)
		tb, okB := vb.Term(i)
		next := min(nextBreak(va, i, hi), nextBreak(vb, i, hi))
		if okA && okB {
			switch {
			case ta != tb && mismatch == 0:
				mismatch = i
			case ta == tb && mismatch != 0:
				return &Violation{Invariant: LogMatching, Nodes: sortedPair(a, b), Term: ta, Index: i,
					Detail: fmt.Sprintf("logs of %s and %s agree at %d (term %d) but differ at %d", a, b, i, ta, mismatch)}
			}
		}
		i = next
	}
	return nil
}

// ObserveApplied checks that node id applies entry index (of term, with
// hash EntryHash(entry)) consistently with every other node and in
// increasing index order.
func (c *ClusterChecker) ObserveApplied(id NodeID, index, term, hash uint64) error {
	rec := c.node(id)
	if index <= rec.lastApplied || index == 0 || term == 0 {
		return &Violation{Invariant: StateMachineSafety, Nodes: []NodeID{id}, Term: term, Index: index,
			Detail: fmt.Sprintf("applied index %d (term %d) after %d", index, term, rec.lastApplied)}
	}
	rec.lastApplied = index
	if known := c.committedTerm(index); known != 0 && known != term {
		return &Violation{Invariant: StateMachineSafety, Nodes: []NodeID{id}, Term: term, Index: index,
			Detail: fmt.Sprintf("applied term %d at %d, committed term is %d", term, index, known)}
	}
	for uint64(len(c.applied)) < index {
		c.applied = append(c.applied, appliedRecord{})
	}
	prev := &c.applied[index-1]
	if prev.term == 0 {
		*prev = appliedRecord{term: term, hash: hash, node: id}
		return nil
	}
	if prev.term != term || prev.hash != hash {
		return &Violation{Invariant: StateMachineSafety, Nodes: sortedPair(prev.node, id), Term: term, Index: index,
			Detail: fmt.Sprintf("%s applied (term %d, hash %#x), %s applied (term %d, hash %#x)",
				prev.node, prev.term, prev.hash, id, term, hash)}
	}
	return nil
}

// ObserveSnapshot records that node id restored its state machine from a
// snapshot at index: it will next apply index+1.
func (c *ClusterChecker) ObserveSnapshot(id NodeID, index uint64) error {
	rec := c.node(id)
	if index < rec.lastApplied {
		return &Violation{Invariant: StateMachineSafety, Nodes: []NodeID{id}, Index: index,
			Detail: fmt.Sprintf("restored snapshot %d below applied %d", index, rec.lastApplied)}
	}
	rec.lastApplied = index
	return nil
}

// Leaders returns the leader observed in each term, by ascending term.
func (c *ClusterChecker) Leaders() []TermLeader {
	out := make([]TermLeader, 0, len(c.leaders))
	for _, t := range sortedTerms(c.leaders) {
		out = append(out, TermLeader{Term: t, Leader: c.leaders[t]})
	}
	return out
}

// TermLeader is one entry of ClusterChecker.Leaders.
type TermLeader struct {
	// Term is the term.
	Term uint64
	// Leader is the node observed leading it.
	Leader NodeID
}

// CommittedIndex is the highest index observed committed on any node.
func (c *ClusterChecker) CommittedIndex() uint64 { return c.committedMax }

func sortedTerms(m map[uint64]NodeID) []uint64 {
	terms := make([]uint64, 0, len(m))
	for t := range m { //det:ordered the terms are sorted before use
		terms = append(terms, t)
	}
	slices.Sort(terms)
	return terms
}

func sortedPair(a, b NodeID) []NodeID {
	if b < a {
		a, b = b, a
	}
	return []NodeID{a, b}
}
