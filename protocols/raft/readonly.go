package raft

import (
	"fmt"
	"slices"
)

// MaxPendingReads bounds the read requests a leader holds while waiting
// for confirmation (and, separately, while waiting for its first commit).
const MaxPendingReads = 4096

// readRequest is a read asked of the leader, by itself or a follower.
type readRequest struct {
	from NodeID
	ctx  []byte
}

// readIndexStatus is a read waiting for a quorum of heartbeat
// acknowledgements.
type readIndexStatus struct {
	req   readRequest
	index uint64 // the leader's commit index when the read arrived
	acks  []bool // per peer
}

// readOnly tracks reads waiting for leadership confirmation, in arrival
// order. A quorum acknowledging the heartbeat of one read confirms every
// earlier read too.
type readOnly struct {
	option  ReadOnlyOption
	pending map[string]*readIndexStatus
	queue   []string
}

func newReadOnly(option ReadOnlyOption) readOnly {
	return readOnly{option: option, pending: map[string]*readIndexStatus{}}
}

func (ro *readOnly) reset() {
	clear(ro.pending)
	ro.queue = ro.queue[:0]
}

// add queues a read at index; false if its context is already pending or
// the queue is full.
func (ro *readOnly) add(index uint64, req readRequest, peers int) bool {
	key := string(req.ctx)
	if _, dup := ro.pending[key]; dup || len(ro.queue) >= MaxPendingReads {
		return false
	}
	ro.pending[key] = &readIndexStatus{req: req, index: index, acks: make([]bool, peers)}
	ro.queue = append(ro.queue, key)
	return true
}

// ack records peer i's acknowledgement of the heartbeat carrying ctx and
// returns how many peers acknowledged it (0 if ctx is not pending).
func (ro *readOnly) ack(i int, ctx []byte) int {
	rs, ok := ro.pending[string(ctx)]
	if !ok {
		return 0
	}
	rs.acks[i] = true
	n := 0
	for _, a := range rs.acks {
		if a {
			n++
		}
	}
	return n
}

// advance removes and returns, in arrival order, every read up to and
// including the one with ctx.
func (ro *readOnly) advance(ctx []byte) []*readIndexStatus {
	at := slices.Index(ro.queue, string(ctx))
	if at < 0 {
		return nil
	}
	done := make([]*readIndexStatus, 0, at+1)
	for _, key := range ro.queue[:at+1] {
		done = append(done, ro.pending[key])
		delete(ro.pending, key)
	}
	ro.queue = append(ro.queue[:0], ro.queue[at+1:]...)
	return done
}

// lastPendingCtx is the context of the newest pending read, carried by
// every heartbeat so that a lost heartbeat round is retried.
func (ro *readOnly) lastPendingCtx() []byte {
	if len(ro.queue) == 0 {
		return nil
	}
	return ro.pending[ro.queue[len(ro.queue)-1]].req.ctx
}

// ReadIndex requests a linearizable read identified by ctx (non-empty,
// unique among pending reads, at most MaxContextBytes). When it is safe, a
// ReadState{ctx, index} appears in a Ready: the read may be served once
// the state machine has applied index. On a leader the index is its commit
// index, confirmed by a heartbeat round to a quorum (ReadOnlySafe) or by
// its lease (ReadOnlyLeaseBased); a leader that has not yet committed an
// entry of its term holds the read until it has. A follower forwards the
// request to its leader. A read may be silently lost (leader change,
// message loss): the caller retries after a timeout with a new ctx.
func (r *RawNode) ReadIndex(ctx []byte) error {
	if len(ctx) == 0 || len(ctx) > MaxContextBytes {
		return fmt.Errorf("raft: %s: read index: context of %d bytes, want 1..%d", r.id, len(ctx), MaxContextBytes)
	}
	ctx = slices.Clone(ctx)
	switch {
	case r.role == RoleLeader:
		return r.leaderRead(readRequest{from: r.id, ctx: ctx})
	case r.role == RoleFollower && r.lead != "":
		r.send(Message{Type: MsgReadIndex, To: r.lead, Context: ctx})
		return nil
	}
	return fmt.Errorf("raft: %s: read index at term %d: no leader (role %s): %w", r.id, r.term, r.role, ErrReadIndexDropped)
}

// handleReadIndex serves a read forwarded by a follower.
func (r *RawNode) handleReadIndex(from NodeID, ctx []byte) {
	if len(ctx) == 0 {
		return
	}
	// A forwarded read that cannot be queued is dropped; the follower's
	// client times out and retries.
	_ = r.leaderRead(readRequest{from: from, ctx: ctx})
}

// leaderRead serves a read on the leader, or holds it until the leader has
// committed an entry of its term (before that, its commit index may be
// behind entries committed by earlier leaders).
func (r *RawNode) leaderRead(req readRequest) error {
	if len(r.peers) == 1 {
		r.respondRead(req, r.log.committed)
		return nil
	}
	if !r.committedInTerm() {
		if len(r.pendingReads) >= MaxPendingReads {
			return fmt.Errorf("raft: %s: read index: %d reads wait for the first commit of term %d: %w",
				r.id, len(r.pendingReads), r.term, ErrReadIndexDropped)
		}
		r.pendingReads = append(r.pendingReads, req)
		return nil
	}
	return r.serveRead(req)
}

// serveRead answers at once under a valid lease, or starts a heartbeat
// round to confirm leadership.
func (r *RawNode) serveRead(req readRequest) error {
	if r.readOnly.option == ReadOnlyLeaseBased && r.leaseValid() {
		r.respondRead(req, r.log.committed)
		return nil
	}
	if !r.readOnly.add(r.log.committed, req, len(r.peers)) {
		return fmt.Errorf("raft: %s: read index: context already pending or %d reads pending: %w",
			r.id, len(r.readOnly.queue), ErrReadIndexDropped)
	}
	r.confirmRead(r.self, req.ctx)
	r.bcastHeartbeat(req.ctx)
	return nil
}

// confirmRead counts peer i's acknowledgement of the heartbeat carrying
// ctx and answers every read it confirms.
func (r *RawNode) confirmRead(i int, ctx []byte) {
	if r.readOnly.ack(i, ctx) < r.quorum {
		return
	}
	for _, rs := range r.readOnly.advance(ctx) {
		r.respondRead(rs.req, rs.index)
	}
}

// respondRead delivers a confirmed read to whoever asked.
func (r *RawNode) respondRead(req readRequest, index uint64) {
	if req.from == r.id {
		r.readStates = append(r.readStates, ReadState{Ctx: req.ctx, Index: index})
		return
	}
	r.send(Message{Type: MsgReadIndexResp, To: req.from, Index: index, Context: req.ctx})
}

// releasePendingReads serves the reads held until the first commit of the
// term.
func (r *RawNode) releasePendingReads() {
	reads := r.pendingReads
	r.pendingReads = nil
	for _, req := range reads {
		_ = r.serveRead(req)
	}
}

// leaseValid reports whether a quorum acknowledged a heartbeat sent less
// than ElectionTicks-1 ticks ago. Followers that received it refuse votes
// for ElectionTicks of their own ticks (stickiness), so no other leader
// can exist yet, provided the clocks tick at the same rate. The one tick
// of margin covers the phase difference between the two tick sequences.
func (r *RawNode) leaseValid() bool {
	if r.transferStarted || r.leadTransferee != "" {
		return false
	}
	for i := range r.prs {
		r.matchBuf[i] = r.prs[i].leaseStamp
	}
	r.matchBuf[r.self] = r.ticks + 1
	slices.Sort(r.matchBuf)
	stamp := r.matchBuf[len(r.matchBuf)-r.quorum]
	if stamp == 0 {
		return false
	}
	sentAt := stamp - 1
	return r.ticks-sentAt < uint64(r.cfg.ElectionTicks-1)
}
