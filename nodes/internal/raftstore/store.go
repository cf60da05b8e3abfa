// Package raftstore keeps the durable state of many Raft groups in one
// write-ahead log (protocols/wal) per node, so that a node hosting many
// groups persists the Readies of all of them with one fsync: Save each
// group's Ready, then Sync once (group commit across groups).
//
// # Use
//
//	st, rec, err := raftstore.Open(env.Disk(), opts)
//	for _, key := range rec.Keys() {
//		r, err := raft.New(cfg(key), rec.Groups[key]) // each group restarts from its state
//	}
//	...
//	for _, key := range groupsWithReady {           // each group's Ready...
//		err = st.Save(key, &rd[key])                  // ...is appended, not synced
//	}
//	err = st.Sync()                                 // one fsync for all of them
//	// only now send the Readies' messages
//
//	if st.Size() > limit {                          // the log grows with history:
//		err = st.Compact(meta, liveGroups)          // rewrite the live state, drop the rest
//	}
//
// # Log format
//
// Every record's payload starts with the group key it is about (a uvarint
// length, at most MaxKeyBytes, then the key's bytes; the empty key is a
// valid group key), then a body that depends on the record's type:
//
//	type  record           body
//	1     meta             the caller's bytes (key always empty)
//	2     hard state       raft.HardState.Marshal
//	3     entries batch    uvarint count, then per entry a uvarint length
//	                       and raft.Entry.Marshal; at most about 1 MiB
//	4     snapshot         raft.Snapshot.Marshal
//	5     drop             nothing: the group is deleted
//	6     compact begin    nothing (key always empty)
//	7     compact end      nothing (key always empty)
//
// Compact writes compact begin, then meta, snapshot, entries and hard state
// records with the compacted flag (0x80) added to their type, then compact
// end. Replay builds the compacted records' state aside and swaps it in
// for the whole state (meta and every group) only at compact end, so a
// compaction cut short by a crash (its end marker not durable, the older
// segments therefore still there) is ignored and the state before it
// stands. Any record that is not part of a compaction abandons an
// unfinished one before it: it was appended after the node restarted.
//
// # Replay
//
// Per group, replay follows Raft's Ready contract: the latest hard state
// wins; a snapshot replaces the group's snapshot and every stored entry;
// an entry at or below the last stored index replaces that entry and
// every later one; entries at or below the snapshot are dropped; the
// entries must be contiguous and, once replay is over, start right after
// the snapshot. A drop record forgets the group and everything written
// for it before; a later record for the same key starts it afresh. The
// last meta record wins.
//
// A torn tail (a crash during an unsynced append) is cut by the WAL; damage
// a crash cannot explain is an error wrapping wal.ErrCorrupt.
package raftstore

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// MaxKeyBytes bounds the length of a group key.
const MaxKeyBytes = 512

// maxBatchBytes bounds the encoded entries of one entries record: a Ready
// with more is written as several records.
const maxBatchBytes = 1 << 20

// maxBufBytesKept bounds the encoding buffer kept between calls, so that
// one large snapshot does not pin its size in memory.
const maxBufBytesKept = 2 * maxBatchBytes

// Store is the WAL of one node holding the durable state of many Raft
// groups. Its methods must not be called concurrently (node code is
// single-threaded). Save, SaveMeta and Drop only append; Sync makes what
// they appended durable. After a failed append or sync the Store refuses
// every further write with that error, since what reached the disk is
// unknown: the caller restarts and opens it again.
type Store struct {
	log *wal.WAL
	// batchBytes bounds the entries of one entries record: maxBatchBytes,
	// or less if the WAL's records must be smaller.
	batchBytes int
	buf        []byte // encoding buffer, reused
	base       uint64 // the WAL's appended bytes at the last Compact or Open
	err        error  // sticky failure
}

// Recovered is what Open rebuilds from the log.
type Recovered struct {
	// Meta is the payload of the last meta record, nil if there is none:
	// the caller's own node-level state (e.g. ring membership). A meta
	// record saved empty comes back as an empty, non-nil slice.
	Meta []byte
	// Groups holds every group written and not dropped, by key: its
	// snapshot, hard state and entries after the snapshot, as raft.New
	// wants them. A group exists once a record was written for it (a Save
	// with nothing to persist writes none).
	Groups map[string]raft.Storage
}

// Keys returns the recovered group keys, sorted. Callers must not range
// over Groups for anything whose order matters; they iterate Keys.
func (r *Recovered) Keys() []string {
	keys := make([]string, 0, len(r.Groups))
	//det:ordered only collects the keys, which are sorted below
	for k := range r.Groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// GroupState is one live group's durable state, for Compact.
type GroupState struct {
	// Key is the group's key.
	Key string
	// Snapshot is the group's latest snapshot (Index 0 for none).
	Snapshot raft.Snapshot
	// HardState is the group's current hard state.
	HardState raft.HardState
	// Entries are the group's log entries after the snapshot, contiguous,
	// starting at Snapshot.Index+1.
	Entries []raft.Entry
}

// Open replays the log named by opts.Prefix on disk (creating it if there
// is none) and returns the Store, ready to append, with the state the log
// holds. A log that is damaged beyond a torn tail gives an error wrapping
// wal.ErrCorrupt; a record that does not decode gives an error naming its
// group and sequence number.
func Open(disk nodes.Disk, opts wal.Options) (*Store, *Recovered, error) {
	r := newReplayer()
	log, _, err := wal.Open(disk, opts, r.apply)
	if err != nil {
		if r.failed {
			return nil, nil, err // the WAL's wrapping already says where
		}
		return nil, nil, fmt.Errorf("raftstore: open: %w", err)
	}
	rec, err := r.finish()
	if err != nil {
		_ = log.Close() // the replay error is the one to report
		return nil, nil, err
	}
	return &Store{log: log, batchBytes: batchBytes(opts), base: log.Stats().Bytes}, rec, nil
}

// batchBytes returns the bound of an entries batch for a WAL with opts:
// maxBatchBytes, or less so that a batch of several entries, with its key
// and count, fits in opts.MaxRecordBytes.
func batchBytes(opts wal.Options) int {
	n := maxBatchBytes
	if m := opts.MaxRecordBytes; m > 0 {
		n = min(n, m-(MaxKeyBytes+2)-binary.MaxVarintLen64)
	}
	return max(n, 1)
}

// checkKey rejects a group key longer than MaxKeyBytes.
func checkKey(key string) error {
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("raftstore: group %q: key of %d bytes, at most %d", key, len(key), MaxKeyBytes)
	}
	return nil
}

// usable returns the error that stops a write: an earlier failure.
func (s *Store) usable() error {
	if s.err != nil {
		return fmt.Errorf("raftstore: unusable after an earlier failure: %w", s.err)
	}
	return nil
}

// fail makes err sticky and returns it.
func (s *Store) fail(err error) error {
	s.err = err
	return err
}

// Save appends what a Ready asks group key to persist: its snapshot, its
// entries (in batches of about 1 MiB) and its hard state, in that order.
// It does not sync: the caller calls Sync (once, after saving the Readies
// of every group) before sending any of their messages.
func (s *Store) Save(key string, rd *raft.Ready) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.usable(); err != nil {
		return err
	}
	return s.saveState(0, key, rd.Snapshot, rd.Entries, rd.HardState)
}

// saveState appends a snapshot, entries and a hard state of group key,
// each if present, with flag added to their record types.
func (s *Store) saveState(flag wal.RecordType, key string, snap *raft.Snapshot, ents []raft.Entry, hs *raft.HardState) error {
	if snap != nil {
		s.buf = snap.Marshal(appendKey(s.buf[:0], key))
		if err := s.append(flag|recSnapshot, key, "snapshot %d", snap.Index); err != nil {
			return err
		}
	}
	for len(ents) > 0 {
		var n int
		s.buf, n = appendEntriesBatch(appendKey(s.buf[:0], key), ents, s.batchBytes)
		if err := s.append(flag|recEntries, key, "entries %d..%d", ents[0].Index, ents[n-1].Index); err != nil {
			return err
		}
		ents = ents[n:]
	}
	if hs != nil {
		s.buf = hs.Marshal(appendKey(s.buf[:0], key))
		if err := s.append(flag|recHardState, key, "hard state"); err != nil {
			return err
		}
	}
	return nil
}

// append appends s.buf as a record of type typ about group key; what and
// args describe it in an error. A failure is sticky.
func (s *Store) append(typ wal.RecordType, key string, what string, args ...any) error {
	seq := s.log.NextSeq()
	_, err := s.log.Append(typ, s.buf)
	if cap(s.buf) > maxBufBytesKept {
		s.buf = nil
	}
	if err != nil {
		return s.fail(fmt.Errorf("raftstore: group %q: record %d: %s: %w", key, seq, fmt.Sprintf(what, args...), err))
	}
	return nil
}

// SaveMeta appends a meta record: the caller's node-level state, which
// replaces the previous one at replay. It does not sync.
func (s *Store) SaveMeta(meta []byte) error {
	if err := s.usable(); err != nil {
		return err
	}
	s.buf = append(appendKey(s.buf[:0], ""), meta...)
	return s.append(recMeta, "", "meta")
}

// Drop appends a record that deletes group key: replay forgets the group
// and everything written for it before. Dropping a key that holds nothing
// is no error. It does not sync.
func (s *Store) Drop(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := s.usable(); err != nil {
		return err
	}
	s.buf = appendKey(s.buf[:0], key)
	return s.append(recDrop, key, "drop")
}

// Sync makes everything appended so far durable, with one fsync; it costs
// nothing when nothing is unsynced.
func (s *Store) Sync() error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return s.fail(fmt.Errorf("raftstore: sync: %w", err))
	}
	return nil
}

// Compact rewrites the whole durable state so that the log stops growing
// with history: it rotates to a new segment (syncing everything appended
// before), writes meta (if not nil) and every given group (snapshot,
// entries, hard state), syncs, and deletes every older segment. Groups not
// listed are gone afterwards, and so is the previous meta record if meta
// is nil. A crash during Compact leaves either the state before it or the
// compacted one, never a mix. Keys must be distinct and each group's
// entries must run contiguously from its Snapshot.Index+1; a violation is
// an error before anything is written. Size is zero after it.
func (s *Store) Compact(meta []byte, groups []GroupState) error {
	keys := make([]string, len(groups))
	for i := range groups {
		g := &groups[i]
		if err := checkKey(g.Key); err != nil {
			return err
		}
		if err := checkContiguous(g.Snapshot.Index, g.Entries); err != nil {
			return fmt.Errorf("raftstore: compact: group %q: %w", g.Key, err)
		}
		keys[i] = g.Key
	}
	slices.Sort(keys)
	if i := firstDuplicate(keys); i >= 0 {
		return fmt.Errorf("raftstore: compact: group %q listed twice", keys[i])
	}
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.log.Rotate(); err != nil {
		return s.fail(fmt.Errorf("raftstore: compact: rotate: %w", err))
	}
	first := s.log.NextSeq()
	s.buf = appendKey(s.buf[:0], "")
	if err := s.append(recCompactBegin, "", "compact begin"); err != nil {
		return err
	}
	if meta != nil {
		s.buf = append(appendKey(s.buf[:0], ""), meta...)
		if err := s.append(compacted|recMeta, "", "compact meta"); err != nil {
			return err
		}
	}
	for i := range groups {
		g := &groups[i]
		if err := s.saveState(compacted, g.Key, &g.Snapshot, g.Entries, &g.HardState); err != nil {
			return err
		}
	}
	s.buf = appendKey(s.buf[:0], "")
	if err := s.append(recCompactEnd, "", "compact end"); err != nil {
		return err
	}
	if err := s.log.Sync(); err != nil {
		return s.fail(fmt.Errorf("raftstore: compact: sync: %w", err))
	}
	// The compacted state is durable: the older segments are garbage. A
	// crash before they are all gone leaves them before the compaction,
	// whose end marker makes replay discard what they say.
	if _, err := s.log.RemoveBefore(first); err != nil {
		return s.fail(fmt.Errorf("raftstore: compact: %w", err))
	}
	s.base = s.log.Stats().Bytes
	return nil
}

// checkContiguous reports entries that do not run contiguously from
// snapshot+1.
func checkContiguous(snapshot uint64, ents []raft.Entry) error {
	for i := range ents {
		if want := snapshot + 1 + uint64(i); ents[i].Index != want {
			return fmt.Errorf("entry %d has index %d, want %d", i, ents[i].Index, want)
		}
	}
	return nil
}

// firstDuplicate returns the index of the first key of sorted keys equal
// to the one before it, or -1.
func firstDuplicate(keys []string) int {
	for i := 1; i < len(keys); i++ {
		if keys[i-1] == keys[i] {
			return i
		}
	}
	return -1
}

// Size returns the bytes appended (frame headers included) since the last
// Compact or Open, so the caller can decide when to compact.
func (s *Store) Size() int64 { return int64(s.log.Stats().Bytes - s.base) }

// Close releases the log without syncing it: what was appended since the
// last Sync is not made durable. Every later call fails.
func (s *Store) Close() error {
	if err := s.log.Close(); err != nil {
		return fmt.Errorf("raftstore: close: %w", err)
	}
	if s.err == nil {
		s.err = wal.ErrClosed
	}
	return nil
}
