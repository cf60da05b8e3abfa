package wal

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// RecordType is the caller's tag of a record: Raft's entry, hard state or
// snapshot marker, the queue's ENQUEUE or ACK. The log stores it and hands
// it back at replay without interpreting it. Type 0 is reserved so that
// zeroed bytes can never form a record.
type RecordType uint8

// Position says where Append put a record.
type Position struct {
	// Segment is the sequence number of the first record of the segment
	// holding the record; it names the segment's file.
	Segment uint64
	// Seq is the record's sequence number: 1, 2, 3... over the life of the
	// log, never reused, not even after RemoveBefore.
	Seq uint64
}

// ReplayFunc receives the records of the log in sequence order during
// Open. payload aliases a buffer that Open reuses: copy it to keep it. An
// error stops Open, which returns it wrapped.
type ReplayFunc func(seq uint64, typ RecordType, payload []byte) error

// Defaults and limits of Options.
const (
	// DefaultPrefix names a log's files when Options.Prefix is empty.
	DefaultPrefix = "wal"
	// DefaultSegmentBytes is Options.SegmentBytes when it is zero (64 MiB).
	DefaultSegmentBytes = 64 << 20
	// SegmentBytesLimit bounds Options.SegmentBytes (1 GiB).
	SegmentBytesLimit = 1 << 30
	// DefaultMaxRecordBytes is Options.MaxRecordBytes when it is zero
	// (4 MiB).
	DefaultMaxRecordBytes = 4 << 20
	// RecordBytesLimit bounds Options.MaxRecordBytes (256 MiB). Replay
	// accepts any record up to this limit, so lowering MaxRecordBytes
	// never makes records written earlier unreadable.
	RecordBytesLimit = 256 << 20
	// DefaultReadAttempts is Options.ReadAttempts when it is zero.
	DefaultReadAttempts = 4
	// ReadAttemptsLimit bounds Options.ReadAttempts.
	ReadAttemptsLimit = 16
	// maxPrefixBytes bounds Options.Prefix so file names stay well under
	// the 128 bytes a Disk accepts.
	maxPrefixBytes = 64
	// maxSegmentFileBytes is the largest segment file Open will read: a
	// full segment plus one record of the largest size.
	maxSegmentFileBytes = SegmentBytesLimit + headerBytes + RecordBytesLimit
)

// Options tunes a log. The zero value gives the defaults.
type Options struct {
	// Prefix starts every file name of the log (see the package
	// documentation), so that two logs can share a Disk: letters, digits,
	// '_' and '-', at most 64 bytes. Default "wal".
	Prefix string
	// SegmentBytes is the size after which Append starts a new segment:
	// a segment grows past it only when it holds a single record larger
	// than it. Smaller segments let RemoveBefore free space sooner; larger
	// ones mean fewer files. Default 64 MiB, at most 1 GiB.
	SegmentBytes int64
	// MaxRecordBytes bounds a record's payload, so that one bad caller
	// cannot make replay hold gigabytes. Default 4 MiB, at most 256 MiB.
	MaxRecordBytes int
	// ReadAttempts is how many times Open may read the bytes from a bad
	// frame to the end of its segment, to tell a flaky read from bytes
	// really damaged on disk: a frame is judged bad only when two reads
	// agree. Default 4, between 2 and 16.
	ReadAttempts int
}

// withDefaults returns o with zero fields set to their defaults, or an
// error naming the first impossible field.
func (o Options) withDefaults() (Options, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if len(o.Prefix) > maxPrefixBytes {
		return o, fmt.Errorf("wal: options: prefix of %d bytes, at most %d: %w", len(o.Prefix), maxPrefixBytes, ErrBadOptions)
	}
	for i := 0; i < len(o.Prefix); i++ {
		c := o.Prefix[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return o, fmt.Errorf("wal: options: prefix %q has byte %q at %d: %w", o.Prefix, c, i, ErrBadOptions)
		}
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentBytes < 1 || o.SegmentBytes > SegmentBytesLimit {
		return o, fmt.Errorf("wal: options: segment bytes %d outside [1, %d]: %w", o.SegmentBytes, SegmentBytesLimit, ErrBadOptions)
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = DefaultMaxRecordBytes
	}
	if o.MaxRecordBytes < 1 || o.MaxRecordBytes > RecordBytesLimit {
		return o, fmt.Errorf("wal: options: max record bytes %d outside [1, %d]: %w", o.MaxRecordBytes, RecordBytesLimit, ErrBadOptions)
	}
	if o.ReadAttempts == 0 {
		o.ReadAttempts = DefaultReadAttempts
	}
	if o.ReadAttempts < 2 || o.ReadAttempts > ReadAttemptsLimit {
		return o, fmt.Errorf("wal: options: read attempts %d outside [2, %d]: %w", o.ReadAttempts, ReadAttemptsLimit, ErrBadOptions)
	}
	return o, nil
}

var (
	// ErrCorrupt reports a log damaged somewhere a crash cannot explain:
	// a bad record with intact data after it, a bad record in a segment
	// that is not the last, an intact record out of place, a missing
	// segment. Open never skips such a record; the error is a
	// *CorruptError saying where.
	ErrCorrupt = errors.New("wal: corrupt log")
	// ErrUnstableRead reports that Open read the same bytes several times
	// (Options.ReadAttempts) without two reads agreeing, so it could not
	// judge them. Nothing was changed on disk; opening again may succeed.
	ErrUnstableRead = errors.New("wal: repeated reads disagree")
	// ErrRecordTooLarge reports a payload longer than
	// Options.MaxRecordBytes.
	ErrRecordTooLarge = errors.New("wal: record too large")
	// ErrBadType reports RecordType 0, which is reserved.
	ErrBadType = errors.New("wal: record type 0 is reserved")
	// ErrBadOptions reports an impossible Options field.
	ErrBadOptions = errors.New("wal: bad options")
	// ErrClosed reports a call on a closed log.
	ErrClosed = errors.New("wal: log is closed")
)

// CorruptError locates damage found by Open. errors.Is(err, ErrCorrupt)
// holds for it.
type CorruptError struct {
	Segment string // file name
	Offset  int64  // byte offset of the bad frame in the file
	Seq     uint64 // the sequence number the record there should carry
	Reason  string // what is wrong, with the numbers
}

// Error implements error.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: %s: record %d at offset %d: corrupt: %s", e.Segment, e.Seq, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// RecoveryInfo says what Open found and repaired.
type RecoveryInfo struct {
	Segments int    // segment files replayed
	Records  uint64 // records replayed
	FirstSeq uint64 // sequence number of the first record kept on disk
	NextSeq  uint64 // sequence number the next Append gets
	// TruncatedSegment, TruncatedAt and TruncatedBytes describe the torn
	// tail cut from the last segment: its file, where the cut is and how
	// many bytes went. TruncatedSegment is empty if there was none.
	TruncatedSegment string
	TruncatedAt      int64
	TruncatedBytes   int64
	// TruncateReason says what was wrong with the first torn frame.
	TruncateReason string
	// ExtraReads counts the reads beyond the first of each segment that
	// judging bad-looking frames took.
	ExtraReads int
}

// Stats counts what a log did since Open.
type Stats struct {
	Records         uint64 // records appended
	Bytes           uint64 // bytes appended, frame headers included
	Syncs           uint64 // File.Sync calls: by Sync, rotation and recovery
	Segments        int    // segment files of the log now
	Rotations       uint64 // segments started after Open
	RemovedSegments uint64 // segments deleted by RemoveBefore
	ReplayedRecords uint64 // records replayed by Open
	TruncatedBytes  int64  // torn tail cut by Open
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Name  string
	First uint64 // sequence number of its first record
	Bytes int64  // size, unsynced appends included
}

// segment is the log's view of one segment file.
type segment struct {
	name  string
	first uint64
	size  int64
}

// WAL is an open write-ahead log. Its methods must not be called
// concurrently (node code is single-threaded). After a failed write, sync
// or rotation the log refuses every further write with that error, since
// what reached the file is unknown: the caller restarts (opens it again).
type WAL struct {
	disk    dirOps
	opts    Options
	segs    []segment // oldest first; the last is the active one
	active  File      // the last segment's file, the only one written
	nextSeq uint64
	// unsyncedRecords and unsyncedBytes count the appends to the active
	// segment since it was last synced.
	unsyncedRecords int
	unsyncedBytes   int64
	frame           []byte // encoding buffer, reused
	stats           Stats
	err             error // sticky failure
	closed          bool
}

// usable returns the error that stops a call: closed, or failed before.
func (w *WAL) usable() error {
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return fmt.Errorf("wal: unusable after an earlier failure: %w", w.err)
	}
	return nil
}

// fail makes err sticky and returns it.
func (w *WAL) fail(err error) error {
	w.err = err
	return err
}

// last returns the active segment.
func (w *WAL) last() *segment {
	if len(w.segs) == 0 {
		panic("wal: no active segment")
	}
	return &w.segs[len(w.segs)-1]
}

// maxFrameBytesKept bounds the encoding buffer kept between appends, so one
// huge record does not pin its size in memory.
const maxFrameBytesKept = 64 << 10

// Append adds a record to the log and returns its position. It only
// writes to the active segment's file: the record is durable once Sync
// returns. If the active segment holds records and this one would take it
// past Options.SegmentBytes, Append first rotates, which syncs the records
// before it.
func (w *WAL) Append(typ RecordType, payload []byte) (Position, error) {
	if err := w.usable(); err != nil {
		return Position{}, err
	}
	if typ == 0 {
		return Position{}, fmt.Errorf("wal: append record %d: %w", w.nextSeq, ErrBadType)
	}
	if len(payload) > w.opts.MaxRecordBytes {
		return Position{}, fmt.Errorf("wal: append record %d: payload of %d bytes exceeds MaxRecordBytes %d: %w",
			w.nextSeq, len(payload), w.opts.MaxRecordBytes, ErrRecordTooLarge)
	}
	if w.nextSeq == math.MaxUint64 {
		panic(fmt.Sprintf("wal: sequence numbers exhausted at %d", w.nextSeq))
	}
	size := int64(headerBytes + len(payload))
	if act := w.last(); w.nextSeq > act.first && act.size+size > w.opts.SegmentBytes {
		if err := w.rotate(); err != nil {
			return Position{}, err
		}
	}
	act := w.last()
	if act.first > w.nextSeq {
		panic(fmt.Sprintf("wal: active segment %s starts at seq %d, after the next seq %d", act.name, act.first, w.nextSeq))
	}
	w.frame = appendFrame(w.frame[:0], w.nextSeq, typ, payload)
	n, err := w.active.Append(w.frame)
	if err == nil && n != len(w.frame) {
		err = fmt.Errorf("short append: %d of %d bytes", n, len(w.frame))
	}
	if err != nil {
		return Position{}, w.fail(fmt.Errorf("wal: %s: append record %d at offset %d: %w", act.name, w.nextSeq, act.size, err))
	}
	if cap(w.frame) > maxFrameBytesKept {
		w.frame = nil
	}
	pos := Position{Segment: act.first, Seq: w.nextSeq}
	act.size += size
	w.nextSeq++
	w.unsyncedRecords++
	w.unsyncedBytes += size
	w.stats.Records++
	w.stats.Bytes += uint64(size)
	return pos, nil
}

// Sync makes every record appended so far durable. It does nothing, and
// costs nothing, when no record is unsynced; for group commit, call it
// once after many Appends.
func (w *WAL) Sync() error {
	if err := w.usable(); err != nil {
		return err
	}
	if w.unsyncedRecords == 0 {
		return nil
	}
	return w.syncActive()
}

// syncActive syncs the active segment's file.
func (w *WAL) syncActive() error {
	if err := w.active.Sync(); err != nil {
		return w.fail(fmt.Errorf("wal: %s: sync through record %d: %w", w.last().name, w.nextSeq-1, err))
	}
	w.stats.Syncs++
	w.unsyncedRecords, w.unsyncedBytes = 0, 0
	return nil
}

// Unsynced returns how many appended records a crash could lose now: zero
// right after Sync. It costs a field read.
func (w *WAL) Unsynced() int { return w.unsyncedRecords }

// UnsyncedBytes returns the size of the frames Unsynced counts, for a
// caller that groups commits by volume.
func (w *WAL) UnsyncedBytes() int64 { return w.unsyncedBytes }

// Rotate seals the active segment and starts a new one, empty, whose name
// carries the next sequence number. It syncs the sealed segment first
// (which makes every record so far durable) and syncs the new file's
// creation, so that on disk every segment but the last is complete. A
// caller taking a snapshot rotates, then calls RemoveBefore. Rotating a
// segment that holds no record does nothing.
func (w *WAL) Rotate() error {
	if err := w.usable(); err != nil {
		return err
	}
	return w.rotate()
}

func (w *WAL) rotate() error {
	act := w.last()
	if w.nextSeq == act.first {
		return nil
	}
	if w.unsyncedRecords > 0 {
		if err := w.syncActive(); err != nil {
			return err
		}
	}
	if err := w.active.Close(); err != nil {
		return w.fail(fmt.Errorf("wal: %s: close: %w", act.name, err))
	}
	name := segmentName(w.opts.Prefix, w.nextSeq)
	f, err := w.disk.open(name)
	if err != nil {
		return w.fail(fmt.Errorf("wal: %s: create segment: %w", name, err))
	}
	w.active = f
	if size := f.Size(); size != 0 {
		return w.fail(&CorruptError{Segment: name, Offset: 0, Seq: w.nextSeq,
			Reason: fmt.Sprintf("a new segment's file already holds %d bytes", size)})
	}
	if err := f.Sync(); err != nil {
		return w.fail(fmt.Errorf("wal: %s: sync new segment: %w", name, err))
	}
	w.stats.Syncs++
	w.stats.Rotations++
	w.segs = append(w.segs, segment{name: name, first: w.nextSeq})
	return nil
}

// RemoveBefore deletes, oldest first, every segment whose records all
// have sequence numbers below seq, and returns how many it deleted. The
// active segment is never deleted, so the log on disk stays a contiguous
// run of records even if a crash interrupts it. The caller must have made
// whatever replaces those records (a snapshot) durable first.
func (w *WAL) RemoveBefore(seq uint64) (int, error) {
	if err := w.usable(); err != nil {
		return 0, err
	}
	n := 0
	// Segment k holds records [segs[k].first, segs[k+1].first); it goes
	// when segs[k+1].first <= seq. Each pass removes one; bounded by the
	// segment count.
	for n < len(w.segs)-1 && w.segs[n+1].first <= seq {
		name := w.segs[n].name
		if err := w.disk.remove(name); err != nil {
			w.segs = slices.Delete(w.segs, 0, n)
			return n, fmt.Errorf("wal: remove segment %s (records before %d): %w", name, seq, err)
		}
		n++
		w.stats.RemovedSegments++
	}
	w.segs = slices.Delete(w.segs, 0, n)
	return n, nil
}

// NextSeq returns the sequence number the next Append will get.
func (w *WAL) NextSeq() uint64 { return w.nextSeq }

// FirstSeq returns the sequence number of the oldest record still on disk
// (NextSeq if the log holds none).
func (w *WAL) FirstSeq() uint64 { return w.segs[0].first }

// Segments describes the log's segment files, oldest first.
func (w *WAL) Segments() []SegmentInfo {
	out := make([]SegmentInfo, len(w.segs))
	for i, s := range w.segs {
		out[i] = SegmentInfo{Name: s.name, First: s.first, Bytes: s.size}
	}
	return out
}

// Stats returns the log's counters.
func (w *WAL) Stats() Stats {
	s := w.stats
	s.Segments = len(w.segs)
	return s
}

// Close releases the active segment's file without syncing it: records
// appended since the last Sync are not made durable. Every later call
// returns ErrClosed; closing twice does nothing.
func (w *WAL) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.active.Close(); err != nil {
		return fmt.Errorf("wal: %s: close: %w", w.last().name, err)
	}
	return nil
}
