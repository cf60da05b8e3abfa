package wal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/distsync/distsync/protocols/wal"
)

// fuzzSeedLog returns the bytes of one segment holding n records.
func fuzzSeedLog(f *testing.F, n int) []byte {
	d := newMemDisk()
	w, _, err := wal.Open(d, wal.Options{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for i := range n {
		if _, err := w.Append(wal.RecordType(1+i), payload(uint64(i), i*13%90)); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Sync(); err != nil {
		f.Fatal(err)
	}
	return bytes.Clone(d.get(segName(1)))
}

// FuzzReplay feeds arbitrary bytes to Open as the segment file
// wal-0000000000000001.log, followed, if next is not zero, by an empty
// segment whose first record would be next+1 (the right name when the
// bytes hold next records). Open must not panic; it either fails with
// ErrCorrupt, or replays consecutive records whose frames fill a prefix of
// the file and cuts the rest, after which the log reopens to the same
// records with nothing to cut and takes appends.
func FuzzReplay(f *testing.F) {
	valid := fuzzSeedLog(f, 6)
	f.Add(valid, uint8(0))
	f.Add(valid, uint8(6))
	f.Add(valid, uint8(3))
	f.Add(valid[:len(valid)-5], uint8(0))
	f.Add(append(bytes.Clone(valid), make([]byte, 512)...), uint8(0))
	flipped := bytes.Clone(valid)
	flipped[30] ^= 1
	f.Add(flipped, uint8(0))
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, next uint8) {
		d := newMemDisk()
		d.put(segName(1), data)
		if next > 0 {
			d.put(segName(uint64(next)+1), nil)
		}
		w, got, info, err := open(d, wal.Options{})
		if err != nil {
			if !errors.Is(err, wal.ErrCorrupt) {
				t.Fatalf("error that is not ErrCorrupt: %v", err)
			}
			if !bytes.Equal(d.get(segName(1)), data) {
				t.Fatal("a failed Open changed the file")
			}
			return
		}
		if err := w.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		end := 0
		for i, r := range got {
			if r.Seq != uint64(i+1) || r.Typ == 0 || len(r.Payload) > wal.RecordBytesLimit {
				t.Fatalf("record %d: seq %d type %d, %d bytes", i, r.Seq, r.Typ, len(r.Payload))
			}
			end += hdr + len(r.Payload)
		}
		kept := d.get(segName(1))
		if len(kept) != end || !bytes.Equal(kept, data[:end]) {
			t.Fatalf("replayed frames fill %d bytes, the file keeps %d of %d", end, len(kept), len(data))
		}
		if int64(len(data)-end) != info.TruncatedBytes {
			t.Fatalf("cut %d bytes, %d reported", len(data)-end, info.TruncatedBytes)
		}
		if next > 0 && info.TruncatedBytes != 0 {
			t.Fatalf("cut %d bytes from a sealed segment", info.TruncatedBytes)
		}
		if _, err := w.Append(1, []byte("after")); err != nil {
			t.Fatal(err)
		}
		if err := w.Sync(); err != nil {
			t.Fatal(err)
		}
		_, again, info2, err := open(d, wal.Options{})
		if err != nil {
			t.Fatalf("reopening a repaired log: %v", err)
		}
		if info2.TruncatedBytes != 0 || len(again) != len(got)+1 {
			t.Fatalf("reopened: %d records (want %d), cut %d", len(again), len(got)+1, info2.TruncatedBytes)
		}
	})
}
