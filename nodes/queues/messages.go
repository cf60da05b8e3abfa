package queues

import (
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

// Wire type numbers of the queue service's messages.
const (
	TypeGroupMsg   nodes.MessageType = 300  // raft message of one group, between queue nodes
	TypeRingUpdate nodes.MessageType = 301  // the ring history, from an operator or a peer
	TypeRingHello  nodes.MessageType = 302  // "my ring epoch is E": peers that know more answer with a RingUpdate
	TypeImport     nodes.MessageType = 303  // one chunk of a moving queue, old group leader -> new group
	TypeImportAck  nodes.MessageType = 304  // the next chunk the new group expects
	TypeGroupGone  nodes.MessageType = 305  // "I do not host that group and never will": lets a stale replica drop it
	TypeGroupProbe nodes.MessageType = 306  // "do you host that group?", from a new group waiting for its predecessor
	TypeRequest    nodes.MessageType = 1101 // client -> node: a queue command
	TypeReply      nodes.MessageType = 1102 // node -> client: its outcome
)

// MessageTypes returns every message type the queue service registers with
// nodes.Register, in ascending order: what its servers receive (see
// ServerMessageTypes) and the reply they send to clients (TypeReply). A
// fresh slice each call.
func MessageTypes() []nodes.MessageType {
	return append(ServerMessageTypes(), TypeReply)
}

// ServerMessageTypes returns the message types a queue Server receives, in
// ascending order: the group, ring and move messages from its peers (and
// from an operator: TypeRingUpdate) and TypeRequest from clients. These are
// the types a composite node (nodes/multi) routes to its queue part.
// TypeReply is sent by the server, never received by it, so it is not
// listed. A fresh slice each call.
func ServerMessageTypes() []nodes.MessageType {
	return []nodes.MessageType{TypeGroupMsg, TypeRingUpdate, TypeRingHello, TypeImport, TypeImportAck, TypeGroupGone, TypeGroupProbe, TypeRequest}
}

// GroupMsg carries a raft message of one group. Epoch is the sender's
// latest ring epoch: a receiver that knows less asks the sender for the
// ring.
type GroupMsg struct {
	Group GroupID
	Epoch uint64
	M     raft.Message
}

// Type implements nodes.Message.
func (*GroupMsg) Type() nodes.MessageType { return TypeGroupMsg }

// Encode implements nodes.Message.
func (g *GroupMsg) Encode(e *wire.Encoder) {
	encodeGroup(e, g.Group)
	e.Uvarint(g.Epoch)
	e.Bytes0(g.M.Marshal(nil))
}

// String renders the message for traces.
func (g *GroupMsg) String() string {
	return fmt.Sprintf("%s %s %s->%s term=%d idx=%d commit=%d n=%d reject=%v",
		g.Group, g.M.Type, g.M.From, g.M.To, g.M.Term, g.M.Index, g.M.Commit, len(g.M.Entries), g.M.Reject)
}

// RingUpdate carries a ring history, every epoch from 0. An operator sends
// one to every node to make a node join or leave (the history with one more
// epoch); nodes pass newer histories on to every member.
type RingUpdate struct{ History []Membership }

// Type implements nodes.Message.
func (*RingUpdate) Type() nodes.MessageType { return TypeRingUpdate }

// Encode implements nodes.Message.
func (r *RingUpdate) Encode(e *wire.Encoder) { encodeHistory(e, r.History) }

// RingHello tells a peer the sender's latest ring epoch.
type RingHello struct{ Epoch uint64 }

// Type implements nodes.Message.
func (*RingHello) Type() nodes.MessageType { return TypeRingHello }

// Encode implements nodes.Message.
func (r *RingHello) Encode(e *wire.Encoder) { e.Uvarint(r.Epoch) }

// Import is one chunk of a moving queue: an encoded queue.Import command
// for group Target, exported by the leader of group Source.
type Import struct {
	Source, Target GroupID
	Cmd            []byte
}

// Type implements nodes.Message.
func (*Import) Type() nodes.MessageType { return TypeImport }

// Encode implements nodes.Message.
func (m *Import) Encode(e *wire.Encoder) {
	encodeGroup(e, m.Source)
	encodeGroup(e, m.Target)
	e.Bytes0(m.Cmd)
}

// ImportAck tells the exporter of Source which chunk Target expects next
// (every chunk before it is committed there). Moved is set if Target itself
// has moved on: the exporter must wait for the newer ring.
type ImportAck struct {
	Source, Target GroupID
	Next           uint64
	Moved          bool
}

// Type implements nodes.Message.
func (*ImportAck) Type() nodes.MessageType { return TypeImportAck }

// Encode implements nodes.Message.
func (m *ImportAck) Encode(e *wire.Encoder) {
	encodeGroup(e, m.Source)
	encodeGroup(e, m.Target)
	e.Uvarint(m.Next)
	e.Bool(m.Moved)
}

// GroupGone answers a raft message of a group the receiver neither hosts
// nor would host: it dropped the group after its queue moved away.
type GroupGone struct{ Group GroupID }

// Type implements nodes.Message.
func (*GroupGone) Type() nodes.MessageType { return TypeGroupGone }

// Encode implements nodes.Message.
func (m *GroupGone) Encode(e *wire.Encoder) { encodeGroup(e, m.Group) }

// GroupProbe asks a member of Group, the group a queue had before it
// moved, whether it hosts it. A member that does not, and never will,
// answers GroupGone; a member that does says nothing (its leader exports
// the group).
type GroupProbe struct{ Group GroupID }

// Type implements nodes.Message.
func (*GroupProbe) Type() nodes.MessageType { return TypeGroupProbe }

// Encode implements nodes.Message.
func (m *GroupProbe) Encode(e *wire.Encoder) { encodeGroup(e, m.Group) }

// Request asks a node to run a client's queue command: an encoded
// queue.Enqueue, Dequeue, Ack or Nack. Queue routes it (Ack and Nack name
// only a receipt). The command's (client, seq) identifies the request: a
// retry with the same pair is applied at most once.
type Request struct {
	Queue string
	Cmd   []byte
}

// Type implements nodes.Message.
func (*Request) Type() nodes.MessageType { return TypeRequest }

// Encode implements nodes.Message.
func (r *Request) Encode(e *wire.Encoder) {
	e.String(r.Queue)
	e.Bytes0(r.Cmd)
}

// String renders the request's command for traces.
func (r *Request) String() string {
	cmd, err := queue.DecodeCommand(r.Cmd)
	if err != nil {
		return fmt.Sprintf("request(%q, undecodable: %v)", r.Queue, err)
	}
	return fmt.Sprintf("%s %s", r.Queue, describeCommand(cmd))
}

// describeCommand renders a command without its payload.
func describeCommand(cmd queue.Command) string {
	switch c := cmd.(type) {
	case queue.Enqueue:
		return fmt.Sprintf("enqueue %s#%d %dB dedup=%q", c.Client, c.Seq, len(c.Payload), c.DedupID)
	case queue.Dequeue:
		return fmt.Sprintf("dequeue %s#%d vis=%v", c.Client, c.Seq, c.Visibility)
	case queue.Ack:
		return fmt.Sprintf("ack %s#%d receipt=%d", c.Client, c.Seq, c.Receipt)
	case queue.Nack:
		return fmt.Sprintf("nack %s#%d receipt=%d", c.Client, c.Seq, c.Receipt)
	}
	return fmt.Sprintf("%T", cmd)
}

// Reply is a node's answer to a Request.
type Reply struct {
	Client  queue.ClientID
	Seq     uint64
	Service nodes.ServiceError
	Leader  nodes.NodeID // with nodes.ServiceNotLeader: where to ask
	Result  queue.Result // with nodes.ServiceOK
	Detail  string       // with nodes.ServiceBadRequest or nodes.ServiceBusy: why
}

// Type implements nodes.Message.
func (*Reply) Type() nodes.MessageType { return TypeReply }

// Encode implements nodes.Message.
func (r *Reply) Encode(e *wire.Encoder) {
	e.String(string(r.Client))
	e.Uvarint(r.Seq)
	e.Uint8(uint8(r.Service))
	e.String(string(r.Leader))
	if r.Service == nodes.ServiceOK {
		e.Bytes0(queue.EncodeResult(r.Result))
	} else {
		e.Bytes0(nil)
	}
	e.String(r.Detail)
}

// String renders the reply without the payload.
func (r *Reply) String() string {
	if r.Service != nodes.ServiceOK {
		return fmt.Sprintf("reply %s#%d %s leader=%s %s", r.Client, r.Seq, r.Service, r.Leader, r.Detail)
	}
	res := r.Result
	return fmt.Sprintf("reply %s#%d %s id=%d receipt=%d deliveries=%d %dB err=%v", r.Client, r.Seq, res.Status, res.ID, res.Receipt, res.Deliveries, len(res.Payload), res.Err)
}

func encodeGroup(e *wire.Encoder, g GroupID) {
	e.String(g.Queue)
	e.Uvarint(g.Epoch)
}

func decodeGroup(d *wire.Decoder) GroupID {
	return GroupID{Queue: d.String(), Epoch: d.Uvarint()}
}

func encodeHistory(e *wire.Encoder, h []Membership) {
	e.Uvarint(uint64(len(h)))
	for _, m := range h {
		e.Uvarint(m.Epoch)
		e.Uvarint(uint64(len(m.Members)))
		for _, id := range m.Members {
			e.String(string(id))
		}
	}
}

func decodeHistory(d *wire.Decoder) []Membership {
	n := d.ListLen(2)
	if n > MaxEpochs {
		d.Fail(fmt.Errorf("ring history of %d epochs, max %d", n, MaxEpochs))
		return nil
	}
	h := make([]Membership, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		m := Membership{Epoch: d.Uvarint()}
		k := d.ListLen(1)
		if k > MaxMembers {
			d.Fail(fmt.Errorf("ring epoch %d has %d members, max %d", m.Epoch, k, MaxMembers))
			return nil
		}
		for j := 0; j < k; j++ {
			m.Members = append(m.Members, nodes.NodeID(d.String()))
		}
		h = append(h, m)
	}
	return h
}

func init() {
	nodes.Register(TypeGroupMsg, "queue.raft", func(d *wire.Decoder) nodes.Message {
		g := &GroupMsg{Group: decodeGroup(d), Epoch: d.Uvarint()}
		b := d.Bytes0()
		if d.Err() != nil {
			return nil
		}
		m, err := raft.UnmarshalMessage(b)
		if err != nil {
			d.Fail(err)
			return nil
		}
		g.M = m
		return g
	})
	nodes.Register(TypeRingUpdate, "queue.ring", func(d *wire.Decoder) nodes.Message {
		return &RingUpdate{History: decodeHistory(d)}
	})
	nodes.Register(TypeRingHello, "queue.ring-hello", func(d *wire.Decoder) nodes.Message {
		return &RingHello{Epoch: d.Uvarint()}
	})
	nodes.Register(TypeImport, "queue.import", func(d *wire.Decoder) nodes.Message {
		return &Import{Source: decodeGroup(d), Target: decodeGroup(d), Cmd: d.Bytes0()}
	})
	nodes.Register(TypeImportAck, "queue.import-ack", func(d *wire.Decoder) nodes.Message {
		return &ImportAck{Source: decodeGroup(d), Target: decodeGroup(d), Next: d.Uvarint(), Moved: d.Bool()}
	})
	nodes.Register(TypeGroupGone, "queue.group-gone", func(d *wire.Decoder) nodes.Message {
		return &GroupGone{Group: decodeGroup(d)}
	})
	nodes.Register(TypeGroupProbe, "queue.group-probe", func(d *wire.Decoder) nodes.Message {
		return &GroupProbe{Group: decodeGroup(d)}
	})
	nodes.Register(TypeRequest, "queue.request", func(d *wire.Decoder) nodes.Message {
		return &Request{Queue: d.String(), Cmd: d.Bytes0()}
	})
	nodes.Register(TypeReply, "queue.reply", func(d *wire.Decoder) nodes.Message {
		r := &Reply{Client: queue.ClientID(d.String()), Seq: d.Uvarint()}
		r.Service = nodes.ServiceError(d.Uint8())
		r.Leader = nodes.NodeID(d.String())
		b := d.Bytes0()
		r.Detail = d.String()
		if d.Err() != nil || r.Service > nodes.ServiceBadRequest || (r.Service == nodes.ServiceOK) != (len(b) > 0) {
			d.Fail(fmt.Errorf("reply result present=%v with service %s", len(b) > 0, r.Service))
			return nil
		}
		if len(b) == 0 {
			return r
		}
		res, err := queue.DecodeResult(b)
		if err != nil {
			d.Fail(err)
			return nil
		}
		r.Result = res
		return r
	})
}
