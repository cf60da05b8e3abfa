package wal

import (
	"cmp"
	"fmt"
	"hash/crc32"
	"slices"
)

// Open opens the log named by opts.Prefix on disk, creating it if it has
// no segment yet. It replays every record in sequence order through replay
// (which may be nil), cuts a torn tail off the last segment and syncs the
// cut, and returns the log ready for Append at the next sequence number.
// The package documentation states the recovery rule. Damage the rule
// cannot attribute to a crash is an error wrapping ErrCorrupt.
//
// A nodes.Disk is passed as it is: it is a Disk[nodes.File].
func Open[F File](disk Disk[F], opts Options, replay ReplayFunc) (*WAL, RecoveryInfo, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, RecoveryInfo{}, err
	}
	w := &WAL{disk: diskAdapter[F]{disk}, opts: opts}
	r := &replayer{w: w, fn: replay}
	info, err := r.run()
	if err != nil {
		return nil, RecoveryInfo{}, err
	}
	w.stats.ReplayedRecords = info.Records
	w.stats.TruncatedBytes = info.TruncatedBytes
	return w, info, nil
}

// replayer holds the state of one Open.
type replayer struct {
	w    *WAL
	fn   ReplayFunc
	buf  []byte // a segment's bytes, reused from segment to segment
	info RecoveryInfo
}

// run lists the segments, replays them and leaves w with its active file.
func (r *replayer) run() (RecoveryInfo, error) {
	w := r.w
	names, err := w.disk.list()
	if err != nil {
		return RecoveryInfo{}, fmt.Errorf("wal: list files: %w", err)
	}
	for _, name := range names {
		if first, ok := parseSegmentName(w.opts.Prefix, name); ok {
			w.segs = append(w.segs, segment{name: name, first: first})
		}
	}
	// Names have fixed-width hex, so List's order is already numeric;
	// sorting again costs little and does not trust the Disk.
	slices.SortFunc(w.segs, func(a, b segment) int { return cmp.Compare(a.first, b.first) })
	if len(w.segs) == 0 {
		if err := r.create(); err != nil {
			return RecoveryInfo{}, err
		}
	} else if err := r.replayAll(); err != nil {
		if w.active != nil {
			_ = w.active.Close() // the replay error is the one to report
		}
		return RecoveryInfo{}, err
	}
	r.info.Segments = len(w.segs)
	r.info.FirstSeq = w.FirstSeq()
	r.info.NextSeq = w.nextSeq
	return r.info, nil
}

// create starts an empty log: segment 1, its creation synced.
func (r *replayer) create() error {
	w := r.w
	name := segmentName(w.opts.Prefix, 1)
	f, err := w.disk.open(name)
	if err != nil {
		return fmt.Errorf("wal: %s: create segment: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("wal: %s: sync new segment: %w", name, err)
	}
	w.stats.Syncs++
	w.segs = []segment{{name: name, first: 1}}
	w.active = f
	w.nextSeq = 1
	return nil
}

// replayAll replays the listed segments in order, checking that each
// starts where the one before it ended.
func (r *replayer) replayAll() error {
	w := r.w
	want := w.segs[0].first
	if want == 0 {
		return &CorruptError{Segment: w.segs[0].name, Seq: 0, Reason: "segment name carries sequence number 0"}
	}
	for i := range w.segs {
		s := &w.segs[i]
		last := i == len(w.segs)-1
		if s.first != want {
			return &CorruptError{Segment: s.name, Seq: want,
				Reason: fmt.Sprintf("segment starts at seq %d but the log so far ends before %d: a segment is missing or out of place", s.first, want)}
		}
		f, err := w.disk.open(s.name)
		if err != nil {
			return fmt.Errorf("wal: %s: open: %w", s.name, err)
		}
		next, size, err := r.segment(f, s.name, s.first, last)
		if last && err == nil {
			w.active = f
		} else if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("wal: %s: close: %w", s.name, cerr)
		}
		if err != nil {
			return err
		}
		s.size = size
		want = next
	}
	w.nextSeq = want
	return nil
}

// segment replays one segment file whose first record is first, and
// returns the sequence number after its last record and its size after
// any truncation. Only the last segment may have a torn tail cut off.
func (r *replayer) segment(f File, name string, first uint64, last bool) (uint64, int64, error) {
	size := f.Size()
	if size < 0 || size > maxSegmentFileBytes {
		return 0, 0, &CorruptError{Segment: name, Seq: first,
			Reason: fmt.Sprintf("file of %d bytes, a segment holds at most %d", size, int64(maxSegmentFileBytes))}
	}
	r.buf = slices.Grow(r.buf[:0], int(size))[:size]
	buf := r.buf
	if err := readFull(f, buf, 0); err != nil {
		return 0, 0, fmt.Errorf("wal: %s: read: %w", name, err)
	}
	off, seq := 0, first
	// Every frame takes at least headerBytes, so a segment holds at most
	// size/headerBytes of them.
	maxFrames := len(buf)/headerBytes + 1
	for i := 0; off < len(buf); i++ {
		if i > maxFrames {
			panic(fmt.Sprintf("wal: %s: %d frames in %d bytes, at most %d fit", name, i, len(buf), maxFrames))
		}
		fr := decodeFrame(buf, off, seq)
		if fr.status == frameBad {
			var err error
			if fr, err = r.reread(f, name, buf, off, seq, fr); err != nil {
				return 0, 0, err
			}
		}
		switch fr.status {
		case frameOK:
			if r.fn != nil {
				if err := r.fn(seq, fr.typ, fr.payload); err != nil {
					return 0, 0, fmt.Errorf("wal: %s: record %d at offset %d: replay: %w", name, seq, off, err)
				}
			}
			r.info.Records++
			off += fr.size
			seq++
			continue
		case frameMisplaced:
			return 0, 0, &CorruptError{Segment: name, Offset: int64(off), Seq: seq, Reason: fr.reason}
		}
		if !last {
			return 0, 0, &CorruptError{Segment: name, Offset: int64(off), Seq: seq,
				Reason: fr.reason + "; in a segment that is not the last, which rotation synced whole"}
		}
		if p, found := validFrameAfter(buf, off, seq); found {
			return 0, 0, &CorruptError{Segment: name, Offset: int64(off), Seq: seq,
				Reason: fmt.Sprintf("%s; an intact record follows at offset %d", fr.reason, p)}
		}
		return seq, int64(off), r.truncate(f, name, off, len(buf)-off, fr.reason)
	}
	if off != len(buf) {
		panic(fmt.Sprintf("wal: %s: replay stopped at offset %d of %d", name, off, len(buf)))
	}
	return seq, int64(off), nil
}

// reread judges a frame that failed on the first read. It reads the bytes
// from off to the end of the segment again, up to Options.ReadAttempts
// reads in all, and returns the frame as soon as one read decodes it
// intact (the earlier failure was a read fault), or as bad once two reads
// of those bytes are identical, compared by their CRC32-C (the bytes on
// disk are bad, and buf holds them). A flipped bit returned by a read cannot make a bad frame pass its
// CRC, and two reads rarely flip the same bit, so a fault of the read path
// neither hides damage nor makes Open cut good records.
func (r *replayer) reread(f File, name string, buf []byte, off int, seq uint64, fr frame) (frame, error) {
	tail := buf[off:]
	var sums [ReadAttemptsLimit]uint32
	sums[0] = crc32.Checksum(tail, castagnoli)
	for n := 1; n < r.w.opts.ReadAttempts; n++ {
		if err := readFull(f, tail, int64(off)); err != nil {
			return frame{}, fmt.Errorf("wal: %s: record %d at offset %d: read again: %w", name, seq, off, err)
		}
		r.info.ExtraReads++
		if fr = decodeFrame(buf, off, seq); fr.status != frameBad {
			return fr, nil
		}
		sums[n] = crc32.Checksum(tail, castagnoli)
		if slices.Contains(sums[:n], sums[n]) {
			return fr, nil
		}
	}
	return frame{}, fmt.Errorf("wal: %s: record %d at offset %d: %d reads of the last %d bytes, no two alike: %w",
		name, seq, off, r.w.opts.ReadAttempts, len(tail), ErrUnstableRead)
}

// truncate cuts the torn tail of the last segment at off and syncs the cut.
func (r *replayer) truncate(f File, name string, off, n int, reason string) error {
	if n <= 0 {
		panic(fmt.Sprintf("wal: %s: torn tail of %d bytes at offset %d", name, n, off))
	}
	if err := f.Truncate(int64(off)); err != nil {
		return fmt.Errorf("wal: %s: truncate torn tail at offset %d: %w", name, off, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: %s: sync truncation at offset %d: %w", name, off, err)
	}
	r.w.stats.Syncs++
	r.info.TruncatedSegment = name
	r.info.TruncatedAt = int64(off)
	r.info.TruncatedBytes = int64(n)
	r.info.TruncateReason = reason
	return nil
}
