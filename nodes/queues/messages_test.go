package queues

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

// unknownReceiptResult is what a group answers to an ack of a receipt it
// does not hold.
func unknownReceiptResult() queue.Result {
	return queue.New(queue.Config{}).Apply(1, queue.Ack{Client: "c1", Seq: 1, Receipt: 42})
}

// exportedChunk is a real Import command: the first chunk of a sealed
// group holding one message.
func exportedChunk(t testing.TB) []byte {
	m := queue.New(queue.Config{})
	m.Apply(1, queue.Enqueue{Client: "c1", Seq: 1, Queue: "orders", Payload: []byte("hello")})
	m.Apply(2, queue.Seal{Epoch: 2})
	imp, _, err := m.Export(0, 1<<20)
	require.NoError(t, err)
	imp.Source = GroupID{Queue: "orders", Epoch: 0}.key()
	return imp.Encode()
}

func sampleQueueMessages(t testing.TB) []nodes.Message {
	enq := queue.Enqueue{Client: "c1", Seq: 7, Queue: "orders", Payload: []byte("payload"), DedupID: "d1", Now: 1234}
	deq := queue.Dequeue{Client: "c2", Seq: 1, Queue: "orders.dlq", Visibility: time.Second}
	rej := unknownReceiptResult()
	return []nodes.Message{
		&GroupMsg{Group: GroupID{Queue: "orders", Epoch: 1}, Epoch: 2, M: raft.Message{
			Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, Index: 9, LogTerm: 2, Commit: 8,
			Entries: []raft.Entry{
				{Term: 3, Index: 10, Type: raft.EntryNormal, Data: enq.Encode()},
				{Term: 3, Index: 11, Type: raft.EntryNormal, Data: deq.Encode()},
			}}},
		&GroupMsg{Group: GroupID{Queue: "a/b@c", Epoch: 0}, Epoch: 0, M: raft.Message{
			Type: raft.MsgHeartbeat, From: "n2", To: "n3", Term: 5, Commit: 4}},
		&RingUpdate{History: []Membership{
			{Epoch: 0, Members: []nodes.NodeID{"n1", "n2", "n3"}},
			{Epoch: 1, Members: []nodes.NodeID{"n1", "n2", "n3", "n4"}},
			{Epoch: 2, Members: []nodes.NodeID{"n1", "n3", "n4"}},
		}},
		&RingHello{Epoch: 7},
		&Import{Source: GroupID{Queue: "orders", Epoch: 0}, Target: GroupID{Queue: "orders", Epoch: 2}, Cmd: exportedChunk(t)},
		&ImportAck{Source: GroupID{Queue: "orders", Epoch: 0}, Target: GroupID{Queue: "orders", Epoch: 2}, Next: 3},
		&ImportAck{Source: GroupID{Queue: "orders", Epoch: 0}, Target: GroupID{Queue: "orders", Epoch: 2}, Next: 1, Moved: true},
		&GroupGone{Group: GroupID{Queue: "orders", Epoch: 1}},
		&Request{Queue: "orders", Cmd: enq.Encode()},
		&Request{Queue: "orders", Cmd: queue.Ack{Client: "c1", Seq: 9, Receipt: 77}.Encode()},
		&Reply{Client: "c1", Seq: 7, Result: queue.Result{
			Status: queue.StatusOK, ID: 11, Receipt: 12, Deliveries: 2, Payload: []byte("payload"), Duplicate: true}},
		&Reply{Client: "c1", Seq: 8, Result: queue.Result{Status: queue.StatusEmpty}},
		&Reply{Client: "c1", Seq: 9, Result: rej},
		&Reply{Client: "c1", Seq: 10, Service: nodes.ServiceNotLeader, Leader: "n3"},
		&Reply{Client: "c1", Seq: 11, Service: nodes.ServiceNoQuorum},
		&Reply{Client: "c1", Seq: 12, Service: nodes.ServiceBusy, Detail: "too many groups"},
		&Reply{Client: "c1", Seq: 13, Service: nodes.ServiceBadRequest, Detail: "queues: Request.Queue = \"\""},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	var scratch wire.Encoder
	seen := map[nodes.MessageType]bool{}
	for i, m := range sampleQueueMessages(t) {
		seen[m.Type()] = true
		t.Run(fmt.Sprintf("%d-%s", i, nodes.TypeName(m.Type())), func(t *testing.T) {
			got, err := nodes.RoundTrip(m, &scratch)
			require.NoError(t, err)
			require.IsType(t, m, got)
			if r, ok := m.(*Reply); ok && r.Result.Err != nil {
				g := got.(*Reply)
				require.True(t, errors.Is(g.Result.Err, queue.ErrUnknownReceipt), "%v", g.Result.Err)
				require.Equal(t, r.Result.Err.Error(), g.Result.Err.Error())
				a, b := *r, *g
				a.Result.Err, b.Result.Err = nil, nil
				require.Equal(t, a, b)
				return
			}
			require.Equal(t, m, got)
			// And the encoding is a fixed point.
			var a, b wire.Encoder
			nodes.EncodeMessage(&a, m)
			nodes.EncodeMessage(&b, got)
			require.Equal(t, a.Bytes(), b.Bytes())
		})
	}
	for _, typ := range []nodes.MessageType{TypeGroupMsg, TypeRingUpdate, TypeRingHello, TypeImport, TypeImportAck, TypeGroupGone, TypeRequest, TypeReply} {
		require.True(t, seen[typ], "no sample of %s", nodes.TypeName(typ))
	}
	// The rejected result really carries the error.
	rej := unknownReceiptResult()
	require.Equal(t, queue.StatusRejected, rej.Status)
	require.ErrorIs(t, rej.Err, queue.ErrUnknownReceipt)
}

// encodeRaw writes a message body by hand, for encodings Encode never
// produces.
func encodeRaw(typ nodes.MessageType, body func(e *wire.Encoder)) []byte {
	var e wire.Encoder
	e.Uvarint(uint64(typ))
	body(&e)
	return e.Bytes()
}

func rawReply(service nodes.ServiceError, result []byte) []byte {
	return encodeRaw(TypeReply, func(e *wire.Encoder) {
		e.String("c1")
		e.Uvarint(1)
		e.Uint8(uint8(service))
		e.String("n2")
		e.Bytes0(result)
		e.String("")
	})
}

func encodeMsg(m nodes.Message) []byte {
	var e wire.Encoder
	nodes.EncodeMessage(&e, m)
	return e.Bytes()
}

func TestMessagesDecodeRefuses(t *testing.T) {
	okResult := queue.EncodeResult(queue.Result{Status: queue.StatusOK, ID: 1})
	tooManyEpochs := make([]Membership, MaxEpochs+1)
	for i := range tooManyEpochs {
		tooManyEpochs[i] = Membership{Epoch: uint64(i), Members: []nodes.NodeID{"n1"}}
	}
	tooManyMembers := make([]nodes.NodeID, MaxMembers+1)
	for i := range tooManyMembers {
		tooManyMembers[i] = nodes.NodeID(fmt.Sprintf("n%02d", i))
	}
	for _, c := range []struct {
		name string
		b    []byte
		msg  string
	}{
		{"ok reply without result", rawReply(nodes.ServiceOK, nil), "result present=false with service ok"},
		{"not-leader reply with result", rawReply(nodes.ServiceNotLeader, okResult), "result present=true with service not leader"},
		{"bad-request reply with result", rawReply(nodes.ServiceBadRequest, okResult), "result present=true"},
		{"ok reply with a malformed result", rawReply(nodes.ServiceOK, []byte{0xff}), "malformed"},
		{"ok reply with a status-0 result", rawReply(nodes.ServiceOK, queue.EncodeResult(queue.Result{})), "invalid result"},
		{"ring of too many epochs", encodeMsg(&RingUpdate{History: tooManyEpochs}), fmt.Sprintf("%d epochs, max %d", MaxEpochs+1, MaxEpochs)},
		{"ring epoch of too many members", encodeMsg(&RingUpdate{History: []Membership{{Epoch: 0, Members: tooManyMembers}}}),
			fmt.Sprintf("%d members, max %d", MaxMembers+1, MaxMembers)},
		{"ring with a huge epoch count", encodeRaw(TypeRingUpdate, func(e *wire.Encoder) { e.Uvarint(1 << 40) }), "over limit"},
		{"group message with a bad raft message", encodeRaw(TypeGroupMsg, func(e *wire.Encoder) {
			e.String("q")
			e.Uvarint(0)
			e.Uvarint(0)
			e.Bytes0([]byte{0xee, 0xee})
		}), "queue.raft"},
		{"truncated request", encodeMsg(&Request{Queue: "orders", Cmd: []byte("x")})[:5], "queue.request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := nodes.DecodeMessage(c.b)
			require.Error(t, err)
			require.Nil(t, m)
			require.Contains(t, err.Error(), c.msg)
		})
	}
	// The bounds themselves decode.
	atMost := make([]Membership, MaxEpochs)
	copy(atMost, tooManyEpochs)
	m, err := nodes.DecodeMessage(encodeMsg(&RingUpdate{History: atMost}))
	require.NoError(t, err)
	require.Len(t, m.(*RingUpdate).History, MaxEpochs)
	m, err = nodes.DecodeMessage(encodeMsg(&RingUpdate{History: []Membership{{Epoch: 0, Members: tooManyMembers[:MaxMembers]}}}))
	require.NoError(t, err)
	require.Len(t, m.(*RingUpdate).History[0].Members, MaxMembers)
}

func isQueueMessageType(t nodes.MessageType) bool {
	switch t {
	case TypeGroupMsg, TypeRingUpdate, TypeRingHello, TypeImport, TypeImportAck, TypeGroupGone, TypeRequest, TypeReply:
		return true
	}
	return false
}

// FuzzDecodeQueueMessage decodes arbitrary bytes as a queue message: it
// must never panic, and whatever decodes re-encodes to bytes that decode
// again, with a stable encoding (the property of FuzzDecodeLockMessage).
func FuzzDecodeQueueMessage(f *testing.F) {
	for _, m := range sampleQueueMessages(f) {
		b := encodeMsg(m)
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add(rawReply(nodes.ServiceOK, nil))
	f.Add(rawReply(nodes.ServiceNotLeader, queue.EncodeResult(queue.Result{Status: queue.StatusOK})))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := nodes.DecodeMessage(b)
		if err != nil {
			return
		}
		if !isQueueMessageType(m.Type()) {
			return // another package's message
		}
		var e wire.Encoder
		nodes.EncodeMessage(&e, m)
		again, err := nodes.DecodeMessage(e.Bytes())
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", nodes.TypeName(m.Type()), err)
		}
		var e2 wire.Encoder
		nodes.EncodeMessage(&e2, again)
		if string(e.Bytes()) != string(e2.Bytes()) {
			t.Fatalf("%s: encoding not stable", nodes.TypeName(m.Type()))
		}
	})
}
