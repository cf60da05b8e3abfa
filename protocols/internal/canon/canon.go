// Package canon is the binary encoding the protocol state machines
// (lockmgr, queue) share for their commands and snapshots: bytes,
// uvarints, zig-zag varints, booleans and length-prefixed strings and byte
// slices. Each value has exactly one encoding, so every replica writes the
// same bytes, and the Decoder refuses any other: truncated, over-long,
// out-of-range or non-canonical input, or trailing bytes. It never panics,
// and never allocates more than its input's size.
//
// (nodes/wire is the codec of messages between nodes; protocol packages
// may not import nodes, so this small one lives here.)
package canon

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Encoder appends canonical encodings to a byte slice.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder whose buffer starts with room for capacity
// bytes.
func NewEncoder(capacity int) *Encoder { return &Encoder{buf: make([]byte, 0, capacity)} }

// Bytes returns what was written.
func (e *Encoder) Bytes() []byte { return e.buf }

// Raw appends b as it is (a magic header, say).
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Byte appends one byte.
func (e *Encoder) Byte(b uint8) { e.buf = append(e.buf, b) }

// Bool appends a boolean as one byte, 0 or 1.
func (e *Encoder) Bool(b bool) {
	if b {
		e.Byte(1)
		return
	}
	e.Byte(0)
}

// Uint appends an unsigned varint.
func (e *Encoder) Uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Int appends a zig-zag varint.
func (e *Encoder) Int(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

// Duration appends d as a zig-zag varint of nanoseconds.
func (e *Encoder) Duration(d time.Duration) { e.Int(int64(d)) }

// String appends a uvarint length and the bytes of s.
func (e *Encoder) String(s string) {
	e.Uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Blob appends a uvarint length and b.
func (e *Encoder) Blob(b []byte) {
	e.Uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// Decoder reads what Encoder writes. The first error sticks: later reads
// return zero values, and Err reports where decoding first failed, wrapped
// in the caller's sentinel error.
type Decoder struct {
	buf       []byte
	pos       int
	err       error
	malformed error
	maxString uint64
}

// NewDecoder returns a Decoder over b from offset pos. Its errors wrap
// malformed; a string longer than maxString bytes is an error.
func NewDecoder(b []byte, pos int, malformed error, maxString uint64) *Decoder {
	d := &Decoder{buf: b, pos: pos, malformed: malformed, maxString: maxString}
	if pos < 0 || pos > len(b) {
		d.pos = 0
		d.Fail("offset %d outside %d bytes", pos, len(b))
	}
	return d
}

// Err returns the first error, or nil.
func (d *Decoder) Err() error { return d.err }

// Fail records a decoding error at the current offset, if none is recorded
// yet: callers use it for values that decode but are invalid.
func (d *Decoder) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", d.malformed, d.pos, fmt.Sprintf(format, args...))
	}
}

// FailAt records a decoding error about the value that began at offset pos.
func (d *Decoder) FailAt(pos int, format string, args ...any) {
	if d.err == nil {
		d.pos = pos
		d.Fail(format, args...)
	}
}

// Pos returns the offset of the next read.
func (d *Decoder) Pos() int { return d.pos }

// Byte reads one byte.
func (d *Decoder) Byte() uint8 {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.buf) {
		d.Fail("truncated")
		return 0
	}
	b := d.buf[d.pos]
	d.pos++
	return b
}

// Bool reads a boolean; a byte other than 0 or 1 is an error.
func (d *Decoder) Bool() bool {
	switch b := d.Byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.Fail("bad bool %d", b)
		return false
	}
}

// Uint reads a canonical (shortest) unsigned varint.
func (d *Decoder) Uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 {
		d.Fail("bad uvarint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.Fail("non-canonical uvarint")
		return 0
	}
	d.pos += n
	return v
}

// Int reads a canonical zig-zag varint.
func (d *Decoder) Int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.pos:])
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.Fail("non-canonical varint")
		return 0
	}
	d.pos += n
	return v
}

// Duration reads a time.Duration.
func (d *Decoder) Duration() time.Duration { return time.Duration(d.Int()) }

// Count reads a uvarint count of items each at least minBytes long, and
// fails if the remaining input cannot hold that many.
func (d *Decoder) Count(minBytes int) int {
	n := d.Uint()
	if d.err != nil {
		return 0
	}
	if minBytes < 1 {
		minBytes = 1
	}
	if n > uint64(len(d.buf)-d.pos)/uint64(minBytes) {
		d.Fail("count %d exceeds the remaining %d bytes", n, len(d.buf)-d.pos)
		return 0
	}
	return int(n)
}

// raw reads a length-prefixed run of at most limit bytes, without copying.
func (d *Decoder) raw(limit uint64) []byte {
	n := d.Uint()
	if d.err != nil {
		return nil
	}
	if n > limit {
		d.Fail("length %d exceeds %d", n, limit)
		return nil
	}
	if n > uint64(len(d.buf)-d.pos) {
		d.Fail("length %d truncated", n)
		return nil
	}
	b := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b
}

// String reads a length-prefixed string of at most the decoder's maximum.
func (d *Decoder) String() string { return string(d.raw(d.maxString)) }

// Blob reads a copy of a length-prefixed byte slice of at most limit bytes
// (nil when empty).
func (d *Decoder) Blob(limit uint64) []byte {
	b := d.raw(limit)
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// Finish fails if input is left over, and returns the first error.
func (d *Decoder) Finish() error {
	if d.err == nil && d.pos != len(d.buf) {
		d.Fail("%d trailing bytes", len(d.buf)-d.pos)
	}
	return d.err
}
