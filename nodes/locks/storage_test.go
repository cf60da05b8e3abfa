package locks

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/raftstore"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/sim"
)

// idle is a node that does nothing, so a test can use its disk.
type idle struct{}

func (idle) Start(nodes.Env)                     {}
func (idle) Receive(nodes.NodeID, nodes.Message) {}
func (idle) Fire(nodes.Timer)                    {}

func simDisk(t *testing.T) (*sim.World, func() nodes.Disk) {
	t.Helper()
	w, err := sim.New(sim.Config{Seed: 1, Nodes: []nodes.NodeID{"n1"}, Factory: func(nodes.NodeID) nodes.Node { return idle{} }})
	require.NoError(t, err)
	require.NoError(t, w.Run(0))
	return w, func() nodes.Disk {
		d, err := w.NodeDisk("n1")
		require.NoError(t, err)
		return d
	}
}

func ents(term uint64, from, to uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Term: term, Index: i, Data: []byte{byte(i)}})
	}
	return out
}

// openStorage opens the lock server's store and returns its group's state.
func openStorage(t *testing.T, disk nodes.Disk) (*raftstore.Store, raft.Storage) {
	t.Helper()
	s, rec, err := raftstore.Open(disk, walOptions)
	require.NoError(t, err)
	for _, key := range rec.Keys() {
		require.Equal(t, lockGroup, key, "a lock server's log holds one group")
	}
	return s, rec.Groups[lockGroup]
}

func TestStorageReplaysTheLatestStateAndReplacesSuffixes(t *testing.T) {
	w, disk := simDisk(t)
	s, st := openStorage(t, disk())
	require.Empty(t, st.Entries)
	require.NoError(t, persist(s, &raft.Ready{Entries: ents(1, 1, 10), HardState: &raft.HardState{Term: 1, Vote: "n1", Commit: 5}, MustSync: true}))
	// A new leader overwrites 6..10 with a shorter suffix of term 2.
	require.NoError(t, persist(s, &raft.Ready{Entries: ents(2, 6, 8), HardState: &raft.HardState{Term: 2, Commit: 7}, MustSync: true}))
	// Unsynced (MustSync is false): lost at the crash.
	require.NoError(t, persist(s, &raft.Ready{Entries: ents(2, 9, 9)}))
	require.NoError(t, w.Crash("n1"))

	_, st = openStorage(t, disk())
	require.Equal(t, raft.HardState{Term: 2, Commit: 7}, st.HardState)
	require.Len(t, st.Entries, 8)
	require.Equal(t, uint64(1), st.Entries[4].Term)
	require.Equal(t, uint64(2), st.Entries[5].Term, "entry 6 was replaced")
	require.Equal(t, uint64(8), st.Entries[7].Index)
}

func TestStorageCompactionKeepsSnapshotAndLaterEntries(t *testing.T) {
	w, disk := simDisk(t)
	s, _ := openStorage(t, disk())
	require.NoError(t, persist(s, &raft.Ready{Entries: ents(1, 1, 100), HardState: &raft.HardState{Term: 1, Commit: 100}, MustSync: true}))
	snap := raft.Snapshot{Index: 90, Term: 1, Data: []byte("lock table at 90")}
	require.NoError(t, compactStorage(s, snap, raft.HardState{Term: 1, Commit: 100}, ents(1, 91, 100)))
	require.NoError(t, persist(s, &raft.Ready{Entries: ents(1, 101, 105), MustSync: true}))
	before, err := disk().List()
	require.NoError(t, err)
	require.Len(t, before, 1, "older segments were removed")
	require.NoError(t, w.Crash("n1"))

	_, st := openStorage(t, disk())
	require.Equal(t, snap, st.Snapshot)
	require.Len(t, st.Entries, 15)
	require.Equal(t, uint64(91), st.Entries[0].Index)
	require.Equal(t, uint64(105), st.Entries[14].Index)
}
