package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes/wire"
	"github.com/stretchr/testify/require"
)

// frameSeeds are inputs for the frame fuzzers: whole frames, several
// frames, cut frames, and every kind of bad header.
func frameSeeds() [][]byte {
	one := wire.AppendFrame(nil, []byte("hello"))
	two := wire.AppendFrame(wire.AppendFrame(nil, nil), []byte{1, 2, 3})
	badVersion := append([]byte(nil), one...)
	badVersion[4] = 9
	return [][]byte{
		nil,
		{0},
		one,
		one[:3],
		one[:wire.FrameHeaderBytes],
		one[:len(one)-1],
		append(append([]byte(nil), one...), 0xde, 0xad),
		two,
		badVersion,
		{0, 0, 0, 0, wire.Version},
		{0xff, 0xff, 0xff, 0xff, wire.Version},
		{0, 0, 1, 0, wire.Version, 1, 2, 3},
		wire.AppendFrame(nil, bytes.Repeat([]byte{0xaa}, 200)),
	}
}

// FuzzSplitFrame checks SplitFrame on arbitrary bytes with a small limit:
// it never panics; a frame it returns is within the limit and re-framing
// its payload reproduces exactly the bytes consumed; a refusal consumes
// nothing; and ErrShort is only returned when more bytes could complete a
// frame.
func FuzzSplitFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s, uint8(16))
		f.Add(s, uint8(255))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		maxPayload := int(limit)
		payload, rest, err := wire.SplitFrame(b, maxPayload)
		if err != nil {
			require.Nil(t, payload)
			require.Equal(t, b, rest, "a refused frame consumes nothing")
			if errors.Is(err, wire.ErrShort) {
				// The header is fine, the body is missing: padding the
				// input to the declared size must yield a frame.
				need := wire.FrameHeaderBytes
				if len(b) >= wire.FrameHeaderBytes {
					need = 4 + int(binary.BigEndian.Uint32(b))
				}
				require.Greater(t, need, len(b))
				padded := append(append([]byte(nil), b...), make([]byte, need-len(b))...)
				if len(b) >= wire.FrameHeaderBytes {
					_, _, err := wire.SplitFrame(padded, maxPayload)
					require.NoError(t, err, "ErrShort for %x, yet %d bytes are not enough", b, need)
				}
			}
			return
		}
		require.LessOrEqual(t, len(payload), maxPayload)
		consumed := len(b) - len(rest)
		require.Equal(t, wire.FrameHeaderBytes+len(payload), consumed)
		require.Equal(t, b[:consumed], wire.AppendFrame(nil, payload), "re-framing reproduces the consumed bytes")
		require.Equal(t, b[consumed:], rest)
		if len(payload) > 0 {
			require.Same(t, &b[wire.FrameHeaderBytes], &payload[0], "the payload is a sub-slice of the input")
		}
	})
}

// FuzzReadFrame reads frames one after another from arbitrary bytes and
// checks that ReadFrame agrees with SplitFrame on every frame and every
// refusal, never reads past the frame, and never grows its buffer beyond
// the limit.
func FuzzReadFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s, uint8(16))
		f.Add(s, uint8(255))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		maxPayload := int(limit)
		r := bytes.NewReader(b)
		var buf []byte
		rest := b
		for i := 0; ; i++ {
			require.Less(t, i, len(b)/wire.FrameHeaderBytes+1, "more frames than the input can hold")
			payload, newBuf, err := wire.ReadFrame(r, buf, maxPayload)
			require.LessOrEqual(t, cap(newBuf), max(cap(buf), maxPayload), "the buffer never grows beyond the limit")
			want, wantRest, splitErr := wire.SplitFrame(rest, maxPayload)
			if err != nil {
				require.Nil(t, payload)
				require.Error(t, splitErr, "ReadFrame failed (%v) where SplitFrame found a frame", err)
				switch {
				case errors.Is(splitErr, wire.ErrShort):
					require.True(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "short input gave %v", err)
				case errors.Is(splitErr, wire.ErrFrameTooLarge):
					require.ErrorIs(t, err, wire.ErrFrameTooLarge)
				case errors.Is(splitErr, wire.ErrBadVersion):
					require.ErrorIs(t, err, wire.ErrBadVersion)
				default:
					require.Equal(t, splitErr.Error(), err.Error())
				}
				return
			}
			require.NoError(t, splitErr, "SplitFrame refused a frame ReadFrame accepted")
			require.True(t, bytes.Equal(want, payload), "ReadFrame read %x, SplitFrame %x", payload, want)
			require.Equal(t, len(wantRest), r.Len(), "ReadFrame read exactly one frame")
			rest, buf = wantRest, newBuf
		}
	})
}

// Decoder operations driven by FuzzDecoder, one per op byte (op % numOps).
const (
	opUint8 = iota
	opBool
	opUvarint
	opVarint
	opUint64
	opFloat64
	opDuration
	opString
	opBytes0
	opListLen
	opFail
	numOps
)

// listElemSizes are the element sizes FuzzDecoder passes to ListLen,
// chosen by the op byte's high bits: nonsense, small and huge.
var listElemSizes = []int{-1, 0, 1, 2, 8, 1 << 20, 1 << 48, math.MaxInt}

// errFuzz is what opFail records.
var errFuzz = errors.New("fuzz: semantic error")

// decoded is one decoder operation and what it returned.
type decoded struct {
	op   byte
	u    uint64
	i    int64
	s    string
	b    []byte
	n    int
	elem int
}

func (v decoded) kind() byte { return v.op % numOps }

// apply runs the decoder operation op on d.
func apply(d *wire.Decoder, op byte) decoded {
	v := decoded{op: op}
	switch v.kind() {
	case opUint8:
		v.u = uint64(d.Uint8())
	case opBool:
		if d.Bool() {
			v.u = 1
		}
	case opUvarint:
		v.u = d.Uvarint()
	case opVarint:
		v.i = d.Varint()
	case opUint64:
		v.u = d.Uint64()
	case opFloat64:
		v.u = math.Float64bits(d.Float64())
	case opDuration:
		v.i = int64(d.Duration())
	case opString:
		v.s = d.String()
	case opBytes0:
		v.b = d.Bytes0()
	case opListLen:
		v.elem = listElemSizes[int(op/numOps)%len(listElemSizes)]
		v.n = d.ListLen(v.elem)
	case opFail:
		d.Fail(errFuzz)
	}
	return v
}

// encode writes v back with the matching Encoder method.
func encode(e *wire.Encoder, v decoded) {
	switch v.kind() {
	case opUint8:
		e.Uint8(uint8(v.u))
	case opBool:
		e.Bool(v.u == 1)
	case opUvarint:
		e.Uvarint(v.u)
	case opVarint:
		e.Varint(v.i)
	case opUint64:
		e.Uint64(v.u)
	case opFloat64:
		e.Float64(math.Float64frombits(v.u))
	case opDuration:
		e.Duration(time.Duration(v.i))
	case opString:
		e.String(v.s)
	case opBytes0:
		e.Bytes0(v.b)
	case opListLen:
		e.Uvarint(uint64(v.n))
	}
}

// FuzzDecoder drives a Decoder with a sequence of operations chosen by ops
// over the input data. It never panics; reads only move forward; an error
// sticks and stops all reading; fixed-size reads take exactly their size;
// strings, byte slices and list counts are bounded by the input that is
// really there (so decoding allocates no more than the input); and when no
// error occurred, writing the values back and reading them again with the
// same operations gives the same values, in no more bytes.
func FuzzDecoder(f *testing.F) {
	var e wire.Encoder
	e.Uint8(7)
	e.Bool(true)
	e.Uvarint(300)
	e.Varint(-5)
	e.Uint64(1 << 60)
	e.Float64(math.Pi)
	e.Duration(time.Second)
	e.String("n1")
	e.Bytes0([]byte{1, 2})
	e.Uvarint(2)
	all := []byte{opUint8, opBool, opUvarint, opVarint, opUint64, opFloat64, opDuration, opString, opBytes0, opListLen + 2*numOps}
	f.Add(all, e.Bytes())
	f.Add(all, e.Bytes()[:9])
	f.Add([]byte{opString, opString}, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{opBytes0}, binary.AppendUvarint(nil, wire.MaxStringBytes+1))
	f.Add([]byte{opListLen + 6*numOps}, binary.AppendUvarint(nil, wire.MaxListLen))
	f.Add([]byte{opUvarint, opUint8}, bytes.Repeat([]byte{0x80}, 12))
	f.Add([]byte{opBool, opFail, opUint8}, []byte{1, 2})
	f.Add([]byte{opUvarint, opVarint}, []byte{0x80, 0x80, 0x00, 0x81, 0x00})

	f.Fuzz(func(t *testing.T, ops, data []byte) {
		if len(ops) > 512 {
			ops = ops[:512]
		}
		d := wire.NewDecoder(data)
		var vals []decoded
		var stuck error
		prev := d.Remaining()
		require.Equal(t, len(data), prev)
		for _, op := range ops {
			v := apply(d, op)
			rem := d.Remaining()
			if msg := checkStep(v, d.Err(), stuck, prev, rem, len(data)); msg != "" {
				t.Fatalf("op %d (%#v) after %d values: %s", op, v, len(vals), msg)
			}
			prev = rem
			if stuck == nil && d.Err() != nil {
				stuck = d.Err()
			}
			if stuck == nil {
				vals = append(vals, v)
			}
		}
		if stuck != nil {
			return
		}

		// Write the values back and read them again. The writer's
		// encoding is canonical, so it is never longer than the input
		// (varints may have been padded there). Trailing zero bytes keep
		// every ListLen bound satisfiable, as it was on the input.
		var e wire.Encoder
		for _, v := range vals {
			encode(&e, v)
		}
		require.LessOrEqual(t, len(e.Bytes()), len(data)-d.Remaining())
		again := wire.NewDecoder(append(e.Bytes(), make([]byte, len(data))...))
		for i, v := range vals {
			if w := apply(again, v.op); !v.equal(w) {
				t.Fatalf("value %d read back as %#v, was %#v", i, w, v)
			}
		}
		require.NoError(t, again.Err())
		require.Equal(t, len(data), again.Remaining())
	})
}

// checkStep checks one decoder operation, which returned v and left err
// and rem bytes; before it, stuck was the decoder's error and prev bytes
// remained. It returns what is wrong, or "". (Plain comparisons keep the
// fuzzer fast: this runs for every operation.)
func checkStep(v decoded, err, stuck error, prev, rem, inputLen int) string {
	consumed := prev - rem
	zero := decoded{op: v.op, elem: v.elem}
	switch {
	case rem < 0 || rem > prev:
		return fmt.Sprintf("remaining went from %d to %d: reads only move forward", prev, rem)
	case stuck != nil && err != stuck:
		return fmt.Sprintf("error %v replaced the first error %v", err, stuck)
	case stuck != nil && consumed != 0:
		return fmt.Sprintf("%d bytes read after an error", consumed)
	case err != nil && !v.equal(zero):
		return "a failing read (or a read after an error) returned a non-zero value"
	case err != nil && stuck == nil && v.kind() == opFail && err != errFuzz:
		return fmt.Sprintf("Fail recorded %v", err)
	case err != nil:
		return ""
	}
	switch v.kind() {
	case opUint8, opBool:
		if consumed != 1 || v.kind() == opBool && v.u > 1 {
			return fmt.Sprintf("one-byte read took %d bytes", consumed)
		}
	case opUint64, opFloat64:
		if consumed != 8 {
			return fmt.Sprintf("eight-byte read took %d bytes", consumed)
		}
	case opUvarint, opVarint, opDuration:
		if consumed < 1 || consumed > binary.MaxVarintLen64 {
			return fmt.Sprintf("varint of %d bytes", consumed)
		}
	case opString:
		if len(v.s) > wire.MaxStringBytes || len(v.s) >= consumed {
			return fmt.Sprintf("string of %d bytes from %d input bytes", len(v.s), consumed)
		}
	case opBytes0:
		if v.b == nil || len(v.b) > wire.MaxStringBytes || len(v.b) >= consumed || cap(v.b) > inputLen {
			return fmt.Sprintf("byte slice of %d bytes (cap %d) from %d input bytes", len(v.b), cap(v.b), consumed)
		}
	case opListLen:
		// n elements of at least elem bytes must fit in what remains.
		if v.n < 0 || v.n > wire.MaxListLen || v.n > 0 && max(v.elem, 1) > rem/v.n {
			return fmt.Sprintf("ListLen(%d) = %d with %d bytes left", v.elem, v.n, rem)
		}
		if consumed < 1 || consumed > binary.MaxVarintLen64 {
			return fmt.Sprintf("list count of %d bytes", consumed)
		}
	case opFail:
		return "Fail did not record its error"
	}
	return ""
}

// equal reports whether two results of the same operation are the same.
func (v decoded) equal(w decoded) bool {
	return v.op == w.op && v.u == w.u && v.i == w.i && v.s == w.s && v.n == w.n && v.elem == w.elem &&
		bytes.Equal(v.b, w.b) && (v.b == nil) == (w.b == nil)
}
