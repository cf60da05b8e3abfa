package queue

import (
	"bytes"
	"cmp"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// genCommand draws a command over a small space of queues, clients and
// receipts, so that acks, nacks and dedup hits are frequent.
func genCommand(t *rapid.T, prefix, maxReceipt uint64, now int64) Command {
	queues := []string{"a", "b", "a.dlq"}
	client := ClientID(rapid.SampledFrom([]string{"c1", "c2", "c3"}).Draw(t, "client"))
	seq := rapid.Uint64Range(1, 40).Draw(t, "seq")
	receipt := MakeID(prefix, rapid.Uint64Range(0, maxReceipt+1).Draw(t, "receipt"))
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

// model is the reference model of the exactly-once table (with eviction),
// the seal and one import source.
type model struct {
	maxClients int
	clients    map[ClientID]*modelClient
	sealed     bool
	next       uint32 // next chunk of the import source
	done       bool
	enqueued   map[uint64]bool // ids enqueued or imported
	acked      map[uint64]bool
	// inflight reports whether the manager has a delivery in flight under
	// a receipt: a retried Dequeue gets its payload then, else Gone.
	inflight func(receipt uint64) bool
}

type modelClient struct {
	seq, index uint64
	res        Result
}

// set records a client's last command and evicts the oldest (index, id).
func (md *model) set(c ClientID, seq, index uint64, res Result) {
	md.clients[c] = &modelClient{seq: seq, index: index, res: res}
	for len(md.clients) > md.maxClients {
		ids := slices.Sorted(maps.Keys(md.clients))
		oldest := slices.MinFunc(ids, func(a, b ClientID) int {
			return cmp.Or(cmp.Compare(md.clients[a].index, md.clients[b].index), cmp.Compare(a, b))
		})
		delete(md.clients, oldest)
	}
}

// check compares the Result r of cmd, applied at index i, with the model,
// and advances the model.
func (md *model) check(t *rapid.T, i uint64, cmd Command, r Result) {
	if imp, ok := cmd.(Import); ok {
		md.checkImport(t, i, imp, r)
		return
	}
	if s, ok := cmd.(Seal); ok {
		if !md.sealed {
			md.sealed = true
			require.Equal(t, Result{Status: StatusOK, ID: s.Epoch}, r)
		}
		return
	}
	c, s, ok := clientSeq(cmd)
	if !ok {
		return
	}
	mc := md.clients[c]
	switch {
	case mc != nil && s == mc.seq:
		want := mc.res
		if want.Status == StatusOK && want.Receipt != 0 && !md.inflight(want.Receipt) {
			want.Payload, want.Gone = nil, true
		}
		require.Equal(t, want, r, "a retry gets the cached result, a delivery's payload only while in flight")
		return
	case mc != nil && s < mc.seq:
		require.ErrorIs(t, r.Err, ErrStaleSequence)
		return
	case md.sealed:
		require.ErrorIs(t, r.Err, ErrMoved)
		return
	}
	md.set(c, s, i, r)
	if r.Status != StatusOK {
		return
	}
	switch cmd.(type) {
	case Enqueue:
		if !r.Duplicate {
			require.False(t, md.enqueued[r.ID])
			md.enqueued[r.ID] = true
		}
	case Dequeue:
		require.False(t, md.acked[r.ID], "acked message %d delivered again", r.ID)
		require.True(t, md.enqueued[r.ID])
	case Ack:
		md.acked[r.ID] = true
	}
}

func (md *model) checkImport(t *rapid.T, i uint64, imp Import, r Result) {
	defer func() { require.EqualValues(t, md.next, r.ID, "an Import's result names the next chunk") }()
	switch {
	case md.sealed:
		require.ErrorIs(t, r.Err, ErrMoved)
	case imp.Chunk < md.next:
		require.True(t, r.Duplicate)
	case imp.Chunk > md.next:
		require.ErrorIs(t, r.Err, ErrImportGap)
	case md.done:
		require.ErrorIs(t, r.Err, ErrInvalidImport)
	default:
		md.next, md.done = imp.Chunk+1, imp.Last
		require.Equal(t, Result{Status: StatusOK, ID: uint64(md.next)}, r)
		for _, ic := range imp.Clients {
			if cur := md.clients[ic.Client]; cur == nil || cur.seq < ic.LastSeq {
				md.set(ic.Client, ic.LastSeq, i, ic.Result)
			}
		}
		for _, msg := range imp.Messages {
			require.False(t, md.enqueued[msg.ID])
			md.enqueued[msg.ID] = true
		}
	}
}

// genSealed builds and seals an older placement's partition (prefix 1)
// and returns its chunks.
func genSealed(t *rapid.T, cfg Config) []Import {
	cfg.IDPrefix = 1
	old := New(cfg)
	n := rapid.IntRange(0, 40).Draw(t, "old")
	now := int64(0)
	for i := 1; i <= n; i++ {
		now += rapid.Int64Range(0, int64(time.Second)).Draw(t, "dt")
		old.Apply(uint64(i), genCommand(t, 1, uint64(i), now))
	}
	old.Apply(uint64(n+1), Seal{Epoch: 2})
	return exportChunks(t, old, rapid.IntRange(1, 200).Draw(t, "chunkbytes"), "1/q")
}

// exportChunks exports every chunk of a sealed manager under source.
func exportChunks(t require.TestingT, m *Manager, maxBytes int, source string) []Import {
	var out []Import
	for k, more := 0, true; more; k++ {
		var imp Import
		var err error
		imp, more, err = m.Export(k, maxBytes)
		require.NoError(t, err)
		imp.Source = source
		out = append(out, imp)
	}
	return out
}

func TestPropertyDeterminismInvariantsModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{MaxDeliveries: uint32(rapid.IntRange(1, 4).Draw(t, "maxdel")), DedupWindow: 3 * time.Second,
			MaxClients: rapid.IntRange(1, 4).Draw(t, "maxclients")}
		chunks := genSealed(t, cfg)
		cfg.IDPrefix = 2
		m1, m2 := New(cfg), New(cfg)
		md := &model{maxClients: cfg.MaxClients, clients: map[ClientID]*modelClient{}, enqueued: map[uint64]bool{}, acked: map[uint64]bool{}}
		md.inflight = func(r uint64) bool { return m1.receipts[r] != nil }
		now := int64(0)
		n := rapid.IntRange(1, 120).Draw(t, "n")
		sealAt := rapid.IntRange(1, 2*n).Draw(t, "sealat") // sealed half the time
		for i := 1; i <= n; i++ {
			now += rapid.Int64Range(0, int64(time.Second)).Draw(t, "dt")
			var cmd Command
			switch what := rapid.IntRange(0, 9).Draw(t, "what"); {
			case i >= sealAt && what == 0:
				cmd = Seal{Epoch: 3}
			case what <= 1:
				// Mostly the chunk expected next, else any chunk (a
				// duplicate), or one beyond (a gap).
				k := min(int(md.next), len(chunks)-1)
				imp := chunks[k]
				switch rapid.IntRange(0, 3).Draw(t, "chunkkind") {
				case 0:
					imp = chunks[rapid.IntRange(0, len(chunks)-1).Draw(t, "chunk")]
				case 1:
					imp.Chunk = uint32(len(chunks) + 1)
				}
				cmd = imp
			default:
				cmd = genCommand(t, 2, uint64(i), now)
			}
			// Round-trip through the wire encoding, as the log does.
			dec, err := DecodeCommand(cmd.Encode())
			require.NoError(t, err)
			r1 := m1.Apply(uint64(i), cmd)
			r2 := m2.Apply(uint64(i), dec)
			require.Equal(t, r1, r2)
			require.NoError(t, m1.CheckInvariants())
			md.check(t, uint64(i), cmd, r1)
			require.Equal(t, len(md.clients), m1.Clients())
			if i%17 == 0 {
				require.True(t, bytes.Equal(m1.Snapshot(), m2.Snapshot()))
				m3 := New(cfg)
				require.NoError(t, m3.Restore(m1.Snapshot()))
				m2 = m3
			}
		}
		require.True(t, bytes.Equal(m1.Snapshot(), m2.Snapshot()))
		idx := uint64(n)
		if md.sealed {
			// The queue moves on: every message it holds reaches the next
			// placement, and the replicas export the same chunks.
			maxBytes := rapid.IntRange(1, 300).Draw(t, "movebytes")
			out := exportChunks(t, m1, maxBytes, "2/q")
			require.Equal(t, out, exportChunks(t, m2, maxBytes, "2/q"))
			cfg.IDPrefix = 3
			m1, idx = New(cfg), 0
			for _, imp := range out {
				idx++
				require.Equal(t, StatusOK, m1.Apply(idx, imp).Status)
				require.NoError(t, m1.CheckInvariants())
			}
		}
		// Consumers keep dequeuing and acking: every enqueued message not
		// yet acked is delivered (from its queue or its DLQ) once, in id
		// order, and acked.
		now += int64(time.Hour)
		idx++
		m1.Apply(idx, Tick{Now: now})
		for _, q := range m1.Queues() {
			var prev uint64
			for m1.Depth(q) > 0 {
				idx++
				r := m1.Apply(idx, Dequeue{Client: "drain", Seq: idx, Queue: q, Visibility: time.Second, Now: now})
				require.Equal(t, StatusOK, r.Status)
				require.False(t, md.acked[r.ID])
				require.Greater(t, r.ID, prev, "ready messages are served in id order, imported ones first")
				prev = r.ID
				idx++
				require.Equal(t, StatusOK, m1.Apply(idx, Ack{Client: "drain", Seq: idx, Receipt: r.Receipt}).Status)
				md.acked[r.ID] = true
				require.NoError(t, m1.CheckInvariants())
			}
		}
		require.Empty(t, m1.Queues())
		for id := range md.enqueued { //det:ordered a test's membership check
			require.True(t, md.acked[id], "message %d never delivered", id)
		}
		require.Len(t, md.acked, len(md.enqueued))
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
