package queue

import (
	"errors"

	"github.com/distsync/distsync/protocols/internal/canon"
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
	e.Uint(r.ID)
	e.Uint(r.Receipt)
	e.Uint(uint64(r.Deliveries))
	e.Blob(r.Payload)
	e.Bool(r.Duplicate)
	e.Bool(r.Gone)
	e.Byte(code)
	e.String(msg)
}

// decodeResult reads a Result written by encodeResult. Gone is valid only
// on a delivery (StatusOK, a Receipt) without payload.
func decodeResult(d *decoder) Result {
	r := Result{Status: Status(d.Byte()), ID: d.Uint(), Receipt: d.Uint()}
	del := d.Uint()
	r.Payload, r.Duplicate, r.Gone = d.Blob(MaxWirePayload), d.Bool(), d.Bool()
	code, msg := d.Byte(), d.String()
	if d.Err() != nil {
		return Result{}
	}
	if del > 1<<32-1 || r.Status < StatusOK || r.Status > StatusRejected || r.Gone && (!isDelivery(r) || len(r.Payload) > 0) {
		d.Fail("invalid result")
		return Result{}
	}
	r.Deliveries = uint32(del)
	err, cerr := errorFromCode(code, msg)
	if cerr != nil || (err != nil) != (r.Status == StatusRejected) {
		d.Fail("invalid result error %d", code)
		return Result{}
	}
	r.Err = err
	return r
}
