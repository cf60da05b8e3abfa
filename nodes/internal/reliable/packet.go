package reliable

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// NodeID names a node. The same name survives the node's restarts; an
// Epoch tells its incarnations apart.
type NodeID string

// MaxNodeIDBytes bounds the length of a NodeID, in bytes.
const MaxNodeIDBytes = 255

// MaxPayloadLimit is the largest Config.MaxPayload allowed, and the largest
// payload DecodePacket accepts, in bytes.
const MaxPayloadLimit = 64 << 20

// wireVersion is the first byte of every encoded packet.
const wireVersion = 1

// ErrMalformed is wrapped by every error DecodePacket and Packet.Validate
// return.
var ErrMalformed = errors.New("reliable: malformed packet")

// Packet is what travels on the wire between two endpoints.
//
// There are three kinds of packet:
//
//   - data: Seq > 0. It carries one payload of the stream From's incarnation
//     SrcEpoch sends to To's incarnation DstEpoch, which is never 0.
//   - ack: Seq == 0, DstEpoch != 0, no payload. It only carries Ack, and
//     the sender's epoch.
//   - probe: Seq == 0, DstEpoch == 0, Ack == 0, no payload. The sender has
//     something to send but does not know To's incarnation yet; the
//     receiver answers with an ack (or data), which tells it.
//
// Every packet carries the sender's epoch, so any packet from a restarted
// peer tells the receiver about the restart.
type Packet struct {
	// From is the sending node, To the receiving one.
	From, To NodeID
	// SrcEpoch is the sender's incarnation; never 0.
	SrcEpoch uint64
	// DstEpoch is the receiver incarnation the sender believes in; 0 (only
	// in a probe) when it does not know one yet.
	DstEpoch uint64
	// Seq is the position of Payload in the stream SrcEpoch -> DstEpoch,
	// from 1; 0 for an ack or a probe.
	Seq uint64
	// Ack is cumulative: every Seq <= Ack of the stream To's incarnation
	// DstEpoch sends to From's incarnation SrcEpoch was delivered.
	Ack uint64
	// Payload is the data packet's message; empty for an ack or a probe.
	Payload []byte
}

// validNodeID reports what is wrong with id as a node name, or nil.
func validNodeID(field string, id NodeID) error {
	if id == "" {
		return fmt.Errorf("%w: %s is empty", ErrMalformed, field)
	}
	if len(id) > MaxNodeIDBytes {
		return fmt.Errorf("%w: %s is %d bytes, over %d", ErrMalformed, field, len(id), MaxNodeIDBytes)
	}
	return nil
}

// Validate reports whether p is a packet some endpoint could have sent: IDs
// non-empty and at most MaxNodeIDBytes, SrcEpoch set, a data packet
// addressed to a known incarnation, no payload or Ack where the kind has
// none, and a payload of at most MaxPayloadLimit bytes. The error wraps
// ErrMalformed and names the field.
func (p Packet) Validate() error {
	if err := validNodeID("From", p.From); err != nil {
		return err
	}
	if err := validNodeID("To", p.To); err != nil {
		return err
	}
	if p.SrcEpoch == 0 {
		return fmt.Errorf("%w: SrcEpoch is 0", ErrMalformed)
	}
	if len(p.Payload) > MaxPayloadLimit {
		return fmt.Errorf("%w: Payload is %d bytes, over %d", ErrMalformed, len(p.Payload), MaxPayloadLimit)
	}
	if p.Seq == 0 && len(p.Payload) != 0 {
		return fmt.Errorf("%w: Payload of %d bytes in a packet with Seq 0", ErrMalformed, len(p.Payload))
	}
	if p.DstEpoch == 0 && p.Seq != 0 {
		return fmt.Errorf("%w: Seq %d with DstEpoch 0", ErrMalformed, p.Seq)
	}
	if p.DstEpoch == 0 && p.Ack != 0 {
		return fmt.Errorf("%w: Ack %d with DstEpoch 0", ErrMalformed, p.Ack)
	}
	return nil
}

// isProbe reports whether p is a probe (see Packet).
func (p Packet) isProbe() bool { return p.DstEpoch == 0 }

// EncodePacket returns the binary form of p: a version byte (1), then
// From and To as a uvarint length and the bytes, then SrcEpoch, DstEpoch,
// Seq and Ack as uvarints, then Payload as a uvarint length and the bytes.
// It encodes whatever it is given; DecodePacket accepts the result exactly
// when p.Validate() is nil.
func EncodePacket(p Packet) []byte {
	n := 1 + 2*binary.MaxVarintLen64 + len(p.From) + len(p.To) +
		4*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(p.Payload)
	b := make([]byte, 0, n)
	b = append(b, wireVersion)
	b = binary.AppendUvarint(b, uint64(len(p.From)))
	b = append(b, p.From...)
	b = binary.AppendUvarint(b, uint64(len(p.To)))
	b = append(b, p.To...)
	b = binary.AppendUvarint(b, p.SrcEpoch)
	b = binary.AppendUvarint(b, p.DstEpoch)
	b = binary.AppendUvarint(b, p.Seq)
	b = binary.AppendUvarint(b, p.Ack)
	b = binary.AppendUvarint(b, uint64(len(p.Payload)))
	b = append(b, p.Payload...)
	return b
}

// decoder reads the fields of an encoded packet, remembering the first
// error.
type decoder struct {
	b   []byte
	off int
	err error
}

// uvarint reads a minimally encoded uvarint; a longer encoding of the same
// number is refused so that decoding is canonical.
func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.err = fmt.Errorf("%w: %s: input ends at byte %d, in or before the varint", ErrMalformed, field, len(d.b))
		return 0
	case n < 0:
		d.err = fmt.Errorf("%w: %s: varint at byte %d overflows 64 bits", ErrMalformed, field, d.off)
		return 0
	case n > 1 && d.b[d.off+n-1] == 0:
		d.err = fmt.Errorf("%w: %s: varint at byte %d is not minimally encoded", ErrMalformed, field, d.off)
		return 0
	}
	d.off += n
	return v
}

// bytes reads a uvarint length of at most limit, then that many bytes.
func (d *decoder) bytes(field string, limit int) []byte {
	n := d.uvarint(field + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%w: %s length %d over %d", ErrMalformed, field, n, limit)
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%w: %s length %d at byte %d, only %d bytes left", ErrMalformed, field, n, d.off, len(d.b)-d.off)
		return nil
	}
	v := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return v
}

// DecodePacket parses the output of EncodePacket. It never panics, never
// allocates more than len(b) bytes for the packet, refuses trailing bytes
// and non-minimal varints (so EncodePacket(p) == b whenever it succeeds),
// and validates the result (Packet.Validate). The returned packet does not
// alias b. Every error wraps ErrMalformed.
func DecodePacket(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("%w: empty input", ErrMalformed)
	}
	if b[0] != wireVersion {
		return Packet{}, fmt.Errorf("%w: version byte %d, want %d", ErrMalformed, b[0], wireVersion)
	}
	d := decoder{b: b, off: 1}
	var p Packet
	p.From = NodeID(d.bytes("From", MaxNodeIDBytes))
	p.To = NodeID(d.bytes("To", MaxNodeIDBytes))
	p.SrcEpoch = d.uvarint("SrcEpoch")
	p.DstEpoch = d.uvarint("DstEpoch")
	p.Seq = d.uvarint("Seq")
	p.Ack = d.uvarint("Ack")
	if payload := d.bytes("Payload", MaxPayloadLimit); len(payload) > 0 {
		p.Payload = append([]byte(nil), payload...)
	}
	if d.err != nil {
		return Packet{}, d.err
	}
	if d.off != len(b) {
		return Packet{}, fmt.Errorf("%w: %d trailing bytes after byte %d", ErrMalformed, len(b)-d.off, d.off)
	}
	if err := p.Validate(); err != nil {
		return Packet{}, err
	}
	return p, nil
}
