package raft

import (
	"fmt"
	"slices"
)

// tickHeartbeat advances a leader's timers: heartbeats every
// HeartbeatTicks; every ElectionTicks the CheckQuorum round, the transfer
// timeout and stuck snapshots.
func (r *RawNode) tickHeartbeat() {
	r.heartbeatElapsed++
	r.electionElapsed++
	if r.electionElapsed >= r.cfg.ElectionTicks {
		r.electionElapsed = 0
		if r.cfg.CheckQuorum && !r.quorumActive() {
			r.becomeFollower(r.term, "")
			return
		}
		r.abortLeaderTransfer()
		r.expireSnapshots()
	}
	if r.heartbeatElapsed >= r.cfg.HeartbeatTicks {
		r.heartbeatElapsed = 0
		r.bcastHeartbeat(r.readOnly.lastPendingCtx())
	}
}

// quorumActive reports whether a quorum (this leader included) responded
// since the previous check, and starts a new window.
func (r *RawNode) quorumActive() bool {
	active := 0
	for i := range r.prs {
		if i == r.self || r.prs[i].recentActive {
			active++
		}
		if i != r.self {
			r.prs[i].recentActive = false
		}
	}
	return active >= r.quorum
}

// expireSnapshots returns followers whose snapshot went unanswered for an
// election timeout (the message was probably lost) to probing, which sends
// the snapshot again if it is still needed.
func (r *RawNode) expireSnapshots() {
	for i := range r.prs {
		pr := &r.prs[i]
		if pr.state == StateSnapshot && r.ticks-pr.snapshotSentAt >= uint64(r.cfg.ElectionTicks) {
			pr.becomeProbe()
		}
	}
}

// Propose appends a command to the log if this node is the leader, or
// forwards it to the leader if it is a follower (unless forwarding is
// disabled). It returns ErrProposalDropped when there is no leader, a
// leadership transfer is in progress, or MaxUncommittedBytes would be
// exceeded. The RawNode keeps data: the caller must not modify it
// afterwards. Acceptance is not commitment: the command may still be lost
// if leadership changes, and the application learns the outcome from
// CommittedEntries.
func (r *RawNode) Propose(data []byte) error {
	if len(data) > MaxEntryDataBytes {
		return fmt.Errorf("raft: %s: propose %d bytes, more than %d: %w", r.id, len(data), MaxEntryDataBytes, ErrProposalDropped)
	}
	switch {
	case r.role == RoleLeader:
		return r.propose([]Entry{{Type: EntryNormal, Data: data}})
	case r.lead == "":
		return fmt.Errorf("raft: %s: propose at term %d: no leader: %w", r.id, r.term, ErrProposalDropped)
	case r.cfg.DisableProposalForwarding:
		return fmt.Errorf("raft: %s: propose: forwarding to %s disabled: %w", r.id, r.lead, ErrProposalDropped)
	}
	r.send(Message{Type: MsgProp, To: r.lead, Entries: []Entry{{Type: EntryNormal, Data: data}}})
	return nil
}

// propose appends proposals on the leader, enforcing flow control.
func (r *RawNode) propose(ents []Entry) error {
	if r.leadTransferee != "" {
		return fmt.Errorf("raft: %s: propose: transferring leadership to %s: %w", r.id, r.leadTransferee, ErrProposalDropped)
	}
	size := payloadBytes(ents)
	if r.uncommittedBytes > 0 && r.uncommittedBytes+size > r.cfg.MaxUncommittedBytes {
		return fmt.Errorf("raft: %s: propose %d bytes: %d uncommitted bytes, limit %d: %w",
			r.id, size, r.uncommittedBytes, r.cfg.MaxUncommittedBytes, ErrProposalDropped)
	}
	r.uncommittedBytes += size
	r.appendEntries(ents...)
	r.bcastAppend(false)
	return nil
}

// appendEntries stamps entries with the leader's term and the next
// indexes, appends them and counts the leader's own replica.
func (r *RawNode) appendEntries(ents ...Entry) {
	last := r.log.lastIndex()
	for i := range ents {
		ents[i].Term = r.term
		ents[i].Index = last + 1 + uint64(i)
	}
	r.log.append(ents...)
	r.prs[r.self].maybeUpdate(r.log.lastIndex())
	// A group of one commits on its own, once the entries are stable (see
	// maybeCommit and Advance).
	r.maybeCommit()
}

// stepLeader handles messages while leading (m.Term == r.term).
func (r *RawNode) stepLeader(m Message) {
	i := r.peerIndex(m.From)
	switch m.Type {
	case MsgAppResp:
		r.prs[i].recentActive = true
		r.handleAppendResponse(i, m)
	case MsgHeartbeatResp:
		r.prs[i].recentActive = true
		r.handleHeartbeatResponse(i, m)
	case MsgProp:
		for j := range m.Entries {
			m.Entries[j].Type = EntryNormal
		}
		// A forwarded proposal that cannot be accepted is dropped; the
		// client times out and retries.
		_ = r.propose(m.Entries)
	case MsgReadIndex:
		r.handleReadIndex(m.From, m.Context)
	case MsgApp, MsgHeartbeat, MsgSnap:
		panic(fmt.Sprintf("raft: %s: two leaders in term %d: %s received %s from %s", r.id, r.term, r.id, m.Type, m.From))
	}
}

// bcastAppend asks the next Ready to send entries to every follower;
// withEmpty also sends empty appends (to propagate the commit index).
// Deferring the sends batches all proposals made before the Ready.
func (r *RawNode) bcastAppend(withEmpty bool) {
	r.bcastPending = true
	r.bcastEmpty = r.bcastEmpty || withEmpty
}

// flushBcast performs the deferred broadcast.
func (r *RawNode) flushBcast() {
	if !r.bcastPending || r.role != RoleLeader {
		r.bcastPending, r.bcastEmpty = false, false
		return
	}
	withEmpty := r.bcastEmpty
	r.bcastPending, r.bcastEmpty = false, false
	for i := range r.peers {
		if i != r.self {
			r.sendAppends(i, withEmpty && r.prs[i].canBumpCommit(r.log.committed))
		}
	}
}

// sendAppends sends as many append messages to peer i as flow control
// allows (one when probing), the first one even if empty when withEmpty.
func (r *RawNode) sendAppends(i int, withEmpty bool) {
	for range r.cfg.MaxInflightMsgs + 1 {
		if !r.sendAppend(i, withEmpty) {
			return
		}
		withEmpty = false
	}
}

// sendAppend sends one append message (or the snapshot) to peer i and
// reports whether it sent anything.
func (r *RawNode) sendAppend(i int, withEmpty bool) bool {
	pr := &r.prs[i]
	if pr.isPaused() {
		return false
	}
	prevIndex := pr.next - 1
	prevTerm, errTerm := r.log.term(prevIndex)
	var ents []Entry
	var errEnts error
	if last := r.log.lastIndex(); pr.next <= last {
		ents, errEnts = r.log.slice(pr.next, last+1, r.cfg.MaxSizePerMsg)
	}
	if errTerm != nil || errEnts != nil {
		return r.sendSnapshot(i)
	}
	if len(ents) == 0 && !withEmpty {
		return false
	}
	r.send(Message{
		Type: MsgApp, To: r.peers[i],
		Index: prevIndex, LogTerm: prevTerm,
		Entries: ents, Commit: r.log.committed,
	})
	pr.sentCommit = max(pr.sentCommit, r.log.committed)
	if n := len(ents); n > 0 {
		pr.sentEntries(n, ents[n-1].Index, entriesBytes(ents))
	}
	return true
}

// handleAppend is the follower's side of MsgApp.
func (r *RawNode) handleAppend(m Message) {
	if m.Index < r.log.committed {
		// Everything up to our commit index matches the leader already.
		r.send(Message{Type: MsgAppResp, To: m.From, Index: r.log.committed})
		return
	}
	if lastNew, ok := r.log.maybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries); ok {
		r.send(Message{Type: MsgAppResp, To: m.From, Index: lastNew})
		return
	}
	hint, conflictTerm := r.conflictHint(m.Index)
	r.send(Message{Type: MsgAppResp, To: m.From, Index: m.Index, Reject: true, RejectHint: hint, ConflictTerm: conflictTerm})
}

// conflictHint returns, for a rejected append after index, the first index
// of the conflicting term in our log and that term, or our last index and
// term 0 if our log is shorter (thesis, section 5.3 optimization).
func (r *RawNode) conflictHint(index uint64) (hint, conflictTerm uint64) {
	last := r.log.lastIndex()
	if index > last {
		return last, 0
	}
	t, err := r.log.term(index)
	if err != nil {
		// index >= commit >= snapshot index, so the term is in memory.
		panic(fmt.Sprintf("raft: %s: term of rejected index %d (commit %d, first %d): %v", r.id, index, r.log.committed, r.log.first, err))
	}
	lo := min(r.log.committed+1, index)
	return r.log.firstIndexOfTerm(t, lo, index), t
}

// nextFromRejection is the leader's guess of the next index to probe after
// a rejection: skip the follower's whole conflicting term, or jump to the
// end of its shorter log.
func (r *RawNode) nextFromRejection(m Message) uint64 {
	if m.ConflictTerm == 0 {
		return m.RejectHint + 1
	}
	if i, ok := r.log.lastIndexOfTerm(m.ConflictTerm, m.Index); ok {
		return i + 1
	}
	return m.RejectHint
}

// handleAppendResponse is the leader's side of MsgAppResp.
func (r *RawNode) handleAppendResponse(i int, m Message) {
	pr := &r.prs[i]
	if m.Reject {
		if pr.maybeDecrTo(m.Index, r.nextFromRejection(m)) {
			r.sendAppend(i, true)
		}
		return
	}
	if !pr.maybeUpdate(m.Index) {
		return
	}
	switch pr.state {
	case StateProbe:
		pr.becomeReplicate()
	case StateSnapshot:
		if pr.match >= pr.pendingSnapshot || pr.match+1 >= r.log.firstIndex() {
			pr.becomeReplicate()
		}
	case StateReplicate:
		pr.inflights.freeLE(m.Index)
	}
	if r.maybeCommit() {
		r.bcastAppend(true)
	}
	r.sendAppends(i, pr.canBumpCommit(r.log.committed))
	if r.peers[i] == r.leadTransferee && pr.match == r.log.lastIndex() {
		r.sendTimeoutNow(i)
	}
}

// maybeCommit advances the commit index to the highest index replicated
// on a quorum, but only if that entry is of the current term (Figure 8:
// older entries are committed indirectly). It reports whether it advanced.
// The leader's own copy counts only up to what it has persisted (stabled):
// with Ready.SendFirst its appends may be acknowledged before its own
// write ends, and Advance counts the rest.
func (r *RawNode) maybeCommit() bool {
	if r.role != RoleLeader {
		return false
	}
	for i := range r.prs {
		r.matchBuf[i] = r.prs[i].match
	}
	r.matchBuf[r.self] = min(r.matchBuf[r.self], r.log.stabled)
	slices.Sort(r.matchBuf)
	mci := r.matchBuf[len(r.matchBuf)-r.quorum]
	if mci <= r.log.committed {
		return false
	}
	if t, err := r.log.term(mci); err != nil || t != r.term {
		return false
	}
	firstOfTerm := !r.committedInTerm()
	old := r.log.committed
	r.log.commitTo(mci)
	r.releaseUncommitted(old, mci)
	if firstOfTerm {
		r.releasePendingReads()
	}
	return true
}

// releaseUncommitted subtracts the payload of entries (from, to] from the
// uncommitted budget.
func (r *RawNode) releaseUncommitted(from, to uint64) {
	lo := max(from+1, r.log.firstIndex())
	if lo > to {
		return
	}
	size := payloadBytes(r.log.entries[lo-r.log.first : to+1-r.log.first])
	r.uncommittedBytes -= min(r.uncommittedBytes, size)
}

// committedInTerm reports whether the leader has committed an entry of
// its own term (a precondition for serving reads).
func (r *RawNode) committedInTerm() bool {
	t, err := r.log.term(r.log.committed)
	return err == nil && t == r.term
}

// bcastHeartbeat sends a heartbeat to every follower, carrying ctx (the
// newest pending read request) and a lease stamp.
func (r *RawNode) bcastHeartbeat(ctx []byte) {
	for i, p := range r.peers {
		if i == r.self {
			continue
		}
		commit := min(r.prs[i].match, r.log.committed)
		r.prs[i].sentCommit = max(r.prs[i].sentCommit, commit)
		r.send(Message{
			Type: MsgHeartbeat, To: p,
			Commit:  commit,
			Context: ctx,
			Index:   r.ticks + 1,
		})
	}
}

// handleHeartbeat is the follower's side of MsgHeartbeat.
func (r *RawNode) handleHeartbeat(m Message) {
	r.log.commitTo(m.Commit)
	r.send(Message{Type: MsgHeartbeatResp, To: m.From, Context: m.Context, Index: m.Index})
}

// handleHeartbeatResponse is the leader's side of MsgHeartbeatResp: it
// unpauses the follower, renews the lease and counts read confirmations.
func (r *RawNode) handleHeartbeatResponse(i int, m Message) {
	pr := &r.prs[i]
	pr.probeSent = false
	pr.leaseStamp = max(pr.leaseStamp, min(m.Index, r.ticks+1))
	if pr.state == StateReplicate && pr.inflights.full() {
		pr.inflights.freeFirstOne()
	}
	if pr.match < r.log.lastIndex() || pr.state == StateProbe {
		// Even an empty append helps: if earlier appends were lost, the
		// follower rejects it and the leader starts probing.
		r.sendAppends(i, true)
	}
	if len(m.Context) > 0 {
		r.confirmRead(i, m.Context)
	}
}
