package wal_test

import (
	"fmt"
	"testing"

	"github.com/distsync/distsync/protocols/wal"
)

// BenchmarkAppendSync measures the write path on the in-memory disk in
// discard mode, so that it shows the log's own cost (framing, CRC, the
// copy into the frame buffer, bookkeeping), not a disk's: records of 64
// bytes and 1 KiB, a Sync every 16 records (group commit), rotation every
// 4 MiB and compaction of sealed segments.
func BenchmarkAppendSync(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			d := newMemDisk()
			d.discard = true
			w, _, err := wal.Open(d, wal.Options{SegmentBytes: 4 << 20}, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := payload(1, size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := w.Append(1, p); err != nil {
					b.Fatal(err)
				}
				if (i+1)%16 == 0 {
					if err := w.Sync(); err != nil {
						b.Fatal(err)
					}
					if w.Stats().Segments > 2 {
						if _, err := w.RemoveBefore(w.NextSeq()); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(b.N)/secs, "records/s")
			b.ReportMetric(float64(b.N)*float64(size)/secs/1e6, "MB/s")
		})
	}
}

// BenchmarkWALAppend measures group commit as a node hosting many Raft
// groups does it: records of 128 bytes and 1 KiB (one op is one record),
// appended to the in-memory disk in discard mode and synced every 64
// records, with rotation every 4 MiB and sealed segments removed.
func BenchmarkWALAppend(b *testing.B) {
	const syncEvery = 64
	for _, size := range []int{128, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			d := newMemDisk()
			d.discard = true
			w, _, err := wal.Open(d, wal.Options{SegmentBytes: 4 << 20}, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := payload(1, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := 0; b.Loop(); i++ {
				if _, err := w.Append(1, p); err != nil {
					b.Fatal(err)
				}
				if (i+1)%syncEvery == 0 {
					if err := w.Sync(); err != nil {
						b.Fatal(err)
					}
					if w.Stats().Segments > 2 {
						if _, err := w.RemoveBefore(w.NextSeq()); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			if err := w.Sync(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
