package wal_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/protocols/wal"
)

const hdr = 17 // frame header bytes, as the package documentation draws it

func TestRoundTripAcrossRotations(t *testing.T) {
	cases := []struct {
		name         string
		segmentBytes int64
		records      int
		size         int
		rotateEvery  int // explicit Rotate after every k records, 0 for never
		wantSegments int
	}{
		{"one segment", 0, 50, 100, 0, 1},
		{"empty payloads", 0, 20, 0, 0, 1},
		{"size rotation, two per segment", 2 * (hdr + 33), 10, 33, 0, 5},
		{"size rotation, record larger than segment", 10, 4, 50, 0, 4},
		{"explicit rotation", 0, 9, 10, 3, 4},
		{"both", 3 * (hdr + 8), 12, 8, 2, 7},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newMemDisk()
			opts := wal.Options{SegmentBytes: tc.segmentBytes}
			w, got, _ := mustOpen(t, d, opts)
			require.Empty(t, got)
			var want []rec
			for i := range tc.records {
				want = append(want, appendN(t, w, 1, tc.size)...)
				if tc.rotateEvery > 0 && (i+1)%tc.rotateEvery == 0 {
					require.NoError(t, w.Rotate())
				}
				require.NoError(t, w.CheckInvariants())
			}
			require.NoError(t, w.Sync())
			require.Len(t, w.Segments(), tc.wantSegments)
			for i, s := range w.Segments() {
				require.Equal(t, segName(s.First), s.Name)
				require.Equal(t, int64(len(d.get(s.Name))), s.Bytes)
				if tc.segmentBytes > 0 && s.Bytes > tc.segmentBytes {
					require.Equal(t, int64(hdr+tc.size), s.Bytes, "segment %d is over size only with one record", i)
				}
			}
			require.NoError(t, w.Close())

			w2, got, info := mustOpen(t, d, opts)
			require.Equal(t, want, got)
			require.Equal(t, tc.wantSegments, info.Segments)
			require.Zero(t, info.TruncatedBytes)
			require.Equal(t, uint64(tc.records+1), w2.NextSeq())
			// Appending after reopening continues the sequence.
			more := appendN(t, w2, 3, tc.size)
			require.NoError(t, w2.Sync())
			_, got, _ = mustOpen(t, d, opts)
			require.Equal(t, append(want, more...), got)
		})
	}
}

func TestPositionNamesSegment(t *testing.T) {
	d := newMemDisk()
	w, _, _ := mustOpen(t, d, wal.Options{})
	p1, err := w.Append(1, []byte("a"))
	require.NoError(t, err)
	require.Equal(t, wal.Position{Segment: 1, Seq: 1}, p1)
	require.NoError(t, w.Rotate())
	p2, err := w.Append(1, []byte("b"))
	require.NoError(t, err)
	require.Equal(t, wal.Position{Segment: 2, Seq: 2}, p2)
	require.Equal(t, []string{segName(1), segName(2)}, []string{w.Segments()[0].Name, w.Segments()[1].Name})
}

func TestEmptyLog(t *testing.T) {
	d := newMemDisk()
	w, got, info := mustOpen(t, d, wal.Options{})
	require.Empty(t, got)
	require.Equal(t, wal.RecoveryInfo{Segments: 1, FirstSeq: 1, NextSeq: 1}, info)
	require.Equal(t, []string{segName(1)}, mustList(t, d))
	syncs := w.Stats().Syncs
	require.NoError(t, w.Sync(), "nothing to sync")
	require.NoError(t, w.Rotate(), "rotating an empty segment does nothing")
	require.Equal(t, syncs, w.Stats().Syncs)
	require.Len(t, w.Segments(), 1)
	n, err := w.RemoveBefore(100)
	require.NoError(t, err)
	require.Zero(t, n)
	require.NoError(t, w.Close())

	_, got, info = mustOpen(t, d, wal.Options{})
	require.Empty(t, got)
	require.Equal(t, uint64(1), info.NextSeq)
}

func mustList(t *testing.T, d *memDisk) []string {
	t.Helper()
	names, err := d.List()
	require.NoError(t, err)
	return names
}

func TestAppendRejects(t *testing.T) {
	cases := []struct {
		name    string
		typ     wal.RecordType
		size    int
		wantErr error
		wantMsg string
	}{
		{"at the limit", 1, 100, nil, ""},
		{"empty", 255, 0, nil, ""},
		{"one byte over", 1, 101, wal.ErrRecordTooLarge, "payload of 101 bytes exceeds MaxRecordBytes 100"},
		{"far over", 1, 1 << 20, wal.ErrRecordTooLarge, "payload of 1048576 bytes"},
		{"type 0", 0, 10, wal.ErrBadType, "type 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newMemDisk()
			w, _, _ := mustOpen(t, d, wal.Options{MaxRecordBytes: 100})
			_, err := w.Append(tc.typ, make([]byte, tc.size))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorContains(t, err, tc.wantMsg)
			require.Zero(t, w.Unsynced())
			require.Zero(t, len(d.get(segName(1))), "a rejected record writes nothing")
			_, err = w.Append(1, []byte("fine"))
			require.NoError(t, err, "a rejected record does not break the log")
		})
	}
}

func TestOptionsValidation(t *testing.T) {
	cases := []struct {
		name string
		opts wal.Options
		msg  string
	}{
		{"negative segment", wal.Options{SegmentBytes: -1}, "segment bytes -1"},
		{"huge segment", wal.Options{SegmentBytes: 2 << 30}, "segment bytes 2147483648"},
		{"negative record", wal.Options{MaxRecordBytes: -5}, "max record bytes -5"},
		{"huge record", wal.Options{MaxRecordBytes: 1 << 30}, "max record bytes 1073741824"},
		{"one read", wal.Options{ReadAttempts: 1}, "read attempts 1"},
		{"many reads", wal.Options{ReadAttempts: 99}, "read attempts 99"},
		{"bad prefix", wal.Options{Prefix: "wal/x"}, `prefix "wal/x" has byte '/' at 3`},
		{"dot prefix", wal.Options{Prefix: "a.b"}, `byte '.'`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := open(newMemDisk(), tc.opts)
			require.ErrorIs(t, err, wal.ErrBadOptions)
			require.ErrorContains(t, err, tc.msg)
		})
	}
}

func TestSyncAndUnsynced(t *testing.T) {
	d := newMemDisk()
	w, _, _ := mustOpen(t, d, wal.Options{})
	base := w.Stats().Syncs
	appendN(t, w, 3, 10)
	require.Equal(t, 3, w.Unsynced())
	require.Equal(t, int64(3*(hdr+10)), w.UnsyncedBytes())
	require.NoError(t, w.Sync())
	require.Zero(t, w.Unsynced())
	require.Zero(t, w.UnsyncedBytes())
	require.NoError(t, w.Sync())
	require.Equal(t, base+1, w.Stats().Syncs, "the second Sync had nothing to do")
	appendN(t, w, 2, 10)
	require.NoError(t, w.Rotate())
	require.Zero(t, w.Unsynced(), "rotation syncs the sealed segment")
	st := w.Stats()
	require.Equal(t, uint64(5), st.Records)
	require.Equal(t, uint64(5*(hdr+10)), st.Bytes)
	require.Equal(t, 2, st.Segments)
	require.Equal(t, uint64(1), st.Rotations)
	require.Equal(t, base+3, st.Syncs, "Sync, then rotation: old segment and new file")
}

func TestFailureIsSticky(t *testing.T) {
	d := newMemDisk()
	w, _, _ := mustOpen(t, d, wal.Options{})
	appendN(t, w, 1, 10)
	boom := errors.New("disk on fire")
	d.failSync = boom
	err := w.Sync()
	require.ErrorIs(t, err, boom)
	require.ErrorContains(t, err, "wal: wal-0000000000000001.log: sync through record 1")
	d.failSync = nil
	_, err = w.Append(1, nil)
	require.ErrorIs(t, err, boom, "the log stays failed")
	require.ErrorIs(t, w.Sync(), boom)
	require.ErrorIs(t, w.Rotate(), boom)
	require.NoError(t, w.Close())
}

func TestClosed(t *testing.T) {
	w, _, _ := mustOpen(t, newMemDisk(), wal.Options{})
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "closing twice does nothing")
	_, err := w.Append(1, nil)
	require.ErrorIs(t, err, wal.ErrClosed)
	require.ErrorIs(t, w.Sync(), wal.ErrClosed)
	require.ErrorIs(t, w.Rotate(), wal.ErrClosed)
	_, err = w.RemoveBefore(1)
	require.ErrorIs(t, err, wal.ErrClosed)
}

func TestRemoveBefore(t *testing.T) {
	// Records 1..10; rotations after 3, 6 and 9 give segments starting at
	// 1, 4, 7 and 10 (the active one).
	cases := []struct {
		seq  uint64
		want []uint64 // first seqs of the segments left
	}{
		{0, []uint64{1, 4, 7, 10}},
		{1, []uint64{1, 4, 7, 10}},
		{3, []uint64{1, 4, 7, 10}},
		{4, []uint64{4, 7, 10}},
		{6, []uint64{4, 7, 10}},
		{7, []uint64{7, 10}},
		{10, []uint64{10}},
		{11, []uint64{10}},
		{1 << 40, []uint64{10}},
	}
	for _, tc := range cases {
		d := newMemDisk()
		w, _, _ := mustOpen(t, d, wal.Options{})
		var all []rec
		for i := 1; i <= 10; i++ {
			all = append(all, appendN(t, w, 1, 5)...)
			if i%3 == 0 {
				require.NoError(t, w.Rotate())
			}
		}
		require.NoError(t, w.Sync())
		n, err := w.RemoveBefore(tc.seq)
		require.NoError(t, err)
		require.Equal(t, 4-len(tc.want), n, "seq %d", tc.seq)
		var firsts, names []uint64
		for _, s := range w.Segments() {
			firsts = append(firsts, s.First)
		}
		for _, name := range mustList(t, d) {
			for _, f := range tc.want {
				if name == segName(f) {
					names = append(names, f)
				}
			}
		}
		require.Equal(t, tc.want, firsts, "seq %d", tc.seq)
		require.Equal(t, tc.want, names, "seq %d: files on disk", tc.seq)
		require.Len(t, mustList(t, d), len(tc.want))
		require.Equal(t, tc.want[0], w.FirstSeq())
		require.Equal(t, uint64(n), w.Stats().RemovedSegments)
		require.NoError(t, w.CheckInvariants())
		require.NoError(t, w.Close())

		_, got, info := mustOpen(t, d, wal.Options{})
		require.Equal(t, all[tc.want[0]-1:], got, "seq %d", tc.seq)
		require.Equal(t, tc.want[0], info.FirstSeq)
	}
}

func TestPrefixesShareADisk(t *testing.T) {
	d := newMemDisk()
	d.put("snapshot.bin", []byte("not a log"))
	d.put("wal-xyz.log", []byte("not a segment"))
	d.put("wal-000000000000000A.log", []byte("upper-case hex is not ours"))
	a, _, _ := mustOpen(t, d, wal.Options{})
	b, _, _ := mustOpen(t, d, wal.Options{Prefix: "queue-p1"})
	wa := appendN(t, a, 3, 4)
	wb := appendN(t, b, 5, 4)
	require.NoError(t, a.Sync())
	require.NoError(t, b.Sync())
	_, got, _ := mustOpen(t, d, wal.Options{})
	require.Equal(t, wa, got)
	_, got, _ = mustOpen(t, d, wal.Options{Prefix: "queue-p1"})
	require.Equal(t, wb, got)
	require.Equal(t, []byte("not a log"), d.get("snapshot.bin"))
}

func TestReplayCallbackError(t *testing.T) {
	d := newMemDisk()
	w, _, _ := mustOpen(t, d, wal.Options{})
	appendN(t, w, 5, 3)
	require.NoError(t, w.Sync())
	stop := errors.New("apply failed")
	_, _, err := wal.Open(d, wal.Options{}, func(seq uint64, _ wal.RecordType, _ []byte) error {
		if seq == 4 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.ErrorContains(t, err, "record 4 at offset 60: replay")
}
