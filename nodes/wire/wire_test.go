package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes/wire"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// primitive is one value of one primitive type: how to write it, how to
// read it back, and what reading must return.
type primitive struct {
	name string
	enc  func(e *wire.Encoder)
	dec  func(d *wire.Decoder) any
	want any
}

func uint8Case(v uint8) primitive {
	return primitive{"uint8", func(e *wire.Encoder) { e.Uint8(v) }, func(d *wire.Decoder) any { return d.Uint8() }, v}
}

func boolCase(v bool) primitive {
	return primitive{"bool", func(e *wire.Encoder) { e.Bool(v) }, func(d *wire.Decoder) any { return d.Bool() }, v}
}

func uvarintCase(v uint64) primitive {
	return primitive{"uvarint", func(e *wire.Encoder) { e.Uvarint(v) }, func(d *wire.Decoder) any { return d.Uvarint() }, v}
}

func varintCase(v int64) primitive {
	return primitive{"varint", func(e *wire.Encoder) { e.Varint(v) }, func(d *wire.Decoder) any { return d.Varint() }, v}
}

func uint64Case(v uint64) primitive {
	return primitive{"uint64", func(e *wire.Encoder) { e.Uint64(v) }, func(d *wire.Decoder) any { return d.Uint64() }, v}
}

// float64Case compares bits, so that NaN and -0 are checked exactly.
func float64Case(v float64) primitive {
	return primitive{"float64", func(e *wire.Encoder) { e.Float64(v) },
		func(d *wire.Decoder) any { return math.Float64bits(d.Float64()) }, math.Float64bits(v)}
}

func durationCase(v time.Duration) primitive {
	return primitive{"duration", func(e *wire.Encoder) { e.Duration(v) }, func(d *wire.Decoder) any { return d.Duration() }, v}
}

func stringCase(v string) primitive {
	return primitive{"string", func(e *wire.Encoder) { e.String(v) }, func(d *wire.Decoder) any { return d.String() }, v}
}

func bytesCase(v []byte) primitive {
	return primitive{"bytes0", func(e *wire.Encoder) { e.Bytes0(v) }, func(d *wire.Decoder) any { return d.Bytes0() }, v}
}

func primitives() []primitive {
	return []primitive{
		uint8Case(0), uint8Case(1), uint8Case(math.MaxUint8),
		boolCase(false), boolCase(true),
		uvarintCase(0), uvarintCase(127), uvarintCase(128), uvarintCase(1<<35 + 7), uvarintCase(math.MaxUint64),
		varintCase(0), varintCase(-1), varintCase(63), varintCase(-64), varintCase(math.MinInt64), varintCase(math.MaxInt64),
		uint64Case(0), uint64Case(0x0102030405060708), uint64Case(math.MaxUint64),
		float64Case(0), float64Case(math.Copysign(0, -1)), float64Case(3.25), float64Case(-1e300),
		float64Case(math.Inf(1)), float64Case(math.Inf(-1)), float64Case(math.NaN()), float64Case(math.SmallestNonzeroFloat64),
		durationCase(0), durationCase(time.Nanosecond), durationCase(-90 * time.Second), durationCase(math.MaxInt64), durationCase(math.MinInt64),
		stringCase(""), stringCase("n1"), stringCase("héllo, wörld\x00\xff"), stringCase(strings.Repeat("x", wire.MaxStringBytes)),
		bytesCase([]byte{}), bytesCase([]byte{0, 1, 2, 0xff}), bytesCase(bytes.Repeat([]byte{0xab}, 300)),
	}
}

func TestPrimitiveRoundTrip(t *testing.T) {
	for _, p := range primitives() {
		t.Run(p.name, func(t *testing.T) {
			var e wire.Encoder
			p.enc(&e)
			d := wire.NewDecoder(e.Bytes())
			require.Equal(t, p.want, p.dec(d))
			require.NoError(t, d.Finish())
		})
	}
}

// TestPrimitiveSequence writes every primitive into one buffer and reads
// them back in order, so that each read consumes exactly its own bytes.
func TestPrimitiveSequence(t *testing.T) {
	ps := primitives()
	e := wire.NewEncoder(make([]byte, 0, 16))
	for _, p := range ps {
		p.enc(e)
	}
	d := wire.NewDecoder(e.Bytes())
	for i, p := range ps {
		require.Equal(t, p.want, p.dec(d), "value %d (%s)", i, p.name)
	}
	require.NoError(t, d.Finish())
}

func TestEncodingIsTheDocumentedOne(t *testing.T) {
	var e wire.Encoder
	e.Uint8(7)
	e.Bool(true)
	e.Bool(false)
	e.Uint64(0x0102030405060708)
	e.Uvarint(300)
	e.Varint(-2)
	e.String("ab")
	e.Bytes0([]byte{9})
	e.Duration(3)
	require.Equal(t, []byte{
		7, 1, 0,
		8, 7, 6, 5, 4, 3, 2, 1, // little-endian
		0xac, 0x02, // 300 as a varint
		3,           // -2 zig-zag
		2, 'a', 'b', // length-prefixed
		1, 9,
		6, // 3ns zig-zag
	}, e.Bytes())
}

func TestEncoderBuffers(t *testing.T) {
	buf := make([]byte, 2, 64)
	buf[0], buf[1] = 0xee, 0xff
	e := wire.NewEncoder(buf)
	e.Uint8(1)
	require.Equal(t, []byte{0xee, 0xff, 1}, e.Bytes(), "NewEncoder appends to its buffer")
	e.Reset()
	require.Empty(t, e.Bytes())
	e.Uint8(2)
	require.Equal(t, []byte{2}, e.Bytes())
	require.Equal(t, 64, cap(e.Bytes()), "Reset keeps the capacity")
}

func TestDecoderCopies(t *testing.T) {
	var e wire.Encoder
	e.Bytes0([]byte("abc"))
	e.String("def")
	in := e.Bytes()
	d := wire.NewDecoder(in)
	b, s := d.Bytes0(), d.String()
	for i := range in {
		in[i] = 0
	}
	require.Equal(t, []byte("abc"), b)
	require.Equal(t, "def", s)
}

// TestShortInput cuts every encoding short at every length: reading must
// fail with ErrShort and return the zero value, never panic.
func TestShortInput(t *testing.T) {
	for _, p := range primitives() {
		if p.name == "string" && len(p.want.(string)) > 100 {
			continue // the 1 MiB string would make this quadratic; covered below
		}
		var e wire.Encoder
		p.enc(&e)
		full := e.Bytes()
		for n := 0; n < len(full); n++ {
			d := wire.NewDecoder(full[:n])
			got := p.dec(d)
			require.ErrorIs(t, d.Err(), wire.ErrShort, "%s %v cut to %d of %d bytes", p.name, p.want, n, len(full))
			require.ErrorIs(t, d.Finish(), wire.ErrShort)
			switch g := got.(type) {
			case []byte:
				require.Empty(t, g)
			default:
				require.Zero(t, got, "%s cut to %d bytes", p.name, n)
			}
		}
	}
	// A long string whose body is cut short.
	var e wire.Encoder
	e.String(strings.Repeat("y", 1000))
	d := wire.NewDecoder(e.Bytes()[:500])
	require.Equal(t, "", d.String())
	require.ErrorIs(t, d.Err(), wire.ErrShort)
}

func TestTooLarge(t *testing.T) {
	over := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	for _, n := range []uint64{wire.MaxStringBytes + 1, 1 << 32, math.MaxUint64} {
		d := wire.NewDecoder(over(n))
		require.Equal(t, "", d.String())
		require.ErrorIs(t, d.Err(), wire.ErrTooLarge, "string of %d", n)

		d = wire.NewDecoder(over(n))
		require.Nil(t, d.Bytes0())
		require.ErrorIs(t, d.Err(), wire.ErrTooLarge, "bytes of %d", n)
	}
	// Exactly at the limit is fine, given the bytes.
	in := append(over(wire.MaxStringBytes), make([]byte, wire.MaxStringBytes)...)
	d := wire.NewDecoder(in)
	require.Len(t, d.Bytes0(), wire.MaxStringBytes)
	require.NoError(t, d.Finish())

	// Within the limit but beyond the input: short, not too large.
	d = wire.NewDecoder(over(wire.MaxStringBytes))
	require.Equal(t, "", d.String())
	require.ErrorIs(t, d.Err(), wire.ErrShort)
}

func TestListLen(t *testing.T) {
	list := func(n uint64, body int) *wire.Decoder {
		return wire.NewDecoder(append(binary.AppendUvarint(nil, n), make([]byte, body)...))
	}
	d := list(3, 6)
	require.Equal(t, 3, d.ListLen(2))
	require.NoError(t, d.Err())
	require.Equal(t, 6, d.Remaining(), "ListLen reads only the count")

	d = list(3, 5)
	require.Equal(t, 0, d.ListLen(2), "3 elements of 2 bytes need 6 bytes")
	require.ErrorIs(t, d.Err(), wire.ErrShort)

	d = list(4, 4)
	require.Equal(t, 4, d.ListLen(0), "a minimum below 1 byte counts as 1")
	d = list(5, 4)
	require.Equal(t, 0, d.ListLen(-3))
	require.ErrorIs(t, d.Err(), wire.ErrShort)

	d = list(wire.MaxListLen, wire.MaxListLen)
	require.Equal(t, wire.MaxListLen, d.ListLen(1))
	d = list(wire.MaxListLen+1, wire.MaxListLen+1)
	require.Equal(t, 0, d.ListLen(1))
	require.ErrorIs(t, d.Err(), wire.ErrTooLarge)

	d = list(0, 0)
	require.Equal(t, 0, d.ListLen(math.MaxInt))
	require.NoError(t, d.Finish())

	// A huge element size must not overflow the bound into a small one.
	for _, size := range []int{1 << 48, math.MaxInt / 2, math.MaxInt} {
		d = list(wire.MaxListLen, 16)
		require.Equal(t, 0, d.ListLen(size), "element size %d", size)
		require.ErrorIs(t, d.Err(), wire.ErrShort)
	}
}

func TestVarintOverflow(t *testing.T) {
	for _, in := range [][]byte{
		bytes.Repeat([]byte{0xff}, 11),
		append(bytes.Repeat([]byte{0xff}, 9), 0x02), // 10th byte may only be 0 or 1
	} {
		d := wire.NewDecoder(in)
		require.Zero(t, d.Uvarint())
		require.Error(t, d.Err())
		require.NotErrorIs(t, d.Err(), wire.ErrShort)

		d = wire.NewDecoder(in)
		require.Zero(t, d.Varint())
		require.Error(t, d.Err())
	}
}

func TestBoolRejectsOtherBytes(t *testing.T) {
	for _, b := range []byte{2, 0x80, 0xff} {
		d := wire.NewDecoder([]byte{b})
		require.False(t, d.Bool())
		require.ErrorContains(t, d.Err(), "bool byte")
	}
}

func TestErrorsStick(t *testing.T) {
	var e wire.Encoder
	e.Uvarint(5)
	e.String("abc")
	d := wire.NewDecoder(append(e.Bytes(), 1, 2, 3, 4, 5, 6, 7, 8, 9))
	require.Equal(t, uint64(5), d.Uvarint())
	require.Equal(t, "abc", d.String())
	bad := errors.New("semantically wrong")
	d.Fail(bad)
	d.Fail(errors.New("second error is dropped"))
	require.Equal(t, bad, d.Err())
	rem := d.Remaining()
	require.Zero(t, d.Uint8())
	require.Zero(t, d.Uint64())
	require.Zero(t, d.Uvarint())
	require.Zero(t, d.Varint())
	require.False(t, d.Bool())
	require.Zero(t, d.Float64())
	require.Zero(t, d.Duration())
	require.Equal(t, "", d.String())
	require.Nil(t, d.Bytes0())
	require.Zero(t, d.ListLen(1))
	require.Equal(t, rem, d.Remaining(), "nothing is read after an error")
	require.Equal(t, bad, d.Err())
	require.Equal(t, bad, d.Finish())

	d = wire.NewDecoder(nil)
	require.Zero(t, d.Uint8())
	require.ErrorIs(t, d.Err(), wire.ErrShort)
	d.Fail(bad)
	require.ErrorIs(t, d.Err(), wire.ErrShort, "Fail keeps the first error")
}

func TestFinish(t *testing.T) {
	d := wire.NewDecoder([]byte{1, 2, 3})
	require.Equal(t, uint8(1), d.Uint8())
	require.EqualError(t, d.Finish(), "wire: 2 trailing bytes")
	require.Equal(t, 2, d.Remaining())
	d.Uint8()
	d.Uint8()
	require.NoError(t, d.Finish())
	require.NoError(t, wire.NewDecoder(nil).Finish())
}

// allocatedBytes returns how many bytes of heap f allocates per call, on
// average over runs calls.
func allocatedBytes(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestHugeLengthsDoNotAllocate shows that a length prefix is checked before
// anything is allocated for it: a declared 4 GiB frame or string costs a few
// bytes for the error, not the declared size.
func TestHugeLengthsDoNotAllocate(t *testing.T) {
	frame := []byte{0xff, 0xff, 0xff, 0xff, wire.Version} // 4 GiB - 1 payload
	r := bytes.NewReader(frame)
	var buf []byte
	readHuge := func() {
		r.Reset(frame)
		var err error
		_, buf, err = wire.ReadFrame(r, buf, wire.DefaultMaxFrameBytes)
		if !errors.Is(err, wire.ErrFrameTooLarge) {
			panic(err)
		}
	}
	require.LessOrEqual(t, testing.AllocsPerRun(100, readHuge), 8.0)
	require.Less(t, allocatedBytes(100, readHuge), uint64(1024))
	require.Nil(t, buf, "the buffer was never grown")

	splitHuge := func() {
		if _, _, err := wire.SplitFrame(frame, wire.DefaultMaxFrameBytes); !errors.Is(err, wire.ErrFrameTooLarge) {
			panic(err)
		}
	}
	require.Less(t, allocatedBytes(100, splitHuge), uint64(1024))

	tooLong := binary.AppendUvarint(nil, 1<<32)
	stringHuge := func() {
		d := wire.NewDecoder(tooLong)
		if d.String() != "" || !errors.Is(d.Err(), wire.ErrTooLarge) {
			panic(d.Err())
		}
	}
	require.Less(t, allocatedBytes(100, stringHuge), uint64(1024))

	// Within the limit but not backed by input: no allocation at all.
	short := append(binary.AppendUvarint(nil, wire.MaxStringBytes), 1, 2, 3)
	bytesShort := func() {
		d := wire.NewDecoder(short)
		if d.Bytes0() != nil || !errors.Is(d.Err(), wire.ErrShort) {
			panic(d.Err())
		}
	}
	require.Zero(t, testing.AllocsPerRun(100, bytesShort))
	listShort := append(binary.AppendUvarint(nil, wire.MaxListLen), 1, 2, 3)
	listHuge := func() {
		d := wire.NewDecoder(listShort)
		if d.ListLen(1) != 0 || !errors.Is(d.Err(), wire.ErrShort) {
			panic(d.Err())
		}
	}
	require.Zero(t, testing.AllocsPerRun(100, listHuge))
}

func TestFrameRoundTrip(t *testing.T) {
	payloads := [][]byte{{}, []byte("x"), bytes.Repeat([]byte{7}, 1000), []byte("last")}
	var stream []byte
	for _, p := range payloads {
		stream = wire.AppendFrame(stream, p)
	}
	first := wire.AppendFrame(nil, []byte("x"))
	require.Equal(t, []byte{0, 0, 0, 2, wire.Version, 'x'}, first, "big-endian length of version+payload, version, payload")

	rest := stream
	for i, want := range payloads {
		var got []byte
		var err error
		got, rest, err = wire.SplitFrame(rest, 1000)
		require.NoError(t, err, "frame %d", i)
		require.Equal(t, want, got, "frame %d", i)
	}
	require.Empty(t, rest)

	r := bytes.NewReader(stream)
	buf := make([]byte, 0, 2000)
	for i, want := range payloads {
		got, newBuf, err := wire.ReadFrame(r, buf, 1000)
		require.NoError(t, err, "frame %d", i)
		require.Equal(t, want, got, "frame %d", i)
		require.Equal(t, 2000, cap(newBuf), "a big enough buffer is reused")
		buf = newBuf
	}
	_, _, err := wire.ReadFrame(r, buf, 1000)
	require.ErrorIs(t, err, io.EOF, "a clean end between frames is io.EOF")

	// A nil buffer is grown to the payload, not beyond.
	got, newBuf, err := wire.ReadFrame(bytes.NewReader(wire.AppendFrame(nil, []byte("abc"))), nil, 1000)
	require.NoError(t, err)
	require.Equal(t, []byte("abc"), got)
	require.Equal(t, 3, cap(newBuf))
}

func TestSplitFrameErrors(t *testing.T) {
	frame := wire.AppendFrame(nil, []byte("hello"))

	for n := 0; n < len(frame); n++ {
		payload, rest, err := wire.SplitFrame(frame[:n], 100)
		require.ErrorIs(t, err, wire.ErrShort, "cut to %d bytes", n)
		require.Nil(t, payload)
		require.Equal(t, frame[:n], rest, "nothing is consumed until the frame is whole")
	}

	bad := append([]byte(nil), frame...)
	bad[4] = wire.Version + 1
	_, rest, err := wire.SplitFrame(bad, 100)
	require.ErrorIs(t, err, wire.ErrBadVersion)
	require.Equal(t, bad, rest)

	_, _, err = wire.SplitFrame([]byte{0, 0, 0, 0, wire.Version, 1, 2}, 100)
	require.ErrorContains(t, err, "length 0")
	require.NotErrorIs(t, err, wire.ErrShort)

	payload, _, err := wire.SplitFrame(frame, 5)
	require.NoError(t, err, "a payload exactly at the limit is fine")
	require.Equal(t, []byte("hello"), payload)
	_, _, err = wire.SplitFrame(frame, 4)
	require.ErrorIs(t, err, wire.ErrFrameTooLarge)
	_, _, err = wire.SplitFrame(frame[:wire.FrameHeaderBytes], 4)
	require.ErrorIs(t, err, wire.ErrFrameTooLarge, "the size is refused from the header alone")

	payload, rest, err = wire.SplitFrame(wire.AppendFrame(nil, nil), 0)
	require.NoError(t, err)
	require.Empty(t, payload)
	require.Empty(t, rest)
}

func TestReadFrameErrors(t *testing.T) {
	frame := wire.AppendFrame(nil, []byte("hello"))
	read := func(in []byte, maxPayload int) error {
		_, _, err := wire.ReadFrame(bytes.NewReader(in), nil, maxPayload)
		return err
	}
	require.ErrorIs(t, read(nil, 100), io.EOF)
	require.ErrorIs(t, read(frame[:3], 100), io.ErrUnexpectedEOF)
	require.ErrorIs(t, read(frame[:wire.FrameHeaderBytes], 100), io.EOF, "header but no body")
	require.ErrorIs(t, read(frame[:wire.FrameHeaderBytes+2], 100), io.ErrUnexpectedEOF)
	require.ErrorContains(t, read(frame[:wire.FrameHeaderBytes+2], 100), "frame body of 5 bytes")

	bad := append([]byte(nil), frame...)
	bad[4] = 0
	require.ErrorIs(t, read(bad, 100), wire.ErrBadVersion)
	require.ErrorContains(t, read([]byte{0, 0, 0, 0, wire.Version}, 100), "length 0")
	require.ErrorIs(t, read(frame, 4), wire.ErrFrameTooLarge)
	require.NoError(t, read(frame, 5))
}

func TestReadFrameAllocatesOnlyForBytesThatArrive(t *testing.T) {
	// A header that declares a 4 MiB frame, followed by ten bytes and EOF.
	hdr := wire.AppendFrame(nil, make([]byte, 4<<20))[:wire.FrameHeaderBytes+10]
	var got []byte
	allocs := testing.AllocsPerRun(10, func() {
		_, buf, err := wire.ReadFrame(bytes.NewReader(hdr), nil, wire.DefaultMaxFrameBytes)
		if err == nil {
			t.Fatal("a truncated frame must be an error")
		}
		got = buf
	})
	assert.LessOrEqual(t, cap(got), 64<<10, "the buffer grows with the bytes read, not the declared size")
	assert.LessOrEqual(t, allocs, 8.0)
}
