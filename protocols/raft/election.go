package raft

import "fmt"

// voteResult is the outcome of counting votes so far.
type voteResult uint8

const (
	votePending voteResult = iota
	voteWon
	voteLost
)

// tickElection counts towards an election for followers and candidates.
func (r *RawNode) tickElection() {
	r.electionElapsed++
	if r.bootLease && r.electionElapsed >= r.cfg.ElectionTicks {
		r.bootLease = false
	}
	if r.electionElapsed >= r.randomizedElectionTimeout {
		r.electionElapsed = 0
		r.hup(false)
	}
}

// Campaign starts an election now, as if the election timeout had
// elapsed (with PreVote, a pre-vote first). It does nothing on a leader.
// Tests and bootstrap use it; normal operation relies on Tick. It
// bypasses this node's own leader stickiness (it votes for itself), so
// with ReadOnlyLeaseBased it must not be called while a leader may hold
// a lease.
func (r *RawNode) Campaign() {
	r.hup(false)
}

// hup starts a campaign; transfer skips PreVote and makes voters ignore
// leader stickiness (a leadership transfer asked for it).
func (r *RawNode) hup(transfer bool) {
	if r.role == RoleLeader {
		return
	}
	r.campaign(r.cfg.PreVote && !transfer, transfer)
}

// campaign becomes a (pre-)candidate, votes for itself and asks every peer.
func (r *RawNode) campaign(pre, transfer bool) {
	voteType, term := MsgVote, r.term+1
	if pre {
		r.becomePreCandidate()
		voteType = MsgPreVote
	} else {
		r.becomeCandidate()
		term = r.term
	}
	if r.poll(r.self, true) == voteWon {
		r.wonElection()
		return
	}
	lastIndex, lastTerm := r.log.lastIndex(), r.log.lastTerm()
	for i, p := range r.peers {
		if i == r.self {
			continue
		}
		r.send(Message{Type: voteType, To: p, Term: term, Index: lastIndex, LogTerm: lastTerm, Transfer: transfer})
	}
}

// wonElection moves a pre-candidate to a real election and a candidate to
// leadership.
func (r *RawNode) wonElection() {
	if r.role == RolePreCandidate {
		r.campaign(false, false)
		return
	}
	r.becomeLeader()
	r.bcastAppend(true)
}

// poll records peer i's answer and reports the outcome.
func (r *RawNode) poll(i int, granted bool) voteResult {
	if r.votes[i] == 0 {
		r.votes[i] = -1
		if granted {
			r.votes[i] = 1
		}
	}
	yes, no := 0, 0
	for _, v := range r.votes {
		switch v {
		case 1:
			yes++
		case -1:
			no++
		}
	}
	switch {
	case yes >= r.quorum:
		return voteWon
	case no > len(r.peers)-r.quorum:
		return voteLost
	}
	return votePending
}

// inLease reports whether this node heard from a leader (or restarted)
// less than an election timeout ago, and so should ignore a vote request
// of type t from a higher term. Pre-votes are refused within the lease
// whatever the config (thesis 9.6); real votes only with CheckQuorum
// (leader stickiness, thesis 4.2.3), as in etcd.
func (r *RawNode) inLease(t MessageType) bool {
	if r.lead == "" && !r.bootLease {
		return false
	}
	if r.electionElapsed >= r.cfg.ElectionTicks {
		return false
	}
	return t == MsgPreVote || r.cfg.CheckQuorum
}

// handleVoteRequest answers MsgVote and MsgPreVote (m.Term >= r.term).
func (r *RawNode) handleVoteRequest(m Message) {
	respType := MsgVoteResp
	if m.Type == MsgPreVote {
		respType = MsgPreVoteResp
	}
	canVote := r.vote == m.From ||
		r.vote == "" && r.lead == "" ||
		m.Type == MsgPreVote && m.Term > r.term
	if !canVote || !r.log.isUpToDate(m.Index, m.LogTerm) {
		r.send(Message{Type: respType, To: m.From, Reject: true})
		return
	}
	// A grant carries the term of the request: for a pre-vote that is the
	// term the pre-candidate would campaign in, not ours.
	r.send(Message{Type: respType, To: m.From, Term: m.Term})
	if m.Type == MsgVote {
		r.electionElapsed = 0
		r.vote = m.From
	}
}

// stepCandidate handles messages while (pre-)campaigning.
func (r *RawNode) stepCandidate(m Message) {
	myResp := MsgVoteResp
	if r.role == RolePreCandidate {
		myResp = MsgPreVoteResp
	}
	switch m.Type {
	case MsgApp, MsgHeartbeat, MsgSnap:
		// A leader exists in our term (or a higher one, already adopted).
		r.becomeFollower(m.Term, m.From)
		r.stepFollower(m)
	case myResp:
		switch r.poll(r.peerIndex(m.From), !m.Reject) {
		case voteWon:
			r.wonElection()
		case voteLost:
			r.becomeFollower(r.term, "")
		}
	}
}

// stepFollower handles messages while following.
func (r *RawNode) stepFollower(m Message) {
	switch m.Type {
	case MsgApp:
		r.heardFromLeader(m.From)
		r.handleAppend(m)
	case MsgHeartbeat:
		r.heardFromLeader(m.From)
		r.handleHeartbeat(m)
	case MsgSnap:
		r.heardFromLeader(m.From)
		r.handleSnapshot(m)
	case MsgTimeoutNow:
		if m.From == r.lead {
			r.hup(true)
		}
	case MsgReadIndexResp:
		r.readStates = append(r.readStates, ReadState{Ctx: m.Context, Index: m.Index})
	}
}

// heardFromLeader resets the election timer and records the leader,
// asserting that a term never has two leaders.
func (r *RawNode) heardFromLeader(from NodeID) {
	if r.lead != "" && r.lead != from {
		panic(fmt.Sprintf("raft: %s: two leaders in term %d: %s and %s", r.id, r.term, r.lead, from))
	}
	r.electionElapsed = 0
	r.bootLease = false
	if r.lead == "" {
		r.lead = from
		r.logRole()
	}
}
