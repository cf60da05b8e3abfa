package wal_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/wal"
	"github.com/distsync/distsync/sim"
)

func TestNodesDiskIsAWALDisk(t *testing.T) {
	h := newSim(t, 1, sim.DiskConfig{})
	var d wal.Disk[nodes.File] = h.disk() // the contract the package promises
	w, _, _ := mustOpen(t, d, wal.Options{})
	appendN(t, w, 3, 10)
	require.NoError(t, w.Sync())
	_, got, _ := mustOpen(t, h.disk(), wal.Options{}) // F inferred as nodes.File
	require.Len(t, got, 3)
}

func TestSimCrashLosesOnlyUnsynced(t *testing.T) {
	cases := []struct {
		name             string
		synced, unsynced int
		rotateBetween    bool // Rotate after the synced records, before the others
		segmentBytes     int64
		wantLost         int // records the crash loses
		wantSegments     int
	}{
		{"nothing synced", 0, 5, false, 0, 5, 1},
		{"nothing unsynced", 7, 0, false, 0, 0, 1},
		{"both", 7, 5, false, 0, 5, 1},
		{"unsynced in a new segment", 7, 5, true, 0, 5, 2},
		// Two 117-byte frames fit a segment; rotating to the third syncs
		// the two before it, so only the last odd record is lost.
		{"size rotations", 20, 9, false, 300, 1, 15},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSim(t, 7, sim.DiskConfig{})
			opts := wal.Options{SegmentBytes: tc.segmentBytes}
			w, _, _ := mustOpen(t, h.disk(), opts)
			all := appendN(t, w, tc.synced, 100)
			require.NoError(t, w.Sync())
			if tc.rotateBetween {
				require.NoError(t, w.Rotate())
			}
			all = append(all, appendN(t, w, tc.unsynced, 100)...)
			require.Equal(t, tc.wantLost, w.Unsynced())
			h.crash()
			_, err := w.Append(1, nil)
			require.ErrorIs(t, err, sim.ErrStaleHandle, "the old handle died with the crash")

			w2, got, info := mustOpen(t, h.disk(), opts)
			requireRecs(t, all[:len(all)-tc.wantLost], got)
			require.Zero(t, info.TruncatedBytes, "without torn writes a crash cuts at the last sync")
			require.Equal(t, tc.wantSegments, info.Segments)
			require.Equal(t, uint64(len(got)+1), w2.NextSeq())
		})
	}
}

// frameEnds returns the end offset of each record's frame in one segment.
func frameEnds(recs []rec) []int {
	var ends []int
	end := 0
	for _, r := range recs {
		end += hdr + len(r.Payload)
		ends = append(ends, end)
	}
	return ends
}

// complete returns how many frames end at or before cut, and where the
// last of them ends.
func complete(ends []int, cut int) (int, int) {
	n, at := 0, 0
	for _, e := range ends {
		if e <= cut {
			n, at = n+1, e
		}
	}
	return n, at
}

func TestSimTornTailAtEverySectorBoundary(t *testing.T) {
	for _, sector := range []int{64, 512} {
		for _, zeros := range []int{0, sector} {
			t.Run(fmt.Sprintf("sector %d, %d zero bytes after the cut", sector, zeros), func(t *testing.T) {
				// One segment: 4 synced records, then 36 unsynced ones of
				// uneven sizes, whose bytes a crash may tear anywhere.
				h := newSim(t, 1, sim.DiskConfig{})
				w, _, _ := mustOpen(t, h.disk(), wal.Options{})
				var all []rec
				for i := range 40 {
					all = append(all, appendN(t, w, 1, 30+(i*97)%250)...)
					if i == 3 {
						require.NoError(t, w.Sync())
					}
				}
				file := h.read(segName(1))
				ends := frameEnds(all)
				require.Equal(t, len(file), ends[len(ends)-1])
				durable := ends[3]
				cuts := []int{durable}
				for c := (durable/sector + 1) * sector; c < len(file); c += sector {
					cuts = append(cuts, c)
				}
				require.Greater(t, len(cuts), 10)
				for _, cut := range cuts {
					h := newSim(t, 2, sim.DiskConfig{})
					h.write(segName(1), append(slices.Clone(file[:cut]), make([]byte, zeros)...))
					w, got, info := mustOpen(t, h.disk(), wal.Options{})
					n, at := complete(ends, cut)
					require.Equal(t, all[:n], got, "cut at %d", cut)
					require.Equal(t, int64(cut+zeros-at), info.TruncatedBytes, "cut at %d", cut)
					require.Equal(t, int64(at), w.Segments()[0].Bytes)
				}
			})
		}
	}
}

func TestSimCrashTornWrites(t *testing.T) {
	torn, partial := 0, 0
	for seed := uint64(1); seed <= 200; seed++ {
		sector := []int{32, 128, 512}[seed%3]
		h := newSim(t, seed, sim.DiskConfig{TornWrites: 1, SectorBytes: sector})
		w, _, _ := mustOpen(t, h.disk(), wal.Options{SegmentBytes: 4096})
		var all []rec
		for i := range 40 {
			all = append(all, appendN(t, w, 1, 10+int(seed*uint64(i+3)%300))...)
			if i%7 == 0 {
				require.NoError(t, w.Sync())
			}
		}
		synced := w.NextSeq() - 1 - uint64(w.Unsynced())
		segs := w.Segments()
		active := segs[len(segs)-1]
		activeRecs := all[active.First-1:]
		h.crash()
		kept := len(h.read(active.Name))

		_, got, info := mustOpen(t, h.disk(), wal.Options{SegmentBytes: 4096})
		n, at := complete(frameEnds(activeRecs), kept)
		require.Equal(t, all[:int(active.First)-1+n], got, "seed %d", seed)
		require.GreaterOrEqual(t, uint64(len(got)), synced, "seed %d: a synced record was lost", seed)
		require.Equal(t, int64(kept-at), info.TruncatedBytes, "seed %d", seed)
		st, err := h.w.DiskStats("n1")
		require.NoError(t, err)
		if st.TornWrites > 0 {
			torn++
		}
		if info.TruncatedBytes > 0 {
			partial++
		}
	}
	require.Greater(t, torn, 100, "the simulator tore writes")
	require.Greater(t, partial, 50, "some torn writes cut a record in two")
}

func TestSimBitFlipAtRest(t *testing.T) {
	// Two segments of 5 records of 40 bytes (frames of 57): segments 1
	// and 6. A flipped bit in a record with intact records after it, or in
	// a sealed segment, is corruption.
	const frame = hdr + 40
	cases := []struct {
		name    string
		segment uint64
		offset  int // of the flipped byte
		wantOff int64
		wantSeq uint64
	}{
		{"length", 6, 2*frame + 1, 2 * frame, 8},
		{"crc", 6, 2*frame + 5, 2 * frame, 8},
		{"seq", 6, 2*frame + 9, 2 * frame, 8},
		{"type", 6, 2*frame + 16, 2 * frame, 8},
		{"payload", 6, 2*frame + 30, 2 * frame, 8},
		{"first record of the log", 1, 20, 0, 1},
		{"last record of the sealed segment", 1, 4*frame + 50, 4 * frame, 5},
		{"length of the sealed segment's last record", 1, 4*frame + 3, 4 * frame, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSim(t, 3, sim.DiskConfig{})
			w, _, _ := mustOpen(t, h.disk(), wal.Options{})
			appendN(t, w, 5, 40)
			require.NoError(t, w.Rotate())
			appendN(t, w, 5, 40)
			require.NoError(t, w.Sync())
			name := segName(tc.segment)
			b := h.read(name)
			b[tc.offset] ^= 0x04
			h.write(name, b)
			h.crash()

			_, _, _, err := open(h.disk(), wal.Options{})
			require.ErrorIs(t, err, wal.ErrCorrupt)
			var ce *wal.CorruptError
			require.True(t, errors.As(err, &ce))
			require.Equal(t, name, ce.Segment)
			require.Equal(t, tc.wantOff, ce.Offset)
			require.Equal(t, tc.wantSeq, ce.Seq)
			require.Equal(t, b, h.read(name), "Open changed a corrupt log")
		})
	}
}

func TestSimCorruptReads(t *testing.T) {
	// A log of three segments with a torn tail, read through a disk that
	// flips a bit in 30% of reads: Open must replay exactly the records and
	// cut exactly the tail, or give up with ErrUnstableRead and change
	// nothing; never accept a flipped record or cut a good one.
	opts := wal.Options{SegmentBytes: 1000, ReadAttempts: 8}
	unstable, flips := 0, uint64(0)
	for seed := uint64(1); seed <= 100; seed++ {
		h := newSim(t, seed, sim.DiskConfig{})
		w, _, _ := mustOpen(t, h.disk(), opts)
		all := appendN(t, w, 30, 80)
		require.NoError(t, w.Sync())
		segs := w.Segments()
		last := segs[len(segs)-1].Name
		clean := h.read(last)
		tail := []byte{50, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		h.write(last, append(slices.Clone(clean), tail...))
		require.NoError(t, h.w.SetDisk("n1", sim.DiskConfig{CorruptRead: 0.3}))
		h.crash()

		w2, got, info, err := open(h.disk(), opts)
		st, serr := h.w.DiskStats("n1")
		require.NoError(t, serr)
		flips += st.CorruptReads
		if errors.Is(err, wal.ErrUnstableRead) {
			unstable++
			require.NoError(t, h.w.SetDisk("n1", sim.DiskConfig{}))
			require.Equal(t, append(slices.Clone(clean), tail...), h.read(last))
			continue
		}
		require.NoError(t, err, "seed %d", seed)
		require.NoError(t, w2.CheckInvariants())
		require.Equal(t, all, got, "seed %d", seed)
		require.Equal(t, int64(len(tail)), info.TruncatedBytes, "seed %d", seed)
		require.Positive(t, info.ExtraReads, "seed %d: a torn tail takes a second read", seed)
		require.NoError(t, h.w.SetDisk("n1", sim.DiskConfig{}))
		require.Equal(t, clean, h.read(last), "seed %d", seed)
	}
	require.LessOrEqual(t, unstable, 5)
	require.Greater(t, flips, uint64(50), "the disk flipped bits")
	t.Logf("%d corrupt reads, %d opens gave up", flips, unstable)
}
