package queue

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigLimits(t *testing.T) {
	cfg := New(Config{}).Config()
	require.EqualValues(t, DefaultMaxBytes, cfg.MaxBytes)
	require.Equal(t, DefaultMaxMessages, cfg.MaxMessages)
	require.NotPanics(t, func() { New(Config{MaxPayload: 10, MaxBytes: 10}) })
	require.NotPanics(t, func() { New(Config{MaxPayload: MaxWirePayload}) }, "the default MaxBytes holds the largest payload")
	for _, bad := range []Config{
		{MaxBytes: -1},
		{MaxMessages: -1},
		{MaxBytes: DefaultMaxPayload - 1},
		{MaxPayload: 10, MaxBytes: 9},
	} {
		require.Panics(t, func() { New(bad) }, "%+v", bad)
	}
}

// TestQueueFull: an Enqueue beyond Config.MaxBytes or MaxMessages is
// rejected with ErrQueueFull, changing nothing; dedup hits, acks and
// imports behave as the limits say.
func TestQueueFull(t *testing.T) {
	small := Config{MaxPayload: 10, MaxBytes: 25, MaxMessages: 4, DedupWindow: time.Minute}
	enq := func(h *harness, payload, dedup string) Result {
		return h.apply(Enqueue{Client: "p", Seq: h.next(), Queue: "q", Payload: []byte(payload), DedupID: dedup})
	}
	fill := func(h *harness) { // 20 bytes in 2 messages, one of them in flight
		enq(h, "0123456789", "d")
		enq(h, "abcdefghij", "")
		h.deq("q", time.Hour, 0)
	}
	cases := []struct {
		name    string
		setup   func(h *harness)
		payload string
		dedup   string
		err     string // "" if accepted
		bytes   uint64 // Stats.Bytes afterwards
	}{
		{"fits exactly", fill, "12345", "", "", 25},
		{"one byte over", fill, "123456", "", "queue: Enqueue.Payload = 6 bytes: queue full: the partition holds 20 bytes, max 25 (Config.MaxBytes)", 20},
		{"over, with a new dedup id", fill, "123456", "e", "Enqueue.Payload = 6 bytes", 20},
		{"dedup hit when full", func(h *harness) { fill(h); enq(h, "12345", "") }, "0123456789", "d", "", 25},
		{"empty payload when full of bytes", func(h *harness) { fill(h); enq(h, "12345", "") }, "", "", "", 25},
		{"too many messages", func(h *harness) {
			for range 4 {
				enq(h, "", "")
			}
		}, "", "", `queue: Enqueue.Queue = "q": queue full: the partition holds 4 messages, max 4 (Config.MaxMessages)`, 0},
		{"an ack makes room", func(h *harness) {
			fill(h)
			enq(h, "12345", "")
			h.ack(h.deq("q", time.Hour, 0).Receipt)
		}, "0123456789", "", "", 25},
		{"a dead-lettered message still counts", func(h *harness) {
			enq(h, "0123456789", "")
			enq(h, "abcdefghij", "")
			for i := range int64(DefaultMaxDeliveries) {
				h.deq("q", time.Second, i*int64(time.Second))
				h.apply(Tick{Now: (i + 1) * int64(time.Second)})
			}
			require.Equal(h.t, 1, h.m.Depth("q.dlq"))
		}, "123456", "", "holds 20 bytes", 20},
		{"an import is never refused", func(h *harness) {
			fill(h)
			r := h.apply(Import{Source: "0/q", Last: true, Messages: []ImportedMessage{
				{Queue: "q", ID: MakeID(1, 1), Payload: []byte("0123456789")},
				{Queue: "q", ID: MakeID(1, 2), Payload: []byte("0123456789")},
				{Queue: "r", ID: MakeID(1, 3)},
			}})
			require.Equal(h.t, StatusOK, r.Status)
		}, "", "", `holds 5 messages, max 4`, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, small)
			tc.setup(h)
			before, depth := h.m.Stats(), h.m.Depth("q")
			r := enq(h, tc.payload, tc.dedup)
			require.Equal(t, tc.bytes, h.m.Stats().Bytes)
			if tc.err == "" {
				require.Equal(t, StatusOK, r.Status, "%v", r.Err)
				return
			}
			require.Equal(t, StatusRejected, r.Status)
			require.ErrorIs(t, r.Err, ErrQueueFull)
			require.Contains(t, r.Err.Error(), tc.err)
			require.Equal(t, before, h.m.Stats(), "a rejected enqueue changes nothing")
			require.Equal(t, depth, h.m.Depth("q"))
			if tc.dedup != "" {
				_, ok := h.m.dedup[dedupKey{"q", tc.dedup}]
				require.False(t, ok, "a rejected enqueue leaves no dedup entry")
			}
		})
	}
}

// TestBytesGauge: Stats.Bytes follows enqueues, deliveries, dead-letter
// moves, acks, imports and restores, and CheckInvariants catches a wrong
// gauge.
func TestBytesGauge(t *testing.T) {
	h := newHarness(t, Config{MaxDeliveries: 1})
	h.enq("q", "aaaa", 0)
	h.enq("q", "bb", 0)
	require.EqualValues(t, 6, h.m.Stats().Bytes)
	d := h.deq("q", time.Second, 0)
	require.EqualValues(t, 6, h.m.Stats().Bytes, "in flight still counts")
	h.apply(Tick{Now: int64(time.Second)})
	require.Equal(t, 1, h.m.Depth("q.dlq"))
	require.EqualValues(t, 6, h.m.Stats().Bytes, "a dead-letter move keeps the bytes")
	m2 := New(h.m.Config())
	require.NoError(t, m2.Restore(h.m.Snapshot()))
	require.Equal(t, h.m.Stats(), m2.Stats())
	d = h.deq("q.dlq", time.Second, int64(time.Second))
	require.Equal(t, "aaaa", string(d.Payload))
	h.ack(d.Receipt)
	require.EqualValues(t, 2, h.m.Stats().Bytes)
	h.m.stats.Bytes++
	require.ErrorContains(t, h.m.CheckInvariants(), "bytes 3, counted 1, 0 and 2")
}

// TestRetriedDequeuePayload: the client table keeps no payload; a retried
// Dequeue gets the payload while its delivery is in flight, and Gone once
// it is over, however it ended.
func TestRetriedDequeuePayload(t *testing.T) {
	payload := "distinctive-payload-" + strings.Repeat("z", 40)
	cases := []struct {
		name string
		end  func(h *harness, d Result)
	}{
		{"acked", func(h *harness, d Result) {
			require.Equal(h.t, StatusOK, h.apply(Ack{Client: "other", Seq: 1, Receipt: d.Receipt}).Status)
		}},
		{"nacked", func(h *harness, d Result) {
			require.Equal(h.t, StatusOK, h.apply(Nack{Client: "other", Seq: 1, Receipt: d.Receipt}).Status)
		}},
		{"expired", func(h *harness, d Result) { h.apply(Tick{Now: int64(time.Minute)}) }},
		{"redelivered", func(h *harness, d Result) {
			h.apply(Tick{Now: int64(time.Minute)})
			r := h.apply(Dequeue{Client: "other", Seq: 1, Queue: "q", Visibility: time.Hour, Now: int64(time.Minute)})
			require.Equal(h.t, d.ID, r.ID)
			require.Equal(h.t, payload, string(r.Payload))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.enq("q", payload, 0)
			deq := Dequeue{Client: "c", Seq: 1, Queue: "q", Visibility: time.Minute}
			d := h.apply(deq)
			require.Equal(t, payload, string(d.Payload))
			require.Nil(t, h.m.clients["c"].result.Payload, "the table keeps no payload")

			again := h.apply(deq)
			require.Equal(t, d, again, "a retry while in flight gets the payload")
			require.False(t, again.Gone)
			m2 := New(h.m.Config())
			require.NoError(t, m2.Restore(h.m.Snapshot()))
			require.Equal(t, d, m2.Apply(h.idx+1, deq), "a restored replica too")

			tc.end(h, d)
			gone := h.apply(deq)
			want := d
			want.Payload, want.Gone = nil, true
			require.Equal(t, want, gone, "a retry after the delivery is over gets Gone, no payload")
			back, err := DecodeResult(EncodeResult(gone))
			require.NoError(t, err)
			require.Equal(t, gone, back)

			snap := h.m.Snapshot()
			if tc.name == "acked" {
				require.False(t, bytes.Contains(snap, []byte(payload)), "the snapshot holds the payload of an acked message")
			} else {
				require.Equal(t, 1, bytes.Count(snap, []byte(payload)), "only the message holds the payload")
			}
			m3 := New(h.m.Config())
			require.NoError(t, m3.Restore(snap))
			require.Equal(t, want, m3.Apply(h.idx+1, deq))
		})
	}
}

// TestRetriedDequeueAcrossMove: a sealed group still answers a retried
// Dequeue with the payload (its deliveries stay in flight); the group the
// queue moved to answers Gone, and the export carries no payload in the
// client table.
func TestRetriedDequeueAcrossMove(t *testing.T) {
	f := newSealedFixture(t)
	h := f.h
	c := h.m.clients["c"]
	require.Equal(t, f.inflightReceipt, c.result.Receipt, "the consumer's last command is the in-flight delivery")
	retry := Dequeue{Client: "c", Seq: c.lastSeq, Queue: "q", Visibility: time.Hour, Now: int64(2 * time.Second)}
	r := h.apply(retry)
	require.Equal(t, StatusOK, r.Status)
	require.Equal(t, f.inflight, r.ID)
	require.Equal(t, strings.Repeat("3", 30), string(r.Payload))

	chunks := exportAll(t, h.m, 1<<20, "1/q")
	require.Len(t, chunks, 1)
	var exported *ImportedClient
	for i := range chunks[0].Clients {
		require.Nil(t, chunks[0].Clients[i].Result.Payload)
		if chunks[0].Clients[i].Client == "c" {
			exported = &chunks[0].Clients[i]
		}
	}
	require.NotNil(t, exported)
	require.True(t, exported.Result.Gone, "the delivery is over in the new group")

	n := newHarness(t, Config{IDPrefix: 2})
	require.Equal(t, StatusOK, n.apply(chunks[0]).Status)
	want := r
	want.Payload, want.Gone = nil, true
	require.Equal(t, want, n.apply(retry))
	d := n.apply(Dequeue{Client: "c2", Seq: 1, Queue: "q", Visibility: time.Hour})
	require.Equal(t, f.inflight, d.ID, "the message was imported as ready")
	require.Equal(t, r.Payload, d.Payload)
}

func TestImportedClientResults(t *testing.T) {
	ok := func(r Result) Import {
		return Import{Source: "s", Clients: []ImportedClient{{Client: "a", LastSeq: 1, Result: r}}}
	}
	cases := []struct {
		name  string
		imp   Import
		field string // "" if accepted
	}{
		{"gone delivery", ok(Result{Status: StatusOK, ID: MakeID(1, 1), Receipt: MakeID(1, 2), Deliveries: 1, Gone: true}), ""},
		{"delivery without gone", ok(Result{Status: StatusOK, ID: MakeID(1, 1), Receipt: MakeID(1, 2), Deliveries: 1}), ""},
		{"payload", ok(Result{Status: StatusOK, ID: MakeID(1, 1), Receipt: MakeID(1, 2), Payload: []byte("x")}), "Import.Clients[0].Result.Payload = 1 bytes"},
		{"receipt of this prefix", ok(Result{Status: StatusOK, ID: MakeID(1, 1), Receipt: MakeID(2, 2)}), "Import.Clients[0].Result.Receipt"},
		{"gone without receipt", ok(Result{Status: StatusOK, ID: MakeID(1, 1), Gone: true}), "Import.Clients[0].Result"},
		{"gone on a rejection", ok(Result{Status: StatusRejected, Receipt: MakeID(1, 2), Gone: true, Err: &Error{sentinel: ErrQueueFull, msg: "full"}}), "Import.Clients[0].Result"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{IDPrefix: 2})
			r := h.apply(tc.imp)
			if tc.field == "" {
				require.Equal(t, StatusOK, r.Status, "%v", r.Err)
				retry := h.apply(Dequeue{Client: "a", Seq: 1, Queue: "q", Visibility: time.Second})
				want := tc.imp.Clients[0].Result
				want.Gone = true
				require.Equal(t, want, retry, "no delivery of this group has an older placement's receipt")
				return
			}
			require.ErrorIs(t, r.Err, ErrInvalidImport)
			require.Contains(t, r.Err.Error(), tc.field)
			require.Zero(t, h.m.Clients())
		})
	}
}

func TestResultCodecGone(t *testing.T) {
	gone := Result{Status: StatusOK, ID: 5, Receipt: 6, Deliveries: 2, Gone: true}
	b := EncodeResult(gone)
	back, err := DecodeResult(b)
	require.NoError(t, err)
	require.Equal(t, gone, back)
	full := Result{Status: StatusRejected, Err: fieldError(ErrQueueFull, "Enqueue", "Payload", "3 bytes", "")}
	back, err = DecodeResult(EncodeResult(full))
	require.NoError(t, err)
	require.ErrorIs(t, back.Err, ErrQueueFull)
	require.Equal(t, full.Err.Error(), back.Err.Error())
	for _, bad := range []Result{
		{Status: StatusOK, ID: 5, Receipt: 6, Payload: []byte("x"), Gone: true},
		{Status: StatusOK, ID: 5, Gone: true},
		{Status: StatusEmpty, Receipt: 6, Gone: true},
	} {
		_, err := DecodeResult(EncodeResult(bad))
		require.ErrorIs(t, err, ErrMalformed, "%+v", bad)
	}
	// A Gone byte other than 0 or 1 is malformed.
	b[len(b)-3] = 2
	_, err = DecodeResult(b)
	require.ErrorIs(t, err, ErrMalformed)
}

func TestExportChunks(t *testing.T) {
	h := newHarness(t, Config{})
	h.enq("q", "a", 0)
	_, err := h.m.ExportChunks(100)
	require.ErrorContains(t, err, "not sealed")
	h.apply(Seal{Epoch: 1})
	_, err = h.m.ExportChunks(0)
	require.ErrorContains(t, err, "ExportChunks maxBytes = 0")

	f := newSealedFixture(t)
	for _, maxBytes := range []int{1, 10, 64, 100, 300, 1 << 20, MaxWirePayload + 1} {
		t.Run(fmt.Sprint(maxBytes), func(t *testing.T) {
			n, err := f.h.m.ExportChunks(maxBytes)
			require.NoError(t, err)
			require.Len(t, exportAll(t, f.h.m, maxBytes, "1/q"), n)
			_, _, err = f.h.m.Export(n, maxBytes)
			require.Error(t, err, "chunk n is past the end")
		})
	}
	e := newHarness(t, Config{})
	e.apply(Seal{})
	n, err := e.m.ExportChunks(1)
	require.NoError(t, err)
	require.Equal(t, 1, n, "an empty partition has one empty chunk")
}
