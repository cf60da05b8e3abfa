package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// RawNode is one member of a Raft group, as a pure state machine: feed it
// ticks, messages and proposals, and take its outputs from Ready (see the
// package documentation for the Ready contract). A RawNode is not safe for
// concurrent use; the node layer drives it from its single event loop.
type RawNode struct {
	cfg    Config
	id     NodeID
	peers  []NodeID // sorted; membership is fixed
	self   int      // index of id in peers
	quorum int
	rand   *rand.Rand
	logf   func(format string, args ...any)

	term uint64
	vote NodeID
	role Role
	lead NodeID
	log  *raftLog

	prs      []progress // per peer, aligned with peers (leader only)
	votes    []int8     // per peer during a campaign: +1 granted, -1 refused
	matchBuf []uint64   // scratch space for the commit computation

	ticks                     uint64 // Tick calls since New
	electionElapsed           int
	heartbeatElapsed          int
	randomizedElectionTimeout int
	// bootLease makes a restarted node behave, for one election timeout,
	// as if it had just heard from a leader: a leader holding a lease may
	// have counted on this node's stickiness before it crashed.
	bootLease bool

	leadTransferee NodeID
	// transferStarted disables lease reads for the rest of the term once
	// a MsgTimeoutNow was sent: another node may be elected at any time.
	transferStarted bool

	uncommittedBytes uint64
	// bcastPending asks Ready to send append messages to every follower
	// that can take them (batching proposals); bcastEmpty also sends empty
	// ones, to propagate the commit index.
	bcastPending, bcastEmpty bool

	readOnly     readOnly
	pendingReads []readRequest // received before the first commit of the term
	readStates   []ReadState
	msgs         []Message

	prevSoft SoftState
	prevHard HardState
	inReady  bool
	pending  readyRecord
}

// New creates a RawNode from a validated configuration and what the node
// persisted (the zero Storage for a brand new node). It refuses an
// inconsistent Storage rather than guessing. The RawNode keeps st's slices
// and never writes into them.
func New(cfg Config, st Storage) (*RawNode, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("raft: new node: %w", err)
	}
	peers := slices.Clone(cfg.Peers)
	slices.Sort(peers)
	hs := st.HardState
	if hs.Vote != "" && !slices.Contains(peers, hs.Vote) {
		return nil, fmt.Errorf("raft: new node %s: %w: vote %q is not a peer", cfg.ID, ErrInvalidStorage, string(hs.Vote))
	}
	l, err := newLog(st)
	if err != nil {
		return nil, fmt.Errorf("raft: new node %s: %w", cfg.ID, err)
	}
	r := &RawNode{
		cfg:      cfg,
		id:       cfg.ID,
		peers:    peers,
		self:     slices.Index(peers, cfg.ID),
		quorum:   len(peers)/2 + 1,
		rand:     cfg.Rand,
		logf:     cfg.Logf,
		term:     hs.Term,
		vote:     hs.Vote,
		log:      l,
		prs:      make([]progress, len(peers)),
		votes:    make([]int8, len(peers)),
		matchBuf: make([]uint64, len(peers)),
		readOnly: newReadOnly(cfg.ReadOnly),
		prevHard: hs,
	}
	for i := range r.prs {
		r.prs[i].inflights = newInflights(cfg.MaxInflightMsgs, cfg.MaxInflightBytes)
	}
	r.becomeFollower(r.term, "")
	r.bootLease = !hs.IsEmpty() || !st.Snapshot.IsEmpty()
	r.prevSoft = r.softState()
	return r, nil
}

// ID returns this node's id.
func (r *RawNode) ID() NodeID { return r.id }

// Tick advances logical time by one unit: followers and candidates count
// towards an election, leaders towards a heartbeat and the CheckQuorum,
// transfer and snapshot timeouts.
func (r *RawNode) Tick() {
	r.ticks++
	if r.role == RoleLeader {
		r.tickHeartbeat()
		return
	}
	r.tickElection()
}

// Step processes a message received from a peer. It returns an error
// (wrapping ErrInvalidMessage) for a message that cannot be meant for this
// node; the node layer should log and drop it.
func (r *RawNode) Step(m Message) error {
	if err := r.validateIncoming(m); err != nil {
		return err
	}
	switch {
	case m.Term > r.term:
		if !r.stepHigherTerm(m) {
			return nil
		}
	case m.Term < r.term:
		r.stepLowerTerm(m)
		return nil
	}
	switch m.Type {
	case MsgVote, MsgPreVote:
		r.handleVoteRequest(m)
		return nil
	}
	switch r.role {
	case RoleLeader:
		r.stepLeader(m)
	case RoleCandidate, RolePreCandidate:
		r.stepCandidate(m)
	default:
		r.stepFollower(m)
	}
	return nil
}

// validateIncoming rejects messages not addressed to this node, from
// strangers, or of unknown types.
func (r *RawNode) validateIncoming(m Message) error {
	switch {
	case !m.Type.valid():
		return fmt.Errorf("raft: %s: step: %w: unknown type %d", r.id, ErrInvalidMessage, m.Type)
	case m.To != r.id:
		return fmt.Errorf("raft: %s: step %s: %w: addressed to %q", r.id, m.Type, ErrInvalidMessage, string(m.To))
	case m.From == r.id || r.peerIndex(m.From) < 0:
		return fmt.Errorf("raft: %s: step %s: %w: sender %q is not a peer", r.id, m.Type, ErrInvalidMessage, string(m.From))
	case m.Type == MsgSnap:
		if s := m.Snapshot; s == nil || s.Index == 0 || s.Term == 0 || s.Term > m.Term {
			return fmt.Errorf("raft: %s: step %s from %s: %w: snapshot missing or not in term %d", r.id, m.Type, m.From, ErrInvalidMessage, m.Term)
		}
	case m.Type == MsgApp:
		if err := checkAppendEntries(m); err != nil {
			return fmt.Errorf("raft: %s: step %s from %s: %w: %v", r.id, m.Type, m.From, ErrInvalidMessage, err)
		}
	case m.Type == MsgAppResp && !m.Reject && m.Term == r.term && r.role == RoleLeader && m.Index > r.log.lastIndex():
		return fmt.Errorf("raft: %s: step %s from %s: %w: acknowledges %d beyond last index %d",
			r.id, m.Type, m.From, ErrInvalidMessage, m.Index, r.log.lastIndex())
	}
	return nil
}

// checkAppendEntries verifies that an append message is well formed: its
// entries follow Index contiguously, with valid types and terms rising
// from LogTerm up to the message's term at most.
func checkAppendEntries(m Message) error {
	if m.LogTerm > m.Term {
		return fmt.Errorf("previous entry term %d above message term %d", m.LogTerm, m.Term)
	}
	prev := m.LogTerm
	for k, e := range m.Entries {
		if e.Index != m.Index+1+uint64(k) || e.Term < prev || e.Term > m.Term || e.Term == 0 || !e.Type.valid() {
			return fmt.Errorf("entry %d is %d/t%d type %d after %d/t%d (message term %d)",
				k, e.Index, e.Term, e.Type, m.Index+uint64(k), prev, m.Term)
		}
		prev = e.Term
	}
	return nil
}

// stepHigherTerm handles a message from a higher term. It reports whether
// the message should be processed further.
func (r *RawNode) stepHigherTerm(m Message) bool {
	if m.Type == MsgVote || m.Type == MsgPreVote {
		if !m.Transfer && r.inLease(m.Type) {
			// Leader stickiness: we heard from a leader recently, so this
			// candidate is probably disruptive. Ignore it entirely.
			return false
		}
	}
	switch {
	case m.Type == MsgPreVote:
		// A pre-vote never changes a voter's term.
	case m.Type == MsgPreVoteResp && !m.Reject:
		// The term is bumped only if the pre-vote wins.
	case m.Type == MsgApp || m.Type == MsgHeartbeat || m.Type == MsgSnap:
		r.becomeFollower(m.Term, m.From)
	default:
		r.becomeFollower(m.Term, "")
	}
	return true
}

// stepLowerTerm answers a message from a stale term where that helps the
// sender catch up, and drops it.
func (r *RawNode) stepLowerTerm(m Message) {
	switch m.Type {
	case MsgApp, MsgHeartbeat:
		if r.cfg.CheckQuorum || r.cfg.PreVote {
			// A stale leader cut off by a partition may never see a higher
			// term otherwise (pre-votes and stickiness keep terms low): tell
			// it, so it steps down.
			r.send(Message{Type: MsgAppResp, To: m.From})
		}
	case MsgPreVote:
		r.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
	}
}

// send queues m for the next Ready, stamping the sender and, unless set by
// the caller (vote responses), the current term.
func (r *RawNode) send(m Message) {
	m.From = r.id
	if m.Term == 0 {
		m.Term = r.term
	}
	r.msgs = append(r.msgs, m)
}

// peerIndex returns the position of id in peers, or -1.
func (r *RawNode) peerIndex(id NodeID) int {
	for i, p := range r.peers {
		if p == id {
			return i
		}
	}
	return -1
}

// reset clears the per-term state when the term or the role changes.
func (r *RawNode) reset(term uint64) {
	if term < r.term {
		panic(fmt.Sprintf("raft: %s: term going backwards from %d to %d", r.id, r.term, term))
	}
	if term != r.term {
		r.term = term
		r.vote = ""
		r.transferStarted = false
	}
	r.lead = ""
	r.electionElapsed = 0
	r.heartbeatElapsed = 0
	r.resetRandomizedElectionTimeout()
	r.abortLeaderTransfer()
	clear(r.votes)
	last := r.log.lastIndex()
	for i := range r.prs {
		r.prs[i].resetFor(last)
	}
	r.prs[r.self].match = last
	r.uncommittedBytes = 0
	r.bcastPending, r.bcastEmpty = false, false
	r.readOnly.reset()
	r.pendingReads = r.pendingReads[:0]
}

func (r *RawNode) resetRandomizedElectionTimeout() {
	lo, hi := r.cfg.ElectionTicks, r.cfg.maxElectionTicks()
	r.randomizedElectionTimeout = lo + r.rand.IntN(hi-lo)
}

func (r *RawNode) becomeFollower(term uint64, lead NodeID) {
	r.reset(term)
	r.role = RoleFollower
	r.lead = lead
	if lead != "" {
		r.bootLease = false
	}
	r.logRole()
}

func (r *RawNode) becomePreCandidate() {
	if r.role == RoleLeader {
		panic(fmt.Sprintf("raft: %s: leader of term %d cannot become pre-candidate", r.id, r.term))
	}
	// Like etcd, keep term and vote: a pre-candidate changes nothing
	// durable.
	r.role = RolePreCandidate
	r.lead = ""
	clear(r.votes)
	r.resetRandomizedElectionTimeout()
	r.logRole()
}

func (r *RawNode) becomeCandidate() {
	if r.role == RoleLeader {
		panic(fmt.Sprintf("raft: %s: leader of term %d cannot become candidate", r.id, r.term))
	}
	r.reset(r.term + 1)
	r.vote = r.id
	r.role = RoleCandidate
	r.bootLease = false
	r.logRole()
}

func (r *RawNode) becomeLeader() {
	if r.role != RoleCandidate {
		panic(fmt.Sprintf("raft: %s: only a candidate can become leader (role %s, term %d)", r.id, r.role, r.term))
	}
	r.reset(r.term)
	r.role = RoleLeader
	r.lead = r.id
	self := &r.prs[r.self]
	self.becomeReplicate()
	self.recentActive = true
	// The no-op lets the leader commit an entry of its own term, and so
	// every entry before it (Figure 8 rule), and serve reads.
	r.appendEntries(Entry{Type: EntryNoOp})
	r.logRole()
}

func (r *RawNode) logRole() {
	if r.logf != nil {
		r.logf("raft %s: %s at term %d (lead %q, last %d, commit %d)",
			r.id, r.role, r.term, string(r.lead), r.log.lastIndex(), r.log.committed)
	}
}

// softState is the current SoftState.
func (r *RawNode) softState() SoftState { return SoftState{Lead: r.lead, Role: r.role} }

// hardState is the current HardState.
func (r *RawNode) hardState() HardState {
	return HardState{Term: r.term, Vote: r.vote, Commit: r.log.committed}
}
