package queue

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIDPrefix(t *testing.T) {
	for _, prefix := range []uint64{0, 1, 7, MaxIDPrefix} {
		t.Run(fmt.Sprint(prefix), func(t *testing.T) {
			m := New(Config{IDPrefix: prefix})
			r := m.Apply(5, Enqueue{Client: "p", Seq: 1, Queue: "q", Payload: []byte("a")})
			require.Equal(t, prefix<<40|5, r.ID)
			require.Equal(t, MakeID(prefix, 5), r.ID)
			d := m.Apply(MaxLogIndex, Dequeue{Client: "c", Seq: 1, Queue: "q", Visibility: time.Second})
			require.Equal(t, r.ID, d.ID)
			require.Equal(t, prefix<<40|MaxLogIndex, d.Receipt)
			require.NoError(t, m.CheckInvariants())
			require.Panics(t, func() { m.Apply(MaxLogIndex+1, Tick{}) })
		})
	}
	require.Panics(t, func() { New(Config{IDPrefix: MaxIDPrefix + 1}) })
	require.Panics(t, func() { New(Config{MaxClients: -1}) })
	require.Panics(t, func() { MakeID(MaxIDPrefix+1, 1) })
	require.Panics(t, func() { MakeID(1, MaxLogIndex+1) })

	// Two groups applying the same commands at the same indexes make
	// different ids, and a receipt of one is refused by the other.
	a, b := newHarness(t, Config{IDPrefix: 1}), newHarness(t, Config{IDPrefix: 2})
	for _, h := range []*harness{a, b} {
		h.enq("q", "x", 0)
	}
	ra, rb := a.deq("q", time.Hour, 0), b.deq("q", time.Hour, 0)
	require.Less(t, ra.ID, rb.ID, "an older placement's ids sort first")
	require.ErrorIs(t, b.ack(ra.Receipt).Err, ErrUnknownReceipt)
	require.Equal(t, StatusOK, b.ack(rb.Receipt).Status)
}

// sealedFixture is a sealed partition (prefix 1, MaxDeliveries 2) holding
// a dead-lettered message, an in-flight one, ready ones, an acked one, a
// dedup entry and two clients.
type sealedFixture struct {
	h               *harness
	ids             []uint64 // ids of m1..m8
	dlq, inflight   uint64   // m1 (dead-lettered), m3 (in flight)
	lastP           Enqueue  // the producer's last command
	lastPRes        Result
	inflightReceipt uint64
}

func newSealedFixture(t *testing.T) *sealedFixture {
	f := &sealedFixture{h: newHarness(t, Config{IDPrefix: 1, MaxDeliveries: 2, DedupWindow: time.Minute})}
	h := f.h
	for i := 1; i <= 8; i++ {
		e := Enqueue{Client: "p", Seq: h.next(), Queue: "q", Payload: []byte(strings.Repeat(fmt.Sprint(i), 10*i))}
		if i == 8 {
			e.DedupID = "d"
		}
		f.lastP = e
		f.lastPRes = h.apply(e)
		f.ids = append(f.ids, f.lastPRes.ID)
	}
	sec := int64(time.Second)
	require.Equal(t, f.ids[0], h.deq("q", time.Second, 0).ID)
	r1 := h.deq("q", time.Hour, 0)
	require.Equal(t, f.ids[1], r1.ID)
	require.Equal(t, StatusOK, h.ack(r1.Receipt).Status)
	h.apply(Tick{Now: sec})
	r := h.deq("q", time.Second, sec)
	require.Equal(t, f.ids[0], r.ID)
	h.apply(Tick{Now: 2 * sec})
	require.Equal(t, 1, h.m.Depth("q.dlq"))
	r2 := h.apply(Dequeue{Client: "c", Seq: h.next(), Queue: "q", Visibility: time.Hour, Now: 2 * sec})
	require.Equal(t, f.ids[2], r2.ID)
	f.inflightReceipt = r2.Receipt
	f.dlq, f.inflight = f.ids[0], f.ids[2]
	h.apply(Seal{Epoch: 2})
	return f
}

func TestSeal(t *testing.T) {
	f := newSealedFixture(t)
	h := f.h
	epoch, ok := h.m.Sealed()
	require.True(t, ok)
	require.EqualValues(t, 2, epoch)
	_, ok = New(Config{}).Sealed()
	require.False(t, ok)
	later := int64(10 * time.Hour)
	cases := []struct {
		name string
		cmd  Command
		want Result // Status and ID compared; Err by errorIs and text
		err  error
		text string
	}{
		{"enqueue", Enqueue{Client: "p", Seq: 100, Queue: "q", Payload: []byte("x"), Now: later}, Result{Status: StatusRejected}, ErrMoved, "Enqueue: queue moved at epoch 2"},
		{"new client", Enqueue{Client: "new", Seq: 1, Queue: "q"}, Result{Status: StatusRejected}, ErrMoved, "at epoch 2"},
		{"dequeue", Dequeue{Client: "c", Seq: 100, Queue: "q", Visibility: time.Second, Now: later}, Result{Status: StatusRejected}, ErrMoved, "Dequeue: queue moved"},
		{"ack", Ack{Client: "c", Seq: 100, Receipt: f.inflightReceipt}, Result{Status: StatusRejected}, ErrMoved, "Ack: queue moved"},
		{"nack", Nack{Client: "c", Seq: 100, Receipt: f.inflightReceipt}, Result{Status: StatusRejected}, ErrMoved, "Nack: queue moved"},
		{"retry of the last command", f.lastP, f.lastPRes, nil, ""},
		{"stale", Enqueue{Client: "p", Seq: 1, Queue: "q"}, Result{Status: StatusRejected}, ErrStaleSequence, "Enqueue.Seq = 1"},
		{"invalid client", Enqueue{Seq: 1, Queue: "q"}, Result{Status: StatusRejected}, ErrInvalidClient, "Enqueue.Client"},
		{"tick", Tick{Now: later}, Result{Status: StatusOK}, nil, ""},
		{"second seal", Seal{Epoch: 3}, Result{Status: StatusOK, ID: 2}, nil, ""},
		{"import", Import{Source: "s", Last: true}, Result{Status: StatusRejected}, ErrMoved, "Import: queue moved at epoch 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _, err := h.m.Export(0, MaxWirePayload)
			require.NoError(t, err)
			stats, clients := h.m.Stats(), h.m.Clients()
			r := h.apply(tc.cmd)
			require.ErrorIs(t, r.Err, tc.err)
			if tc.err != nil {
				require.Contains(t, r.Err.Error(), tc.text)
				r.Err = nil
			}
			require.Equal(t, tc.want, r)
			after, _, err := h.m.Export(0, MaxWirePayload)
			require.NoError(t, err)
			require.Equal(t, before, after, "the sealed state is frozen")
			require.Equal(t, stats, h.m.Stats())
			require.Equal(t, clients, h.m.Clients())
			require.Equal(t, 1, h.m.InFlight("q"), "in-flight deliveries do not expire")
			epoch, _ := h.m.Sealed()
			require.EqualValues(t, 2, epoch)
		})
	}
}

// exportAll exports every chunk of a sealed manager under source, and
// checks the chunking: sizes, order and the Last flag.
func exportAll(t *testing.T, m *Manager, maxBytes int, source string) []Import {
	var out []Import
	var prevID uint64
	for k := 0; ; k++ {
		imp, more, err := m.Export(k, maxBytes)
		require.NoError(t, err)
		again, _, _ := m.Export(k, maxBytes)
		require.Equal(t, imp, again, "Export is deterministic")
		require.EqualValues(t, k, imp.Chunk)
		require.Equal(t, !more, imp.Last)
		require.Empty(t, imp.Source)
		imp.Source = source
		entries := len(imp.Messages) + len(imp.Clients) + len(imp.Dedup) + len(imp.Sources)
		header := importHeaderSize(source, imp.Chunk, len(imp.Messages), len(imp.Clients), len(imp.Dedup), len(imp.Sources))
		size := len(imp.Encode())
		require.Equal(t, imp.size(), size)
		require.LessOrEqual(t, header, len(source)+32)
		require.True(t, size-header <= maxBytes || entries == 1, "chunk %d: %d bytes of entries for %d, %d entries", k, size-header, maxBytes, entries)
		require.LessOrEqual(t, size, MaxImportBytes)
		for _, msg := range imp.Messages {
			require.Greater(t, msg.ID, prevID, "messages travel in id order")
			prevID = msg.ID
		}
		dec, err := DecodeCommand(imp.Encode())
		require.NoError(t, err)
		require.Equal(t, imp, dec)
		out = append(out, imp)
		if !more {
			_, _, err := m.Export(k+1, maxBytes)
			require.ErrorContains(t, err, fmt.Sprintf("Export chunk = %d", k+1))
			return out
		}
	}
}

func TestExportErrors(t *testing.T) {
	h := newHarness(t, Config{})
	h.enq("q", "a", 0)
	_, _, err := h.m.Export(0, 100)
	require.ErrorContains(t, err, "not sealed")
	h.apply(Seal{Epoch: 1})
	_, _, err = h.m.Export(0, 0)
	require.ErrorContains(t, err, "maxBytes = 0")
	_, _, err = h.m.Export(-1, 100)
	require.ErrorContains(t, err, "chunk = -1")
	// An empty sealed partition exports one empty, last chunk.
	e := newHarness(t, Config{})
	e.apply(Seal{})
	imp, more, err := e.m.Export(0, 1)
	require.NoError(t, err)
	require.False(t, more)
	require.Equal(t, Import{Last: true}, imp)
}

func TestExportImportRoundTrip(t *testing.T) {
	f := newSealedFixture(t)
	chunks := exportAll(t, f.h.m, 64, "1/q")
	require.Greater(t, len(chunks), 3)
	require.NotEmpty(t, chunks[0].Clients, "the client table travels first")
	var exported []uint64
	for _, c := range chunks {
		for _, msg := range c.Messages {
			exported = append(exported, msg.ID)
			if msg.ID == f.inflight {
				require.EqualValues(t, 1, msg.Deliveries)
			}
		}
	}
	require.Equal(t, append([]uint64{f.ids[0]}, f.ids[2:]...), exported, "all messages but the acked one, in id order")
	// A restored replica of the sealed group exports the same chunks.
	r := New(f.h.m.Config())
	require.NoError(t, r.Restore(f.h.m.Snapshot()))
	require.Equal(t, chunks, exportAll(t, r, 64, "1/q"))

	targets := []struct {
		name  string
		setup func(h *harness) []uint64 // returns the ids of newer messages of q
	}{
		{"fresh", func(h *harness) []uint64 { return nil }},
		{"with newer messages", func(h *harness) []uint64 {
			a := h.enq("q", "new1", 0).ID
			b := h.enq("q", "new2", 0).ID
			// The producer already sent a newer command here: it wins the merge.
			h.apply(Enqueue{Client: "p", Seq: 1000, Queue: "other", Payload: []byte("z")})
			return []uint64{a, b}
		}},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{IDPrefix: 2, MaxDeliveries: 2, DedupWindow: time.Minute})
			newer := tc.setup(h)
			enqueued := h.m.Stats().Enqueued
			for k, c := range chunks {
				if k+1 < len(chunks) {
					gap := c
					gap.Chunk++
					r := h.apply(gap)
					require.ErrorIs(t, r.Err, ErrImportGap)
					require.Contains(t, r.Err.Error(), fmt.Sprintf("Import.Chunk = %d", k+1))
					require.EqualValues(t, k, r.ID, "a gap tells the next chunk expected")
				}
				r := h.apply(c)
				require.Equal(t, Result{Status: StatusOK, ID: uint64(k + 1)}, r)
				if k > 0 {
					dup := h.apply(chunks[k-1])
					require.Equal(t, Result{Status: StatusOK, ID: uint64(k + 1), Duplicate: true}, dup)
				}
			}
			next, done := h.m.ImportNext("1/q")
			require.EqualValues(t, len(chunks), next)
			require.True(t, done)
			after := h.apply(Import{Source: "1/q", Chunk: uint32(len(chunks))})
			require.ErrorIs(t, after.Err, ErrInvalidImport)
			require.Contains(t, after.Err.Error(), "finished")
			s := h.m.Stats()
			require.EqualValues(t, 7, s.Imported)
			require.Equal(t, enqueued, s.Enqueued)

			// Old ids first, in id order, with their delivery counts kept.
			h.seq = 100 // above the imported consumer's sequence numbers
			want := append(append([]uint64{}, f.ids[2:]...), newer...)
			for i, id := range want {
				d := h.deq("q", time.Hour, 0)
				require.Equal(t, id, d.ID)
				if i == 0 {
					require.EqualValues(t, 2, d.Deliveries, "the in-flight message was delivered once before")
				}
			}
			require.Equal(t, StatusEmpty, h.deq("q", time.Hour, 0).Status)
			d := h.deq("q.dlq", time.Hour, 0)
			require.Equal(t, f.dlq, d.ID)
			require.EqualValues(t, 1, d.Deliveries)

			// The dedup window and the client table came along.
			dup := h.apply(Enqueue{Client: "p2", Seq: 1, Queue: "q", DedupID: "d", Now: int64(30 * time.Second)})
			require.True(t, dup.Duplicate)
			require.Equal(t, f.ids[7], dup.ID)
			retry := h.apply(f.lastP)
			if newer == nil {
				require.Equal(t, f.lastPRes, retry, "a retry of a command applied before the move gets its result")
			} else {
				require.ErrorIs(t, retry.Err, ErrStaleSequence, "the local, newer entry won the merge")
			}
		})
	}
}

func TestImportSkipsPresentIDs(t *testing.T) {
	h := newHarness(t, Config{IDPrefix: 3})
	msg := func(id uint64) ImportedMessage { return ImportedMessage{Queue: "q", ID: id, Payload: []byte("p")} }
	h.apply(Import{Source: "a", Last: true, Messages: []ImportedMessage{msg(MakeID(1, 5)), msg(MakeID(2, 1))}})
	r := h.apply(Import{Source: "b", Last: true, Messages: []ImportedMessage{msg(MakeID(1, 4)), msg(MakeID(1, 5))}})
	require.Equal(t, Result{Status: StatusOK, ID: 1}, r)
	s := h.m.Stats()
	require.EqualValues(t, 3, s.Imported)
	require.EqualValues(t, 1, s.ImportSkipped)
	require.Equal(t, 3, h.m.Depth("q"))
	// Once acked, an imported id is forgotten (and could come back).
	d := h.deq("q", time.Hour, 0)
	require.Equal(t, MakeID(1, 4), d.ID)
	h.ack(d.Receipt)
	require.NoError(t, h.m.CheckInvariants())
}

func TestImportValidation(t *testing.T) {
	long := strings.Repeat("x", 256)
	id := MakeID(1, 1)
	okRes := Result{Status: StatusOK}
	cases := []struct {
		name  string
		imp   Import
		field string
	}{
		{"empty source", Import{}, "Import.Source"},
		{"long source", Import{Source: strings.Repeat("s", MaxSourceBytes+1)}, "Import.Source"},
		{"bad queue", Import{Source: "s", Messages: []ImportedMessage{{Queue: long, ID: id}}}, "Import.Messages[0].Queue"},
		{"id of this prefix", Import{Source: "s", Messages: []ImportedMessage{{Queue: "q", ID: MakeID(2, 1)}}}, "Import.Messages[0].ID"},
		{"id index 0", Import{Source: "s", Messages: []ImportedMessage{{Queue: "q", ID: MakeID(1, 0)}}}, "Import.Messages[0].ID"},
		{"ids out of order", Import{Source: "s", Messages: []ImportedMessage{{Queue: "q", ID: id + 1}, {Queue: "q", ID: id}}}, "Import.Messages[1].ID"},
		{"empty client", Import{Source: "s", Clients: []ImportedClient{{LastSeq: 1, Result: okRes}}}, "Import.Clients[0].Client"},
		{"clients out of order", Import{Source: "s", Clients: []ImportedClient{{Client: "b", LastSeq: 1, Result: okRes}, {Client: "a", LastSeq: 1, Result: okRes}}}, "Import.Clients[1].Client"},
		{"zero seq", Import{Source: "s", Clients: []ImportedClient{{Client: "a", Result: okRes}}}, "Import.Clients[0].LastSeq"},
		{"bad result", Import{Source: "s", Clients: []ImportedClient{{Client: "a", LastSeq: 1}}}, "Import.Clients[0].Result"},
		{"result error without sentinel", Import{Source: "s", Clients: []ImportedClient{{Client: "a", LastSeq: 1, Result: Result{Status: StatusRejected, Err: fmt.Errorf("x")}}}}, "no sentinel"},
		{"empty dedup id", Import{Source: "s", Dedup: []ImportedDedup{{Queue: "q", ID: id}}}, "Import.Dedup[0].DedupID"},
		{"dedup id of this prefix", Import{Source: "s", Dedup: []ImportedDedup{{Queue: "q", DedupID: "d", ID: MakeID(2, 1)}}}, "Import.Dedup[0].ID"},
		{"dedup out of order", Import{Source: "s", Dedup: []ImportedDedup{{Queue: "q", DedupID: "e", ID: id}, {Queue: "q", DedupID: "d", ID: id}}}, "Import.Dedup[1].DedupID"},
		{"source next 0", Import{Source: "s", Sources: []ImportedSource{{Source: "t"}}}, "Import.Sources[0].Next"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{IDPrefix: 2})
			h.enq("q", "a", 0)
			before := h.m.Stats()
			r := h.apply(tc.imp)
			require.Equal(t, StatusRejected, r.Status)
			require.ErrorIs(t, r.Err, ErrInvalidImport)
			require.Contains(t, r.Err.Error(), tc.field)
			require.Equal(t, before, h.m.Stats())
			next, _ := h.m.ImportNext(tc.imp.Source)
			require.Zero(t, next)
		})
	}
}

func TestImportSourceBound(t *testing.T) {
	h := newHarness(t, Config{})
	name := func(i int) string { return fmt.Sprintf("s%04d", i) }
	// Unfinished sources are never forgotten; one too many is refused.
	for i := range MaxImportSources {
		require.Equal(t, StatusOK, h.m.Apply(uint64(i+1), Import{Source: name(i)}).Status)
	}
	h.idx = MaxImportSources
	r := h.apply(Import{Source: "extra"})
	require.ErrorIs(t, r.Err, ErrInvalidImport)
	require.Contains(t, r.Err.Error(), "unfinished import sources")
	// Finishing one makes room; beyond the bound the finished sources are
	// forgotten, oldest first.
	require.Equal(t, StatusOK, h.apply(Import{Source: name(5), Chunk: 1, Last: true}).Status)
	require.Equal(t, StatusOK, h.apply(Import{Source: "extra"}).Status)
	next, done := h.m.ImportNext(name(5))
	require.Zero(t, next, "the finished source was forgotten")
	require.False(t, done)
	require.Equal(t, StatusOK, h.apply(Import{Source: name(7), Chunk: 1, Last: true}).Status)
	require.Equal(t, StatusOK, h.apply(Import{Source: name(8), Chunk: 1, Last: true}).Status)
	next, done = h.m.ImportNext(name(7))
	require.EqualValues(t, 2, next)
	require.True(t, done, "within the bound, finished sources are kept")
	snap := h.m.Snapshot()
	m2 := New(h.m.Config())
	require.NoError(t, m2.Restore(snap))
	require.Equal(t, snap, m2.Snapshot())
}

// TestChainedMove: a group that was importing is sealed mid-import; its
// export carries the import progress, so the first source resumes in the
// third group where it stopped.
func TestChainedMove(t *testing.T) {
	a := newHarness(t, Config{IDPrefix: 1})
	for i := range 4 {
		a.enq("q", fmt.Sprint(i), 0)
	}
	a.apply(Seal{Epoch: 2})
	fromA := exportAll(t, a.m, 1, "1/q")
	require.Len(t, fromA, 5, "the client, then one message per chunk")

	b := newHarness(t, Config{IDPrefix: 2})
	b.apply(fromA[0])
	b.apply(fromA[1])
	d := b.deq("q", time.Hour, 0)
	b.ack(d.Receipt)
	b.apply(Seal{Epoch: 3})
	fromB := exportAll(t, b.m, 1<<20, "2/q")
	require.Len(t, fromB, 1)
	require.Equal(t, []ImportedSource{{Source: "1/q", Next: 2}}, fromB[0].Sources)

	c := newHarness(t, Config{IDPrefix: 3})
	c.apply(fromB[0])
	next, done := c.m.ImportNext("1/q")
	require.EqualValues(t, 2, next)
	require.False(t, done)
	require.True(t, c.apply(fromA[1]).Duplicate)
	for _, imp := range fromA[2:] {
		require.Equal(t, StatusOK, c.apply(imp).Status)
	}
	require.Equal(t, 3, c.m.Depth("q"), "the message acked in the middle group is not imported again")
	require.EqualValues(t, 3, c.m.Stats().Imported)
}

func TestClientEviction(t *testing.T) {
	h := newHarness(t, Config{MaxClients: 3})
	cmd := func(c ClientID, seq uint64) Result {
		return h.apply(Enqueue{Client: c, Seq: seq, Queue: "q", Payload: []byte(c)})
	}
	cmd("a", 1)
	cmd("b", 1)
	cmd("c", 1)
	cmd("a", 2) // a's last command is now the newest
	require.Equal(t, 3, h.m.Clients())
	cmd("d", 1) // evicts b, whose last command is the oldest
	require.Equal(t, 3, h.m.Clients())
	depth := h.m.Depth("q")
	require.False(t, cmd("a", 2).Duplicate)
	require.Equal(t, depth, h.m.Depth("q"), "a is remembered: its retry is answered from the cache")
	cmd("b", 1)
	require.Equal(t, depth+1, h.m.Depth("q"), "b was evicted: its retry is applied again")
	require.Equal(t, 3, h.m.Clients())

	// A restored replica evicts the same client next.
	m2 := New(h.m.Config())
	require.NoError(t, m2.Restore(h.m.Snapshot()))
	e := Enqueue{Client: "e", Seq: 1, Queue: "q"}
	h.apply(e)
	m2.Apply(h.idx, e)
	require.Equal(t, h.m.Snapshot(), m2.Snapshot())
	require.ErrorIs(t, New(Config{MaxClients: 2}).Restore(h.m.Snapshot()), ErrMalformed)

	// Imported clients count too, and are set in id order at one index.
	imp := Import{Source: "s", Last: true, Clients: []ImportedClient{
		{Client: "x", LastSeq: 1, Result: Result{Status: StatusOK}},
		{Client: "y", LastSeq: 1, Result: Result{Status: StatusOK}},
	}}
	h.apply(imp)
	require.Equal(t, 3, h.m.Clients())
	require.ErrorIs(t, h.apply(Enqueue{Client: "y", Seq: 1, Queue: "q"}).Err, nil)
	require.Equal(t, 3, h.m.Clients())
}

// TestSnapshotCanonical restores every one-byte mutation of a snapshot of
// a partition with all kinds of state (imported messages, import sources,
// evictable clients, a seal), re-sealed with a valid checksum: each is
// refused, or restores to a consistent state that snapshots to the same
// bytes.
func TestSnapshotCanonical(t *testing.T) {
	f := newSealedFixture(t)
	chunks := exportAll(t, f.h.m, 100, "1/q")
	h := newHarness(t, Config{IDPrefix: 2, MaxClients: 4})
	h.enq("q", "new", 0)
	for _, c := range chunks[:len(chunks)-1] {
		h.apply(c)
	}
	h.apply(Import{Source: "0/q", Last: true})
	h.seq = 100 // above the imported consumer's sequence numbers
	d := h.deq("q", time.Hour, 0)
	h.apply(Seal{Epoch: 5})
	require.NotZero(t, d.ID)
	snap := h.m.Snapshot()
	for i := len(snapshotMagic) + 1; i < len(snap)-4; i++ {
		for _, delta := range []byte{1, 2, 0x3f, 0x40, 0x7f, 0x80, 0xff} {
			bad := append([]byte(nil), snap[:len(snap)-4]...)
			bad[i] += delta
			bad = binary.BigEndian.AppendUint32(bad, crc32.Checksum(bad, crcTable))
			m := New(h.m.Config())
			if err := m.Restore(bad); err != nil {
				require.ErrorIs(t, err, ErrMalformed)
				continue
			}
			require.NoError(t, m.CheckInvariants(), "byte %d", i)
			require.Equal(t, bad, m.Snapshot(), "byte %d: accepted a non-canonical snapshot", i)
		}
	}
}
