package lockmgr

import (
	"errors"

	"github.com/distsync/distsync/protocols/internal/canon"
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

// encoder and decoder are the canonical encoding shared by the protocol
// state machines (protocols/internal/canon).
type (
	encoder = canon.Encoder
	decoder = canon.Decoder
)

// newEncoder returns an encoder with room for capacity bytes.
func newEncoder(capacity int) *encoder { return canon.NewEncoder(capacity) }

// newDecoder reads b from offset pos; its errors wrap ErrMalformed.
func newDecoder(b []byte, pos int) *decoder {
	return canon.NewDecoder(b, pos, ErrMalformed, MaxWireString)
}

// encodeResult appends r to e.
func encodeResult(e *encoder, r Result) {
	code, msg := errorCode(r.Err)
	e.Byte(uint8(r.Status))
	e.Uint(uint64(r.Session))
	e.Uint(uint64(r.Token))
	e.Uint(r.Request)
	e.Byte(code)
	e.String(msg)
}

// decodeResult reads a Result written by encodeResult.
func decodeResult(d *decoder) Result {
	r := Result{
		Status:  Status(d.Byte()),
		Session: SessionID(d.Uint()),
		Token:   Token(d.Uint()),
		Request: d.Uint(),
	}
	code, msg := d.Byte(), d.String()
	if d.Err() != nil {
		return Result{}
	}
	if r.Status < StatusOK || r.Status > StatusRejected {
		d.Fail("invalid result status %d", r.Status)
		return Result{}
	}
	err, cerr := errorFromCode(code, msg)
	if cerr != nil {
		d.Fail("%v", cerr)
		return Result{}
	}
	if (err != nil) != (r.Status == StatusRejected) {
		d.Fail("result status %v with error code %d", r.Status, code)
		return Result{}
	}
	r.Err = err
	return r
}
