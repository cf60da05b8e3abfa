package mesi

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"
)

// genNodes draws a sorted set of node ids from n1..n4.
func genNodes(t *rapid.T, label string) []NodeID {
	ids := rapid.SliceOfDistinct(rapid.SampledFrom([]NodeID{"n1", "n2", "n3", "n4"}), rapid.ID[NodeID]).Draw(t, label)
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// genEntry draws an arbitrary home entry: every field of the encoding,
// transient ones (busy, queue, invalidated, awaiting) included. It need
// not be a state the protocol reaches: the codec must carry any.
func genEntry(t *rapid.T) *entry {
	node := rapid.SampledFrom([]NodeID{"", "n1", "n2", "n3", "n4"})
	e := &entry{
		version:     rapid.Uint64().Draw(t, "version"),
		state:       DirState(rapid.IntRange(0, int(DirEM)).Draw(t, "state")),
		owner:       node.Draw(t, "owner"),
		ownerTxn:    rapid.Uint64().Draw(t, "ownerTxn"),
		sharers:     genNodes(t, "sharers"),
		grant:       rapid.Uint64().Draw(t, "grant"),
		invalidated: genNodes(t, "invalidated"),
		awaiting:    genNodes(t, "awaiting"),
	}
	if v := rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(t, "value"); len(v) > 0 {
		e.value = v
	}
	if rapid.Bool().Draw(t, "busy") {
		e.busy = &wait{
			kind: rapid.SampledFrom([]MsgKind{GetS, GetM}).Draw(t, "busy.kind"),
			on:   node.Draw(t, "busy.on"), onTxn: rapid.Uint64().Draw(t, "busy.onTxn"),
			req: node.Draw(t, "busy.req"), reqTxn: rapid.Uint64().Draw(t, "busy.reqTxn"),
			grant: rapid.Uint64().Draw(t, "busy.grant"), reqReset: rapid.Bool().Draw(t, "busy.reqReset"),
		}
	}
	for i := range rapid.IntRange(0, 3).Draw(t, "queue") {
		e.queue = append(e.queue, Message{
			Kind: rapid.SampledFrom([]MsgKind{GetS, GetM}).Draw(t, fmt.Sprintf("queue%d.kind", i)),
			From: node.Draw(t, fmt.Sprintf("queue%d.from", i)), To: "n4", Key: "k",
			Txn: rapid.Uint64().Draw(t, fmt.Sprintf("queue%d.txn", i)),
		})
	}
	return e
}

func newHome(t require.TestingT) *Directory {
	d, err := NewDirectory(Config{Self: "n4", Nodes: []NodeID{"n1", "n2", "n3", "n4"}, Home: homeFixed("n4"), Capacity: 1})
	require.NoError(t, err)
	return d
}

// TestHomeEntryRoundTrip: a key's record restores exactly its entry, a
// record of a key without an entry deletes it, and a damaged record is
// refused with the state unchanged.
func TestHomeEntryRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := newHome(t)
		keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[a-e]{1,3}`), 0, 5, rapid.ID[string]).Draw(t, "keys")
		for _, k := range keys {
			d.entries[k] = genEntry(t)
		}
		// The target starts with other entries, some under the same keys.
		d2 := newHome(t)
		for _, k := range rapid.SliceOfNDistinct(rapid.StringMatching(`[a-g]{1,3}`), 0, 5, rapid.ID[string]).Draw(t, "stale") {
			d2.entries[k] = genEntry(t)
		}
		all := slices.Sorted(slices.Values(append(d2.HomeKeys(), keys...)))
		for _, k := range slices.Compact(all) {
			rec := d.AppendHomeEntry(nil, k)
			before := d2.homeState()
			for n := range len(rec) {
				err := d2.RestoreHomeEntry(rec[:n])
				require.Error(t, err, "prefix of %d bytes of %d", n, len(rec))
				require.True(t, errors.Is(err, ErrCorrupt), "%v", err)
			}
			require.Error(t, d2.RestoreHomeEntry(append(slices.Clone(rec), 0)), "trailing byte")
			require.Equal(t, before, d2.homeState(), "refused records change nothing")
			require.NoError(t, d2.RestoreHomeEntry(rec))
			require.Equal(t, rec, d2.AppendHomeEntry(nil, k))
		}
		require.Equal(t, d.homeState(), d2.homeState())
		require.False(t, d2.DurableDirty(), "restoring records dirties nothing")
	})
}

// TestMemoryEntryRoundTrip: the same for Broadcast's memory node.
func TestMemoryEntryRoundTrip(t *testing.T) {
	cfg := Config{Self: memNode, Nodes: []NodeID{memNode, "n1"}, Memory: memNode, Capacity: 1}
	b, err := NewBroadcast(cfg)
	require.NoError(t, err)
	b.store["x"] = Write{Value: []byte("v"), Version: 7}
	b.store["y"] = Write{Version: 1}
	b2, err := NewBroadcast(cfg)
	require.NoError(t, err)
	b2.store["z"] = Write{Value: []byte("stale"), Version: 3}
	for _, k := range []string{"x", "y", "z"} {
		rec := b.AppendMemoryEntry(nil, k)
		for n := range len(rec) {
			require.ErrorIs(t, b2.RestoreMemoryEntry(rec[:n]), ErrCorrupt)
		}
		require.NoError(t, b2.RestoreMemoryEntry(rec))
	}
	require.Equal(t, b.memoryState(), b2.memoryState())
}

// diskImage is what a node layer keeps on disk: a snapshot and the
// records logged after it.
type diskImage struct {
	snapshot []byte
	records  [][]byte
}

// persist logs the records of p's dirty keys; compact replaces the log
// by a snapshot.
func (img *diskImage) persist(p Durable, compact bool) {
	for _, k := range p.DirtyKeys() {
		img.records = append(img.records, p.AppendKeyRecord(nil, k))
	}
	if compact {
		img.snapshot, img.records = p.Durable(), nil
	}
}

// replay restores img into fresh, a protocol just built.
func (img *diskImage) replay(t tb, fresh Durable) {
	require.NoError(t, fresh.RestoreDurable(img.snapshot))
	for i, r := range img.records {
		require.NoError(t, fresh.RestoreKeyRecord(r), "record %d", i)
	}
}

// TestPropertyKeyRecordsReplay drives a directory network at random
// (client operations, deliveries in any FIFO-respecting order, cache-side
// crashes whose Resets reach the homes, restarts of a node from its disk
// image) and, after every step, logs each node's dirty keys, compacting
// now and then. The snapshot plus the records must always replay to
// exactly the state HomeState encodes: a change DirtyKeys missed fails it.
func TestPropertyKeyRecordsReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(2, 4).Draw(t, "nodes")
		net := newNetwork(t, n, rapid.IntRange(1, 3).Draw(t, "capacity"), rapid.Bool().Draw(t, "writeThrough"), homeByHash)
		keys := []string{"a", "b", "c", "d", "e"}
		disks := map[NodeID]*diskImage{}
		for _, id := range net.ids {
			disks[id] = &diskImage{snapshot: net.nodes[id].(*Directory).HomeState()}
		}
		check := func(step int) {
			for _, id := range net.ids {
				d := net.nodes[id].(*Directory)
				disks[id].persist(d, rapid.IntRange(0, 9).Draw(t, "compact") == 0)
				fresh, err := NewDirectory(d.cfg)
				require.NoError(t, err)
				disks[id].replay(t, fresh)
				if want, got := d.homeState(), fresh.homeState(); !bytes.Equal(want, got) {
					t.Fatalf("step %d: node %s: snapshot + %d records replay to a state other than HomeState's", step, id, len(disks[id].records))
				}
			}
		}
		epoch := uint64(1)
		req := uint64(0)
		for step := range rapid.IntRange(1, 120).Draw(t, "steps") {
			ps := net.pairs()
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op < 6 && len(ps) > 0:
				net.deliverPair(ps[rapid.IntRange(0, len(ps)-1).Draw(t, "pair")])
			case op < 8:
				req++
				id := rapid.SampledFrom(net.ids).Draw(t, "node")
				k := rapid.SampledFrom(keys).Draw(t, "key")
				if rapid.Bool().Draw(t, "put") {
					net.put(id, req, k, fmt.Sprintf("v%d", req))
				} else {
					net.get(id, req, k)
				}
			case op == 8:
				id := rapid.SampledFrom(net.ids).Draw(t, "crash")
				net.nodes[id].Crash()
				net.collect(id)
			case len(ps) == 0:
				// A restart from disk, the network quiet: as nodes/caches
				// does, every peer crashes its cache side on learning of it.
				id := rapid.SampledFrom(net.ids).Draw(t, "restart")
				old := net.nodes[id].(*Directory)
				disks[id].persist(old, false)
				fresh, err := NewDirectory(old.cfg)
				require.NoError(t, err)
				disks[id].replay(t, fresh)
				epoch++
				fresh.SetTxnBase(epoch << 32)
				fresh.Restart()
				net.nodes[id] = fresh
				for _, p := range net.ids {
					if p != id {
						net.nodes[p].Crash()
					}
					net.collect(p)
				}
			}
			check(step)
		}
	})
}

// TestPropertyMemoryRecordsReplay: the same for Broadcast's memory node,
// one operation at a time.
func TestPropertyMemoryRecordsReplay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		net := newBroadcastNetwork(t, rapid.IntRange(2, 3).Draw(t, "nodes"), rapid.IntRange(1, 2).Draw(t, "capacity"), rapid.Bool().Draw(t, "writeThrough"))
		mem := net.nodes[memNode].(*Broadcast)
		img := &diskImage{snapshot: mem.MemoryState()}
		for req := range uint64(rapid.IntRange(1, 40).Draw(t, "steps")) {
			id := rapid.SampledFrom(net.caches).Draw(t, "node")
			k := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "key")
			if rapid.Bool().Draw(t, "put") {
				net.put(id, req, k, fmt.Sprintf("v%d", req))
			} else {
				net.get(id, req, k)
			}
			net.drain()
			img.persist(mem, rapid.IntRange(0, 4).Draw(t, "compact") == 0)
			fresh, err := NewBroadcast(mem.cfg)
			require.NoError(t, err)
			img.replay(t, fresh)
			require.Equal(t, mem.memoryState(), fresh.memoryState())
		}
	})
}
