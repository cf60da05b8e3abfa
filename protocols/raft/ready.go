package raft

import "fmt"

// Ready is everything a RawNode asks of the node layer at one point: what
// to persist, what to send, what to apply. See the package documentation
// for the order in which the node must act on it.
type Ready struct {
	// SoftState is the new leader and role, if either changed since the
	// previous Ready; nil otherwise. Not persisted.
	SoftState *SoftState
	// HardState is the new term, vote and commit index to persist, if any
	// of them changed since the previous Ready; nil otherwise.
	HardState *HardState
	// Entries are to be appended to stable storage before Messages are
	// sent. An entry whose index is at or below the last stored index
	// replaces that entry and every later one.
	Entries []Entry
	// Snapshot, if not nil, was received from the leader: persist it
	// (replacing every stored entry) and restore the state machine from
	// it before applying CommittedEntries.
	Snapshot *Snapshot
	// MustSync reports that the persisted state must be synced before
	// Messages are sent (entries, snapshot, term or vote changed; a change
	// of the commit index alone can be recomputed and needs no sync).
	MustSync bool
	// Messages are to be sent after the persist above is durable (or
	// before it, when SendFirst is set).
	Messages []Message
	// CommittedEntries are to be applied to the state machine, in order,
	// after the persist (they may include entries of this same Ready).
	CommittedEntries []Entry
	// ReadStates are read requests that may be served once the applied
	// index reaches their Index.
	ReadStates []ReadState
	// SendFirst reports that Messages may be sent before the persist: the
	// node leads, stays leader and received no snapshot, so Messages
	// promise nothing the persist makes durable (appends, heartbeats,
	// read-index answers), and the leader counts its own copy of an entry
	// towards commit only once Advance says it is persisted (Raft thesis
	// §10.2.1: the leader writes its log in parallel with replicating it).
	// Acknowledgements may be stepped before Advance.
	SendFirst bool
	// StableCommitted is how many of CommittedEntries (a prefix) were
	// durable before this Ready: they may be applied before the persist,
	// when Snapshot is nil.
	StableCommitted int
}

// readyRecord remembers what the outstanding Ready handed out, for Advance.
type readyRecord struct {
	appliedTo uint64
	snap      *Snapshot
}

// HasReady reports whether Ready would return something to do.
func (r *RawNode) HasReady() bool {
	if r.inReady {
		return false
	}
	return r.bcastPending ||
		len(r.msgs) > 0 ||
		len(r.readStates) > 0 ||
		r.log.unstableSnap != nil ||
		r.log.stabled < r.log.lastIndex() ||
		r.log.hasNextCommitted() ||
		r.softState() != r.prevSoft ||
		r.hardState() != r.prevHard
}

// Ready returns the outputs accumulated since the previous Ready. The node
// must act on it as the package documentation says, then call Advance
// before calling Ready again (Ready panics otherwise).
func (r *RawNode) Ready() Ready {
	if r.inReady {
		panic(fmt.Sprintf("raft: %s: Ready called again before Advance", r.id))
	}
	r.flushBcast()
	rd := Ready{
		Messages:         r.msgs,
		ReadStates:       r.readStates,
		Entries:          r.log.unstableEntries(),
		CommittedEntries: r.log.nextCommitted(r.cfg.MaxCommittedBytesPerReady),
	}
	r.msgs, r.readStates = nil, nil
	if soft := r.softState(); soft != r.prevSoft {
		rd.SoftState = &soft
		r.prevSoft = soft
	}
	votedOrNewTerm := false
	if hs := r.hardState(); hs != r.prevHard {
		rd.HardState = &hs
		votedOrNewTerm = hs.Term != r.prevHard.Term || hs.Vote != r.prevHard.Vote
		rd.MustSync = votedOrNewTerm
		r.prevHard = hs
	}
	rd.Snapshot = r.log.unstableSnap
	rd.MustSync = rd.MustSync || len(rd.Entries) > 0 || rd.Snapshot != nil
	rd.SendFirst = r.role == RoleLeader && rd.SoftState == nil && rd.Snapshot == nil && !votedOrNewTerm
	if rd.Snapshot == nil {
		stable := r.log.stabled
		if len(rd.Entries) > 0 {
			stable = min(stable, rd.Entries[0].Index-1)
		}
		for rd.StableCommitted < len(rd.CommittedEntries) && rd.CommittedEntries[rd.StableCommitted].Index <= stable {
			rd.StableCommitted++
		}
	}
	if n := len(rd.Entries); n > 0 {
		r.log.handedOut = rd.Entries[n-1].Index
	}
	if n := len(rd.CommittedEntries); n > 0 {
		r.log.applying = rd.CommittedEntries[n-1].Index
	}
	r.pending = readyRecord{appliedTo: r.log.applying, snap: rd.Snapshot}
	r.inReady = true
	return rd
}

// Advance acknowledges that the last Ready was acted upon: its entries and
// snapshot are persisted and its committed entries applied.
func (r *RawNode) Advance() {
	if !r.inReady {
		panic(fmt.Sprintf("raft: %s: Advance called without a Ready", r.id))
	}
	r.inReady = false
	l := r.log
	l.stabled = max(l.stabled, l.handedOut)
	l.handedOut = 0
	l.applied = max(l.applied, r.pending.appliedTo)
	if s := r.pending.snap; s != nil {
		l.applied = max(l.applied, s.Index)
		if l.unstableSnap == s {
			l.unstableSnap = nil
		}
	}
	r.pending = readyRecord{}
	// The leader's own copy now counts up to the new stabled index.
	if r.maybeCommit() {
		r.bcastAppend(true)
	}
	if l.applied > l.committed || l.stabled > l.lastIndex() {
		panic(fmt.Sprintf("raft: %s: after Advance applied %d > commit %d or stabled %d > last %d",
			r.id, l.applied, l.committed, l.stabled, l.lastIndex()))
	}
}
