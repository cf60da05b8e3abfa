package wal_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/protocols/wal"
)

// buildLog writes segs segments of perSeg records of size bytes each, all
// synced, and returns them. Segment k starts at record k*perSeg+1.
func buildLog(t *testing.T, segs, perSeg, size int) (*memDisk, []rec) {
	t.Helper()
	d := newMemDisk()
	w, _, _ := mustOpen(t, d, wal.Options{})
	var all []rec
	for k := range segs {
		if k > 0 {
			require.NoError(t, w.Rotate())
		}
		all = append(all, appendN(t, w, perSeg, size)...)
	}
	require.NoError(t, w.Sync())
	require.NoError(t, w.Close())
	return d, all
}

// flip xors one byte of a file.
func flip(d *memDisk, name string, off int, mask byte) {
	b := slices.Clone(d.get(name))
	b[off] ^= mask
	d.put(name, b)
}

func TestRecoveryTable(t *testing.T) {
	const size = 20
	const frame = hdr + size // 37
	// Segments 1, 5, 9; records 1..12; the last segment holds 9..12.
	last, mid := segName(9), segName(5)
	type torn struct {
		records   int
		truncated int64
		reason    string
	}
	type corrupt struct {
		segment string
		offset  int64
		seq     uint64
		reason  string
	}
	cases := []struct {
		name    string
		mutate  func(d *memDisk)
		torn    *torn
		corrupt *corrupt
	}{
		{"payload bit of a middle record", func(d *memDisk) { flip(d, last, frame+hdr+3, 0x10) },
			nil, &corrupt{last, frame, 10, "CRC mismatch"}},
		{"low length bit of a middle record", func(d *memDisk) { flip(d, last, frame, 0x01) },
			nil, &corrupt{last, frame, 10, "an intact record follows at offset 74"}},
		{"high length bit of a middle record", func(d *memDisk) { flip(d, last, frame+3, 0x80) },
			nil, &corrupt{last, frame, 10, "exceeds the record limit"}},
		{"seq bit of a middle record", func(d *memDisk) { flip(d, last, frame+8, 0x01) },
			nil, &corrupt{last, frame, 10, "CRC mismatch"}},
		{"crc bit of the first record", func(d *memDisk) { flip(d, segName(1), 4, 0x01) },
			nil, &corrupt{segName(1), 0, 1, "CRC mismatch"}},
		{"payload bit of the last record", func(d *memDisk) { flip(d, last, 3*frame+hdr, 0x01) },
			&torn{11, frame, "CRC mismatch"}, nil},
		{"cut inside the last payload", func(d *memDisk) { d.put(last, d.get(last)[:4*frame-5]) },
			&torn{11, frame - 5, "short payload"}, nil},
		{"cut inside the last header", func(d *memDisk) { d.put(last, d.get(last)[:3*frame+3]) },
			&torn{11, 3, "short header: 3 of 17 bytes"}, nil},
		{"zeroed sector after the end", func(d *memDisk) { d.put(last, append(d.get(last), make([]byte, 512)...)) },
			&torn{12, 512, "CRC mismatch"}, nil},
		{"last record zeroed", func(d *memDisk) {
			b := slices.Clone(d.get(last))
			clear(b[3*frame:])
			d.put(last, b)
		}, &torn{11, frame, "CRC mismatch"}, nil},
		{"garbage after the end", func(d *memDisk) { d.put(last, append(d.get(last), bytes.Repeat([]byte{0xff}, 100)...)) },
			&torn{12, 100, "exceeds the record limit"}, nil},
		{"last segment all garbage", func(d *memDisk) { d.put(last, bytes.Repeat([]byte{0xa5}, 4*frame)) },
			&torn{8, 4 * frame, ""}, nil},
		{"last record of a sealed segment", func(d *memDisk) { flip(d, mid, 3*frame+hdr, 0x01) },
			nil, &corrupt{mid, 3 * frame, 8, "not the last"}},
		{"sealed segment cut short", func(d *memDisk) { d.put(mid, d.get(mid)[:4*frame-10]) },
			nil, &corrupt{mid, 3 * frame, 8, "short payload"}},
		{"sealed segment missing", func(d *memDisk) { delete(d.files, mid) },
			nil, &corrupt{last, 0, 5, "segment starts at seq 9"}},
		{"intact record replayed at the tail", func(d *memDisk) {
			b := d.get(last)
			d.put(last, append(slices.Clone(b), b[3*frame:]...))
		}, nil, &corrupt{last, 4 * frame, 13, "intact record carries seq 12"}},
		{"two records swapped", func(d *memDisk) {
			b := slices.Clone(d.get(last))
			r10 := slices.Clone(b[frame : 2*frame])
			copy(b[frame:], b[2*frame:3*frame])
			copy(b[2*frame:], r10)
			d.put(last, b)
		}, nil, &corrupt{last, frame, 10, "carries seq 11"}},
		{"segment renamed", func(d *memDisk) {
			d.put(segName(10), d.get(last))
			delete(d.files, last)
		}, nil, &corrupt{segName(10), 0, 9, "segment starts at seq 10"}},
		{"stray empty segment in the middle", func(d *memDisk) { d.put(segName(7), nil) },
			nil, &corrupt{segName(7), 0, 9, "segment starts at seq 7"}},
		{"segment named after seq 0", func(d *memDisk) { d.put(segName(0), nil) },
			nil, &corrupt{segName(0), 0, 0, "sequence number 0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, all := buildLog(t, 3, 4, size)
			tc.mutate(d)
			before := slices.Clone(d.get(last))
			w, got, info, err := open(d, wal.Options{})
			if tc.corrupt != nil {
				require.ErrorIs(t, err, wal.ErrCorrupt)
				var ce *wal.CorruptError
				require.True(t, errors.As(err, &ce))
				require.Equal(t, tc.corrupt.segment, ce.Segment)
				require.Equal(t, tc.corrupt.offset, ce.Offset)
				require.Equal(t, tc.corrupt.seq, ce.Seq)
				require.Contains(t, ce.Reason, tc.corrupt.reason)
				require.ErrorContains(t, err, "record")
				require.Equal(t, before, d.get(last), "corruption is reported, never repaired")
				return
			}
			require.NoError(t, err)
			require.NoError(t, w.CheckInvariants())
			require.Equal(t, all[:tc.torn.records], got)
			require.Equal(t, last, info.TruncatedSegment)
			require.Equal(t, tc.torn.truncated, info.TruncatedBytes)
			require.Equal(t, int64(len(before))-tc.torn.truncated, info.TruncatedAt)
			require.Contains(t, info.TruncateReason, tc.torn.reason)
			require.Equal(t, info.TruncatedBytes, w.Stats().TruncatedBytes)
			require.Len(t, d.get(last), int(info.TruncatedAt))
			// The repair holds: the log appends after its last good
			// record, and opening again finds nothing to repair.
			more := appendN(t, w, 2, size)
			require.NoError(t, w.Sync())
			_, got2, info2 := mustOpen(t, d, wal.Options{})
			require.Zero(t, info2.TruncatedBytes)
			require.Equal(t, append(all[:tc.torn.records:tc.torn.records], more...), got2)
		})
	}
}

func TestCorruptErrorMessage(t *testing.T) {
	d, _ := buildLog(t, 1, 3, 10)
	flip(d, segName(1), hdr+10+hdr, 0x01)
	_, _, _, err := open(d, wal.Options{})
	require.Regexp(t, `^wal: wal-0000000000000001\.log: record 2 at offset 27: corrupt: `+
		`CRC mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}; an intact record follows at offset 54$`, err.Error())
}

func TestFlakyReads(t *testing.T) {
	t.Run("a flipped read of a good record is read again", func(t *testing.T) {
		for flips := 1; flips <= 3; flips++ {
			d, all := buildLog(t, 3, 4, 20)
			d.flipReads = flips // the first reads of segment 1 lie
			w, got, info, err := open(d, wal.Options{})
			require.NoError(t, err, "%d flipped reads", flips)
			require.NoError(t, w.CheckInvariants())
			require.Equal(t, all, got)
			require.Zero(t, info.TruncatedBytes)
			require.Equal(t, flips, info.ExtraReads)
		}
	})
	t.Run("a torn tail behind reads that never agree is left alone", func(t *testing.T) {
		d, _ := buildLog(t, 2, 4, 20)
		last := segName(5)
		d.put(last, append(slices.Clone(d.get(last)), 1, 2, 3))
		before := slices.Clone(d.get(last))
		d.flipReads = -1
		_, _, _, err := open(d, wal.Options{ReadAttempts: 5})
		require.ErrorIs(t, err, wal.ErrUnstableRead)
		require.ErrorContains(t, err, "5 reads of the last")
		require.Equal(t, before, d.get(last), "nothing cut on unstable reads")
		d.flipReads = 0
		_, got, info := mustOpen(t, d, wal.Options{})
		require.Len(t, got, 8)
		require.Equal(t, int64(3), info.TruncatedBytes)
	})
}
