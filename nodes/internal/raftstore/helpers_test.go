package raftstore

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
	"github.com/distsync/distsync/sim"
)

// idle is a node that does nothing: the tests drive its disk directly.
type idle struct{}

func (idle) Start(nodes.Env)                     {}
func (idle) Receive(nodes.NodeID, nodes.Message) {}
func (idle) Fire(nodes.Timer)                    {}

// harness is a one-node simulated world whose disk the tests use.
type harness struct {
	t *testing.T
	w *sim.World
}

func newHarness(t *testing.T, seed uint64, cfg sim.DiskConfig) *harness {
	t.Helper()
	w, err := sim.New(sim.Config{
		Seed:    sim.Seed(seed),
		Nodes:   []nodes.NodeID{"n1"},
		Factory: func(nodes.NodeID) nodes.Node { return idle{} },
		Disk:    cfg,
	})
	require.NoError(t, err)
	require.NoError(t, w.Run(0))
	return &harness{t: t, w: w}
}

// disk returns the node's disk; files opened before a crash are stale
// after it.
func (h *harness) disk() nodes.Disk {
	h.t.Helper()
	d, err := h.w.NodeDisk("n1")
	require.NoError(h.t, err)
	return d
}

// crash crashes the node, losing what was not synced (maybe keeping a
// torn prefix of it), and boots it again.
func (h *harness) crash() {
	h.t.Helper()
	require.NoError(h.t, h.w.Crash("n1"))
	require.NoError(h.t, h.w.Restart("n1"))
	require.NoError(h.t, h.w.Run(h.w.Now()))
}

// open opens the store, which must open.
func (h *harness) open(opts wal.Options) (*Store, *Recovered) {
	h.t.Helper()
	s, rec, err := Open(h.disk(), opts)
	require.NoError(h.t, err)
	return s, rec
}

// files lists the disk's files.
func (h *harness) files() []string {
	h.t.Helper()
	names, err := h.disk().List()
	require.NoError(h.t, err)
	return names
}

// read returns a file's content, unsynced writes included.
func (h *harness) read(name string) []byte {
	h.t.Helper()
	f, err := h.disk().Open(name)
	require.NoError(h.t, err)
	b := make([]byte, f.Size())
	n, err := f.ReadAt(b, 0)
	if !errors.Is(err, io.EOF) {
		require.NoError(h.t, err)
	}
	require.Equal(h.t, len(b), n)
	return b
}

// write replaces a file's content durably.
func (h *harness) write(name string, b []byte) {
	h.t.Helper()
	f, err := h.disk().Open(name)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Truncate(0))
	_, err = f.Append(b)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Sync())
}

// segment is the name of the segment of a log with prefix "raft" whose
// first record is first.
func segment(first uint64) string { return fmt.Sprintf("raft-%016x.log", first) }

// testOpts is the options most tests use.
var testOpts = wal.Options{Prefix: "raft"}

// ents returns entries from..to of term, whose data names the group, so
// that groups' entries differ.
func ents(key string, term, from, to uint64) []raft.Entry {
	var out []raft.Entry
	for i := from; i <= to; i++ {
		out = append(out, raft.Entry{Term: term, Index: i, Data: fmt.Appendf(nil, "%s/%d/%d", key, term, i)})
	}
	return out
}

// hs returns a hard state.
func hs(term uint64, vote string, commit uint64) *raft.HardState {
	return &raft.HardState{Term: term, Vote: raft.NodeID(vote), Commit: commit}
}

// snap returns a snapshot at index of term.
func snap(key string, index, term uint64) *raft.Snapshot {
	return &raft.Snapshot{Index: index, Term: term, Data: fmt.Appendf(nil, "state of %s at %d", key, index)}
}

// save is one Save call of a test script.
type save struct {
	key string
	rd  raft.Ready
}

// saveAll saves the Readies in order, without syncing.
func saveAll(t *testing.T, s *Store, saves []save) {
	t.Helper()
	for i := range saves {
		require.NoError(t, s.Save(saves[i].key, &saves[i].rd), "save %d (group %q)", i, saves[i].key)
	}
}

// normalize makes empty slices nil, so that states compare by content.
func normalize(st raft.Storage) raft.Storage {
	if len(st.Entries) == 0 {
		st.Entries = nil
	}
	if len(st.Snapshot.Data) == 0 {
		st.Snapshot.Data = nil
	}
	out := make([]raft.Entry, len(st.Entries))
	for i, e := range st.Entries {
		if len(e.Data) == 0 {
			e.Data = nil
		}
		out[i] = e
	}
	if st.Entries != nil {
		st.Entries = out
	}
	return st
}

// requireGroups checks the recovered groups against want.
func requireGroups(t *testing.T, want map[string]raft.Storage, rec *Recovered) {
	t.Helper()
	got := map[string]raft.Storage{}
	for _, k := range rec.Keys() {
		got[k] = normalize(rec.Groups[k])
	}
	norm := map[string]raft.Storage{}
	for _, k := range (&Recovered{Groups: want}).Keys() {
		norm[k] = normalize(want[k])
	}
	require.Equal(t, norm, got)
}

// gstate returns a group's storage for a want map.
func gstate(s *raft.Snapshot, h *raft.HardState, e []raft.Entry) raft.Storage {
	var st raft.Storage
	if s != nil {
		st.Snapshot = *s
	}
	if h != nil {
		st.HardState = *h
	}
	st.Entries = e
	return st
}

// concat concatenates entry slices.
func concat(parts ...[]raft.Entry) []raft.Entry {
	var out []raft.Entry
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
