package queue

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var sampleCommands = []Command{
	Enqueue{Client: "c", Seq: 1, Queue: "q", Payload: []byte("hello"), DedupID: "d", Now: 12345},
	Enqueue{Client: "c", Seq: 2, Queue: "q", Now: -5},
	Dequeue{Client: "c", Seq: 3, Queue: "q", Visibility: 30 * time.Second, Now: 1 << 60},
	Ack{Client: "c", Seq: 4, Receipt: 99},
	Nack{Client: "c", Seq: 5, Receipt: 100},
	Tick{Now: 7},
	Seal{Epoch: 3},
	Seal{},
	Import{Source: "1/q"},
	Import{Source: "1/q", Chunk: 2, Last: true,
		Messages: []ImportedMessage{{Queue: "q", ID: MakeID(1, 4), Payload: []byte("x"), Deliveries: 2}, {Queue: "q.dlq", ID: MakeID(1, 9)}},
		Clients: []ImportedClient{
			{Client: "c", LastSeq: 9, Result: Result{Status: StatusOK, ID: 5, Receipt: 6, Deliveries: 1, Payload: []byte("p")}},
			{Client: "d", LastSeq: 1, Result: Result{Status: StatusRejected, Err: &Error{sentinel: ErrUnknownReceipt, msg: "queue: Ack.Receipt = 1: unknown"}}},
			{Client: "e", LastSeq: 3, Result: Result{Status: StatusOK, ID: MakeID(1, 4), Receipt: MakeID(1, 5), Deliveries: 2, Gone: true}},
			{Client: "f", LastSeq: 2, Result: Result{Status: StatusRejected, Err: &Error{sentinel: ErrQueueFull, msg: "queue: Enqueue.Payload = 3 bytes: queue full"}}},
		},
		Dedup:   []ImportedDedup{{Queue: "q", DedupID: "d", ID: MakeID(1, 4), At: -3}},
		Sources: []ImportedSource{{Source: "0/q", Next: 4, Done: true}},
	},
}

func TestCodecRoundTrip(t *testing.T) {
	for _, c := range sampleCommands {
		b := c.Encode()
		d, err := DecodeCommand(b)
		require.NoError(t, err)
		require.Equal(t, c, d)
		for i := range b {
			_, err := DecodeCommand(b[:i])
			require.ErrorIs(t, err, ErrMalformed)
		}
		_, err = DecodeCommand(append(b, 0))
		require.ErrorIs(t, err, ErrMalformed)
	}
	_, err := DecodeCommand([]byte{99})
	require.ErrorIs(t, err, ErrMalformed)
}

func TestCodecImportBounds(t *testing.T) {
	imp := sampleCommands[len(sampleCommands)-1].(Import)
	require.Equal(t, imp.size(), len(imp.Encode()), "size is exact")
	// A chunk number or delivery count beyond 32 bits is malformed.
	e := newEncoder(16)
	e.Byte(uint8(kindImport))
	e.String("s")
	e.Uint(1 << 32)
	e.Bool(false)
	for range 4 {
		e.Uint(0)
	}
	_, err := DecodeCommand(e.Bytes())
	require.ErrorIs(t, err, ErrMalformed)
	// An Import longer than MaxImportBytes is malformed.
	big := Import{Source: "s", Messages: []ImportedMessage{
		{Queue: "q", ID: 1, Payload: make([]byte, MaxWirePayload)},
		{Queue: "q", ID: 2, Payload: make([]byte, 64<<10)},
	}}
	_, err = DecodeCommand(big.Encode())
	require.ErrorContains(t, err, "exceeds")
	big.Messages = big.Messages[:1]
	_, err = DecodeCommand(big.Encode())
	require.NoError(t, err)
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands {
		f.Add(c.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Encode(), b) {
			t.Fatalf("non-canonical: %x re-encodes to %x", b, c.Encode())
		}
		// A group of prefix 0 refuses every imported id; one of the
		// largest prefix accepts them.
		for _, prefix := range []uint64{0, MaxIDPrefix} {
			m := New(Config{IDPrefix: prefix})
			m.Apply(1, c)
			if err := m.CheckInvariants(); err != nil {
				t.Fatal(err)
			}
			m2 := New(Config{IDPrefix: prefix})
			if err := m2.Restore(m.Snapshot()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
