package lockmgr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// ErrMalformed is wrapped by DecodeCommand and Restore when their input is
// not a valid encoding: truncated, over-long, out of range, non-canonical or
// with trailing bytes.
var ErrMalformed = errors.New("lockmgr: malformed encoding")

// MaxWireString bounds every string in a command or snapshot encoding. It
// is far above MaxResourceBytes and MaxClientBytes on purpose: a command
// whose resource is too long still decodes, and Apply rejects it with an
// error naming the field, the same on every replica. Encode does not check
// it; a command with a longer string encodes to bytes DecodeCommand
// rejects, so callers should check Manager.Validate before proposing.
const MaxWireString = 64 << 10

// encoder appends the canonical encoding of values to a byte slice:
// unsigned integers as uvarints, signed ones (durations) as zigzag varints,
// strings as a uvarint length and the bytes.
type encoder struct {
	buf []byte
}

func (e *encoder) byte(b uint8) { e.buf = append(e.buf, b) }

func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) int(v int64) { e.buf = binary.AppendVarint(e.buf, v) }

func (e *encoder) duration(d time.Duration) { e.int(int64(d)) }

func (e *encoder) string(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

// decoder reads what encoder writes. The first error sticks: later reads
// return zero values, and err reports where decoding first failed. Every
// read is bounded by the remaining input, so no input can make it allocate
// more than the input's size or loop.
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

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.pos:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	if n != len(binary.AppendUvarint(nil, v)) {
		d.fail("non-canonical uvarint")
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
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if n != len(binary.AppendVarint(nil, v)) {
		d.fail("non-canonical varint")
		return 0
	}
	d.pos += n
	return v
}

func (d *decoder) duration() time.Duration { return time.Duration(d.int()) }

// count reads a uvarint count of items each at least minBytes long, and
// fails if the remaining input cannot hold that many.
func (d *decoder) count(minBytes int) int {
	n := d.uint()
	if d.err != nil {
		return 0
	}
	if n > uint64(len(d.buf)-d.pos)/uint64(minBytes) {
		d.fail("count %d exceeds the remaining %d bytes", n, len(d.buf)-d.pos)
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > MaxWireString {
		d.fail("string of %d bytes exceeds %d", n, MaxWireString)
		return ""
	}
	if n > uint64(len(d.buf)-d.pos) {
		d.fail("string of %d bytes truncated", n)
		return ""
	}
	s := string(d.buf[d.pos : d.pos+int(n)])
	d.pos += int(n)
	return s
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
	e.uint(uint64(r.Session))
	e.uint(uint64(r.Token))
	e.uint(r.Request)
	e.byte(code)
	e.string(msg)
}

// decodeResult reads a Result written by encodeResult.
func decodeResult(d *decoder) Result {
	r := Result{
		Status:  Status(d.byte()),
		Session: SessionID(d.uint()),
		Token:   Token(d.uint()),
		Request: d.uint(),
	}
	code, msg := d.byte(), d.string()
	if d.err != nil {
		return Result{}
	}
	if r.Status < StatusOK || r.Status > StatusRejected {
		d.fail("invalid result status %d", r.Status)
		return Result{}
	}
	err, cerr := errorFromCode(code, msg)
	if cerr != nil {
		d.fail("%v", cerr)
		return Result{}
	}
	if (err != nil) != (r.Status == StatusRejected) {
		d.fail("result status %v with error code %d", r.Status, code)
		return Result{}
	}
	r.Err = err
	return r
}
