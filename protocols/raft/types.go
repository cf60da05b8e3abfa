package raft

import (
	"errors"
	"fmt"
)

// NodeID names a peer of the Raft group. It is declared here, not taken
// from package nodes, so that the consensus core depends on nothing above
// it; the node layer converts between the two.
type NodeID string

// MaxNodeIDBytes bounds the length of a NodeID, so that IDs fit in traces
// and the wire decoder can refuse absurd lengths.
const MaxNodeIDBytes = 64

// Validate reports whether id is usable: non-empty and at most
// MaxNodeIDBytes long.
func (id NodeID) Validate() error {
	if id == "" {
		return errors.New("raft: node id is empty")
	}
	if len(id) > MaxNodeIDBytes {
		return fmt.Errorf("raft: node id %q is %d bytes, more than %d", string(id), len(id), MaxNodeIDBytes)
	}
	return nil
}

// Role is what a node currently is in the protocol.
type Role uint8

const (
	// RoleFollower accepts entries from a leader and votes.
	RoleFollower Role = iota
	// RolePreCandidate asks peers whether they would vote for it, without
	// incrementing its term (PreVote, thesis section 9.6).
	RolePreCandidate
	// RoleCandidate has incremented its term and asks for votes.
	RoleCandidate
	// RoleLeader accepts proposals and replicates the log.
	RoleLeader
)

// String returns the role's name for traces.
func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RolePreCandidate:
		return "pre-candidate"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// EntryType tells what a log entry carries.
type EntryType uint8

const (
	// EntryNormal carries an application command in Data.
	EntryNormal EntryType = iota
	// EntryNoOp is the empty entry a new leader appends so that it can
	// commit an entry of its own term (and with it every earlier entry).
	// Applications skip it.
	EntryNoOp
)

// String returns the entry type's name for traces.
func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "normal"
	case EntryNoOp:
		return "noop"
	}
	return fmt.Sprintf("entry-type(%d)", uint8(t))
}

// valid reports whether t is a known entry type.
func (t EntryType) valid() bool { return t <= EntryNoOp }

// Entry is one slot of the replicated log. Entries are immutable once
// created: a RawNode shares their Data with Ready and Message values, and
// callers must not modify it.
type Entry struct {
	// Term is the leader term in which the entry was created.
	Term uint64
	// Index is the entry's position in the log, starting at 1.
	Index uint64
	// Type says whether Data is an application command.
	Type EntryType
	// Data is the command. Empty for EntryNoOp.
	Data []byte
}

// HardState is the part of a node's state that must be durable before it
// sends any message that depends on it: the current term, the vote cast
// in it, and the commit index.
type HardState struct {
	// Term is the latest term the node has seen.
	Term uint64
	// Vote is the candidate voted for in Term, or "" for none.
	Vote NodeID
	// Commit is the highest log index known to be committed.
	Commit uint64
}

// IsEmpty reports whether h is the zero HardState (a node that never ran).
func (h HardState) IsEmpty() bool { return h == HardState{} }

// Snapshot is the application state up to and including Index, together
// with the term of the entry at Index. A Snapshot with Index 0 means none.
type Snapshot struct {
	// Index is the last log index the snapshot covers.
	Index uint64
	// Term is the term of the entry at Index.
	Term uint64
	// Data is the application's serialized state, opaque to raft.
	Data []byte
}

// IsEmpty reports whether s is no snapshot at all.
func (s Snapshot) IsEmpty() bool { return s.Index == 0 }

// SoftState is volatile state that is useful to the node layer (who leads,
// what this node is) but need not be persisted.
type SoftState struct {
	// Lead is the known leader of the current term, or "".
	Lead NodeID
	// Role is this node's role.
	Role Role
}

// ReadState says that a read request identified by Ctx may be served,
// linearizably, once the local state machine has applied Index.
type ReadState struct {
	// Ctx is the context given to ReadIndex.
	Ctx []byte
	// Index is the commit index the read must wait for.
	Index uint64
}

// Storage is what a node persisted, given to New on restart. A fresh node
// passes the zero Storage.
type Storage struct {
	// HardState is the last persisted HardState.
	HardState HardState
	// Snapshot is the last persisted snapshot (Index 0 for none).
	Snapshot Snapshot
	// Entries are the persisted entries, contiguous and ascending. They
	// must reach at least Snapshot.Index+1 when not empty, and may begin
	// before the snapshot (entries kept for slow followers).
	Entries []Entry
}

// Errors returned by RawNode's methods. They are wrapped with context;
// compare with errors.Is.
var (
	// ErrProposalDropped: the proposal was not accepted (no leader, a
	// leadership transfer in progress, or MaxUncommittedBytes exceeded).
	// The caller may retry later, possibly on another node.
	ErrProposalDropped = errors.New("raft: proposal dropped")
	// ErrReadIndexDropped: the read request was not accepted (no leader,
	// or too many reads pending).
	ErrReadIndexDropped = errors.New("raft: read index request dropped")
	// ErrNotLeader: the operation needs this node to be the leader.
	ErrNotLeader = errors.New("raft: not the leader")
	// ErrCompacted: the requested index was discarded by compaction.
	ErrCompacted = errors.New("raft: requested index is compacted")
	// ErrUnavailable: the requested index is beyond the last index.
	ErrUnavailable = errors.New("raft: requested index is unavailable")
	// ErrSnapOutOfDate: Compact was asked for an index not newer than the
	// current snapshot.
	ErrSnapOutOfDate = errors.New("raft: snapshot index is out of date")
	// ErrInvalidMessage: Step was given a message it cannot accept (wrong
	// recipient, unknown sender, unknown type).
	ErrInvalidMessage = errors.New("raft: invalid message")
	// ErrInvalidConfig: Config failed validation.
	ErrInvalidConfig = errors.New("raft: invalid config")
	// ErrInvalidStorage: the Storage given to New is inconsistent.
	ErrInvalidStorage = errors.New("raft: invalid storage")
)
