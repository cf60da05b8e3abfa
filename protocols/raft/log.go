package raft

import (
	"fmt"
	"sort"
)

// raftLog is the in-memory log: the latest snapshot, the entries after
// (and possibly a few before) it, and the indexes that track what was
// persisted, committed and applied.
//
// Index bookkeeping, all inclusive:
//
//	snap.Index <= applied <= applying <= committed <= lastIndex
//	first <= snap.Index+1,  lastIndex >= snap.Index
//	stabled <= lastIndex: entries above stabled were not yet handed out
//	in a Ready (or were handed out and then replaced).
type raftLog struct {
	snap    Snapshot // the latest snapshot; Data is kept to send it
	entries []Entry  // contiguous; entries[0].Index == first
	first   uint64   // index of entries[0], or snap.Index+1 when empty

	committed uint64
	applying  uint64 // highest index handed out in CommittedEntries
	applied   uint64 // highest index acknowledged by Advance
	stabled   uint64 // highest index persisted (acknowledged by Advance)
	// handedOut is the last index handed out in the Ready awaiting
	// Advance (0 if none); it becomes stabled on Advance, unless the log
	// was truncated below it in between.
	handedOut uint64

	// unstableSnap is a snapshot received from the leader and not yet
	// handed out in a Ready.
	unstableSnap *Snapshot
}

// newLog rebuilds the log from persisted storage, after validation.
func newLog(st Storage) (*raftLog, error) {
	l := &raftLog{snap: st.Snapshot, first: st.Snapshot.Index + 1}
	if len(st.Entries) > 0 {
		l.first = st.Entries[0].Index
		l.entries = st.Entries[:len(st.Entries):len(st.Entries)]
	}
	if err := l.checkStorage(st); err != nil {
		return nil, err
	}
	last := l.lastIndex()
	l.committed = max(st.HardState.Commit, st.Snapshot.Index)
	if l.committed > last {
		return nil, fmt.Errorf("%w: commit %d is beyond last index %d", ErrInvalidStorage, l.committed, last)
	}
	l.applied = st.Snapshot.Index
	l.applying = st.Snapshot.Index
	l.stabled = last
	return l, nil
}

// checkStorage validates the shape of persisted entries against the
// snapshot and the hard state.
func (l *raftLog) checkStorage(st Storage) error {
	snap := st.Snapshot
	if snap.Index == 0 && snap.Term != 0 {
		return fmt.Errorf("%w: snapshot with index 0 has term %d", ErrInvalidStorage, snap.Term)
	}
	if snap.Index > 0 && (snap.Term == 0 || snap.Term > st.HardState.Term) {
		return fmt.Errorf("%w: snapshot term %d not in [1, hard state term %d]", ErrInvalidStorage, snap.Term, st.HardState.Term)
	}
	if len(snap.Data) > MaxSnapshotBytes {
		return fmt.Errorf("%w: snapshot is %d bytes, more than %d", ErrInvalidStorage, len(snap.Data), MaxSnapshotBytes)
	}
	if len(st.Entries) == 0 {
		return nil
	}
	if l.first == 0 || l.first > snap.Index+1 {
		return fmt.Errorf("%w: first entry %d leaves a gap after snapshot %d", ErrInvalidStorage, l.first, snap.Index)
	}
	prevTerm := uint64(0)
	for i, e := range st.Entries {
		if e.Index != l.first+uint64(i) {
			return fmt.Errorf("%w: entry %d has index %d, want %d", ErrInvalidStorage, i, e.Index, l.first+uint64(i))
		}
		if e.Term < prevTerm || e.Term == 0 || e.Term > st.HardState.Term || !e.Type.valid() {
			return fmt.Errorf("%w: entry %d: term %d (previous %d, hard state %d), type %d", ErrInvalidStorage,
				e.Index, e.Term, prevTerm, st.HardState.Term, e.Type)
		}
		if e.Index == snap.Index && e.Term != snap.Term {
			return fmt.Errorf("%w: entry %d has term %d, snapshot says %d", ErrInvalidStorage, e.Index, e.Term, snap.Term)
		}
		prevTerm = e.Term
	}
	if l.lastIndex() < snap.Index {
		return fmt.Errorf("%w: entries end at %d, before snapshot %d", ErrInvalidStorage, l.lastIndex(), snap.Index)
	}
	return nil
}

// firstIndex is the index of the first entry held in memory.
func (l *raftLog) firstIndex() uint64 { return l.first }

// lastIndex is the index of the last entry (or of the snapshot).
func (l *raftLog) lastIndex() uint64 {
	if len(l.entries) == 0 {
		return l.snap.Index
	}
	return l.first + uint64(len(l.entries)) - 1
}

// lastTerm is the term of the last entry (or of the snapshot).
func (l *raftLog) lastTerm() uint64 {
	t, err := l.term(l.lastIndex())
	if err != nil {
		panic(fmt.Sprintf("raft: term of last index %d: %v", l.lastIndex(), err))
	}
	return t
}

// term returns the term of the entry at i.
func (l *raftLog) term(i uint64) (uint64, error) {
	if t, ok := l.termOf(i); ok {
		return t, nil
	}
	if i > l.lastIndex() {
		return 0, fmt.Errorf("index %d > last %d: %w", i, l.lastIndex(), ErrUnavailable)
	}
	return 0, fmt.Errorf("index %d < first %d: %w", i, l.first, ErrCompacted)
}

// termOf returns the term of the entry at i and whether it is known,
// without building an error: it is on the path of every append.
func (l *raftLog) termOf(i uint64) (uint64, bool) {
	switch {
	case i == l.snap.Index:
		return l.snap.Term, true
	case i > l.lastIndex():
		return 0, false
	case i >= l.first:
		return l.entries[i-l.first].Term, true
	case i == 0:
		return 0, true
	}
	return 0, false
}

// matchTerm reports whether the entry at i exists and has term t.
func (l *raftLog) matchTerm(i, t uint64) bool {
	got, ok := l.termOf(i)
	return ok && got == t
}

// isUpToDate reports whether a log ending at (lastIndex, lastTerm) is at
// least as up to date as this one (paper, section 5.4.1).
func (l *raftLog) isUpToDate(lastIndex, lastTerm uint64) bool {
	myTerm := l.lastTerm()
	return lastTerm > myTerm || lastTerm == myTerm && lastIndex >= l.lastIndex()
}

// slice returns entries [lo, hi), limited to maxBytes of encoded size
// (at least one entry) and to MaxMessageEntries. The result's capacity is
// clipped so that appending to it cannot overwrite the log.
func (l *raftLog) slice(lo, hi, maxBytes uint64) ([]Entry, error) {
	if lo < l.first {
		return nil, fmt.Errorf("entries from %d < first %d: %w", lo, l.first, ErrCompacted)
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("entries to %d > last %d: %w", hi-1, l.lastIndex(), ErrUnavailable)
	}
	if lo >= hi {
		return nil, nil
	}
	ents := l.entries[lo-l.first : hi-l.first]
	ents = limitSize(ents, maxBytes)
	return ents[:len(ents):len(ents)], nil
}

// limitSize returns the longest prefix of ents whose encoded size is within
// maxBytes (at least one entry) and whose length is within
// MaxMessageEntries.
func limitSize(ents []Entry, maxBytes uint64) []Entry {
	if len(ents) > MaxMessageEntries {
		ents = ents[:MaxMessageEntries]
	}
	size := uint64(0)
	for i := range ents {
		size += uint64(ents[i].EncodedSize())
		if i > 0 && size > maxBytes {
			return ents[:i]
		}
	}
	return ents
}

// entriesBytes is the encoded size of ents.
func entriesBytes(ents []Entry) uint64 {
	n := uint64(0)
	for i := range ents {
		n += uint64(ents[i].EncodedSize())
	}
	return n
}

// payloadBytes is the size of the commands in ents.
func payloadBytes(ents []Entry) uint64 {
	n := uint64(0)
	for i := range ents {
		n += uint64(len(ents[i].Data))
	}
	return n
}

// append adds entries right after the last one (the leader's path).
func (l *raftLog) append(ents ...Entry) {
	if len(ents) == 0 {
		return
	}
	if ents[0].Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("raft: append at %d leaves a gap after last index %d", ents[0].Index, l.lastIndex()))
	}
	l.entries = append(l.entries, ents...)
}

// maybeAppend is the follower's side of AppendEntries: if the entry at
// prevIndex has prevTerm, it appends ents (replacing any conflicting
// suffix), advances the commit index to min(commit, last new index) and
// returns the last new index.
func (l *raftLog) maybeAppend(prevIndex, prevTerm, commit uint64, ents []Entry) (uint64, bool) {
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, false
	}
	lastNew := prevIndex + uint64(len(ents))
	if ci := l.findConflict(ents); ci != 0 {
		if ci <= l.committed {
			panic(fmt.Sprintf("raft: entry %d conflicts with committed entry (commit %d)", ci, l.committed))
		}
		l.truncateAndAppend(ents[ci-(prevIndex+1):])
	}
	l.commitTo(min(commit, lastNew))
	return lastNew, true
}

// findConflict returns the index of the first entry of ents that is not
// in the log with the same term, or 0 if all of them are.
func (l *raftLog) findConflict(ents []Entry) uint64 {
	for i := range ents {
		if !l.matchTerm(ents[i].Index, ents[i].Term) {
			return ents[i].Index
		}
	}
	return 0
}

// truncateAndAppend replaces the log from ents[0].Index on. It copies into
// a fresh array when it truncates, so slices handed out earlier (in a
// Ready not yet persisted) are never overwritten.
func (l *raftLog) truncateAndAppend(ents []Entry) {
	after := ents[0].Index
	last := l.lastIndex()
	switch {
	case after == last+1:
		l.entries = append(l.entries, ents...)
	case after <= l.committed || after < l.first:
		panic(fmt.Sprintf("raft: truncate at %d below commit %d or first %d", after, l.committed, l.first))
	case after > last+1:
		panic(fmt.Sprintf("raft: append at %d leaves a gap after last index %d", after, last))
	default:
		keep := l.entries[:after-l.first]
		fresh := make([]Entry, len(keep), len(keep)+len(ents))
		copy(fresh, keep)
		l.entries = append(fresh, ents...)
		l.stabled = min(l.stabled, after-1)
		l.handedOut = min(l.handedOut, after-1)
	}
}

// commitTo advances the commit index; it never moves backwards.
func (l *raftLog) commitTo(c uint64) {
	if c <= l.committed {
		return
	}
	if c > l.lastIndex() {
		panic(fmt.Sprintf("raft: commit %d is beyond last index %d", c, l.lastIndex()))
	}
	l.committed = c
}

// firstIndexOfTerm returns the lowest index in [lo, hi] whose entry has
// term t, assuming hi holds term t (terms never decrease along the log).
func (l *raftLog) firstIndexOfTerm(t, lo, hi uint64) uint64 {
	lo = max(lo, l.first)
	if lo > hi {
		return hi
	}
	n := int(hi - lo + 1)
	k := sort.Search(n, func(i int) bool { return l.entries[lo+uint64(i)-l.first].Term >= t })
	return lo + uint64(k)
}

// lastIndexOfTerm returns the highest index at or below hi whose entry has
// term t, if the log holds one in memory.
func (l *raftLog) lastIndexOfTerm(t, hi uint64) (uint64, bool) {
	hi = min(hi, l.lastIndex())
	if l.snap.Index == hi && l.snap.Term == t {
		return hi, true
	}
	if hi < l.first || len(l.entries) == 0 {
		return 0, false
	}
	n := int(hi - l.first + 1)
	k := sort.Search(n, func(i int) bool { return l.entries[i].Term > t })
	if k == 0 || l.entries[k-1].Term != t {
		return 0, false
	}
	return l.first + uint64(k-1), true
}

// unstableEntries returns the entries not yet handed out for persistence.
func (l *raftLog) unstableEntries() []Entry {
	last := l.lastIndex()
	if l.stabled >= last {
		return nil
	}
	ents := l.entries[l.stabled+1-l.first:]
	return ents[:len(ents):len(ents)]
}

// nextCommitted returns the committed entries not yet handed out for
// application, limited to maxBytes of payload (at least one entry).
func (l *raftLog) nextCommitted(maxBytes uint64) []Entry {
	lo := max(l.applying+1, l.first)
	if lo > l.committed {
		return nil
	}
	ents := l.entries[lo-l.first : l.committed+1-l.first]
	size := uint64(0)
	for i := range ents {
		size += uint64(len(ents[i].Data))
		if i > 0 && size > maxBytes {
			ents = ents[:i]
			break
		}
	}
	return ents[:len(ents):len(ents)]
}

// hasNextCommitted reports whether nextCommitted would return entries.
func (l *raftLog) hasNextCommitted() bool {
	return max(l.applying+1, l.first) <= l.committed
}

// restore replaces the whole log by a snapshot received from the leader.
func (l *raftLog) restore(s Snapshot) {
	if s.Index <= l.committed {
		panic(fmt.Sprintf("raft: restore snapshot %d at or below commit %d", s.Index, l.committed))
	}
	l.snap = s
	l.entries = nil
	l.first = s.Index + 1
	l.committed = s.Index
	l.applying = s.Index
	l.stabled = s.Index
	l.handedOut = min(l.handedOut, s.Index)
	pending := s
	l.unstableSnap = &pending
}

// compact records a snapshot taken by the application at index (which it
// has applied) and discards entries at or before index-overhead.
func (l *raftLog) compact(index uint64, data []byte, overhead uint64) error {
	if index <= l.snap.Index {
		return fmt.Errorf("compact at %d, snapshot is at %d: %w", index, l.snap.Index, ErrSnapOutOfDate)
	}
	if index > l.applied {
		return fmt.Errorf("compact at %d beyond applied %d: %w", index, l.applied, ErrUnavailable)
	}
	t, err := l.term(index)
	if err != nil {
		return fmt.Errorf("compact at %d: %w", index, err)
	}
	l.snap = Snapshot{Index: index, Term: t, Data: data}
	if index <= overhead {
		return nil
	}
	newFirst := index - overhead + 1
	if newFirst <= l.first {
		return nil
	}
	kept := l.entries[newFirst-l.first:]
	l.entries = append(make([]Entry, 0, len(kept)), kept...)
	l.first = newFirst
	return nil
}

// between returns entries [lo, hi) held in memory, sharing the log's
// array (capacity clipped).
func (l *raftLog) between(lo, hi uint64) ([]Entry, error) {
	if lo < l.first {
		return nil, fmt.Errorf("entries from %d < first %d: %w", lo, l.first, ErrCompacted)
	}
	if hi > l.lastIndex()+1 {
		return nil, fmt.Errorf("entries to %d > last %d: %w", hi-1, l.lastIndex(), ErrUnavailable)
	}
	if lo >= hi {
		return nil, nil
	}
	return l.entries[lo-l.first : hi-l.first : hi-l.first], nil
}

// termRuns describes the log in memory as runs of equal terms, found by
// binary search (terms never decrease along the log).
func (l *raftLog) termRuns() []TermRun {
	var runs []TermRun
	n := len(l.entries)
	for i := 0; i < n; {
		t := l.entries[i].Term
		runs = append(runs, TermRun{Term: t, First: l.first + uint64(i)})
		i += sort.Search(n-i, func(k int) bool { return l.entries[i+k].Term > t })
	}
	return runs
}
