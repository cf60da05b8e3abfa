package raft

import "fmt"

// ProgressState is how a leader currently replicates to one follower.
type ProgressState uint8

const (
	// StateProbe: the leader does not know where the follower's log
	// matches its own. It sends one append message at a time and waits for
	// the answer (or a heartbeat response) before sending another.
	StateProbe ProgressState = iota
	// StateReplicate: the follower's log matches up to Match. The leader
	// streams append messages optimistically, up to the inflight window.
	StateReplicate
	// StateSnapshot: the follower needs entries the leader has compacted;
	// a snapshot was sent and the leader waits for it to be acknowledged
	// (or for an election timeout, after which it probes again).
	StateSnapshot
)

// String returns the state's name.
func (s ProgressState) String() string {
	switch s {
	case StateProbe:
		return "probe"
	case StateReplicate:
		return "replicate"
	case StateSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("progress-state(%d)", uint8(s))
}

// progress is the leader's view of one peer (the leader itself included,
// whose Match is its last index).
type progress struct {
	match, next     uint64
	state           ProgressState
	pendingSnapshot uint64 // index of the snapshot sent, in StateSnapshot
	snapshotSentAt  uint64 // leader tick when the snapshot was sent
	// probeSent pauses a probing follower until it answers.
	probeSent bool
	// recentActive is set by any response and cleared by each CheckQuorum
	// round.
	recentActive bool
	// leaseStamp is the leader's tick (plus one) at which the latest
	// heartbeat acknowledged by this peer was sent; zero means none.
	leaseStamp uint64
	// sentCommit is the highest commit index sent to the peer; when the
	// leader's commit index is ahead and the peer may hold the entries,
	// an empty append tells it.
	sentCommit uint64
	inflights  inflights
}

// resetFor reinitializes the progress for a new leadership whose last index
// is last.
func (pr *progress) resetFor(last uint64) {
	pr.match = 0
	pr.next = last + 1
	pr.state = StateProbe
	pr.pendingSnapshot = 0
	pr.snapshotSentAt = 0
	pr.probeSent = false
	pr.recentActive = false
	pr.leaseStamp = 0
	pr.sentCommit = 0
	pr.inflights.reset()
}

// becomeProbe switches to probing from just after Match.
func (pr *progress) becomeProbe() {
	pr.state = StateProbe
	pr.next = pr.match + 1
	pr.sentCommit = min(pr.sentCommit, pr.next-1)
	pr.pendingSnapshot = 0
	pr.probeSent = false
	pr.inflights.reset()
}

// becomeReplicate switches to optimistic streaming from just after Match.
func (pr *progress) becomeReplicate() {
	pr.state = StateReplicate
	pr.next = pr.match + 1
	pr.sentCommit = min(pr.sentCommit, pr.next-1)
	pr.pendingSnapshot = 0
	pr.probeSent = false
	pr.inflights.reset()
}

// becomeSnapshot records that a snapshot at index was sent at tick now.
func (pr *progress) becomeSnapshot(index, now uint64) {
	pr.state = StateSnapshot
	pr.pendingSnapshot = index
	pr.snapshotSentAt = now
	pr.next = index + 1
	pr.probeSent = false
	pr.inflights.reset()
}

// maybeUpdate records an acknowledgement of index n. It reports whether
// Match advanced.
func (pr *progress) maybeUpdate(n uint64) bool {
	updated := false
	if pr.match < n {
		pr.match = n
		updated = true
		pr.probeSent = false
	}
	pr.next = max(pr.next, n+1)
	return updated
}

// maybeDecrTo handles a rejection of the append message whose previous
// index was rejected, with hint the leader's best guess of the follower's
// next index. It reports false for a stale rejection (of a message older
// than the current state), which must be ignored.
func (pr *progress) maybeDecrTo(rejected, hint uint64) bool {
	switch pr.state {
	case StateReplicate:
		if rejected <= pr.match {
			return false
		}
		pr.becomeProbe()
	case StateProbe:
		if pr.next-1 != rejected {
			return false
		}
	default:
		return false
	}
	pr.next = max(min(rejected, hint), pr.match+1)
	pr.probeSent = false
	return true
}

// canBumpCommit reports whether sending commit would let the peer advance
// its commit index: it was not sent yet, and the peer may hold entries
// above what was sent.
func (pr *progress) canBumpCommit(commit uint64) bool {
	return commit > pr.sentCommit && pr.sentCommit < pr.next-1
}

// isPaused reports whether no append message may be sent now.
func (pr *progress) isPaused() bool {
	switch pr.state {
	case StateProbe:
		return pr.probeSent
	case StateReplicate:
		return pr.inflights.full()
	default:
		return true
	}
}

// sentEntries updates the progress after an append message carrying
// entries up to last (bytes of entries) was sent.
func (pr *progress) sentEntries(n int, last, bytes uint64) {
	if n == 0 {
		return
	}
	switch pr.state {
	case StateReplicate:
		if last < pr.next {
			panic(fmt.Sprintf("raft: sent entries up to %d below next %d", last, pr.next))
		}
		pr.next = last + 1
		pr.inflights.add(last, bytes)
	case StateProbe:
		pr.probeSent = true
	default:
		panic(fmt.Sprintf("raft: sent entries up to %d in state %s", last, pr.state))
	}
}

// PeerProgress is a leader's view of one peer, as reported by Status.
type PeerProgress struct {
	// ID is the peer.
	ID NodeID
	// Match is the highest index known to be replicated on the peer.
	Match uint64
	// Next is the next index to send.
	Next uint64
	// State is the replication state.
	State ProgressState
	// RecentActive reports a response within the current CheckQuorum
	// window.
	RecentActive bool
	// Inflight is the number of unacknowledged append messages.
	Inflight int
	// InflightBytes is their entry bytes.
	InflightBytes uint64
	// PendingSnapshot is the index of the snapshot sent, in StateSnapshot.
	PendingSnapshot uint64
}
