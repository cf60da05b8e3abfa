package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// Record types of the log (the package documentation describes them).
const (
	recMeta         wal.RecordType = 1
	recHardState    wal.RecordType = 2
	recEntries      wal.RecordType = 3
	recSnapshot     wal.RecordType = 4
	recDrop         wal.RecordType = 5
	recCompactBegin wal.RecordType = 6
	recCompactEnd   wal.RecordType = 7
	// compacted is added to the type of a meta, hard state, entries or
	// snapshot record written by Compact, between its begin and end
	// markers.
	compacted wal.RecordType = 0x80
)

// appendKey appends the group key prefix of a record: uvarint length, then
// the key's bytes. The caller has checked the key's length.
func appendKey(dst []byte, key string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	return append(dst, key...)
}

// splitKey splits a record's payload into its group key and body.
func splitKey(payload []byte) (string, []byte, error) {
	n, k := binary.Uvarint(payload)
	if k <= 0 {
		return "", nil, errors.New("group key: bad length")
	}
	if n > MaxKeyBytes {
		return "", nil, fmt.Errorf("group key: %d bytes, at most %d", n, MaxKeyBytes)
	}
	if n > uint64(len(payload)-k) {
		return "", nil, fmt.Errorf("group key: %d bytes, %d left in the record", n, len(payload)-k)
	}
	end := k + int(n)
	return string(payload[k:end]), payload[end:], nil
}

// appendEntriesBatch appends the body of one entries record holding a
// prefix of ents, less than limit bytes of them (each counted with a
// length prefix of the largest size) but at least one, and returns how
// many it took.
func appendEntriesBatch(dst []byte, ents []raft.Entry, limit int) ([]byte, int) {
	n, size := 0, 0
	for n < len(ents) && (n == 0 || size+ents[n].EncodedSize() < limit) {
		size += ents[n].EncodedSize() + binary.MaxVarintLen64
		n++
	}
	dst = binary.AppendUvarint(dst, uint64(n))
	for i := range ents[:n] {
		e := &ents[i]
		dst = binary.AppendUvarint(dst, uint64(e.EncodedSize()))
		dst = e.Marshal(dst)
	}
	return dst, n
}

// state is the durable state replay has rebuilt so far.
type state struct {
	meta   []byte
	groups map[string]*raft.Storage
}

func newState() *state { return &state{groups: map[string]*raft.Storage{}} }

// group returns group key's storage, creating it empty.
func (s *state) group(key string) *raft.Storage {
	g := s.groups[key]
	if g == nil {
		g = &raft.Storage{}
		s.groups[key] = g
	}
	return g
}

// replayer rebuilds the state from the records of the log, in order.
type replayer struct {
	live *state
	// pending is the state a compaction is writing, from its begin marker
	// up to its end marker, where it replaces live; nil outside one.
	pending *state
	// failed says apply returned an error.
	failed bool
}

func newReplayer() *replayer { return &replayer{live: newState()} }

// apply replays one record; it is the WAL's ReplayFunc. payload is reused
// after it returns: nothing kept aliases it.
func (r *replayer) apply(seq uint64, typ wal.RecordType, payload []byte) error {
	err := r.record(seq, typ, payload)
	if err != nil {
		r.failed = true
	}
	return err
}

func (r *replayer) record(seq uint64, typ wal.RecordType, payload []byte) error {
	key, body, err := splitKey(payload)
	if err != nil {
		return fmt.Errorf("raftstore: record %d: %w", seq, err)
	}
	if err := r.body(key, typ, body); err != nil {
		return fmt.Errorf("raftstore: group %q: record %d: %w", key, seq, err)
	}
	return nil
}

// body replays the body of a record of type typ about group key.
func (r *replayer) body(key string, typ wal.RecordType, body []byte) error {
	switch typ {
	case recCompactBegin, recCompactEnd:
		if key != "" || len(body) != 0 {
			return fmt.Errorf("compaction marker of type %d with a key or a body", typ)
		}
		if typ == recCompactBegin {
			r.pending = newState() // one cut short before is abandoned
			return nil
		}
		if r.pending == nil {
			return errors.New("compaction end without a begin")
		}
		r.live, r.pending = r.pending, nil
		return nil
	}
	st := r.live
	if typ&compacted != 0 {
		typ &^= compacted
		if typ != recMeta && typ != recHardState && typ != recEntries && typ != recSnapshot {
			return fmt.Errorf("unknown record type %d", typ|compacted)
		}
		if r.pending == nil {
			return fmt.Errorf("compacted record of type %d outside a compaction", typ|compacted)
		}
		st = r.pending
	} else {
		// A compaction cut short by a crash: the node restarted and went
		// on from the state before it.
		r.pending = nil
	}
	switch typ {
	case recMeta:
		if key != "" {
			return errors.New("meta record with a group key")
		}
		st.meta = append([]byte{}, body...)
	case recDrop:
		if len(body) != 0 {
			return fmt.Errorf("drop record with %d bytes of body", len(body))
		}
		delete(st.groups, key)
	case recHardState:
		hs, err := raft.UnmarshalHardState(body)
		if err != nil {
			return err
		}
		st.group(key).HardState = hs
	case recSnapshot:
		snap, err := raft.UnmarshalSnapshot(body) // does not alias body
		if err != nil {
			return err
		}
		// A snapshot replaces the whole log: Raft discards every entry
		// when it restores one (entries after it that were kept are
		// written again after the snapshot record).
		g := st.group(key)
		g.Snapshot = snap
		g.Entries = nil
	case recEntries:
		return replayEntries(st.group(key), body)
	default:
		return fmt.Errorf("unknown record type %d", typ)
	}
	return nil
}

// replayEntries appends a batch of entries to g, replacing the stored
// entries from the first one at or below the last stored index.
func replayEntries(g *raft.Storage, body []byte) error {
	n, k := binary.Uvarint(body)
	if k <= 0 || n > uint64(len(body)) {
		return errors.New("entries batch: bad count")
	}
	off := k
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(body[off:])
		if k <= 0 || l > uint64(len(body)-off-k) {
			return fmt.Errorf("entries batch: entry %d: bad length", i)
		}
		off += k
		// UnmarshalEntry copies: e.Data does not alias the WAL's buffer,
		// which the next segment overwrites.
		e, err := raft.UnmarshalEntry(body[off : off+int(l)])
		if err != nil {
			return fmt.Errorf("entries batch: entry %d: %w", i, err)
		}
		off += int(l)
		if e.Index <= g.Snapshot.Index {
			continue
		}
		if m := len(g.Entries); m > 0 && e.Index <= g.Entries[m-1].Index {
			keep := uint64(0)
			if e.Index > g.Entries[0].Index {
				keep = e.Index - g.Entries[0].Index
			}
			g.Entries = g.Entries[:keep]
		}
		want := g.Snapshot.Index + 1
		if m := len(g.Entries); m > 0 {
			want = g.Entries[m-1].Index + 1
		}
		if e.Index != want && len(g.Entries) > 0 {
			return fmt.Errorf("entries batch: entry index %d, want %d", e.Index, want)
		}
		g.Entries = append(g.Entries, e)
	}
	if off != len(body) {
		return fmt.Errorf("entries batch: %d trailing bytes", len(body)-off)
	}
	return nil
}

// finish ends the replay: a compaction still pending was cut short by a
// crash and is ignored. It checks that every group's entries start right
// after its snapshot and returns the state.
func (r *replayer) finish() (*Recovered, error) {
	r.pending = nil
	rec := &Recovered{Meta: r.live.meta, Groups: make(map[string]raft.Storage, len(r.live.groups))}
	for _, key := range slices.Sorted(maps.Keys(r.live.groups)) {
		g := r.live.groups[key]
		g.Entries = dropThrough(g.Entries, g.Snapshot.Index)
		if len(g.Entries) > 0 && g.Entries[0].Index != g.Snapshot.Index+1 {
			return nil, fmt.Errorf("raftstore: group %q: entries start at %d after snapshot %d", key, g.Entries[0].Index, g.Snapshot.Index)
		}
		rec.Groups[key] = *g
	}
	return rec, nil
}

// dropThrough removes the entries at or below index.
func dropThrough(ents []raft.Entry, index uint64) []raft.Entry {
	i := 0
	for i < len(ents) && ents[i].Index <= index {
		i++
	}
	return ents[i:]
}
