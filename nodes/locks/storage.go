package locks

import (
	"fmt"

	"github.com/distsync/distsync/nodes/internal/raftstore"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// A lock server keeps its one Raft group's durable state (hard states,
// entries, snapshots of the lock table) in a raftstore.Store, under the
// group key lockGroup.
const lockGroup = ""

// walOptions sizes the lock server's log: snapshots of a large lock table
// must fit in one record.
var walOptions = wal.Options{Prefix: "raft", SegmentBytes: 16 << 20, MaxRecordBytes: 64 << 20}

// persist appends what a Ready asks to persist, and syncs if it must: the
// caller sends the Ready's messages only after persist returns.
func persist(store *raftstore.Store, rd *raft.Ready) error {
	if err := store.Save(lockGroup, rd); err != nil {
		return fmt.Errorf("lock storage: %w", err)
	}
	if rd.MustSync || rd.Snapshot != nil {
		if err := store.Sync(); err != nil {
			return fmt.Errorf("lock storage: %w", err)
		}
	}
	return nil
}

// compactStorage rewrites the log as the snapshot, the hard state and the
// entries after the snapshot, synced, and deletes every older segment: the
// log stops growing with the history.
func compactStorage(store *raftstore.Store, snap raft.Snapshot, hs raft.HardState, after []raft.Entry) error {
	err := store.Compact(nil, []raftstore.GroupState{{Key: lockGroup, Snapshot: snap, HardState: hs, Entries: after}})
	if err != nil {
		return fmt.Errorf("lock storage: compact at %d: %w", snap.Index, err)
	}
	return nil
}
