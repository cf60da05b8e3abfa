package wal

import (
	"fmt"
	"slices"
)

// CheckInvariants reports the first broken invariant of an open log, with
// the numbers that break it:
//
//   - there is at least one segment, and the last is the active file;
//   - segments are in strictly increasing order of first sequence number,
//     each named after it, and every segment but the last holds a record;
//   - the next sequence number is not before the active segment's first;
//   - the active file's size is the size the log has counted;
//   - unsynced records and bytes are both zero or both positive, and no
//     more than the active segment holds;
//   - the Disk lists exactly these segments under the log's prefix.
//
// It asks the Disk for its file list, so it is meant for tests and
// checkers, not for every Append. A closed or failed log is not checked.
func (w *WAL) CheckInvariants() error {
	if w.closed || w.err != nil {
		return nil
	}
	if len(w.segs) == 0 || w.active == nil {
		return fmt.Errorf("wal: %d segments, active file %v", len(w.segs), w.active != nil)
	}
	for i, s := range w.segs {
		if want := segmentName(w.opts.Prefix, s.first); s.name != want {
			return fmt.Errorf("wal: segment %d is named %s, its first seq %d makes it %s", i, s.name, s.first, want)
		}
		if i > 0 && s.first <= w.segs[i-1].first {
			return fmt.Errorf("wal: segment %d starts at seq %d, segment %d before it at %d: no record between", i, s.first, i-1, w.segs[i-1].first)
		}
		if s.size < 0 || i < len(w.segs)-1 && s.size < headerBytes {
			return fmt.Errorf("wal: sealed segment %s holds %d bytes, at least one %d-byte frame expected", s.name, s.size, headerBytes)
		}
	}
	act := w.last()
	if w.active.Name() != act.name {
		return fmt.Errorf("wal: active file is %s, last segment is %s", w.active.Name(), act.name)
	}
	if w.nextSeq < act.first {
		return fmt.Errorf("wal: next seq %d before the active segment's first %d", w.nextSeq, act.first)
	}
	if size := w.active.Size(); size != act.size {
		return fmt.Errorf("wal: active file %s holds %d bytes, the log counted %d", act.name, size, act.size)
	}
	records := w.nextSeq - act.first
	if w.unsyncedRecords < 0 || uint64(w.unsyncedRecords) > records || (w.unsyncedRecords == 0) != (w.unsyncedBytes == 0) || w.unsyncedBytes > act.size {
		return fmt.Errorf("wal: %d unsynced records of %d bytes, the active segment holds %d records of %d bytes",
			w.unsyncedRecords, w.unsyncedBytes, records, act.size)
	}
	names, err := w.disk.list()
	if err != nil {
		return fmt.Errorf("wal: list files: %w", err)
	}
	var onDisk []string
	for _, name := range names {
		if _, ok := parseSegmentName(w.opts.Prefix, name); ok {
			onDisk = append(onDisk, name)
		}
	}
	mine := make([]string, len(w.segs))
	for i, s := range w.segs {
		mine[i] = s.name
	}
	if !slices.Equal(onDisk, mine) {
		return fmt.Errorf("wal: disk holds segments %v, the log knows %v", onDisk, mine)
	}
	return nil
}
