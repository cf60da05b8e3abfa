package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
	"github.com/distsync/distsync/sim"
)

func TestRoundTripOfInterleavedGroups(t *testing.T) {
	long := strings.Repeat("k", MaxKeyBytes)
	saves := []save{
		{"a", raft.Ready{Entries: ents("a", 1, 1, 5), HardState: hs(1, "n1", 3)}},
		{"b", raft.Ready{Entries: ents("b", 1, 1, 3), HardState: hs(1, "n2", 0)}},
		{"", raft.Ready{Snapshot: snap("", 10, 2), Entries: ents("", 2, 11, 12), HardState: hs(2, "", 10)}},
		{"a", raft.Ready{Entries: ents("a", 1, 6, 40), HardState: hs(1, "n1", 30)}},
		{"b", raft.Ready{HardState: hs(3, "n3", 3)}},
		{long, raft.Ready{Entries: ents(long, 1, 1, 2)}},
		{"b", raft.Ready{Entries: ents("b", 3, 4, 4)}},
		{"c", raft.Ready{}}, // nothing to persist: no group
	}
	want := map[string]raft.Storage{
		"a":  gstate(nil, hs(1, "n1", 30), ents("a", 1, 1, 40)),
		"b":  gstate(nil, hs(3, "n3", 3), concat(ents("b", 1, 1, 3), ents("b", 3, 4, 4))),
		"":   gstate(snap("", 10, 2), hs(2, "", 10), ents("", 2, 11, 12)),
		long: gstate(nil, nil, ents(long, 1, 1, 2)),
	}
	cases := []struct {
		name         string
		opts         wal.Options
		wantSegments int  // at least
		batched      bool // more records than one per snapshot, hard state and Ready's entries
	}{
		{"one segment", testOpts, 1, false},
		// Segments of a few records: replay reuses its buffer from segment
		// to segment, so nothing recovered may alias it.
		{"tiny segments", wal.Options{Prefix: "raft", SegmentBytes: 256}, 5, false},
		// Records of at most 190 bytes beyond twice the longest key: a Save of many entries is cut
		// into several batches.
		{"tiny records", wal.Options{Prefix: "raft", MaxRecordBytes: 2*MaxKeyBytes + 190}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, rec := h.open(tc.opts)
			require.Empty(t, rec.Groups)
			require.Nil(t, rec.Meta)
			require.Empty(t, rec.Keys())
			saveAll(t, s, saves)
			require.NoError(t, s.Sync())
			require.Positive(t, s.Size())
			if records := s.log.Stats().Records; tc.batched {
				require.Greater(t, records, uint64(12))
			} else {
				require.Equal(t, uint64(12), records)
			}
			h.crash()

			_, rec = h.open(tc.opts)
			require.Equal(t, []string{"", "a", "b", long}, rec.Keys())
			requireGroups(t, want, rec)
			require.GreaterOrEqual(t, len(h.files()), tc.wantSegments)
		})
	}
}

func TestDropRemovesAGroup(t *testing.T) {
	cases := []struct {
		name  string
		steps func(t *testing.T, s *Store)
		want  map[string]raft.Storage
	}{
		{"dropped", func(t *testing.T, s *Store) {
			require.NoError(t, s.Drop("a"))
		}, map[string]raft.Storage{
			"b": gstate(nil, hs(1, "", 2), ents("b", 1, 1, 2)),
		}},
		{"dropped then created again", func(t *testing.T, s *Store) {
			require.NoError(t, s.Drop("a"))
			require.NoError(t, s.Save("a", &raft.Ready{Entries: ents("a", 7, 1, 1)}))
		}, map[string]raft.Storage{
			"a": gstate(nil, nil, ents("a", 7, 1, 1)),
			"b": gstate(nil, hs(1, "", 2), ents("b", 1, 1, 2)),
		}},
		{"unknown key", func(t *testing.T, s *Store) {
			require.NoError(t, s.Drop("zz"))
		}, map[string]raft.Storage{
			"a": gstate(snap("a", 5, 1), hs(1, "", 6), ents("a", 1, 6, 8)),
			"b": gstate(nil, hs(1, "", 2), ents("b", 1, 1, 2)),
		}},
		{"every group", func(t *testing.T, s *Store) {
			require.NoError(t, s.Drop("b"))
			require.NoError(t, s.Drop("a"))
		}, map[string]raft.Storage{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(testOpts)
			saveAll(t, s, []save{
				{"a", raft.Ready{Snapshot: snap("a", 5, 1), Entries: ents("a", 1, 6, 8), HardState: hs(1, "", 6)}},
				{"b", raft.Ready{Entries: ents("b", 1, 1, 2), HardState: hs(1, "", 2)}},
			})
			tc.steps(t, s)
			require.NoError(t, s.Sync())
			h.crash()
			_, rec := h.open(testOpts)
			requireGroups(t, tc.want, rec)
		})
	}
}

func TestMetaLatestWins(t *testing.T) {
	cases := []struct {
		name  string
		metas [][]byte
		want  []byte
	}{
		{"none", nil, nil},
		{"one", [][]byte{[]byte("ring v1")}, []byte("ring v1")},
		{"latest wins", [][]byte{[]byte("ring v1"), []byte("ring v2"), []byte("ring v3")}, []byte("ring v3")},
		{"empty is not none", [][]byte{[]byte("ring v1"), nil}, []byte{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(testOpts)
			for i, m := range tc.metas {
				require.NoError(t, s.SaveMeta(m))
				// Group records between metas do not disturb them.
				require.NoError(t, s.Save("g", &raft.Ready{HardState: hs(uint64(i+1), "", 0)}))
			}
			require.NoError(t, s.Sync())
			h.crash()
			_, rec := h.open(testOpts)
			require.Equal(t, tc.want, rec.Meta)
		})
	}
}

func TestCompactKeepsOnlyTheListedGroups(t *testing.T) {
	cases := []struct {
		name string
		opts wal.Options
		meta []byte
	}{
		{"one segment", testOpts, []byte("ring v2")},
		{"no meta clears it", testOpts, nil},
		{"compaction spans segments", wal.Options{Prefix: "raft", SegmentBytes: 300}, []byte("ring v2")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(tc.opts)
			require.NoError(t, s.SaveMeta([]byte("ring v1")))
			saveAll(t, s, []save{
				{"a", raft.Ready{Entries: ents("a", 1, 1, 100), HardState: hs(1, "n1", 100)}},
				{"b", raft.Ready{Entries: ents("b", 1, 1, 10), HardState: hs(1, "n1", 10)}},
				{"c", raft.Ready{Entries: ents("c", 2, 1, 3), HardState: hs(2, "n2", 1)}},
			})
			require.NoError(t, s.Sync())
			before := h.files()
			require.Positive(t, s.Size())

			groups := []GroupState{
				{Key: "c", HardState: *hs(2, "n2", 1), Entries: ents("c", 2, 1, 3)}, // no snapshot
				{Key: "a", Snapshot: *snap("a", 90, 1), HardState: *hs(1, "n1", 100), Entries: ents("a", 1, 91, 100)},
			}
			require.NoError(t, s.Compact(tc.meta, groups))
			require.Zero(t, s.Size(), "Size counts from the compaction")
			after := h.files()
			for _, name := range before {
				if name != before[len(before)-1] {
					require.NotContains(t, after, name, "older segments are deleted")
				}
			}
			require.NotContains(t, after, before[len(before)-1], "the segment active before the compaction is deleted")

			require.NoError(t, s.Save("a", &raft.Ready{Entries: ents("a", 1, 101, 105), HardState: hs(1, "n1", 103)}))
			require.NoError(t, s.Sync())
			require.Positive(t, s.Size())
			h.crash()

			_, rec := h.open(tc.opts)
			require.Equal(t, tc.meta, rec.Meta)
			requireGroups(t, map[string]raft.Storage{
				"a": gstate(snap("a", 90, 1), hs(1, "n1", 103), ents("a", 1, 91, 105)),
				"c": gstate(nil, hs(2, "n2", 1), ents("c", 2, 1, 3)),
			}, rec)
		})
	}
}

func TestCompactRejectsBadGroupsBeforeWriting(t *testing.T) {
	cases := []struct {
		name   string
		groups []GroupState
		errSub string
	}{
		{"duplicate", []GroupState{{Key: "a"}, {Key: "b"}, {Key: "a"}}, `group "a" listed twice`},
		{"key too long", []GroupState{{Key: strings.Repeat("x", MaxKeyBytes+1)}}, fmt.Sprintf("at most %d", MaxKeyBytes)},
		{"gap", []GroupState{{Key: "a", Entries: concat(ents("a", 1, 1, 2), ents("a", 1, 4, 4))}}, "index 4, want 3"},
		{"not after the snapshot", []GroupState{{Key: "a", Snapshot: *snap("a", 5, 1), Entries: ents("a", 1, 7, 8)}}, "index 7, want 6"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(testOpts)
			require.NoError(t, s.Save("a", &raft.Ready{Entries: ents("a", 1, 1, 3)}))
			size := s.Size()
			require.ErrorContains(t, s.Compact(nil, tc.groups), tc.errSub)
			require.Equal(t, size, s.Size(), "nothing was written")
			require.NoError(t, s.Sync(), "the store is still usable")
		})
	}
}

// syncFailDisk makes the Sync of every file created while armed fail once
// the file holds data: it cuts Compact short after its rotation.
type syncFailDisk struct {
	nodes.Disk
	armed bool
	fresh map[string]bool
}

var errInjected = errors.New("injected sync failure")

func (d *syncFailDisk) Open(name string) (nodes.File, error) {
	f, err := d.Disk.Open(name)
	if err != nil {
		return nil, err
	}
	if d.armed && f.Size() == 0 {
		d.fresh[name] = true
	}
	return &syncFailFile{File: f, d: d}, nil
}

type syncFailFile struct {
	nodes.File
	d *syncFailDisk
}

func (f *syncFailFile) Sync() error {
	if f.d.armed && f.d.fresh[f.Name()] && f.Size() > 0 {
		return errInjected
	}
	return f.File.Sync()
}

func TestCompactionCutShortByACrashIsIgnored(t *testing.T) {
	saves := []save{
		{"a", raft.Ready{Entries: ents("a", 1, 1, 60), HardState: hs(1, "n1", 60)}},
		{"b", raft.Ready{Entries: ents("b", 1, 1, 20), HardState: hs(1, "n1", 20)}},
		{"c", raft.Ready{Snapshot: snap("c", 7, 1), HardState: hs(1, "n1", 7)}},
	}
	before := map[string]raft.Storage{
		"a": gstate(nil, hs(1, "n1", 60), ents("a", 1, 1, 60)),
		"b": gstate(nil, hs(1, "n1", 20), ents("b", 1, 1, 20)),
		"c": gstate(snap("c", 7, 1), hs(1, "n1", 7), nil),
	}
	// A compaction keeping only a, with a snapshot.
	groups := []GroupState{{Key: "a", Snapshot: *snap("a", 50, 1), HardState: *hs(1, "n1", 60), Entries: ents("a", 1, 51, 60)}}
	torn := 0
	for seed := uint64(1); seed <= 40; seed++ {
		h := newHarness(t, seed, sim.DiskConfig{TornWrites: 1, SectorBytes: 64})
		s, _ := h.open(testOpts)
		require.NoError(t, s.SaveMeta([]byte("m1")))
		saveAll(t, s, saves)
		require.NoError(t, s.Sync())
		require.NoError(t, s.Close())

		d := &syncFailDisk{Disk: h.disk(), fresh: map[string]bool{}}
		s, rec, err := Open(d, testOpts)
		require.NoError(t, err)
		requireGroups(t, before, rec)
		d.armed = true
		require.ErrorIs(t, s.Compact([]byte("m2"), groups), errInjected)
		require.ErrorIs(t, s.Save("b", &raft.Ready{HardState: hs(2, "", 20)}), errInjected, "a failure is sticky")
		files := h.files()
		h.crash()
		// The compaction's segment kept a torn prefix of its records or
		// nothing of them.
		if b := h.read(files[len(files)-1]); len(b) > 0 {
			torn++
		}

		s, rec = h.open(testOpts)
		require.Equal(t, []byte("m1"), rec.Meta, "seed %d", seed)
		requireGroups(t, before, rec)

		// The node goes on from the state before the compaction.
		require.NoError(t, s.Save("b", &raft.Ready{Entries: ents("b", 2, 21, 21), HardState: hs(2, "", 20)}))
		require.NoError(t, s.Sync())
		h.crash()
		s, rec = h.open(testOpts)
		require.Equal(t, []byte("m1"), rec.Meta)
		after := cloneWant(before)
		after["b"] = gstate(nil, hs(2, "", 20), concat(ents("b", 1, 1, 20), ents("b", 2, 21, 21)))
		requireGroups(t, after, rec)

		// And compacts later.
		require.NoError(t, s.Compact([]byte("m3"), groups))
		h.crash()
		_, rec = h.open(testOpts)
		require.Equal(t, []byte("m3"), rec.Meta)
		requireGroups(t, map[string]raft.Storage{"a": gstate(snap("a", 50, 1), hs(1, "n1", 60), ents("a", 1, 51, 60))}, rec)
	}
	require.Greater(t, torn, 10, "crashes kept part of the compaction")
}

// cloneWant copies a want map.
func cloneWant(m map[string]raft.Storage) map[string]raft.Storage {
	out := map[string]raft.Storage{}
	for _, k := range (&Recovered{Groups: m}).Keys() {
		out[k] = m[k]
	}
	return out
}

func TestReplayReplacesSuffixesAndHonoursSnapshots(t *testing.T) {
	// Group "o" is written between the others' records and must not be
	// disturbed by them.
	other := save{"o", raft.Ready{Entries: ents("o", 1, 1, 2), HardState: hs(1, "", 1)}}
	cases := []struct {
		name  string
		saves []raft.Ready
		want  raft.Storage
	}{
		{"a new leader overwrites a suffix with a shorter one", []raft.Ready{
			{Entries: ents("g", 1, 1, 10), HardState: hs(1, "n1", 5)},
			{Entries: ents("g", 2, 6, 8), HardState: hs(2, "", 7)},
		}, gstate(nil, hs(2, "", 7), concat(ents("g", 1, 1, 5), ents("g", 2, 6, 8)))},
		{"overwrite from the first entry", []raft.Ready{
			{Entries: ents("g", 1, 1, 5)},
			{Entries: ents("g", 2, 1, 2)},
		}, gstate(nil, nil, ents("g", 2, 1, 2))},
		{"overwrite of the last entry only", []raft.Ready{
			{Entries: ents("g", 1, 1, 5)},
			{Entries: ents("g", 3, 5, 7)},
		}, gstate(nil, nil, concat(ents("g", 1, 1, 4), ents("g", 3, 5, 7)))},
		{"a snapshot replaces every entry", []raft.Ready{
			{Entries: ents("g", 1, 1, 10), HardState: hs(1, "", 10)},
			{Snapshot: snap("g", 20, 2), HardState: hs(2, "", 20)},
		}, gstate(snap("g", 20, 2), hs(2, "", 20), nil)},
		{"a snapshot behind the entries replaces them too", []raft.Ready{
			{Entries: ents("g", 1, 1, 10)},
			{Snapshot: snap("g", 5, 1), Entries: ents("g", 2, 6, 7)},
		}, gstate(snap("g", 5, 1), nil, ents("g", 2, 6, 7))},
		{"entries at or below the snapshot are dropped", []raft.Ready{
			{Snapshot: snap("g", 10, 1)},
			{Entries: ents("g", 1, 8, 12)},
		}, gstate(snap("g", 10, 1), nil, ents("g", 1, 11, 12))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Small records: the rewritten suffixes land in later batches.
			opts := wal.Options{Prefix: "raft", MaxRecordBytes: 300}
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(opts)
			for i := range tc.saves {
				saveAll(t, s, []save{other, {"g", tc.saves[i]}})
			}
			require.NoError(t, s.Sync())
			h.crash()
			_, rec := h.open(opts)
			requireGroups(t, map[string]raft.Storage{"g": tc.want, "o": gstate(nil, hs(1, "", 1), ents("o", 1, 1, 2))}, rec)
		})
	}
}

func TestReplayRejectsABrokenLog(t *testing.T) {
	cases := []struct {
		name   string
		saves  []raft.Ready
		errSub string
	}{
		{"a gap between entries", []raft.Ready{
			{Entries: ents("g", 1, 1, 3)},
			{Entries: ents("g", 1, 5, 6)},
		}, `raftstore: group "g": record 3: entries batch: entry index 5, want 4`},
		{"entries not after the snapshot", []raft.Ready{
			{Snapshot: snap("g", 10, 1)},
			{Entries: ents("g", 1, 15, 16)},
		}, `raftstore: group "g": entries start at 15 after snapshot 10`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(testOpts)
			require.NoError(t, s.Save("o", &raft.Ready{Entries: ents("o", 1, 1, 1)}))
			for i := range tc.saves {
				require.NoError(t, s.Save("g", &tc.saves[i]))
			}
			require.NoError(t, s.Sync())
			_, _, err := Open(h.disk(), testOpts)
			require.ErrorContains(t, err, tc.errSub)
		})
	}
}

func TestCrashLosesOnlyWhatWasNotSynced(t *testing.T) {
	h := newHarness(t, 1, sim.DiskConfig{})
	s, _ := h.open(testOpts)
	saveAll(t, s, []save{
		{"a", raft.Ready{Entries: ents("a", 1, 1, 10), HardState: hs(1, "n1", 5)}},
		{"b", raft.Ready{Entries: ents("b", 1, 1, 2), HardState: hs(1, "n1", 1)}},
	})
	require.NoError(t, s.SaveMeta([]byte("m1")))
	require.NoError(t, s.Sync())
	// Unsynced: lost at the crash.
	saveAll(t, s, []save{
		{"a", raft.Ready{Entries: ents("a", 2, 9, 9), HardState: hs(2, "", 5)}},
		{"c", raft.Ready{Entries: ents("c", 1, 1, 1)}},
	})
	require.NoError(t, s.SaveMeta([]byte("m2")))
	require.NoError(t, s.Drop("b"))
	h.crash()

	_, rec := h.open(testOpts)
	require.Equal(t, []byte("m1"), rec.Meta)
	requireGroups(t, map[string]raft.Storage{
		"a": gstate(nil, hs(1, "n1", 5), ents("a", 1, 1, 10)),
		"b": gstate(nil, hs(1, "n1", 1), ents("b", 1, 1, 2)),
	}, rec)
}

func TestTornTailIsTruncated(t *testing.T) {
	// Build the log's bytes once: a synced prefix, then a large unsynced
	// Save whose frames a crash may tear anywhere.
	h := newHarness(t, 1, sim.DiskConfig{})
	s, _ := h.open(testOpts)
	saveAll(t, s, []save{{"a", raft.Ready{Entries: ents("a", 1, 1, 5), HardState: hs(1, "n1", 5)}}})
	require.NoError(t, s.Sync())
	durable := len(h.read(segment(1)))
	saveAll(t, s, []save{
		{"a", raft.Ready{Entries: ents("a", 1, 6, 30), HardState: hs(1, "n1", 30)}},
		{"b", raft.Ready{Entries: ents("b", 1, 1, 30)}},
	})
	full := h.read(segment(1))
	require.Greater(t, len(full), durable+100)
	synced := map[string]raft.Storage{"a": gstate(nil, hs(1, "n1", 5), ents("a", 1, 1, 5))}

	cases := []struct {
		name string
		keep int // bytes of the unsynced tail that survive
	}{
		{"one byte", 1},
		{"part of a header", 9},
		{"a header without its payload", 17},
		{"into a payload", 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 2, sim.DiskConfig{})
			h.write(segment(1), full[:durable+tc.keep])
			s, rec := h.open(testOpts)
			requireGroups(t, synced, rec)
			require.Len(t, h.read(segment(1)), durable, "the torn tail was cut")
			// The log goes on after the cut.
			require.NoError(t, s.Save("b", &raft.Ready{Entries: ents("b", 1, 1, 1)}))
			require.NoError(t, s.Sync())
			h.crash()
			_, rec = h.open(testOpts)
			want := cloneWant(synced)
			want["b"] = gstate(nil, nil, ents("b", 1, 1, 1))
			requireGroups(t, want, rec)
		})
	}
}

func TestCorruptionMidLogIsAnError(t *testing.T) {
	cases := []struct {
		name   string
		file   func(files []string) string
		offset func(b []byte) int // of the flipped byte
	}{
		{"first record of the log", func(f []string) string { return f[0] }, func([]byte) int { return 20 }},
		{"middle of a sealed segment", func(f []string) string { return f[len(f)/2] }, func(b []byte) int { return len(b) / 2 }},
		{"record of the last segment with intact ones after it", func(f []string) string { return f[len(f)-1] }, func([]byte) int { return 20 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := wal.Options{Prefix: "raft", SegmentBytes: 400}
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(opts)
			for i := uint64(1); i <= 20; i++ {
				saveAll(t, s, []save{
					{"a", raft.Ready{Entries: ents("a", 1, i, i), HardState: hs(1, "n1", i)}},
					{"b", raft.Ready{Entries: ents("b", 1, i, i), HardState: hs(1, "n1", i)}},
				})
			}
			require.NoError(t, s.Sync())
			files := h.files()
			require.Greater(t, len(files), 3)
			name := tc.file(files)
			b := h.read(name)
			b[tc.offset(b)] ^= 0x10
			h.write(name, b)
			h.crash()

			_, _, err := Open(h.disk(), opts)
			require.ErrorIs(t, err, wal.ErrCorrupt)
			require.ErrorContains(t, err, "raftstore: open")
		})
	}
}

func TestKeysLongerThanTheLimitAreRejected(t *testing.T) {
	long := strings.Repeat("x", MaxKeyBytes+1)
	cases := []struct {
		name string
		call func(s *Store) error
	}{
		{"save", func(s *Store) error { return s.Save(long, &raft.Ready{HardState: hs(1, "", 0)}) }},
		{"drop", func(s *Store) error { return s.Drop(long) }},
		{"compact", func(s *Store) error { return s.Compact(nil, []GroupState{{Key: long}}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, 1, sim.DiskConfig{})
			s, _ := h.open(testOpts)
			err := tc.call(s)
			require.ErrorContains(t, err, `group "`+long+`"`)
			require.ErrorContains(t, err, fmt.Sprintf("at most %d", MaxKeyBytes))
			require.Zero(t, s.Size())
			require.NoError(t, s.Save("ok", &raft.Ready{HardState: hs(1, "", 0)}), "not sticky")
		})
	}
}

// encode returns a record's payload: key prefix, then body.
func encode(key string, body []byte) []byte { return append(appendKey(nil, key), body...) }

// record is one record for the replayer.
type record struct {
	typ     wal.RecordType
	payload []byte
}

func hsRec(flag wal.RecordType, key string, h *raft.HardState) record {
	return record{flag | recHardState, encode(key, h.Marshal(nil))}
}

func snapRec(flag wal.RecordType, key string, s *raft.Snapshot) record {
	return record{flag | recSnapshot, encode(key, s.Marshal(nil))}
}

func entsRec(flag wal.RecordType, key string, e []raft.Entry) record {
	b, n := appendEntriesBatch(appendKey(nil, key), e, maxBatchBytes)
	if n != len(e) {
		panic("batch too large for one record")
	}
	return record{flag | recEntries, b}
}

func metaRec(flag wal.RecordType, meta string) record {
	return record{flag | recMeta, encode("", []byte(meta))}
}

var (
	begin = record{recCompactBegin, encode("", nil)}
	end   = record{recCompactEnd, encode("", nil)}
)

// replay replays records through a replayer, numbering them from 1.
func replay(recs []record) (*Recovered, error) {
	r := newReplayer()
	for i, rc := range recs {
		if err := r.apply(uint64(i+1), rc.typ, slices.Clone(rc.payload)); err != nil {
			return nil, err
		}
	}
	return r.finish()
}

func TestReplayOfCompactions(t *testing.T) {
	history := []record{
		metaRec(0, "m1"),
		entsRec(0, "a", ents("a", 1, 1, 5)),
		hsRec(0, "a", hs(1, "n1", 5)),
		entsRec(0, "b", ents("b", 1, 1, 3)),
	}
	old := map[string]raft.Storage{
		"a": gstate(nil, hs(1, "n1", 5), ents("a", 1, 1, 5)),
		"b": gstate(nil, nil, ents("b", 1, 1, 3)),
	}
	compactA := []record{
		begin,
		metaRec(compacted, "m2"),
		snapRec(compacted, "a", snap("a", 3, 1)),
		entsRec(compacted, "a", ents("a", 1, 4, 5)),
		hsRec(compacted, "a", hs(1, "n1", 5)),
		end,
	}
	compactedA := map[string]raft.Storage{"a": gstate(snap("a", 3, 1), hs(1, "n1", 5), ents("a", 1, 4, 5))}
	cases := []struct {
		name     string
		recs     [][]record
		wantMeta string // "-" for nil
		want     map[string]raft.Storage
		errSub   string
	}{
		{"complete", [][]record{history, compactA}, "m2", compactedA, ""},
		{"complete without meta", [][]record{history, compactA[:1], compactA[2:]}, "-", compactedA, ""},
		{"cut short at the end of the log", [][]record{history, compactA[:3]}, "m1", old, ""},
		{"cut short before its end marker", [][]record{history, compactA[:5]}, "m1", old, ""},
		{"cut short, then the node went on", [][]record{history, compactA[:3], {hsRec(0, "b", hs(2, "", 1))}}, "m1", map[string]raft.Storage{
			"a": old["a"], "b": gstate(nil, hs(2, "", 1), ents("b", 1, 1, 3)),
		}, ""},
		{"cut short, then compacted again", [][]record{history, {begin, snapRec(compacted, "b", snap("b", 3, 1))}, compactA}, "m2", compactedA, ""},
		{"records after a compaction", [][]record{history, compactA, {entsRec(0, "b", ents("b", 5, 1, 1))}}, "m2", map[string]raft.Storage{
			"a": compactedA["a"], "b": gstate(nil, nil, ents("b", 5, 1, 1)),
		}, ""},
		{"compacted record outside a compaction", [][]record{history, compactA[1:]}, "", nil, "raftstore: group \"\": record 5: compacted record of type 129 outside a compaction"},
		{"end without a begin", [][]record{history, {end}}, "", nil, "record 5: compaction end without a begin"},
		{"compacted drop", [][]record{{begin, {compacted | recDrop, encode("a", nil)}}}, "", nil, "unknown record type 133"},
		{"flagged marker", [][]record{{{compacted | recCompactBegin, encode("", nil)}}}, "", nil, "unknown record type 134"},
		{"marker with a key", [][]record{{{recCompactBegin, encode("a", nil)}}}, "", nil, `group "a": record 1: compaction marker`},
		{"meta with a key", [][]record{{{recMeta, encode("a", []byte("m"))}}}, "", nil, "meta record with a group key"},
		{"drop with a body", [][]record{{{recDrop, encode("a", []byte("x"))}}}, "", nil, "drop record with 1 bytes of body"},
		{"unknown type", [][]record{{{9, encode("a", nil)}}}, "", nil, "unknown record type 9"},
		{"key longer than the limit", [][]record{{{recDrop, append(binary.AppendUvarint(nil, MaxKeyBytes+1), strings.Repeat("k", MaxKeyBytes+1)...)}}}, "", nil, fmt.Sprintf("record 1: group key: %d bytes, at most %d", MaxKeyBytes+1, MaxKeyBytes)},
		{"key past the end", [][]record{{{recDrop, []byte{5, 'a'}}}}, "", nil, "group key: 5 bytes, 1 left"},
		{"no key", [][]record{{{recDrop, nil}}}, "", nil, "group key: bad length"},
		{"bad hard state", [][]record{{{recHardState, encode("a", []byte{1})}}}, "", nil, `group "a": record 1: raft: unmarshal hard state`},
		{"entries batch with trailing bytes", [][]record{{{recEntries, append(entsRec(0, "a", ents("a", 1, 1, 1)).payload, 0)}}}, "", nil, "1 trailing bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var recs []record
			for _, part := range tc.recs {
				recs = append(recs, part...)
			}
			rec, err := replay(recs)
			if tc.errSub != "" {
				require.ErrorContains(t, err, tc.errSub)
				return
			}
			require.NoError(t, err)
			if tc.wantMeta == "-" {
				require.Nil(t, rec.Meta)
			} else {
				require.Equal(t, []byte(tc.wantMeta), rec.Meta)
			}
			requireGroups(t, tc.want, rec)
		})
	}
}
