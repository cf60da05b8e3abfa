// Package wire is distsync's binary encoding: the primitives every message
// codec is built from, and the length-prefixed frame that carries a message
// over TCP.
//
// The same bytes travel through the TCP transport and through the simulator's
// wire check, so a codec bug shows up deterministically in simulation before
// it shows up in a real cluster. Decoding never trusts its input: every length
// is checked against the bytes that remain and against an explicit limit, so a
// hostile or corrupt frame yields an error, never a panic or a huge
// allocation.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxStringBytes bounds any single string or byte slice inside a message.
const MaxStringBytes = 1 << 20

// MaxListLen bounds the element count of any list inside a message.
const MaxListLen = 1 << 16

// ErrShort reports input that ended before a complete value.
var ErrShort = errors.New("wire: input too short")

// ErrTooLarge reports a length prefix over its limit.
var ErrTooLarge = errors.New("wire: length over limit")

// Encoder appends values to a byte slice. The zero value is ready to use;
// Bytes returns what was written. Encoding cannot fail.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder that appends to buf (which may be nil), so a
// caller can reuse one buffer across messages without allocating.
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Reset empties the encoder, keeping its buffer's capacity.
func (e *Encoder) Reset() { e.buf = e.buf[:0] }

// Uint8 appends one byte.
func (e *Encoder) Uint8(v uint8) { e.buf = append(e.buf, v) }

// Bool appends a boolean as one byte.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
		return
	}
	e.buf = append(e.buf, 0)
}

// Uvarint appends an unsigned varint.
func (e *Encoder) Uvarint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

// Varint appends a signed (zig-zag) varint.
func (e *Encoder) Varint(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

// Uint64 appends a fixed-width little-endian uint64.
func (e *Encoder) Uint64(v uint64) { e.buf = binary.LittleEndian.AppendUint64(e.buf, v) }

// Float64 appends a float64 by its IEEE-754 bits.
func (e *Encoder) Float64(v float64) { e.Uint64(math.Float64bits(v)) }

// Duration appends a time.Duration as a signed varint of nanoseconds.
func (e *Encoder) Duration(d time.Duration) { e.Varint(int64(d)) }

// String appends a length-prefixed string.
func (e *Encoder) String(s string) {
	e.Uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// Bytes0 appends a length-prefixed byte slice. (Named so that Bytes can
// return the buffer, as bytes.Buffer does.)
func (e *Encoder) Bytes0(b []byte) {
	e.Uvarint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

// Decoder reads values written by an Encoder. The first error sticks: after
// it every read returns a zero value, and Err reports it, so a codec can read
// a whole struct and check once at the end.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b. It does not copy b; strings it
// returns are copies, byte slices it returns are copies too.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining reports how many bytes are left unread.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Finish returns the first error, or an error if bytes remain unread: a
// message must consume its whole body.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if r := d.Remaining(); r != 0 {
		return fmt.Errorf("wire: %d trailing bytes", r)
	}
	return nil
}

// Fail records err as the decoder's error if none is recorded yet. Codecs use
// it to report a semantically invalid value (an unknown enum, say).
func (d *Decoder) Fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// Uint8 reads one byte.
func (d *Decoder) Uint8() uint8 {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.buf) {
		d.err = ErrShort
		return 0
	}
	v := d.buf[d.off]
	d.off++
	return v
}

// Bool reads a boolean; any byte other than 0 or 1 is an error.
func (d *Decoder) Bool() bool {
	v := d.Uint8()
	if v > 1 {
		d.Fail(fmt.Errorf("wire: bool byte %d", v))
		return false
	}
	return v == 1
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		if n == 0 {
			d.err = ErrShort
		} else {
			d.err = errors.New("wire: varint overflows 64 bits")
		}
		return 0
	}
	d.off += n
	return v
}

// Varint reads a signed varint.
func (d *Decoder) Varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.off:])
	if n <= 0 {
		if n == 0 {
			d.err = ErrShort
		} else {
			d.err = errors.New("wire: varint overflows 64 bits")
		}
		return 0
	}
	d.off += n
	return v
}

// Uint64 reads a fixed-width little-endian uint64.
func (d *Decoder) Uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if d.Remaining() < 8 {
		d.err = ErrShort
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return v
}

// Float64 reads a float64.
func (d *Decoder) Float64() float64 { return math.Float64frombits(d.Uint64()) }

// Duration reads a time.Duration.
func (d *Decoder) Duration() time.Duration { return time.Duration(d.Varint()) }

// length reads a length prefix and checks it against limit and against the
// bytes that remain, so a corrupt prefix cannot cause a large allocation.
func (d *Decoder) length(limit int) int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(limit) {
		d.err = fmt.Errorf("%w: %d > %d", ErrTooLarge, n, limit)
		return 0
	}
	if n > uint64(d.Remaining()) {
		d.err = ErrShort
		return 0
	}
	return int(n)
}

// String reads a length-prefixed string of at most MaxStringBytes.
func (d *Decoder) String() string {
	n := d.length(MaxStringBytes)
	if d.err != nil {
		return ""
	}
	s := string(d.buf[d.off : d.off+n])
	d.off += n
	return s
}

// Bytes0 reads a length-prefixed byte slice of at most MaxStringBytes. It
// returns a copy, so the caller may keep it after the input is reused.
func (d *Decoder) Bytes0() []byte {
	n := d.length(MaxStringBytes)
	if d.err != nil {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.buf[d.off:d.off+n])
	d.off += n
	return b
}

// ListLen reads the element count of a list, bounded by MaxListLen and by
// the remaining input (each element takes at least minElemBytes bytes), so a
// corrupt count cannot make the caller allocate a huge slice.
func (d *Decoder) ListLen(minElemBytes int) int {
	n := d.Uvarint()
	if d.err != nil {
		return 0
	}
	if n > MaxListLen {
		d.err = fmt.Errorf("%w: list of %d > %d", ErrTooLarge, n, MaxListLen)
		return 0
	}
	if minElemBytes < 1 {
		minElemBytes = 1
	}
	// n*minElemBytes could overflow for a huge element size; dividing
	// cannot.
	if n > uint64(d.Remaining())/uint64(minElemBytes) {
		d.err = ErrShort
		return 0
	}
	return int(n)
}
