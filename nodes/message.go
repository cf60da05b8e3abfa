package nodes

import (
	"fmt"

	"github.com/distsync/distsync/nodes/wire"
)

// MessageType is the stable number of a message type on the wire. Numbers
// are never reused: a released build and a new one must agree on them.
// Ranges by owner:
//
//	1-99      tests and the gossip example node
//	100-199   raft
//	200-299   lock manager
//	300-399   queue
//	400-499   cache
//	1000-1999 client requests and replies
type MessageType uint16

// MaxMessageType bounds registered type numbers, so the registry is a flat
// table indexed by type (a lookup per traced message must be cheap).
const MaxMessageType = 4096

// Message is anything a node sends. Each concrete type has a stable type
// number and name (for traces) and a binary encoding (for TCP and for the
// simulator's wire check).
type Message interface {
	// Type returns the message's registered type number.
	Type() MessageType
	// Encode appends the message body (not its type) to e.
	Encode(e *wire.Encoder)
}

// Decoder rebuilds a message body written by Encode. It reads from d and
// returns the message; errors are reported through d (d.Fail or a short
// read), and the caller checks d.Finish.
type Decoder func(d *wire.Decoder) Message

type registration struct {
	name   string
	decode Decoder
}

// registry is written only by Register from package init functions and read
// afterwards, so it needs no lock.
var registry [MaxMessageType]registration

// Register records a message type. Call it from an init function of the
// package that defines the type. It panics on a duplicate or out-of-range
// number, since that is a programming error found at start-up.
func Register(t MessageType, name string, decode Decoder) {
	if t == 0 || int(t) >= MaxMessageType {
		panic(fmt.Sprintf("nodes: message type %d out of range 1..%d", t, MaxMessageType-1))
	}
	if name == "" || decode == nil {
		panic(fmt.Sprintf("nodes: message type %d registered without name or decoder", t))
	}
	if prev := registry[t]; prev.name != "" {
		panic(fmt.Sprintf("nodes: message type %d registered twice (%s, %s)", t, prev.name, name))
	}
	registry[t] = registration{name: name, decode: decode}
}

// TypeName returns the registered name of t, or "type-N" if t is unknown.
func TypeName(t MessageType) string {
	if int(t) < MaxMessageType && registry[t].name != "" {
		return registry[t].name
	}
	return fmt.Sprintf("type-%d", t)
}

// EncodeMessage appends m's type number and body to e.
func EncodeMessage(e *wire.Encoder, m Message) {
	e.Uvarint(uint64(m.Type()))
	m.Encode(e)
}

// DecodeMessage decodes one message written by EncodeMessage, consuming all
// of b. It never panics on bad input.
func DecodeMessage(b []byte) (Message, error) {
	d := wire.NewDecoder(b)
	m, err := decodeFrom(d)
	if err != nil {
		return nil, err
	}
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("message %s: %w", TypeName(m.Type()), err)
	}
	return m, nil
}

func decodeFrom(d *wire.Decoder) (Message, error) {
	t := d.Uvarint()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("message type: %w", err)
	}
	if t == 0 || t >= MaxMessageType || registry[t].decode == nil {
		return nil, fmt.Errorf("message type %d: not registered", t)
	}
	m := registry[t].decode(d)
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("message %s: %w", registry[t].name, err)
	}
	if m == nil {
		return nil, fmt.Errorf("message %s: decoder returned nil", registry[t].name)
	}
	return m, nil
}

// Envelope is a message with its addresses, the unit the TCP transport
// frames.
type Envelope struct {
	From, To NodeID
	Msg      Message
}

// AppendEnvelope appends env's encoding (from, to, type, body) to e.
func AppendEnvelope(e *wire.Encoder, env Envelope) {
	e.String(string(env.From))
	e.String(string(env.To))
	EncodeMessage(e, env.Msg)
}

// DecodeEnvelope decodes an envelope written by AppendEnvelope, consuming
// all of b. Node ids are validated, so a frame cannot smuggle a name that
// breaks a trace or a file path.
func DecodeEnvelope(b []byte) (Envelope, error) {
	d := wire.NewDecoder(b)
	from := NodeID(d.String())
	to := NodeID(d.String())
	if err := d.Err(); err != nil {
		return Envelope{}, fmt.Errorf("envelope: %w", err)
	}
	if err := from.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("envelope from: %w", err)
	}
	if err := to.Validate(); err != nil {
		return Envelope{}, fmt.Errorf("envelope to: %w", err)
	}
	m, err := decodeFrom(d)
	if err != nil {
		return Envelope{}, fmt.Errorf("envelope %s->%s: %w", from, to, err)
	}
	if err := d.Finish(); err != nil {
		return Envelope{}, fmt.Errorf("envelope %s->%s: %s: %w", from, to, TypeName(m.Type()), err)
	}
	return Envelope{From: from, To: to, Msg: m}, nil
}

// RoundTrip encodes m and decodes it again: the simulator's wire check. It
// returns an error if decoding fails, which means the codec of m's type is
// broken.
func RoundTrip(m Message, scratch *wire.Encoder) (Message, error) {
	scratch.Reset()
	EncodeMessage(scratch, m)
	out, err := DecodeMessage(scratch.Bytes())
	if err != nil {
		return nil, fmt.Errorf("wire check of %s: %w", TypeName(m.Type()), err)
	}
	return out, nil
}
