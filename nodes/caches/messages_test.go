package caches

import (
	"bytes"
	"testing"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/reliable"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/stretchr/testify/require"
)

func sampleMessages() []nodes.Message {
	payload := mesi.AppendMessage(nil, mesi.Message{Kind: mesi.Data, Key: "k", From: "n1", To: "n2", Value: []byte("v"), Version: 1, State: mesi.Exclusive})
	return []nodes.Message{
		&Packet{P: reliable.Packet{From: "n1", To: "n2", SrcEpoch: 2, DstEpoch: 3, Seq: 4, Ack: 1, Payload: payload}},
		&Packet{P: reliable.Packet{From: "n1", To: "n2", SrcEpoch: 2}},
		&Packet{P: reliable.Packet{From: "n1", To: "n2", SrcEpoch: 2, DstEpoch: 1, Seq: 1, Payload: bytes.Repeat([]byte{7}, wire.MaxStringBytes+10)}},
		&Request{Client: "c1", Req: 3, Op: OpPut, Key: "k", Value: []byte("c1/3")},
		&Request{Client: "c1", Req: 4, Op: OpGet, Key: "k"},
		&Reply{Client: "c1", Req: 3, Found: true, Value: []byte("x"), Version: 9, Hit: true},
		&Reply{Client: "c1", Req: 4, Service: nodes.ServiceBadRequest, Detail: "key is empty"},
	}
}

func encodeMsg(m nodes.Message) []byte {
	var e wire.Encoder
	nodes.EncodeMessage(&e, m)
	return e.Bytes()
}

func TestMessagesRoundTrip(t *testing.T) {
	var scratch wire.Encoder
	for _, m := range sampleMessages() {
		got, err := nodes.RoundTrip(m, &scratch)
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := nodes.DecodeMessage(encodeMsg(&Request{Client: "c", Req: 1, Op: 9, Key: "k"}))
	require.ErrorContains(t, err, "op 9 unknown")
}

func isCacheType(t nodes.MessageType) bool {
	return t == TypePacket || t == TypeRequest || t == TypeReply
}

// FuzzDecodeCacheMessage decodes arbitrary bytes as a message: it never
// panics, and a cache message re-encodes stably, and its payload decodes
// as a mesi message without panicking.
func FuzzDecodeCacheMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b := encodeMsg(m)
		if len(b) < 4096 {
			f.Add(b)
			f.Add(b[:len(b)-1])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := nodes.DecodeMessage(b)
		if err != nil || !isCacheType(m.Type()) {
			return
		}
		e := encodeMsg(m)
		again, err := nodes.DecodeMessage(e)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", nodes.TypeName(m.Type()), err)
		}
		if !bytes.Equal(e, encodeMsg(again)) {
			t.Fatalf("%s: encoding not stable", nodes.TypeName(m.Type()))
		}
		if p, ok := m.(*Packet); ok {
			_, _ = mesi.DecodeMessage(p.P.Payload, mesi.DefaultMaxKeyBytes, DefaultMaxValueBytes)
		}
	})
}
