package locks

import (
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
)

// Wire type numbers of the lock service's messages.
const (
	TypeRaft       nodes.MessageType = 100  // raft.Message between servers
	TypeRequest    nodes.MessageType = 1001 // client -> server: a lock command
	TypeReply      nodes.MessageType = 1002 // server -> client: the command's outcome
	TypeNotify     nodes.MessageType = 1003 // server -> client: a wait ended (granted or aborted)
	TypeQuery      nodes.MessageType = 1004 // client -> server: holders and waiters of a resource
	TypeQueryReply nodes.MessageType = 1005 // server -> client: the query's answer
)

// MessageTypes returns every message type the lock service registers with
// nodes.Register, in ascending order: what its servers receive (see
// ServerMessageTypes) and what they send to clients (TypeReply, TypeNotify,
// TypeQueryReply). A fresh slice each call.
func MessageTypes() []nodes.MessageType {
	return []nodes.MessageType{TypeRaft, TypeRequest, TypeReply, TypeNotify, TypeQuery, TypeQueryReply}
}

// ServerMessageTypes returns the message types a lock Server receives, in
// ascending order: TypeRaft from its peers, TypeRequest and TypeQuery from
// clients. These are the types a composite node (nodes/multi) routes to its
// lock part. The replies (TypeReply, TypeNotify, TypeQueryReply) are sent
// by the server, never received by it, so they are not listed. A fresh
// slice each call.
func ServerMessageTypes() []nodes.MessageType {
	return []nodes.MessageType{TypeRaft, TypeRequest, TypeQuery}
}

// RaftMsg carries one raft message between lock servers.
type RaftMsg struct{ M raft.Message }

// Type implements nodes.Message.
func (*RaftMsg) Type() nodes.MessageType { return TypeRaft }

// Encode implements nodes.Message.
func (r *RaftMsg) Encode(e *wire.Encoder) { e.Bytes0(r.M.Marshal(nil)) }

// String renders the message for traces.
func (r *RaftMsg) String() string {
	return fmt.Sprintf("%s %s->%s term=%d idx=%d logterm=%d commit=%d n=%d reject=%v",
		r.M.Type, r.M.From, r.M.To, r.M.Term, r.M.Index, r.M.LogTerm, r.M.Commit, len(r.M.Entries), r.M.Reject)
}

// Request asks a server to apply a client command (an encoded
// lockmgr.Command: OpenSession, KeepAlive, CloseSession, Acquire or
// Release). The command's (client, seq) identifies the request: a retry
// with the same pair is applied at most once.
type Request struct {
	Cmd []byte
	// LeaderOnly asks a follower to answer nodes.ServiceNotLeader (with
	// the leader it knows) instead of forwarding the proposal: a client
	// that waits for a Notify must talk to the leader, the only server
	// that sends them. The HTTP API sets it.
	LeaderOnly bool
}

// Type implements nodes.Message.
func (*Request) Type() nodes.MessageType { return TypeRequest }

// Encode implements nodes.Message.
func (r *Request) Encode(e *wire.Encoder) {
	e.Bytes0(r.Cmd)
	e.Bool(r.LeaderOnly)
}

// String renders the request's command for traces.
func (r *Request) String() string {
	cmd, err := lockmgr.DecodeCommand(r.Cmd)
	if err != nil {
		return fmt.Sprintf("request(undecodable: %v)", err)
	}
	return fmt.Sprintf("%T%+v", cmd, cmd)
}

// Reply is a server's answer to a Request.
type Reply struct {
	Client  lockmgr.ClientID
	Seq     uint64
	Service nodes.ServiceError
	Leader  nodes.NodeID // hint with nodes.ServiceNotLeader, "" if unknown
	Result  lockmgr.Result
	Detail  string // nodes.ServiceBadRequest: what was wrong
}

// Type implements nodes.Message.
func (*Reply) Type() nodes.MessageType { return TypeReply }

// Encode implements nodes.Message.
func (r *Reply) Encode(e *wire.Encoder) {
	e.String(string(r.Client))
	e.Uvarint(r.Seq)
	e.Uint8(uint8(r.Service))
	e.String(string(r.Leader))
	encodeResult(e, r.Result)
	e.String(r.Detail)
}

func encodeResult(e *wire.Encoder, r lockmgr.Result) {
	e.Uint8(uint8(r.Status))
	e.Uvarint(uint64(r.Session))
	e.Uvarint(uint64(r.Token))
	e.Uvarint(r.Request)
	code, msg := lockmgr.ErrorCode(r.Err)
	e.Uint8(code)
	e.String(msg)
}

func decodeResult(d *wire.Decoder) lockmgr.Result {
	r := lockmgr.Result{
		Status:  lockmgr.Status(d.Uint8()),
		Session: lockmgr.SessionID(d.Uvarint()),
		Token:   lockmgr.Token(d.Uvarint()),
		Request: d.Uvarint(),
	}
	code, msg := d.Uint8(), d.String()
	err, bad := lockmgr.ErrorFromCode(code, msg)
	if bad != nil {
		d.Fail(bad)
	}
	r.Err = err
	return r
}

// Notify tells a client that its queued Acquire ended: granted (with its
// fencing token) or aborted (deadlock victim, timeout, session gone).
type Notify struct{ Event lockmgr.Event }

// Type implements nodes.Message.
func (*Notify) Type() nodes.MessageType { return TypeNotify }

// Encode implements nodes.Message.
func (n *Notify) Encode(e *wire.Encoder) {
	ev := n.Event
	e.Uint8(uint8(ev.Kind))
	e.String(string(ev.Client))
	e.Uvarint(uint64(ev.Session))
	e.String(string(ev.Resource))
	e.Uint8(uint8(ev.Mode))
	e.Uvarint(ev.Request)
	e.Uvarint(uint64(ev.Token))
	code, msg := lockmgr.ErrorCode(ev.Err)
	e.Uint8(code)
	e.String(msg)
}

// Query asks for the holders and waiters of a resource, read linearizably
// through ReadIndex.
type Query struct {
	Client   lockmgr.ClientID
	ID       uint64 // echoed in the reply
	Resource lockmgr.Resource
}

// Type implements nodes.Message.
func (*Query) Type() nodes.MessageType { return TypeQuery }

// Encode implements nodes.Message.
func (q *Query) Encode(e *wire.Encoder) {
	e.String(string(q.Client))
	e.Uvarint(q.ID)
	e.String(string(q.Resource))
}

// QueryReply answers a Query.
type QueryReply struct {
	Client  lockmgr.ClientID
	ID      uint64
	Service nodes.ServiceError
	Leader  nodes.NodeID
	Holders []lockmgr.HolderInfo
	Waiters []lockmgr.WaiterInfo
}

// Type implements nodes.Message.
func (*QueryReply) Type() nodes.MessageType { return TypeQueryReply }

// Encode implements nodes.Message.
func (q *QueryReply) Encode(e *wire.Encoder) {
	e.String(string(q.Client))
	e.Uvarint(q.ID)
	e.Uint8(uint8(q.Service))
	e.String(string(q.Leader))
	e.Uvarint(uint64(len(q.Holders)))
	for _, h := range q.Holders {
		e.Uvarint(uint64(h.Session))
		e.String(string(h.Client))
		e.Uint8(uint8(h.Mode))
		e.Uvarint(uint64(h.Token))
	}
	e.Uvarint(uint64(len(q.Waiters)))
	for _, w := range q.Waiters {
		e.Uvarint(uint64(w.Session))
		e.String(string(w.Client))
		e.Uint8(uint8(w.Mode))
		e.Uvarint(w.Request)
	}
}

func init() {
	nodes.Register(TypeRaft, "raft.msg", func(d *wire.Decoder) nodes.Message {
		b := d.Bytes0()
		if d.Err() != nil {
			return nil
		}
		m, err := raft.UnmarshalMessage(b)
		if err != nil {
			d.Fail(err)
			return nil
		}
		return &RaftMsg{M: m}
	})
	nodes.Register(TypeRequest, "lock.request", func(d *wire.Decoder) nodes.Message {
		return &Request{Cmd: d.Bytes0(), LeaderOnly: d.Bool()}
	})
	nodes.Register(TypeReply, "lock.reply", func(d *wire.Decoder) nodes.Message {
		r := &Reply{Client: lockmgr.ClientID(d.String()), Seq: d.Uvarint()}
		r.Service = nodes.ServiceError(d.Uint8())
		r.Leader = nodes.NodeID(d.String())
		r.Result = decodeResult(d)
		r.Detail = d.String()
		return r
	})
	nodes.Register(TypeNotify, "lock.notify", func(d *wire.Decoder) nodes.Message {
		ev := lockmgr.Event{Kind: lockmgr.EventKind(d.Uint8()), Client: lockmgr.ClientID(d.String())}
		ev.Session = lockmgr.SessionID(d.Uvarint())
		ev.Resource = lockmgr.Resource(d.String())
		ev.Mode = lockmgr.Mode(d.Uint8())
		ev.Request = d.Uvarint()
		ev.Token = lockmgr.Token(d.Uvarint())
		code, msg := d.Uint8(), d.String()
		err, bad := lockmgr.ErrorFromCode(code, msg)
		if bad != nil {
			d.Fail(bad)
		}
		ev.Err = err
		return &Notify{Event: ev}
	})
	nodes.Register(TypeQuery, "lock.query", func(d *wire.Decoder) nodes.Message {
		return &Query{Client: lockmgr.ClientID(d.String()), ID: d.Uvarint(), Resource: lockmgr.Resource(d.String())}
	})
	nodes.Register(TypeQueryReply, "lock.query-reply", decodeQueryReply)
}

func decodeQueryReply(d *wire.Decoder) nodes.Message {
	q := &QueryReply{Client: lockmgr.ClientID(d.String()), ID: d.Uvarint()}
	q.Service = nodes.ServiceError(d.Uint8())
	q.Leader = nodes.NodeID(d.String())
	n := d.ListLen(4)
	for i := 0; i < n; i++ {
		q.Holders = append(q.Holders, lockmgr.HolderInfo{
			Session: lockmgr.SessionID(d.Uvarint()), Client: lockmgr.ClientID(d.String()),
			Mode: lockmgr.Mode(d.Uint8()), Token: lockmgr.Token(d.Uvarint()),
		})
	}
	n = d.ListLen(4)
	for i := 0; i < n; i++ {
		q.Waiters = append(q.Waiters, lockmgr.WaiterInfo{
			Session: lockmgr.SessionID(d.Uvarint()), Client: lockmgr.ClientID(d.String()),
			Mode: lockmgr.Mode(d.Uint8()), Request: d.Uvarint(),
		})
	}
	return q
}
