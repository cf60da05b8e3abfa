// Package wal is a segmented write-ahead log over a small Disk interface,
// which nodes.Disk satisfies. Raft logs its entries, hard state and
// snapshot markers in it; the queue logs ENQUEUE and ACK records.
//
// A record is an opaque payload with a caller-chosen RecordType. The log
// numbers records 1, 2, 3... (the sequence number) and frames each one
// with its length, sequence number and a CRC32-C, so that replay detects
// what a crash or a bad disk does to it. The package is pure protocol
// code: no goroutines, no clock, no os; all I/O goes through Disk and
// File.
//
// # Use
//
//	w, info, err := wal.Open(env.Disk(), wal.Options{}, func(seq uint64, typ wal.RecordType, payload []byte) error {
//		return apply(typ, bytes.Clone(payload)) // payload is reused after the call
//	})
//	_, err = w.Append(typeEntry, entry) // written to the file, not yet durable
//	_, err = w.Append(typeEntry, next)  // more Appends: group commit
//	err = w.Sync()                      // every Append before it is now durable
//
//	err = w.Rotate()                    // after a durable snapshot up to seq s:
//	_, err = w.RemoveBefore(s + 1)      // drop the segments holding only records <= s
//
// Append never syncs on its own except when it rotates (see Options.SegmentBytes);
// Sync is the durability point, and Unsynced says whether one is due.
// A failed write, sync or rotation makes the log refuse further writes:
// the caller restarts and reopens it, which repairs what the failure left.
//
// # Files
//
// A log is a set of segment files on one Disk named
//
//	<prefix>-<first>.log     e.g. wal-0000000000000001.log
//
// where <prefix> is Options.Prefix ("wal" by default) and <first> is the
// sequence number of the segment's first record in 16 lower-case hex
// digits, so sorted names are segments in order. Other files on the Disk
// are not the log's and are left alone. The segment with the highest
// <first> is the active one, the only one appended to. A segment holds
// the records from its <first> up to the next segment's <first> - 1, with
// no gap; the first segment may start after 1 once RemoveBefore has
// deleted older ones.
//
// Rotation (Rotate, or Append when the active segment would grow past
// Options.SegmentBytes) syncs the active segment, then creates the next
// one and syncs its creation. So on disk every segment but the last is
// complete and durable, and every segment's existence is durable.
//
// # Frame format
//
// A segment is a concatenation of frames, with no file header and no
// padding. Integers are little-endian. A frame of a record with an L-byte
// payload is 17+L bytes:
//
//	offset  size  field
//	0       4     length   L, uint32; at most Options.MaxRecordBytes when
//	                       written, at most RecordBytesLimit when replayed
//	4       4     crc      CRC32-C (Castagnoli) of bytes 0..3 followed by
//	                       bytes 8..16+L: length, seq, type and payload
//	8       8     seq      the record's sequence number, uint64, >= 1
//	16      1     type     the RecordType, never 0
//	17      L     payload  the caller's bytes
//
// The CRC covers the sequence number, and replay demands that the frames
// of a segment carry <first>, <first>+1, ... in order: an intact record
// replayed at another position (copied to another offset, left in a stale
// segment, misnamed) is detected as corruption instead of being replayed
// out of place. The CRC also covers the length, so a flipped length bit is
// caught even when it points inside the file. Zeroed bytes never form a
// frame: type 0 is reserved, seq 0 is never written, and the CRC of zeros
// is not zero.
//
// # Recovery rule
//
// Open replays segments in order. A segment whose <first> is not the
// sequence number after the previous segment's last record is ErrCorrupt
// (a segment is missing). In each segment it decodes the frame at offset
// o, which must carry sequence number s. The frame is
//
//   - intact: its CRC matches and it carries s and a non-zero type. It is
//     replayed and the next frame is at o+17+L.
//   - misplaced: its CRC matches but it carries another seq, or type 0.
//     A crash cannot produce that: ErrCorrupt.
//   - bad: fewer than 17 bytes left (short header), a length above
//     RecordBytesLimit, a payload running past the end of the file (short
//     payload), or a CRC mismatch.
//
// A bad frame is first read again: the bytes from o to the end of the
// segment are re-read from the Disk, up to Options.ReadAttempts reads in
// all. If a re-read decodes the frame intact, the first read was a read
// fault (the simulator flips a bit of a read now and then) and replay goes
// on with the fresh bytes. The frame stays bad only once two reads of
// those bytes are identical, i.e. the bytes on disk are bad; if no two
// reads agree within the attempts, Open fails with ErrUnstableRead and
// changes nothing. A record whose CRC fails is never accepted. Then:
//
//  1. In a segment that is not the last: ErrCorrupt. Rotation synced it
//     whole before the next segment existed, so a crash cannot have torn it.
//  2. In the last segment, if an intact frame starts at any offset p in
//     (o, end of file) (CRC matching, length within RecordBytesLimit and
//     inside the file, type not 0, seq in [s, s+(p-o)/17] since each
//     record takes at least 17 bytes): ErrCorrupt. A crash only loses or
//     tears the unsynced end of the file, so intact data after a bad frame
//     means the bad frame was damaged in place.
//  3. Otherwise the bytes from o to the end of the last segment are a torn
//     tail: a short header, a short payload, a CRC mismatch or zeroed
//     sectors at the very end. The segment is truncated to o and the
//     truncation synced; RecoveryInfo reports the segment, o, the bytes
//     cut and the reason.
//
// Corruption errors are *CorruptError values naming the segment file, the
// offset and the expected sequence number; errors.Is(err, ErrCorrupt)
// holds. A limit of the rule: damage at rest to the very last record of
// the log (nothing intact after it) looks exactly like a torn write and is
// cut as one. RecoveryInfo.TruncatedBytes shows it; no rule without extra
// writes per Sync could do better.
package wal
