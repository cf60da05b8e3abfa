package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by DecodeCommand and Restore when their input is
// not a valid encoding.
var ErrMalformed = errors.New("queue: malformed encoding")

// MaxWireString bounds every string in an encoding. It is above
// MaxNameBytes on purpose: a too-long name still decodes, and Apply rejects
// it with an error naming the field, the same on every replica.
const MaxWireString = 64 << 10

// MaxWirePayload bounds a payload in an encoding; Config.MaxPayload may not
// exceed it.
const MaxWirePayload = 16 << 20

// encoder appends canonical encodings: uvarints, zigzag varints, and
// length-prefixed strings and byte slices.
type encoder struct {
	buf []byte
}

func (e *encoder) byte(b uint8) { e.buf = append(e.buf, b) }

func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) int(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

func (e *encoder) string(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) bytes(b []byte) {
	e.uint(uint64(len(b)))
	e.buf = append(e.buf, b...)
}

func (e *encoder) bool(b bool) {
	if b {
		e.byte(1)
	} else {
		e.byte(0)
	}
}

// decoder reads what encoder writes. The first error sticks; every read is
// bounded by the remaining input.
type decoder struct {
	buf []byte
	pos int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.pos, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) byte() uint8 {
	if d.err != nil {
		return 0
	}
	if d.pos >= len(d.buf) {
		d.fail("truncated")
		return 0
	}
	b := d.buf[d.pos]
	d.pos++
	return b
}

func (d *decoder) bool() bool {
	switch b := d.byte(); b {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail("bad bool %d", b)
		return false
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) {
		d.fail("bad uvarint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) int() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.buf[d.pos:])
	if n <= 0 || n != len(binary.AppendVarint(nil, v)) {
		d.fail("bad varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) duration() time.Duration { return time.Duration(d.int()) }

// count reads a count of items each at least minBytes long.
func (d *decoder) count(minBytes int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)-d.pos)/uint64(minBytes) {
		d.fail("count %d exceeds the remaining input", n)
		return 0
	}
	return int(n)
}

func (d *decoder) raw(limit uint64) []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > limit || n > uint64(len(d.buf)-d.pos) {
		d.fail("length %d out of range", n)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[d.pos : d.pos+int(n) : d.pos+int(n)]
	d.pos += int(n)
	return b
}

func (d *decoder) string() string { return string(d.raw(MaxWireString)) }

// bytes returns a copy of a length-prefixed byte slice (nil when empty).
func (d *decoder) bytes() []byte {
	b := d.raw(MaxWirePayload)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// finish fails if input is left over, and returns the sticky error.
func (d *decoder) finish() error {
	if d.err == nil && d.pos != len(d.buf) {
		d.fail("%d trailing bytes", len(d.buf)-d.pos)
	}
	return d.err
}

// encodeResult appends r to e.
func encodeResult(e *encoder, r Result) {
	code, msg := errorCode(r.Err)
	e.byte(uint8(r.Status))
	e.uint(r.ID)
	e.uint(r.Receipt)
	e.uint(uint64(r.Deliveries))
	e.bytes(r.Payload)
	e.bool(r.Duplicate)
	e.byte(code)
	e.string(msg)
}

// decodeResult reads a Result written by encodeResult.
func decodeResult(d *decoder) Result {
	r := Result{Status: Status(d.byte()), ID: d.uint(), Receipt: d.uint()}
	del := d.uint()
	r.Payload, r.Duplicate = d.bytes(), d.bool()
	code, msg := d.byte(), d.string()
	if d.err != nil {
		return Result{}
	}
	if del > 1<<32-1 || r.Status < StatusOK || r.Status > StatusRejected {
		d.fail("invalid result")
		return Result{}
	}
	r.Deliveries = uint32(del)
	err, cerr := errorFromCode(code, msg)
	if cerr != nil || (err != nil) != (r.Status == StatusRejected) {
		d.fail("invalid result error %d", code)
		return Result{}
	}
	r.Err = err
	return r
}
