package reliable

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// packetSeeds are valid packets of every kind, with extreme values.
func packetSeeds() []Packet {
	return []Packet{
		{From: "a", To: "b", SrcEpoch: 1},
		{From: "a", To: "b", SrcEpoch: 1, DstEpoch: 2, Ack: 3},
		{From: "n1", To: "n2", SrcEpoch: 5, DstEpoch: 7, Seq: 1, Payload: []byte("hello")},
		{From: "n1", To: "n2", SrcEpoch: 5, DstEpoch: 7, Seq: 9, Ack: 8},
		{
			From: NodeID(strings.Repeat("f", MaxNodeIDBytes)), To: NodeID(strings.Repeat("t", MaxNodeIDBytes)),
			SrcEpoch: math.MaxUint64, DstEpoch: math.MaxUint64, Seq: math.MaxUint64, Ack: math.MaxUint64,
			Payload: bytes.Repeat([]byte{0, 0xff}, 300),
		},
	}
}

func TestPacketRoundTrip(t *testing.T) {
	for _, p := range packetSeeds() {
		b := EncodePacket(p)
		got, err := DecodePacket(b)
		require.NoError(t, err)
		require.Equal(t, p, got)
		require.Equal(t, b, EncodePacket(got))
	}
}

func TestDecodePacketErrors(t *testing.T) {
	valid := EncodePacket(Packet{From: "a", To: "b", SrcEpoch: 1, DstEpoch: 2, Seq: 3, Payload: []byte("xy")})
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"version", append([]byte{2}, valid[1:]...), "version byte 2"},
		{"truncated", valid[:len(valid)-1], "Payload length 2 at byte"},
		{"truncated varint", valid[:6], "DstEpoch: input ends at byte 6"},
		{"trailing", append(append([]byte(nil), valid...), 0), "1 trailing bytes"},
		{"non-minimal varint", []byte{1, 1, 'a', 1, 'b', 0x81, 0x00, 0, 0, 0, 0}, "SrcEpoch: varint at byte 5 is not minimally encoded"},
		{"overflow", append([]byte{1, 1, 'a', 1, 'b'}, bytes.Repeat([]byte{0xff}, 11)...), "SrcEpoch: varint at byte 5 overflows 64 bits"},
		{"long id", append([]byte{1, 0x80, 0x02}, make([]byte, 256)...), "From length 256 over 255"},
		{"empty from", []byte{1, 0, 1, 'b', 1, 0, 0, 0, 0}, "From is empty"},
		{"zero src epoch", []byte{1, 1, 'a', 1, 'b', 0, 0, 0, 0, 0}, "SrcEpoch is 0"},
		{"data without dst epoch", []byte{1, 1, 'a', 1, 'b', 1, 0, 1, 0, 0}, "Seq 1 with DstEpoch 0"},
		{"probe with ack", []byte{1, 1, 'a', 1, 'b', 1, 0, 0, 4, 0}, "Ack 4 with DstEpoch 0"},
		{"ack with payload", []byte{1, 1, 'a', 1, 'b', 1, 1, 0, 0, 1, 'x'}, "Payload of 1 bytes in a packet with Seq 0"},
		{"huge payload length", []byte{1, 1, 'a', 1, 'b', 1, 1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "over 67108864"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := DecodePacket(tt.b)
			require.ErrorIs(t, err, ErrMalformed)
			require.ErrorContains(t, err, tt.want)
			require.Zero(t, p)
		})
	}
}

func TestDecodePacketDoesNotAlias(t *testing.T) {
	b := EncodePacket(Packet{From: "a", To: "b", SrcEpoch: 1, DstEpoch: 1, Seq: 1, Payload: []byte("xyz")})
	p, err := DecodePacket(b)
	require.NoError(t, err)
	for i := range b {
		b[i] = 0
	}
	require.Equal(t, "xyz", string(p.Payload))
}

func FuzzDecodePacket(f *testing.F) {
	for _, p := range packetSeeds() {
		f.Add(EncodePacket(p))
	}
	f.Add([]byte{1, 1, 'a', 1, 'b', 0x81, 0x00, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b)
		if err != nil {
			require.ErrorIs(t, err, ErrMalformed)
			require.Zero(t, p)
			return
		}
		require.NoError(t, p.Validate())
		require.Equal(t, b, EncodePacket(p), "decoding accepts only the canonical encoding")
		again, err := DecodePacket(EncodePacket(p))
		require.NoError(t, err)
		require.Equal(t, p, again)
	})
}
