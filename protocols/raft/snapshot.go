package raft

import "fmt"

// Compact records that the application has applied every entry up to and
// including index and that data is its serialized state at that point. The
// RawNode keeps the snapshot (to send to followers that fall behind) and
// discards the log before index, except CompactionOverhead entries kept
// for slow followers. index must not exceed the applied index (entries
// handed out in a Ready count as applied once Advance is called) and must
// be above the current snapshot's index (else ErrSnapOutOfDate). The node
// persists the snapshot and trims its own storage the same way.
func (r *RawNode) Compact(index uint64, data []byte) error {
	if len(data) > MaxSnapshotBytes {
		return fmt.Errorf("raft: %s: compact at %d: snapshot is %d bytes, more than %d", r.id, index, len(data), MaxSnapshotBytes)
	}
	if err := r.log.compact(index, data, r.cfg.CompactionOverhead); err != nil {
		return fmt.Errorf("raft: %s: %w", r.id, err)
	}
	return nil
}

// Snapshot returns the latest snapshot: the one recorded by Compact or
// received from a leader (Index 0 if none). Its Data must not be modified.
func (r *RawNode) Snapshot() Snapshot { return r.log.snap }

// sendSnapshot sends the latest snapshot to peer i, whose next entries
// were compacted away, and reports whether it did. It waits for the peer
// to be recently active, so a dead node does not cost a snapshot per
// election timeout.
func (r *RawNode) sendSnapshot(i int) bool {
	pr := &r.prs[i]
	if !pr.recentActive {
		return false
	}
	snap := r.log.snap
	if snap.IsEmpty() {
		panic(fmt.Sprintf("raft: %s: peer %s needs compacted entries (next %d, first %d) but there is no snapshot",
			r.id, r.peers[i], pr.next, r.log.firstIndex()))
	}
	r.send(Message{Type: MsgSnap, To: r.peers[i], Snapshot: &snap})
	pr.becomeSnapshot(snap.Index, r.ticks)
	return true
}

// handleSnapshot is the follower's side of MsgSnap.
func (r *RawNode) handleSnapshot(m Message) {
	if r.restore(*m.Snapshot) {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.lastIndex()})
		return
	}
	r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
}

// restore replaces the log by the snapshot s if s is news to us. It
// reports false if s is already covered by our commit index, or if our log
// holds its last entry (then only the commit index moves).
func (r *RawNode) restore(s Snapshot) bool {
	if s.Index <= r.log.committed {
		return false
	}
	if r.log.matchTerm(s.Index, s.Term) {
		r.log.commitTo(s.Index)
		return false
	}
	r.log.restore(s)
	if r.logf != nil {
		r.logf("raft %s: restored snapshot %d/t%d at term %d", r.id, s.Index, s.Term, r.term)
	}
	return true
}
