package caches

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/distsync/distsync/protocols/wal"
)

// Files and bounds of a node's durable store on its Disk.
const (
	// snapshotFile holds the last snapshot (writeSealed): a version byte,
	// the uvarint sequence number of the first log record not in it,
	// then mesi.Durable's encoding.
	snapshotFile = "snapshot"
	// logPrefix names the log's segment files (protocols/wal).
	logPrefix = "home"
	// snapshotVersion is the first byte of the snapshot file.
	snapshotVersion = 1
	// recBatch is the type of a log record: the records
	// (mesi.Durable.AppendKeyRecord) of the keys one commit persists, as
	// a uvarint count, then each record with a uvarint length.
	recBatch wal.RecordType = 1
	// compactSlackBytes and compactFactor set when the log is compacted:
	// once it holds more than compactFactor times the last snapshot's
	// size plus compactSlackBytes.
	compactSlackBytes = 1 << 20
	compactFactor     = 4
	// maxBatchBytes bounds a batch record: a commit whose keys take more
	// writes a snapshot instead.
	maxBatchBytes = 64 << 20
	// maxBufBytesKept bounds the encoding buffers kept between commits.
	maxBufBytesKept = 1 << 20
	// openTries bounds the attempts to open the log when its reads keep
	// disagreeing (wal.ErrUnstableRead: an injected read fault).
	openTries = 5
)

// store is a node's durable state on its Disk: a snapshot of the whole
// state (mesi.Durable.Durable) taken at a log position, and a log
// (protocols/wal) appended after it with one record per commit: the
// records of the keys dirtied since the commit before, each the key's
// whole state at the time. Recovery restores the snapshot, then replays
// the records from that position on, in order; a torn tail of the log (a
// crash during an unsynced append) is cut by the WAL. A commit is thus
// durable whole or not at all, as the per-event snapshots of earlier
// versions were: recovery gives the state of the last commit synced.
//
// Compaction rotates the log (syncing it), writes a snapshot naming the
// first record after it, and only then deletes the older segments. A
// crash at any point leaves a snapshot and the records after its
// position: either the older snapshot and every record since, or the
// new snapshot, whose position makes replay skip the older records that
// remain.
type store struct {
	disk nodes.Disk
	dur  mesi.Durable
	log  *wal.WAL
	// buf and rec are encoding buffers (a batch, a key's record), reused.
	buf, rec []byte
	// snapBytes is the size of the last snapshot; base the log's bytes
	// appended (as wal.Stats.Bytes counts them) when it was taken.
	snapBytes int64
	base      uint64
	// slackBytes is compactSlackBytes (tests lower it).
	slackBytes int64
	// legacy: the file of the per-event snapshots of earlier versions is
	// on disk, to be removed after the next snapshot.
	legacy bool
	stats  storeStats
}

// storeStats counts what a store did.
type storeStats struct {
	syncs, records, compactions uint64
	replayed, truncated         uint64
}

// openStore restores dur from disk: the last snapshot (or, if there is
// none, the file of an earlier version, durableFile), then every log
// record after it.
func openStore(disk nodes.Disk, dur mesi.Durable) (*store, error) {
	s := &store{disk: disk, dur: dur, slackBytes: compactSlackBytes}
	from := uint64(1) // the first log record the snapshot does not hold
	b, err := readSealed(disk, snapshotFile)
	switch {
	case errors.Is(err, errMissing):
		if b, err = readSealed(disk, durableFile); err == nil {
			s.legacy = true
			if err := dur.RestoreDurable(b); err != nil {
				return nil, fmt.Errorf("%s: %w", durableFile, err)
			}
		} else if !errors.Is(err, errMissing) {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		if len(b) == 0 || b[0] != snapshotVersion {
			return nil, fmt.Errorf("%s: version %v, want %d", snapshotFile, b[:min(len(b), 1)], snapshotVersion)
		}
		n := 0
		if from, n = binary.Uvarint(b[1:]); n <= 0 || from == 0 {
			return nil, fmt.Errorf("%s: bad log position", snapshotFile)
		}
		if err := dur.RestoreDurable(b[1+n:]); err != nil {
			return nil, fmt.Errorf("%s: %w", snapshotFile, err)
		}
		s.snapBytes = int64(len(b))
	}
	opts := wal.Options{Prefix: logPrefix, MaxRecordBytes: maxBatchBytes}
	replay := func(seq uint64, typ wal.RecordType, payload []byte) error {
		if seq < from {
			return nil // in the snapshot already
		}
		if typ != recBatch {
			return fmt.Errorf("record %d: type %d unknown: %w", seq, typ, wal.ErrCorrupt)
		}
		if err := replayBatch(dur, payload); err != nil {
			return fmt.Errorf("record %d: %w", seq, err)
		}
		return nil
	}
	// Opening again after an unstable read replays the records from the
	// first again: harmless, as each sets a key's whole state, so the
	// last record of each key wins whatever was applied before.
	var info wal.RecoveryInfo
	for try := 1; ; try++ {
		s.log, info, err = wal.Open(disk, opts, replay)
		if !errors.Is(err, wal.ErrUnstableRead) || try == openTries {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	// Records [from, NextSeq) must all be there: a snapshot whose
	// position the log has not reached, or a log that starts after it,
	// lost records.
	if info.NextSeq < from || info.FirstSeq > from {
		_ = s.log.Close()
		return nil, fmt.Errorf("log holds records %d..%d, the snapshot needs them from %d: %w",
			info.FirstSeq, info.NextSeq-1, from, wal.ErrCorrupt)
	}
	s.base = s.log.Stats().Bytes
	s.stats.replayed, s.stats.truncated = info.Records, uint64(info.TruncatedBytes)
	return s, nil
}

// replayBatch applies the key records of a batch to dur.
func replayBatch(dur mesi.Durable, b []byte) error {
	n, off := binary.Uvarint(b)
	if off <= 0 || n == 0 || n > uint64(len(b)) {
		return fmt.Errorf("batch: bad count: %w", wal.ErrCorrupt)
	}
	for i := range n {
		l, m := binary.Uvarint(b[off:])
		if m <= 0 || l > uint64(len(b)-off-m) {
			return fmt.Errorf("batch: key record %d of %d: bad length: %w", i, n, wal.ErrCorrupt)
		}
		off += m
		if err := dur.RestoreKeyRecord(b[off : off+int(l)]); err != nil {
			return fmt.Errorf("batch: key record %d of %d: %w", i, n, err)
		}
		off += int(l)
	}
	if off != len(b) {
		return fmt.Errorf("batch: %d trailing bytes: %w", len(b)-off, wal.ErrCorrupt)
	}
	return nil
}

// persist appends one record holding the records of the keys dirty in
// dur, syncs it, and compacts the log if it grew too large (or writes a
// snapshot at once if the batch is too large for a record). Nothing is
// written when no key is dirty.
func (s *store) persist() error {
	keys := s.dur.DirtyKeys()
	if len(keys) == 0 {
		return nil
	}
	s.buf = binary.AppendUvarint(s.buf[:0], uint64(len(keys)))
	for _, k := range keys {
		s.rec = s.dur.AppendKeyRecord(s.rec[:0], k)
		s.buf = binary.AppendUvarint(s.buf, uint64(len(s.rec)))
		s.buf = append(s.buf, s.rec...)
	}
	batch := s.buf
	if cap(s.buf) > maxBufBytesKept {
		s.buf = nil
	}
	if cap(s.rec) > maxBufBytesKept {
		s.rec = nil
	}
	if len(batch) > maxBatchBytes {
		return s.compact()
	}
	if _, err := s.log.Append(recBatch, batch); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return err
	}
	s.stats.syncs++
	s.stats.records += uint64(len(keys))
	if int64(s.log.Stats().Bytes-s.base) > compactFactor*s.snapBytes+s.slackBytes {
		return s.compact()
	}
	return nil
}

// compact writes a snapshot of dur's whole state (which clears its dirty
// keys) and drops the log records it holds.
func (s *store) compact() error {
	if err := s.log.Rotate(); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	from := s.log.NextSeq()
	b := binary.AppendUvarint([]byte{snapshotVersion}, from)
	b = append(b, s.dur.Durable()...)
	if err := writeSealed(s.disk, snapshotFile, b); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if _, err := s.log.RemoveBefore(from); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if s.legacy {
		if err := s.disk.Remove(durableFile); err != nil {
			return fmt.Errorf("compact: remove %s: %w", durableFile, err)
		}
		s.legacy = false
	}
	s.snapBytes = int64(len(b))
	s.base = s.log.Stats().Bytes
	s.stats.compactions++
	return nil
}
