package caches

import (
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/reliable"
	"github.com/distsync/distsync/nodes/wire"
)

// Wire type numbers of the cache service's messages.
const (
	TypePacket  nodes.MessageType = 400  // cache node -> cache node: a reliable.Packet carrying an encoded mesi.Message
	TypeRequest nodes.MessageType = 1201 // client -> cache node: a get or a put
	TypeReply   nodes.MessageType = 1202 // cache node -> client: its outcome
)

// MessageTypes returns every message type the cache service registers with
// nodes.Register, in ascending order: what its nodes receive (see
// ServerMessageTypes) and the reply they send to clients (TypeReply). A
// fresh slice each call.
func MessageTypes() []nodes.MessageType {
	return []nodes.MessageType{TypePacket, TypeRequest, TypeReply}
}

// ServerMessageTypes returns the message types a cache Server receives, in
// ascending order: TypePacket from its peers and TypeRequest from clients.
// These are the types a composite node (nodes/multi) routes to its cache
// part. TypeReply is sent by the server, never received by it, so it is
// not listed. A fresh slice each call.
func ServerMessageTypes() []nodes.MessageType {
	return []nodes.MessageType{TypePacket, TypeRequest}
}

// OpKind is a client operation: get or put.
type OpKind uint8

// Client operations.
const (
	OpGet OpKind = iota + 1
	OpPut
)

// String names the operation.
func (k OpKind) String() string {
	switch k {
	case OpGet:
		return "get"
	case OpPut:
		return "put"
	}
	return fmt.Sprintf("op-%d", uint8(k))
}

// Packet is one packet of the reliable streams between cache nodes; the
// payload of a data packet is an encoded mesi.Message (mesi.AppendMessage).
type Packet struct{ P reliable.Packet }

// Type implements nodes.Message.
func (*Packet) Type() nodes.MessageType { return TypePacket }

// Encode implements nodes.Message. The payload, which may exceed one wire
// string, is written as two: its first wire.MaxStringBytes bytes and the
// rest (empty unless the first is full), so the encoding stays canonical.
func (p *Packet) Encode(e *wire.Encoder) {
	e.String(string(p.P.From))
	e.String(string(p.P.To))
	e.Uvarint(p.P.SrcEpoch)
	e.Uvarint(p.P.DstEpoch)
	e.Uvarint(p.P.Seq)
	e.Uvarint(p.P.Ack)
	n := min(len(p.P.Payload), wire.MaxStringBytes)
	e.Bytes0(p.P.Payload[:n])
	e.Bytes0(p.P.Payload[n:])
}

// String renders the packet for traces.
func (p *Packet) String() string {
	return fmt.Sprintf("pkt %s@%d->%s@%d seq=%d ack=%d len=%d", p.P.From, p.P.SrcEpoch, p.P.To, p.P.DstEpoch, p.P.Seq, p.P.Ack, len(p.P.Payload))
}

func decodePacket(d *wire.Decoder) nodes.Message {
	p := reliable.Packet{From: reliable.NodeID(d.String()), To: reliable.NodeID(d.String())}
	p.SrcEpoch, p.DstEpoch, p.Seq, p.Ack = d.Uvarint(), d.Uvarint(), d.Uvarint(), d.Uvarint()
	a, b := d.Bytes0(), d.Bytes0()
	if d.Err() != nil {
		return nil
	}
	if len(b) > 0 && len(a) != wire.MaxStringBytes {
		d.Fail(fmt.Errorf("cache packet: payload: second part of %d bytes after a first of %d, want %d", len(b), len(a), wire.MaxStringBytes))
		return nil
	}
	if len(a)+len(b) > 0 {
		p.Payload = append(a, b...)
	}
	if err := p.Validate(); err != nil {
		d.Fail(fmt.Errorf("cache packet: %w", err))
		return nil
	}
	return &Packet{P: p}
}

// Request asks a cache node to run a client's get or put. Req numbers the
// client's requests; a retry carries the same Req.
type Request struct {
	Client string
	Req    uint64
	Op     OpKind
	Key    string
	Value  []byte // put only
}

// Type implements nodes.Message.
func (*Request) Type() nodes.MessageType { return TypeRequest }

// Encode implements nodes.Message.
func (r *Request) Encode(e *wire.Encoder) {
	e.String(r.Client)
	e.Uvarint(r.Req)
	e.Uint8(uint8(r.Op))
	e.String(r.Key)
	e.Bytes0(r.Value)
}

// String renders the request for traces.
func (r *Request) String() string {
	return fmt.Sprintf("cache %s %s/%d key=%q len=%d", r.Op, r.Client, r.Req, r.Key, len(r.Value))
}

func decodeRequest(d *wire.Decoder) nodes.Message {
	r := &Request{Client: d.String(), Req: d.Uvarint(), Op: OpKind(d.Uint8()), Key: d.String()}
	if v := d.Bytes0(); len(v) > 0 {
		r.Value = v
	}
	if d.Err() == nil && r.Op != OpGet && r.Op != OpPut {
		d.Fail(fmt.Errorf("cache request: op %d unknown", r.Op))
	}
	return r
}

// Reply is a cache node's answer to a Request. Service says whether the
// request ran at all (Detail says why not); then Found, Value and Version
// are what a get read (Found is false for a key never written) or what a
// put wrote, and Hit tells an operation served from the local cache.
type Reply struct {
	Client  string
	Req     uint64
	Service nodes.ServiceError
	Leader  nodes.NodeID // unused by the cache service: always ""
	Found   bool
	Value   []byte
	Version uint64
	Hit     bool
	Detail  string
}

// Type implements nodes.Message.
func (*Reply) Type() nodes.MessageType { return TypeReply }

// Encode implements nodes.Message.
func (r *Reply) Encode(e *wire.Encoder) {
	e.String(r.Client)
	e.Uvarint(r.Req)
	e.Uint8(uint8(r.Service))
	e.String(string(r.Leader))
	e.Bool(r.Found)
	e.Bytes0(r.Value)
	e.Uvarint(r.Version)
	e.Bool(r.Hit)
	e.String(r.Detail)
}

// String renders the reply for traces.
func (r *Reply) String() string {
	return fmt.Sprintf("cache reply %s/%d %s found=%v v=%d hit=%v len=%d %s", r.Client, r.Req, r.Service, r.Found, r.Version, r.Hit, len(r.Value), r.Detail)
}

func decodeReply(d *wire.Decoder) nodes.Message {
	r := &Reply{Client: d.String(), Req: d.Uvarint(), Service: nodes.ServiceError(d.Uint8()), Leader: nodes.NodeID(d.String()), Found: d.Bool()}
	if v := d.Bytes0(); len(v) > 0 {
		r.Value = v
	}
	r.Version, r.Hit, r.Detail = d.Uvarint(), d.Bool(), d.String()
	if d.Err() == nil && r.Service > nodes.ServiceBadRequest {
		d.Fail(fmt.Errorf("cache reply: service %d unknown", r.Service))
	}
	return r
}

func init() {
	nodes.Register(TypePacket, "cache.packet", decodePacket)
	nodes.Register(TypeRequest, "cache.request", decodeRequest)
	nodes.Register(TypeReply, "cache.reply", decodeReply)
}
