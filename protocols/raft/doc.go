// Package raft is the consensus core of distsync: Raft as described in the
// paper ("In Search of an Understandable Consensus Algorithm") and in
// Ongaro's thesis, written as a pure state machine in the shape of etcd's
// raft.
//
// # A pure state machine
//
// A RawNode performs no I/O, starts no goroutine, reads no clock and draws
// randomness only from Config.Rand. Time is a count of Tick calls (the node
// layer ticks every 10 ms). Inputs are:
//
//   - Tick: one unit of logical time (election and heartbeat timeouts);
//   - Step: a Message received from a peer;
//   - Propose: a command for the replicated log;
//   - ReadIndex: a linearizable read request, identified by a context;
//   - TransferLeader: hand leadership to another peer;
//   - Compact: the application has applied up to an index and snapshotted.
//
// Every output is collected in a Ready, taken with RawNode.Ready and
// acknowledged with RawNode.Advance.
//
// # The Ready contract
//
// For each Ready the node layer must, in this order:
//
//  1. Persist Ready.Snapshot (if not nil), then Ready.Entries, then
//     Ready.HardState (if not nil), and sync the storage when
//     Ready.MustSync is set. Entries are appended; an entry whose index is
//     at or below the last persisted one replaces that entry and everything
//     after it. A received snapshot replaces every persisted entry.
//  2. Only then send Ready.Messages. Messages may promise what the persist
//     made durable: an append acknowledgement promises the entries, a vote
//     promises the persisted (term, vote). Sending those before the sync
//     breaks Raft's safety after a crash (but see SendFirst below).
//  3. Restore the state machine from Ready.Snapshot (if not nil), then
//     apply Ready.CommittedEntries in order. Serve each ReadState once the
//     applied index is at least ReadState.Index.
//  4. Call Advance.
//
// Two exceptions let a node overlap its disk with the rest (Raft thesis
// §10.2.1): when Ready.SendFirst is set (a leader that stays leader), the
// Messages may be sent before the persist, so followers write their logs
// while the leader writes its own; and the first Ready.StableCommitted
// committed entries, durable before this Ready, may be applied (and their
// clients answered) before the persist. A leader's own copy of an entry
// counts towards its commit only once Advance reports it persisted, so a
// follower's acknowledgement stepped before that cannot commit an entry
// the leader may still lose.
//
// Ready may not be called again before Advance (it panics). Step, Tick,
// Propose and the other inputs may be called between Ready and Advance;
// their outputs go into the next Ready.
//
// On restart, New rebuilds the node from exactly what was persisted
// (Storage: the last HardState, the last snapshot and the entries after
// it, possibly a few before it). Anything not persisted is treated as never
// having happened, which is safe precisely because nothing promised it: a
// leader's early appends promise nothing of its own log.
//
// # What is implemented
//
// Leader election with randomized timeouts, PreVote and CheckQuorum (with
// leader stickiness); log replication with fast conflict back-off (a
// rejection carries the conflicting term and its first index, so the
// leader skips a whole term per round trip); the Figure 8 commit rule (only
// entries of the current term are committed by counting replicas; a leader
// appends a no-op when elected); flow control (MaxSizePerMsg,
// MaxInflightMsgs, MaxInflightBytes, MaxUncommittedBytes) with probe,
// replicate and snapshot states per follower; log compaction and
// InstallSnapshot; linearizable reads by ReadIndex (safe, with a heartbeat
// quorum round) or by leader lease (unsafe under clock drift); leadership
// transfer with MsgTimeoutNow; and proposal forwarding from followers.
//
// Membership change is out of scope: the set of peers is fixed by Config
// for the life of the cluster.
//
// # Invariants
//
// Cheap local assertions panic with the numbers that prove an impossible
// state (a commit beyond the last index, an append leaving a gap, a term
// going backwards, two leaders in one term). ClusterChecker, in
// invariants.go, checks Raft's global safety properties over a whole
// cluster's history and is meant to be run by the simulator after every
// event.
//
// # Wire format
//
// Message.Marshal and UnmarshalMessage are a hand-written, deterministic
// binary encoding with explicit limits (MaxMessageEntries,
// MaxEntryDataBytes, MaxSnapshotBytes, MaxContextBytes), so that garbage
// input is rejected without panicking or allocating more than the input's
// size. Entry and HardState have encodings of their own for the WAL.
package raft
