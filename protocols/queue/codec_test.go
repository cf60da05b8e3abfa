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
		m := New(Config{})
		m.Apply(1, c)
		if err := m.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
	})
}
