package mesi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Bounds of the message codec.
const (
	// MaxNodeIDBytes bounds a node id in an encoded message or state.
	MaxNodeIDBytes = 255
	// maxAcks bounds Message.Acks on decode.
	maxAcks = 1 << 20
	// codecVersion is the first byte of an encoded message.
	codecVersion = 1
)

// ErrCorrupt is wrapped by every error DecodeMessage and RestoreDurable
// return.
var ErrCorrupt = errors.New("mesi: malformed encoding")

// AppendMessage appends the canonical encoding of m to dst: a version
// byte, then every field in declaration order (strings and Value length
// prefixed, integers as minimal uvarints). DecodeMessage reverses it.
func AppendMessage(dst []byte, m Message) []byte {
	dst = append(dst, codecVersion, byte(m.Kind))
	dst = appendString(dst, m.Key)
	dst = appendString(dst, string(m.From))
	dst = appendString(dst, string(m.To))
	dst = appendString(dst, string(m.Requester))
	dst = binary.AppendUvarint(dst, m.Txn)
	dst = binary.AppendUvarint(dst, m.OwnerTxn)
	dst = appendString(dst, string(m.Value))
	dst = binary.AppendUvarint(dst, m.Version)
	dst = append(dst, byte(m.State))
	dst = binary.AppendUvarint(dst, uint64(max(m.Acks, 0)))
	return binary.AppendUvarint(dst, m.Grant)
}

// DecodeMessage decodes a message written by AppendMessage, consuming all
// of b. Keys may be up to maxKey bytes and values up to maxValue bytes;
// node ids up to MaxNodeIDBytes. An empty Value decodes as nil. The error
// wraps ErrCorrupt and names the field. It never panics.
func DecodeMessage(b []byte, maxKey, maxValue int) (Message, error) {
	r := reader{buf: b}
	m := r.message(maxKey, maxValue)
	if r.err == nil && r.off != len(r.buf) {
		r.fail("message", fmt.Sprintf("%d trailing bytes", len(r.buf)-r.off))
	}
	if r.err != nil {
		return Message{}, r.err
	}
	return m, nil
}

// message reads one message.
func (r *reader) message(maxKey, maxValue int) Message {
	var m Message
	if v := r.byte("version"); r.err == nil && v != codecVersion {
		r.fail("version", fmt.Sprintf("%d, want %d", v, codecVersion))
	}
	m.Kind = MsgKind(r.byte("kind"))
	if r.err == nil && (m.Kind < GetS || m.Kind > MemWriteAck) {
		r.fail("kind", fmt.Sprintf("%d unknown", m.Kind))
	}
	m.Key = r.string("key", maxKey)
	m.From = NodeID(r.string("from", MaxNodeIDBytes))
	m.To = NodeID(r.string("to", MaxNodeIDBytes))
	m.Requester = NodeID(r.string("requester", MaxNodeIDBytes))
	m.Txn = r.uvarint("txn")
	m.OwnerTxn = r.uvarint("owner_txn")
	if v := r.string("value", maxValue); v != "" {
		m.Value = []byte(v)
	}
	m.Version = r.uvarint("version")
	m.State = State(r.byte("state"))
	if r.err == nil && !m.State.valid() {
		r.fail("state", fmt.Sprintf("%d unknown", m.State))
	}
	acks := r.uvarint("acks")
	if r.err == nil && acks > maxAcks {
		r.fail("acks", fmt.Sprintf("%d over %d", acks, maxAcks))
	}
	m.Acks = int(acks)
	m.Grant = r.uvarint("grant")
	return m
}

// appendString appends s with a uvarint length prefix.
func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// reader decodes the canonical encodings of this package; the first error
// sticks.
type reader struct {
	buf []byte
	off int
	err error
}

// fail records the first error.
func (r *reader) fail(field, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s at byte %d", ErrCorrupt, field, what, r.off)
	}
}

// byte reads one byte.
func (r *reader) byte(field string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.buf) {
		r.fail(field, "truncated")
		return 0
	}
	r.off++
	return r.buf[r.off-1]
}

// uvarint reads a minimal uvarint.
func (r *reader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		r.fail(field, "bad or truncated varint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		r.fail(field, "non-minimal varint")
		return 0
	}
	r.off += n
	return v
}

// string reads a length-prefixed string of at most limit bytes.
func (r *reader) string(field string, limit int) string {
	n := r.uvarint(field)
	if r.err != nil {
		return ""
	}
	if n > uint64(limit) {
		r.fail(field, fmt.Sprintf("length %d over %d", n, limit))
		return ""
	}
	if n > uint64(len(r.buf)-r.off) {
		r.fail(field, fmt.Sprintf("length %d, %d bytes left", n, len(r.buf)-r.off))
		return ""
	}
	s := string(r.buf[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// bool reads a byte that must be 0 or 1.
func (r *reader) bool(field string) bool {
	v := r.byte(field)
	if v > 1 {
		r.fail(field, fmt.Sprintf("bool byte %d", v))
	}
	return v == 1
}

// count reads a list length, each element taking at least minBytes.
func (r *reader) count(field string, minBytes int) int {
	n := r.uvarint(field)
	if r.err != nil {
		return 0
	}
	if n > uint64((len(r.buf)-r.off)/minBytes) {
		r.fail(field, fmt.Sprintf("count %d too large for %d bytes left", n, len(r.buf)-r.off))
		return 0
	}
	return int(n)
}
