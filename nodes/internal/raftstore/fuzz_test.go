package raftstore

import (
	"slices"
	"testing"

	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// FuzzReplay feeds arbitrary bytes as the payload of a record of type typ
// through the replay decoder, after each of a few histories (nothing, a
// group with a snapshot and entries, an unfinished compaction), then ends
// the replay. It must never panic; when replay succeeds, every group's
// entries run contiguously from its snapshot.
func FuzzReplay(f *testing.F) {
	seeds := []record{
		hsRec(0, "a", hs(3, "n1", 7)),
		snapRec(0, "a", snap("a", 12, 2)),
		entsRec(0, "a", ents("a", 2, 14, 16)),
		entsRec(0, "a", ents("a", 3, 9, 12)),
		entsRec(compacted, "b", ents("b", 1, 1, 3)),
		metaRec(0, "ring"),
		{recDrop, encode("a", nil)},
		begin,
		end,
		{recEntries, []byte{1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f}},
		{recEntries, []byte{0}},
		{recHardState, nil},
	}
	for _, s := range seeds {
		f.Add(uint8(s.typ), s.payload)
	}
	histories := [][]record{
		nil,
		{snapRec(0, "a", snap("a", 10, 1)), entsRec(0, "a", ents("a", 1, 11, 15)), hsRec(0, "a", hs(1, "", 12))},
		{entsRec(0, "a", ents("a", 1, 1, 4)), begin, snapRec(compacted, "b", snap("b", 5, 1))},
	}
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		for _, h := range histories {
			r := newReplayer()
			for i, rc := range h {
				if err := r.apply(uint64(i+1), rc.typ, slices.Clone(rc.payload)); err != nil {
					t.Fatalf("history record %d: %v", i+1, err)
				}
			}
			buf := slices.Clone(payload)
			if err := r.apply(uint64(len(h)+1), wal.RecordType(typ), buf); err != nil {
				continue
			}
			clear(buf) // the WAL reuses its buffer: nothing may alias it
			rec, err := r.finish()
			if err != nil {
				continue
			}
			for _, key := range rec.Keys() {
				checkGroup(t, key, rec.Groups[key])
			}
		}
	})
}

// checkGroup fails t unless g's entries run contiguously from its
// snapshot.
func checkGroup(t *testing.T, key string, g raft.Storage) {
	t.Helper()
	for i, e := range g.Entries {
		if want := g.Snapshot.Index + 1 + uint64(i); e.Index != want {
			t.Fatalf("group %q: entry %d has index %d, want %d", key, i, e.Index, want)
		}
	}
}
