package nodes_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/gossip"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/stretchr/testify/require"
)

// typeAll is a test message type (in the 1-99 range reserved for tests)
// whose body uses every wire primitive, so that the fuzzers reach every
// decoder path, not only the gossip push's.
const typeAll nodes.MessageType = 99

// allPrimitives is the test message. Its float travels as a float64 but is
// kept as bits, so that a NaN compares equal to itself.
type allPrimitives struct {
	Small   uint8
	Flag    bool
	Count   uint64
	Delta   int64
	Fixed   uint64
	Float   uint64 // float64 bits
	Timeout time.Duration
	Name    string
	Raw     []byte
	Tags    []string
}

func (*allPrimitives) Type() nodes.MessageType { return typeAll }

func (m *allPrimitives) Encode(e *wire.Encoder) {
	e.Uint8(m.Small)
	e.Bool(m.Flag)
	e.Uvarint(m.Count)
	e.Varint(m.Delta)
	e.Uint64(m.Fixed)
	e.Float64(math.Float64frombits(m.Float))
	e.Duration(m.Timeout)
	e.String(m.Name)
	e.Bytes0(m.Raw)
	e.Uvarint(uint64(len(m.Tags)))
	for _, t := range m.Tags {
		e.String(t)
	}
}

// maxSmall is a semantic limit the decoder enforces through Decoder.Fail.
const maxSmall = 200

func decodeAll(d *wire.Decoder) nodes.Message {
	m := &allPrimitives{
		Small:   d.Uint8(),
		Flag:    d.Bool(),
		Count:   d.Uvarint(),
		Delta:   d.Varint(),
		Fixed:   d.Uint64(),
		Float:   math.Float64bits(d.Float64()),
		Timeout: d.Duration(),
		Name:    d.String(),
		Raw:     d.Bytes0(),
	}
	if m.Small > maxSmall {
		d.Fail(fmt.Errorf("small %d > %d", m.Small, maxSmall))
		return nil
	}
	n := d.ListLen(1)
	m.Tags = make([]string, 0, n)
	for range n {
		m.Tags = append(m.Tags, d.String())
	}
	return m
}

func init() { nodes.Register(typeAll, "test.all", decodeAll) }

// sampleMessages are well-formed messages of every registered type.
func sampleMessages() []nodes.Message {
	return []nodes.Message{
		&gossip.Push{Tokens: []string{}},
		&gossip.Push{Tokens: []string{"n1", "n2", "n3"}},
		&allPrimitives{Raw: []byte{}, Tags: []string{}},
		&allPrimitives{
			Small: 7, Flag: true, Count: 1 << 40, Delta: -3, Fixed: math.MaxUint64,
			Float: math.Float64bits(math.NaN()), Timeout: 150 * time.Millisecond,
			Name: "lock-r7", Raw: []byte{0, 1, 0xff}, Tags: []string{"a", "", "ccc"},
		},
	}
}

func encodeMessage(m nodes.Message) []byte {
	var e wire.Encoder
	nodes.EncodeMessage(&e, m)
	return e.Bytes()
}

func encodeEnvelope(env nodes.Envelope) []byte {
	var e wire.Encoder
	nodes.AppendEnvelope(&e, env)
	return e.Bytes()
}

// messageSeeds are inputs for FuzzDecodeMessage: good messages, and
// messages broken in each way the decoder must refuse.
func messageSeeds() [][]byte {
	var seeds [][]byte
	for _, m := range sampleMessages() {
		b := encodeMessage(m)
		seeds = append(seeds, b, b[:len(b)-1], append(append([]byte(nil), b...), 0))
	}
	tooMany := binary.AppendUvarint(binary.AppendUvarint(nil, uint64(gossip.TypePush)), gossip.MaxTokens+1)
	tooMany = append(tooMany, make([]byte, gossip.MaxTokens+1)...)
	return append(seeds,
		nil,
		[]byte{0},
		binary.AppendUvarint(nil, 98), // unregistered
		binary.AppendUvarint(nil, nodes.MaxMessageType), // out of range
		binary.AppendUvarint(nil, math.MaxUint64),
		append(binary.AppendUvarint(nil, uint64(gossip.TypePush)), 0xff, 0xff, 0xff, 0xff, 0x0f), // 4 G tokens
		tooMany,
		encodeMessage(&allPrimitives{Small: maxSmall + 1}), // refused through Decoder.Fail
	)
}

// checkMessageRoundTrip is the round-trip property: a decoded message
// re-encodes into no more bytes than it came from (the encoding is
// canonical) and decodes again to an equal value.
func checkMessageRoundTrip(t *testing.T, m nodes.Message, from []byte) {
	t.Helper()
	enc := encodeMessage(m)
	require.LessOrEqual(t, len(enc), len(from), "re-encoding of %#v is longer than its input", m)
	again, err := nodes.DecodeMessage(enc)
	require.NoError(t, err, "re-encoding of %#v does not decode", m)
	require.Equal(t, m, again)
	require.Equal(t, enc, encodeMessage(again), "the canonical encoding is a fixed point")

	var scratch wire.Encoder
	rt, err := nodes.RoundTrip(m, &scratch)
	require.NoError(t, err)
	require.Equal(t, m, rt)
}

// FuzzDecodeMessage decodes arbitrary bytes as a message: it must never
// panic, and whatever it accepts must survive a round trip.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range messageSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := nodes.DecodeMessage(b)
		if err != nil {
			require.Nil(t, m)
			return
		}
		require.NotNil(t, m)
		if p, ok := m.(*gossip.Push); ok {
			require.LessOrEqual(t, len(p.Tokens), gossip.MaxTokens)
		}
		if a, ok := m.(*allPrimitives); ok {
			require.LessOrEqual(t, a.Small, uint8(maxSmall))
		}
		checkMessageRoundTrip(t, m, b)
	})
}

// FuzzDecodeEnvelope decodes arbitrary bytes as an envelope: it must never
// panic, node ids it accepts are valid, and whatever it accepts must
// survive a round trip.
func FuzzDecodeEnvelope(f *testing.F) {
	for i, m := range sampleMessages() {
		b := encodeEnvelope(nodes.Envelope{From: "n1", To: nodes.NodeID(fmt.Sprintf("client-%d.x_y", i)), Msg: m})
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(append([]byte(nil), b...), 1))
	}
	push := encodeMessage(&gossip.Push{Tokens: []string{"t"}})
	f.Add(append([]byte{0, 2, 'n', '1'}, push...))                     // empty from
	f.Add(append([]byte{4, 'n', '/', '.', '.', 2, 'n', '1'}, push...)) // bad byte in from
	f.Add(append([]byte{2, 'n', '1', 2, 'n', 0xff}, push...))          // bad byte in to
	f.Add(append(append([]byte{65}, make([]byte, 65)...), push...))    // too long
	f.Add([]byte{2, 'n', '1', 2, 'n', '2', 0})                         // no message type
	f.Add([]byte{0xff, 0xff, 0x3f, 'n'})                               // 1 MiB from, not there

	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := nodes.DecodeEnvelope(b)
		if err != nil {
			require.Equal(t, nodes.Envelope{}, env)
			return
		}
		require.NoError(t, env.From.Validate())
		require.NoError(t, env.To.Validate())
		require.NotNil(t, env.Msg)

		enc := encodeEnvelope(env)
		require.LessOrEqual(t, len(enc), len(b))
		again, err := nodes.DecodeEnvelope(enc)
		require.NoError(t, err)
		require.Equal(t, env, again)
		require.Equal(t, enc, encodeEnvelope(again))
	})
}

func TestSampleMessagesRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := encodeMessage(m)
		got, err := nodes.DecodeMessage(b)
		require.NoError(t, err)
		require.Equal(t, m, got)
		checkMessageRoundTrip(t, got, b)
	}
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

// TestHugeDeclaredSizesDoNotAllocate feeds messages and envelopes whose
// length prefixes promise far more than the input holds: each must fail
// with an error that costs a few hundred bytes at most, not the promised
// size.
func TestHugeDeclaredSizesDoNotAllocate(t *testing.T) {
	pushOf := func(count uint64, tail ...byte) []byte {
		b := binary.AppendUvarint(binary.AppendUvarint(nil, uint64(gossip.TypePush)), count)
		return append(b, tail...)
	}
	// allPrefix is a test message cut just before its Raw field.
	full := encodeMessage(&allPrimitives{Small: 1, Flag: true})
	allPrefix := full[:len(full)-2]
	cases := map[string]struct {
		in       []byte
		envelope bool
	}{
		"push of 2^40 tokens":           {pushOf(1 << 40), false},
		"push of MaxListLen tokens":     {pushOf(wire.MaxListLen, 1, 'a'), false},
		"push over MaxTokens":           {pushOf(gossip.MaxTokens+1, make([]byte, gossip.MaxTokens+1)...), false},
		"push token of 1 MiB":           {pushOf(1, 0x80, 0x80, 0x40, 'a'), false},
		"push token of 4 GiB":           {pushOf(1, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'), false},
		"test bytes of 1 MiB":           {append(allPrefix, 0x80, 0x80, 0x40), false},
		"envelope from of 1 MiB":        {[]byte{0x80, 0x80, 0x40, 'n'}, true},
		"envelope from of 2^60 bytes":   {binary.AppendUvarint(nil, 1<<60), true},
		"envelope with push of 2^40":    {append([]byte{2, 'n', '1', 2, 'n', '2'}, pushOf(1<<40)...), true},
		"envelope with a 1 MiB token":   {append([]byte{2, 'n', '1', 2, 'n', '2'}, pushOf(1, 0x80, 0x80, 0x40)...), true},
		"envelope to of 1 MiB, invalid": {[]byte{2, 'n', '1', 0x80, 0x80, 0x40, 'x'}, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			decode := func() {
				var err error
				if c.envelope {
					_, err = nodes.DecodeEnvelope(c.in)
				} else {
					_, err = nodes.DecodeMessage(c.in)
				}
				if err == nil {
					panic("decoded a message from a truncated input")
				}
			}
			perRun := allocatedBytes(50, decode)
			require.Less(t, perRun, uint64(1024), "%d bytes allocated per decode", perRun)
			require.LessOrEqual(t, testing.AllocsPerRun(50, decode), 20.0, "a few allocations for the error, no more")
		})
	}
}
