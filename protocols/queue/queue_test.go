package queue

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// harness applies commands at increasing indexes and checks invariants.
type harness struct {
	t   *testing.T
	m   *Manager
	idx uint64
	seq uint64
}

// testPrefix is the harness's default Config.IDPrefix, so that no test
// assumes an id equals its log index.
const testPrefix = 7

func newHarness(t *testing.T, cfg Config) *harness {
	if cfg.IDPrefix == 0 {
		cfg.IDPrefix = testPrefix
	}
	return &harness{t: t, m: New(cfg)}
}

func (h *harness) apply(c Command) Result {
	h.idx++
	r := h.m.Apply(h.idx, c)
	require.NoError(h.t, h.m.CheckInvariants())
	return r
}

func (h *harness) next() uint64 { h.seq++; return h.seq }

func (h *harness) enq(q, payload string, now int64) Result {
	return h.apply(Enqueue{Client: "p", Seq: h.next(), Queue: q, Payload: []byte(payload), Now: now})
}

func (h *harness) deq(q string, vis time.Duration, now int64) Result {
	return h.apply(Dequeue{Client: "c", Seq: h.next(), Queue: q, Visibility: vis, Now: now})
}

func (h *harness) ack(r uint64) Result  { return h.apply(Ack{Client: "c", Seq: h.next(), Receipt: r}) }
func (h *harness) nack(r uint64) Result { return h.apply(Nack{Client: "c", Seq: h.next(), Receipt: r}) }

func TestFIFO(t *testing.T) {
	h := newHarness(t, Config{})
	for _, p := range []string{"a", "b", "c"} {
		require.Equal(t, StatusOK, h.enq("q", p, 0).Status)
	}
	require.Equal(t, 3, h.m.Depth("q"))
	for _, p := range []string{"a", "b", "c"} {
		r := h.deq("q", time.Second, 0)
		require.Equal(t, StatusOK, r.Status)
		require.Equal(t, p, string(r.Payload))
		require.EqualValues(t, 1, r.Deliveries)
	}
	require.Equal(t, StatusEmpty, h.deq("q", time.Second, 0).Status)
	require.Equal(t, StatusEmpty, h.deq("other", time.Second, 0).Status)
	require.Equal(t, 3, h.m.InFlight("q"))
	require.Equal(t, []string{"q"}, h.m.Queues())
}

func TestVisibilityTimeoutRedelivery(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.enq("q", "a", 0).ID
	h.enq("q", "b", 0)
	r1 := h.deq("q", 10*time.Second, 0)
	require.Equal(t, a, r1.ID)
	h.apply(Tick{Now: int64(9 * time.Second)})
	require.Equal(t, 1, h.m.InFlight("q"))
	h.apply(Tick{Now: int64(10 * time.Second)})
	require.Equal(t, 0, h.m.InFlight("q"))
	r2 := h.deq("q", 10*time.Second, int64(10*time.Second))
	require.Equal(t, a, r2.ID, "redelivery goes back in original id order, before b")
	require.EqualValues(t, 2, r2.Deliveries)
	require.NotEqual(t, r1.Receipt, r2.Receipt)
	require.EqualValues(t, 1, h.m.Stats().Redelivered)
	require.EqualValues(t, 1, h.m.Stats().Expired)
}

func TestAckDeletesAndStaleReceiptRejected(t *testing.T) {
	h := newHarness(t, Config{})
	h.enq("q", "a", 0)
	r1 := h.deq("q", time.Second, 0)
	h.apply(Tick{Now: int64(time.Second)})
	r2 := h.deq("q", time.Second, int64(time.Second))
	before := h.m.Stats()
	res := h.ack(r1.Receipt)
	require.Equal(t, StatusRejected, res.Status)
	require.ErrorIs(t, res.Err, ErrUnknownReceipt)
	require.Contains(t, res.Err.Error(), "Ack.Receipt")
	require.Equal(t, before, h.m.Stats(), "a rejected ack changes nothing")
	require.Equal(t, 1, h.m.InFlight("q"))
	require.Equal(t, StatusOK, h.ack(r2.Receipt).Status)
	require.Empty(t, h.m.Queues())
	require.Equal(t, StatusEmpty, h.deq("q", time.Second, 0).Status)
	require.ErrorIs(t, h.ack(r2.Receipt).Err, ErrUnknownReceipt)
	require.ErrorIs(t, h.ack(12345).Err, ErrUnknownReceipt)
	require.EqualValues(t, 1, h.m.Stats().Acked)
}

func TestNack(t *testing.T) {
	h := newHarness(t, Config{})
	a := h.enq("q", "a", 0).ID
	b := h.enq("q", "b", 0).ID
	r := h.deq("q", time.Hour, 0)
	require.Equal(t, b, h.deq("q", time.Hour, 0).ID)
	require.Equal(t, StatusOK, h.nack(r.Receipt).Status)
	r2 := h.deq("q", time.Hour, 0)
	require.Equal(t, a, r2.ID)
	require.EqualValues(t, 2, r2.Deliveries)
	require.ErrorIs(t, h.nack(r.Receipt).Err, ErrUnknownReceipt)
}

func TestDeadLetterAfterMaxDeliveries(t *testing.T) {
	h := newHarness(t, Config{MaxDeliveries: 3})
	id := h.enq("q", "poison", 0).ID
	now := int64(0)
	for i := 1; i <= 3; i++ {
		r := h.deq("q", time.Second, now)
		require.EqualValues(t, i, r.Deliveries)
		now += int64(time.Second)
		h.apply(Tick{Now: now})
	}
	require.Equal(t, 0, h.m.Depth("q"))
	require.Equal(t, 1, h.m.Depth("q.dlq"))
	require.Equal(t, []string{"q.dlq"}, h.m.Queues())
	require.EqualValues(t, 1, h.m.Stats().DeadLettered)
	r := h.deq("q.dlq", time.Second, now)
	require.Equal(t, id, r.ID)
	require.Equal(t, "poison", string(r.Payload))
	require.Equal(t, StatusOK, h.ack(r.Receipt).Status)
	require.Empty(t, h.m.Queues())
}

func TestDedup(t *testing.T) {
	h := newHarness(t, Config{DedupWindow: time.Minute})
	e := func(seq uint64, now int64) Result {
		return h.apply(Enqueue{Client: "p", Seq: seq, Queue: "q", Payload: []byte("x"), DedupID: "d1", Now: now})
	}
	first := e(1, 0)
	dup := e(2, int64(59*time.Second))
	require.True(t, dup.Duplicate)
	require.Equal(t, first.ID, dup.ID)
	require.Equal(t, 1, h.m.Depth("q"))
	other := h.apply(Enqueue{Client: "p", Seq: 3, Queue: "r", Payload: []byte("x"), DedupID: "d1"})
	require.False(t, other.Duplicate, "dedup is per queue")
	h.apply(Tick{Now: int64(time.Minute)})
	later := e(4, int64(time.Minute))
	require.False(t, later.Duplicate)
	require.NotEqual(t, first.ID, later.ID)
	require.EqualValues(t, 1, h.m.Stats().DedupHits)
	require.EqualValues(t, 3, h.m.Stats().Enqueued)
}

func TestExactlyOnceRetries(t *testing.T) {
	h := newHarness(t, Config{})
	enq := Enqueue{Client: "p", Seq: 7, Queue: "q", Payload: []byte("a")}
	r1 := h.apply(enq)
	r2 := h.apply(enq)
	require.Equal(t, r1, r2)
	require.Equal(t, 1, h.m.Depth("q"))
	d := Dequeue{Client: "c", Seq: 1, Queue: "q", Visibility: time.Second}
	d1, d2 := h.apply(d), h.apply(d)
	require.Equal(t, d1, d2)
	require.Equal(t, 1, h.m.InFlight("q"))
	a := Ack{Client: "c", Seq: 2, Receipt: d1.Receipt}
	require.Equal(t, StatusOK, h.apply(a).Status)
	require.Equal(t, StatusOK, h.apply(a).Status, "a retried ack returns the cached result")
	stale := h.apply(Enqueue{Client: "p", Seq: 6, Queue: "q"})
	require.ErrorIs(t, stale.Err, ErrStaleSequence)
	require.Empty(t, h.m.Queues())
}

func TestBadInput(t *testing.T) {
	long := strings.Repeat("x", 256)
	cases := []struct {
		name  string
		cmd   Command
		err   error
		field string
	}{
		{"empty client", Enqueue{Seq: 1, Queue: "q"}, ErrInvalidClient, "Enqueue.Client"},
		{"zero seq", Ack{Client: "c", Receipt: 1}, ErrInvalidSeq, "Ack.Seq = 0"},
		{"empty queue", Enqueue{Client: "c", Seq: 1}, ErrInvalidQueue, "Enqueue.Queue"},
		{"long queue", Enqueue{Client: "c", Seq: 1, Queue: long}, ErrInvalidQueue, "256 bytes"},
		{"long dequeue queue", Dequeue{Client: "c", Seq: 1, Queue: long, Visibility: time.Second}, ErrInvalidQueue, "Dequeue.Queue"},
		{"payload", Enqueue{Client: "c", Seq: 1, Queue: "q", Payload: make([]byte, 1<<20+1)}, ErrPayloadTooLarge, "Enqueue.Payload = 1048577 bytes"},
		{"long dedup", Enqueue{Client: "c", Seq: 1, Queue: "q", DedupID: long}, ErrInvalidDedupID, "Enqueue.DedupID"},
		{"zero visibility", Dequeue{Client: "c", Seq: 1, Queue: "q"}, ErrInvalidVisibility, "Dequeue.Visibility = 0s"},
		{"negative visibility", Dequeue{Client: "c", Seq: 1, Queue: "q", Visibility: -time.Second}, ErrInvalidVisibility, "= -1s"},
		{"long visibility", Dequeue{Client: "c", Seq: 1, Queue: "q", Visibility: 12*time.Hour + 1}, ErrInvalidVisibility, "12h0m0.000000001s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.apply(Enqueue{Client: "p", Seq: 1, Queue: "q", Payload: []byte("a")})
			before := h.m.Stats()
			r := h.apply(tc.cmd)
			require.Equal(t, StatusRejected, r.Status)
			require.ErrorIs(t, r.Err, tc.err)
			require.Contains(t, r.Err.Error(), tc.field)
			require.Equal(t, before, h.m.Stats())
			require.Equal(t, 1, h.m.Depth("q"))
		})
	}
}

func TestSnapshotRoundTripAndCorruption(t *testing.T) {
	h := newHarness(t, Config{})
	h.enq("q", "a", 0)
	h.apply(Enqueue{Client: "p", Seq: h.next(), Queue: "q", Payload: []byte("b"), DedupID: "x"})
	r := h.deq("q", time.Second, 0)
	h.enq("z", "", 0)
	snap := h.m.Snapshot()
	require.ErrorIs(t, New(Config{}).Restore(snap), ErrMalformed, "ids of prefix 7 are not valid in a group of prefix 0")
	m2 := New(h.m.Config())
	require.NoError(t, m2.Restore(snap))
	require.Equal(t, snap, m2.Snapshot())
	require.NoError(t, m2.CheckInvariants())
	require.Equal(t, h.m.Stats(), m2.Stats())
	require.Equal(t, StatusOK, m2.Apply(h.idx+1, Ack{Client: "c", Seq: h.seq + 1, Receipt: r.Receipt}).Status)
	for i := range snap {
		bad := append([]byte(nil), snap...)
		bad[i] ^= 0x40
		require.ErrorIs(t, New(h.m.Config()).Restore(bad), ErrMalformed)
	}
	require.ErrorIs(t, m2.Restore(snap[:len(snap)-1]), ErrMalformed)
	require.ErrorIs(t, m2.Restore(nil), ErrMalformed)
}
