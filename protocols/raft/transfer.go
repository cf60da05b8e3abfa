package raft

import "fmt"

// TransferLeader asks this leader to hand leadership to peer to (thesis,
// section 3.10). The leader stops accepting proposals, brings the target's
// log up to date, then sends it MsgTimeoutNow; the target campaigns at
// once, skipping PreVote and overriding its peers' leader stickiness. The
// transfer is aborted if it has not completed within an election timeout,
// and the leader accepts proposals again. Transferring to itself cancels a
// transfer in progress.
func (r *RawNode) TransferLeader(to NodeID) error {
	if r.role != RoleLeader {
		return fmt.Errorf("raft: %s: transfer leadership to %s: %w (role %s, lead %q)", r.id, to, ErrNotLeader, r.role, string(r.lead))
	}
	i := r.peerIndex(to)
	if i < 0 {
		return fmt.Errorf("raft: %s: transfer leadership: %q is not a peer", r.id, string(to))
	}
	if i == r.self {
		r.abortLeaderTransfer()
		return nil
	}
	if r.leadTransferee == to {
		return nil
	}
	r.abortLeaderTransfer()
	r.leadTransferee = to
	// The transfer must complete within one election timeout.
	r.electionElapsed = 0
	if r.prs[i].match == r.log.lastIndex() {
		r.sendTimeoutNow(i)
		return nil
	}
	r.sendAppends(i, true)
	return nil
}

// sendTimeoutNow tells peer i to campaign now. From here on the leader
// stops serving lease reads for this term: a new leader may be elected
// before our lease would have expired.
func (r *RawNode) sendTimeoutNow(i int) {
	r.transferStarted = true
	r.send(Message{Type: MsgTimeoutNow, To: r.peers[i]})
}

// abortLeaderTransfer cancels a transfer in progress, if any.
func (r *RawNode) abortLeaderTransfer() {
	if r.leadTransferee != "" && r.logf != nil {
		r.logf("raft %s: leadership transfer to %s ended at term %d", r.id, r.leadTransferee, r.term)
	}
	r.leadTransferee = ""
}
