package locks

import (
	"encoding/binary"
	"fmt"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// WAL record types of a lock server's log.
const (
	recHardState wal.RecordType = 1 // raft.HardState
	recEntries   wal.RecordType = 2 // a batch of raft entries
	recSnapshot  wal.RecordType = 3 // raft.Snapshot with the lock table
)

// maxBatchBytes bounds one entries record.
const maxBatchBytes = 1 << 20

// walOptions sizes the lock server's log: snapshots of a large lock table
// must fit in one record.
var walOptions = wal.Options{Prefix: "raft", SegmentBytes: 16 << 20, MaxRecordBytes: 64 << 20}

// storage keeps raft's durable state in a WAL: hard states, entries and
// snapshots, appended in order. Replay rebuilds the latest of each; an
// entry at or below the last stored index replaces that entry and every
// later one, as raft's Ready contract says.
type storage struct {
	log *wal.WAL
	buf []byte
}

// openStorage replays the WAL on disk into the state raft restarts from.
func openStorage(disk nodes.Disk) (*storage, raft.Storage, error) {
	var st raft.Storage
	replay := func(seq uint64, typ wal.RecordType, payload []byte) error {
		switch typ {
		case recHardState:
			hs, err := raft.UnmarshalHardState(payload)
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			st.HardState = hs
		case recSnapshot:
			s, err := raft.UnmarshalSnapshot(payload)
			if err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
			// A snapshot replaces the whole log: Raft discards every entry
			// when it restores one (entries after it that were kept are
			// written again after the snapshot record).
			st.Snapshot = s
			st.Entries = nil
		case recEntries:
			if err := replayEntries(&st, payload); err != nil {
				return fmt.Errorf("record %d: %w", seq, err)
			}
		default:
			return fmt.Errorf("record %d: unknown type %d", seq, typ)
		}
		return nil
	}
	log, _, err := wal.Open(disk, walOptions, replay)
	if err != nil {
		return nil, raft.Storage{}, fmt.Errorf("lock storage: %w", err)
	}
	st.Entries = dropThrough(st.Entries, st.Snapshot.Index)
	if n := len(st.Entries); n > 0 && st.Entries[0].Index != st.Snapshot.Index+1 {
		return nil, raft.Storage{}, fmt.Errorf("lock storage: entries start at %d after snapshot %d", st.Entries[0].Index, st.Snapshot.Index)
	}
	return &storage{log: log}, st, nil
}

// dropThrough removes the entries at or below index.
func dropThrough(ents []raft.Entry, index uint64) []raft.Entry {
	i := 0
	for i < len(ents) && ents[i].Index <= index {
		i++
	}
	return ents[i:]
}

func replayEntries(st *raft.Storage, payload []byte) error {
	n, k := binary.Uvarint(payload)
	if k <= 0 || n > uint64(len(payload)) {
		return fmt.Errorf("entries batch: bad count")
	}
	off := k
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(payload[off:])
		if k <= 0 || l > uint64(len(payload)-off-k) {
			return fmt.Errorf("entries batch: entry %d: bad length", i)
		}
		off += k
		e, err := raft.UnmarshalEntry(payload[off : off+int(l)])
		if err != nil {
			return fmt.Errorf("entries batch: entry %d: %w", i, err)
		}
		off += int(l)
		e.Data = append([]byte(nil), e.Data...) // the payload buffer is reused
		if e.Index <= st.Snapshot.Index {
			continue
		}
		if m := len(st.Entries); m > 0 && e.Index <= st.Entries[m-1].Index {
			keep := uint64(0)
			if e.Index > st.Entries[0].Index {
				keep = e.Index - st.Entries[0].Index
			}
			st.Entries = st.Entries[:keep]
		}
		want := st.Snapshot.Index + 1
		if m := len(st.Entries); m > 0 {
			want = st.Entries[m-1].Index + 1
		}
		if e.Index != want && len(st.Entries) > 0 {
			return fmt.Errorf("entries batch: entry index %d, want %d", e.Index, want)
		}
		st.Entries = append(st.Entries, e)
	}
	if off != len(payload) {
		return fmt.Errorf("entries batch: %d trailing bytes", len(payload)-off)
	}
	return nil
}

// save appends what a Ready asks to persist, and syncs if it must: the
// caller sends the Ready's messages only after save returns.
func (s *storage) save(rd *raft.Ready) error {
	if rd.Snapshot != nil {
		s.buf = rd.Snapshot.Marshal(s.buf[:0])
		if _, err := s.log.Append(recSnapshot, s.buf); err != nil {
			return fmt.Errorf("lock storage: snapshot %d: %w", rd.Snapshot.Index, err)
		}
	}
	if err := s.appendEntries(rd.Entries); err != nil {
		return err
	}
	if rd.HardState != nil {
		s.buf = rd.HardState.Marshal(s.buf[:0])
		if _, err := s.log.Append(recHardState, s.buf); err != nil {
			return fmt.Errorf("lock storage: hard state: %w", err)
		}
	}
	if rd.MustSync || rd.Snapshot != nil {
		if err := s.log.Sync(); err != nil {
			return fmt.Errorf("lock storage: sync: %w", err)
		}
	}
	return nil
}

func (s *storage) appendEntries(ents []raft.Entry) error {
	for len(ents) > 0 {
		n, size := 0, 0
		for n < len(ents) && (n == 0 || size+ents[n].EncodedSize() < maxBatchBytes) {
			size += ents[n].EncodedSize() + 10
			n++
		}
		s.buf = binary.AppendUvarint(s.buf[:0], uint64(n))
		for _, e := range ents[:n] {
			s.buf = binary.AppendUvarint(s.buf, uint64(e.EncodedSize()))
			s.buf = e.Marshal(s.buf)
		}
		if _, err := s.log.Append(recEntries, s.buf); err != nil {
			return fmt.Errorf("lock storage: entries %d..%d: %w", ents[0].Index, ents[n-1].Index, err)
		}
		ents = ents[n:]
	}
	return nil
}

// compact starts a new segment holding only the snapshot, the hard state
// and the entries after the snapshot, syncs it, and deletes every older
// segment: the log stops growing with the history.
func (s *storage) compact(snap raft.Snapshot, hs raft.HardState, after []raft.Entry) error {
	if err := s.log.Rotate(); err != nil {
		return fmt.Errorf("lock storage: compact: %w", err)
	}
	first := s.log.NextSeq()
	s.buf = snap.Marshal(s.buf[:0])
	if _, err := s.log.Append(recSnapshot, s.buf); err != nil {
		return fmt.Errorf("lock storage: compact snapshot %d: %w", snap.Index, err)
	}
	if err := s.appendEntries(after); err != nil {
		return err
	}
	s.buf = hs.Marshal(s.buf[:0])
	if _, err := s.log.Append(recHardState, s.buf); err != nil {
		return fmt.Errorf("lock storage: compact hard state: %w", err)
	}
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("lock storage: compact sync: %w", err)
	}
	if _, err := s.log.RemoveBefore(first); err != nil {
		return fmt.Errorf("lock storage: compact remove: %w", err)
	}
	return nil
}
