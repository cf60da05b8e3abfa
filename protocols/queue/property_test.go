package queue

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// genCommand draws a command over a small space of queues, clients and
// receipts, so that acks, nacks and dedup hits are frequent.
func genCommand(t *rapid.T, maxReceipt uint64, now int64) Command {
	queues := []string{"a", "b", "a.dlq"}
	client := ClientID(rapid.SampledFrom([]string{"c1", "c2"}).Draw(t, "client"))
	seq := rapid.Uint64Range(1, 40).Draw(t, "seq")
	receipt := rapid.Uint64Range(0, maxReceipt+1).Draw(t, "receipt")
	switch rapid.IntRange(0, 5).Draw(t, "kind") {
	case 0, 1:
		return Enqueue{Client: client, Seq: seq, Queue: rapid.SampledFrom(queues[:2]).Draw(t, "q"),
			Payload: []byte(rapid.StringN(0, 4, -1).Draw(t, "payload")),
			DedupID: rapid.SampledFrom([]string{"", "", "d1", "d2"}).Draw(t, "dedup"), Now: now}
	case 2:
		return Dequeue{Client: client, Seq: seq, Queue: rapid.SampledFrom(queues).Draw(t, "q"),
			Visibility: time.Duration(rapid.Int64Range(1, 5).Draw(t, "vis")) * time.Second, Now: now}
	case 3:
		return Ack{Client: client, Seq: seq, Receipt: receipt}
	case 4:
		return Nack{Client: client, Seq: seq, Receipt: receipt}
	}
	return Tick{Now: now}
}

func TestPropertyDeterminismInvariantsModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{MaxDeliveries: uint32(rapid.IntRange(1, 4).Draw(t, "maxdel")), DedupWindow: 3 * time.Second}
		m1, m2 := New(cfg), New(cfg)
		acked := map[uint64]bool{}
		lastSeq := map[ClientID]uint64{}
		enqueued := map[uint64]bool{}
		now := int64(0)
		n := rapid.IntRange(1, 120).Draw(t, "n")
		for i := 1; i <= n; i++ {
			now += rapid.Int64Range(0, int64(time.Second)).Draw(t, "dt")
			cmd := genCommand(t, uint64(i), now)
			// Round-trip through the wire encoding, as the log does.
			dec, err := DecodeCommand(cmd.Encode())
			require.NoError(t, err)
			r1 := m1.Apply(uint64(i), cmd)
			r2 := m2.Apply(uint64(i), dec)
			require.Equal(t, r1, r2)
			require.NoError(t, m1.CheckInvariants())
			// A client command with a seq not above the client's last is a
			// retry (cached Result) or stale: it applies nothing.
			fresh := true
			if c, s, ok := clientSeq(cmd); ok {
				fresh = s > lastSeq[c]
				if fresh && r1.Status != StatusRejected {
					lastSeq[c] = s
				}
			}
			if !fresh {
				continue
			}
			if _, ok := cmd.(Enqueue); ok && r1.Status == StatusOK {
				enqueued[r1.ID] = true
			}
			if _, ok := cmd.(Dequeue); ok && r1.Status == StatusOK && r1.Receipt == uint64(i) {
				require.False(t, acked[r1.ID], "acked message %d delivered again", r1.ID)
				require.True(t, enqueued[r1.ID])
			}
			if _, ok := cmd.(Ack); ok && r1.Status == StatusOK {
				acked[r1.ID] = true
			}
			if i%17 == 0 {
				require.True(t, bytes.Equal(m1.Snapshot(), m2.Snapshot()))
				m3 := New(cfg)
				require.NoError(t, m3.Restore(m1.Snapshot()))
				m2 = m3
			}
		}
		require.True(t, bytes.Equal(m1.Snapshot(), m2.Snapshot()))
		// Consumers keep dequeuing and acking: every enqueued message not
		// yet acked is delivered (from its queue or its DLQ) and acked.
		idx := uint64(n)
		now += int64(time.Hour)
		idx++
		m1.Apply(idx, Tick{Now: now})
		for _, q := range m1.Queues() {
			for m1.Depth(q) > 0 {
				idx++
				r := m1.Apply(idx, Dequeue{Client: "drain", Seq: idx, Queue: q, Visibility: time.Second, Now: now})
				require.Equal(t, StatusOK, r.Status)
				require.False(t, acked[r.ID])
				idx++
				require.Equal(t, StatusOK, m1.Apply(idx, Ack{Client: "drain", Seq: idx, Receipt: r.Receipt}).Status)
				acked[r.ID] = true
				require.NoError(t, m1.CheckInvariants())
			}
		}
		require.Empty(t, m1.Queues())
		for id := range enqueued {
			require.True(t, acked[id], "message %d never delivered", id)
		}
		s := m1.Stats()
		require.Equal(t, s.Acked, uint64(len(enqueued)))
	})
}

// clientSeq returns the client and seq of a client command.
func clientSeq(c Command) (ClientID, uint64, bool) {
	switch c := c.(type) {
	case Enqueue:
		return c.Client, c.Seq, true
	case Dequeue:
		return c.Client, c.Seq, true
	case Ack:
		return c.Client, c.Seq, true
	case Nack:
		return c.Client, c.Seq, true
	}
	return "", 0, false
}
