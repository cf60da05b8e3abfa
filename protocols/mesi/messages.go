package mesi

import "fmt"

// NodeID names a node: a cache, a home, or both (directory protocol); a
// cache or the memory node (broadcast protocol).
type NodeID string

// MsgKind is the kind of a coherence message (Sorin, Hill & Wood, "A
// Primer on Memory Consistency and Cache Coherence", ch. 8 naming).
type MsgKind uint8

// The message kinds. Directory protocol: requests go from a cache to the
// key's home; forwarded requests from the home to a cache; responses
// anywhere. Broadcast protocol: from ReadReq on.
const (
	// GetS: cache → home, read miss. Txn is the requester's transaction.
	GetS MsgKind = iota + 1
	// GetM: cache → home, write miss or upgrade from S.
	GetM
	// PutM: cache → home, write-back of an evicted M or E line (Value,
	// Version; Txn is the transaction that obtained the ownership).
	PutM
	// FwdGetS: home → owner, serve Requester's read (Txn) and keep S.
	// OwnerTxn names the owner's transaction the home believes current.
	FwdGetS
	// FwdGetM: home → owner, hand the line to Requester (Txn, Grant) and
	// invalidate.
	FwdGetM
	// Inv: home → sharer, invalidate and send an InvAck to Requester
	// (Txn).
	Inv
	// InvAck: sharer → requester of a GetM (Txn).
	InvAck
	// Data: home or owner → requester (Txn): Value, Version; State is the
	// state granted (Shared, Exclusive, or Modified for a GetM); for a
	// GetM Acks is the number of InvAcks to expect; Grant the ownership
	// grant of an E/M line.
	Data
	// DataToHome: owner → home, the copy of the line an owner sends
	// while serving a forwarded request (memory is updated from it).
	// Requester and Txn name the request served, OwnerTxn the owner.
	DataToHome
	// PutAck: home → cache, the PutM (Txn) is processed.
	PutAck
	// Reset: a restarted node → every home: forget everything the
	// directory believes about my cache (see the package doc, "Crashes").
	Reset

	// The broadcast protocol's kinds (see the package doc, "The broadcast
	// protocol"). Txn is always the requester's transaction.

	// ReadReq: requester → every peer cache, read miss.
	ReadReq
	// ReadResp: peer → requester, the answer to a ReadReq: State is the
	// state the peer held the line in when it answered (Invalid: no copy;
	// then Value and Version are zero), Value and Version its data.
	ReadResp
	// BInv: writer → every peer cache, invalidate before a write.
	BInv
	// BInvAck: peer → writer, the line is invalidated; State and Version
	// are those of the copy the peer dropped (Invalid, 0 if it had none).
	BInvAck
	// MemRead: cache → memory node, fetch the line (a read miss no peer
	// could serve, or a write miss learning memory's version).
	MemRead
	// MemData: memory node → cache, memory's Value and Version.
	MemData
	// MemWrite: cache → memory node, store Value and Version: an M line
	// written back (evicted, downgraded by a ReadReq, dropped for a BInv)
	// or a write-through write.
	MemWrite
	// MemWriteAck: memory node → cache, the MemWrite (Txn) is stored.
	MemWriteAck
)

var msgKindNames = [...]string{
	GetS: "GetS", GetM: "GetM", PutM: "PutM", FwdGetS: "Fwd-GetS", FwdGetM: "Fwd-GetM",
	Inv: "Inv", InvAck: "Inv-Ack", Data: "Data", DataToHome: "Data(home)", PutAck: "Put-Ack", Reset: "Reset",
	ReadReq: "ReadReq", ReadResp: "ReadResp", BInv: "BInv", BInvAck: "BInv-Ack",
	MemRead: "MemRead", MemData: "MemData", MemWrite: "MemWrite", MemWriteAck: "MemWrite-Ack",
}

// String returns the Primer's name of the kind (for the broadcast kinds,
// the name of the constant).
func (k MsgKind) String() string {
	if int(k) < len(msgKindNames) && msgKindNames[k] != "" {
		return msgKindNames[k]
	}
	return fmt.Sprintf("MsgKind(%d)", uint8(k))
}

// toHome reports whether a message of kind k is handled by the home side.
func (k MsgKind) toHome() bool {
	switch k {
	case GetS, GetM, PutM, DataToHome, Reset:
		return true
	}
	return false
}

// Message is one coherence message. Fields a kind does not use are zero.
type Message struct {
	// Kind is the message kind.
	Kind MsgKind
	// Key is the cache key (empty for Reset).
	Key string
	// From and To are the sender and the receiver.
	From, To NodeID
	// Requester is the node whose request a FwdGetS, FwdGetM, Inv,
	// DataToHome, ReadReq or BInv serves.
	Requester NodeID
	// Txn is the requester's transaction id (for PutM and PutAck, the
	// evicting owner's).
	Txn uint64
	// OwnerTxn is the transaction under which the addressed owner holds
	// the line, as the home believes (FwdGetS, FwdGetM, DataToHome).
	OwnerTxn uint64
	// Value and Version are the line's data (Data, DataToHome, PutM,
	// ReadResp, MemData, MemWrite; BInvAck carries a Version only).
	Value []byte
	// Version is the version of Value.
	Version uint64
	// State is the state a Data grants: Shared, Exclusive or Modified;
	// for a ReadResp or BInvAck, the state the sender held the line in.
	State State
	// Acks is the number of InvAcks the receiver of a Data for a GetM
	// must collect.
	Acks int
	// Grant is the home's ownership grant number (Data granting E or M,
	// FwdGetM).
	Grant uint64
}

// String renders the message for traces.
func (m Message) String() string {
	return fmt.Sprintf("%s %s→%s key=%q txn=%d req=%s v=%d acks=%d", m.Kind, m.From, m.To, m.Key, m.Txn, m.Requester, m.Version, m.Acks)
}
