package raft

import (
	"fmt"
)

// MessageType is the kind of a Message. The numbers are part of the wire
// format and are never reused.
type MessageType uint8

const (
	// MsgApp is AppendEntries: Index and LogTerm name the entry preceding
	// Entries, Commit is the leader's commit index.
	MsgApp MessageType = iota + 1
	// MsgAppResp answers MsgApp (and MsgSnap). On success Index is the
	// follower's last index known to match. On rejection Index is the
	// rejected MsgApp's Index, ConflictTerm is the term of the follower's
	// entry at that index (0 if its log is shorter) and RejectHint is the
	// first index of ConflictTerm in the follower's log (or its last index
	// if ConflictTerm is 0).
	MsgAppResp
	// MsgVote is RequestVote: Index and LogTerm describe the candidate's
	// last entry. Transfer is set when a leadership transfer caused it, so
	// that voters grant despite leader stickiness.
	MsgVote
	// MsgVoteResp answers MsgVote; Reject says whether it was refused.
	MsgVoteResp
	// MsgPreVote asks "would you vote for me at Term?" without any voter
	// changing its term. Term is the pre-candidate's term plus one.
	MsgPreVote
	// MsgPreVoteResp answers MsgPreVote.
	MsgPreVoteResp
	// MsgHeartbeat asserts leadership and carries Commit (no higher than
	// what the follower is known to hold). Context carries the latest
	// pending read request context; Index carries the leader's tick stamp
	// for lease accounting.
	MsgHeartbeat
	// MsgHeartbeatResp answers MsgHeartbeat, echoing Context and Index.
	MsgHeartbeatResp
	// MsgSnap is InstallSnapshot: Snapshot carries the whole snapshot.
	MsgSnap
	// MsgProp forwards proposals (Entries, only Data and Type set) from a
	// follower to the leader.
	MsgProp
	// MsgReadIndex forwards a read request (Context) from a follower to
	// the leader.
	MsgReadIndex
	// MsgReadIndexResp answers MsgReadIndex: the read may be served once
	// the follower has applied Index.
	MsgReadIndexResp
	// MsgTimeoutNow tells the target of a leadership transfer to campaign
	// at once.
	MsgTimeoutNow

	maxMessageType = MsgTimeoutNow
)

var messageTypeNames = [...]string{
	MsgApp:           "MsgApp",
	MsgAppResp:       "MsgAppResp",
	MsgVote:          "MsgVote",
	MsgVoteResp:      "MsgVoteResp",
	MsgPreVote:       "MsgPreVote",
	MsgPreVoteResp:   "MsgPreVoteResp",
	MsgHeartbeat:     "MsgHeartbeat",
	MsgHeartbeatResp: "MsgHeartbeatResp",
	MsgSnap:          "MsgSnap",
	MsgProp:          "MsgProp",
	MsgReadIndex:     "MsgReadIndex",
	MsgReadIndexResp: "MsgReadIndexResp",
	MsgTimeoutNow:    "MsgTimeoutNow",
}

// String returns the type's name.
func (t MessageType) String() string {
	if t.valid() {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

func (t MessageType) valid() bool { return t >= MsgApp && t <= maxMessageType }

// isResponse reports whether t answers a request (and so never needs an
// answer itself).
func (t MessageType) isResponse() bool {
	switch t {
	case MsgAppResp, MsgVoteResp, MsgPreVoteResp, MsgHeartbeatResp, MsgReadIndexResp:
		return true
	}
	return false
}

// Message is everything one Raft node says to another. Which fields are
// meaningful depends on Type (see the MessageType constants); the others
// are zero.
type Message struct {
	// Type is the kind of message.
	Type MessageType
	// From is the sender, To the recipient.
	From, To NodeID
	// Term is the sender's term (for MsgPreVote: the term it would
	// campaign in; for a granted MsgPreVoteResp: that same term).
	Term uint64
	// LogTerm is the term of the entry at Index (MsgApp, MsgVote,
	// MsgPreVote).
	LogTerm uint64
	// Index is a log index whose meaning depends on Type.
	Index uint64
	// Entries are log entries (MsgApp, MsgProp).
	Entries []Entry
	// Commit is the sender's commit index (MsgApp, MsgHeartbeat).
	Commit uint64
	// Reject marks a refusal (MsgAppResp, MsgVoteResp, MsgPreVoteResp).
	Reject bool
	// RejectHint is, in a rejecting MsgAppResp, the first index of
	// ConflictTerm in the follower's log, or its last index when
	// ConflictTerm is 0.
	RejectHint uint64
	// ConflictTerm is, in a rejecting MsgAppResp, the term of the
	// follower's entry at Index, or 0 if the follower's log is shorter.
	ConflictTerm uint64
	// Transfer marks a MsgVote caused by a leadership transfer.
	Transfer bool
	// Snapshot is the snapshot of a MsgSnap.
	Snapshot *Snapshot
	// Context identifies a read request (MsgReadIndex, MsgReadIndexResp,
	// MsgHeartbeat, MsgHeartbeatResp).
	Context []byte
}

// String renders the message compactly for traces.
func (m Message) String() string {
	s := fmt.Sprintf("%s %s->%s t%d", m.Type, m.From, m.To, m.Term)
	switch m.Type {
	case MsgApp:
		s += fmt.Sprintf(" prev=%d/t%d ents=%d commit=%d", m.Index, m.LogTerm, len(m.Entries), m.Commit)
	case MsgAppResp:
		s += fmt.Sprintf(" index=%d", m.Index)
		if m.Reject {
			s += fmt.Sprintf(" reject hint=%d conflict=t%d", m.RejectHint, m.ConflictTerm)
		}
	case MsgVote, MsgPreVote:
		s += fmt.Sprintf(" last=%d/t%d", m.Index, m.LogTerm)
		if m.Transfer {
			s += " transfer"
		}
	case MsgVoteResp, MsgPreVoteResp:
		if m.Reject {
			s += " reject"
		} else {
			s += " grant"
		}
	case MsgHeartbeat:
		s += fmt.Sprintf(" commit=%d", m.Commit)
	case MsgSnap:
		if m.Snapshot != nil {
			s += fmt.Sprintf(" snap=%d/t%d (%d bytes)", m.Snapshot.Index, m.Snapshot.Term, len(m.Snapshot.Data))
		}
	case MsgProp:
		s += fmt.Sprintf(" ents=%d", len(m.Entries))
	case MsgReadIndexResp:
		s += fmt.Sprintf(" index=%d", m.Index)
	}
	return s
}

// Limits of the wire format. The decoder refuses anything beyond them,
// and a RawNode never produces anything beyond them.
const (
	// MaxMessageEntries bounds the entries of one message.
	MaxMessageEntries = 1 << 16
	// MaxEntryDataBytes bounds the payload of one entry (one proposal).
	MaxEntryDataBytes = 8 << 20
	// MaxSnapshotBytes bounds the data of a snapshot, which travels in one
	// message.
	MaxSnapshotBytes = 64 << 20
	// MaxContextBytes bounds a read request context.
	MaxContextBytes = 1 << 10
)

// messageFormat is the first byte of every encoded message, so that a
// future format can be told apart.
const messageFormat = 1

const (
	flagReject   = 1 << 0
	flagTransfer = 1 << 1
	flagSnapshot = 1 << 2
	flagsKnown   = flagReject | flagTransfer | flagSnapshot
)

// Marshal appends the binary encoding of m to dst and returns the result.
// The encoding is deterministic: equal messages encode to equal bytes. It
// panics if m exceeds the wire limits, which a RawNode never produces.
func (m *Message) Marshal(dst []byte) []byte {
	if len(m.Entries) > MaxMessageEntries || len(m.Context) > MaxContextBytes {
		panic(fmt.Sprintf("raft: marshal %s: %d entries (max %d), context %d bytes (max %d)",
			m.Type, len(m.Entries), MaxMessageEntries, len(m.Context), MaxContextBytes))
	}
	flags := byte(0)
	if m.Reject {
		flags |= flagReject
	}
	if m.Transfer {
		flags |= flagTransfer
	}
	if m.Snapshot != nil {
		flags |= flagSnapshot
	}
	dst = append(dst, messageFormat, byte(m.Type), flags)
	dst = appendString(dst, string(m.From))
	dst = appendString(dst, string(m.To))
	for _, v := range [...]uint64{m.Term, m.LogTerm, m.Index, m.Commit, m.RejectHint, m.ConflictTerm} {
		dst = appendUvarint(dst, v)
	}
	dst = appendBytes(dst, m.Context)
	dst = appendUvarint(dst, uint64(len(m.Entries)))
	for i := range m.Entries {
		dst = m.Entries[i].Marshal(dst)
	}
	if m.Snapshot != nil {
		dst = m.Snapshot.Marshal(dst)
	}
	return dst
}

// UnmarshalMessage decodes a message written by Marshal. It checks every
// length against the remaining input and the wire limits, refuses unknown
// types and flags, non-canonical varints and trailing bytes, and never
// allocates much more than len(b). The result does not alias b.
func UnmarshalMessage(b []byte) (Message, error) {
	d := decoder{b: append([]byte(nil), b...)}
	var m Message
	if f := d.byte("format"); d.err == nil && f != messageFormat {
		d.fail("format", "unknown format %d", f)
	}
	m.Type = MessageType(d.byte("type"))
	if d.err == nil && !m.Type.valid() {
		d.fail("type", "unknown message type %d", m.Type)
	}
	flags := d.byte("flags")
	if d.err == nil && flags&^flagsKnown != 0 {
		d.fail("flags", "unknown flags %#x", flags)
	}
	m.Reject, m.Transfer = flags&flagReject != 0, flags&flagTransfer != 0
	m.From = NodeID(d.bytes("from", MaxNodeIDBytes))
	m.To = NodeID(d.bytes("to", MaxNodeIDBytes))
	m.Term = d.uvarint("term")
	m.LogTerm = d.uvarint("log term")
	m.Index = d.uvarint("index")
	m.Commit = d.uvarint("commit")
	m.RejectHint = d.uvarint("reject hint")
	m.ConflictTerm = d.uvarint("conflict term")
	m.Context = d.bytes("context", MaxContextBytes)
	m.Entries = d.entries()
	if flags&flagSnapshot != 0 {
		s := d.snapshot()
		m.Snapshot = &s
	}
	if err := d.finish("message"); err != nil {
		return Message{}, err
	}
	return m, nil
}
