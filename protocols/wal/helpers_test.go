package wal_test

import (
	"bytes"
	"fmt"
	"io"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/wal"
	"github.com/distsync/distsync/sim"
)

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	require.TestingT
	Helper()
}

// rec is a replayed or expected record.
type rec struct {
	Seq     uint64
	Typ     wal.RecordType
	Payload []byte
}

// open opens a log and collects its replay.
func open[F wal.File](d wal.Disk[F], opts wal.Options) (*wal.WAL, []rec, wal.RecoveryInfo, error) {
	var got []rec
	w, info, err := wal.Open(d, opts, func(seq uint64, typ wal.RecordType, payload []byte) error {
		got = append(got, rec{seq, typ, bytes.Clone(payload)})
		return nil
	})
	return w, got, info, err
}

// mustOpen opens a log that must open, checks its invariants and that the
// replay is consecutive from FirstSeq to NextSeq-1.
func mustOpen[F wal.File](t tb, d wal.Disk[F], opts wal.Options) (*wal.WAL, []rec, wal.RecoveryInfo) {
	t.Helper()
	w, got, info, err := open(d, opts)
	require.NoError(t, err)
	require.NoError(t, w.CheckInvariants())
	require.Equal(t, w.FirstSeq(), info.FirstSeq)
	require.Equal(t, w.NextSeq(), info.NextSeq)
	require.Equal(t, uint64(len(got)), info.Records)
	require.Equal(t, w.NextSeq()-w.FirstSeq(), uint64(len(got)), "replay covers FirstSeq..NextSeq-1")
	for i, r := range got {
		require.Equal(t, w.FirstSeq()+uint64(i), r.Seq)
	}
	require.Zero(t, w.Unsynced(), "a freshly opened log has nothing unsynced")
	return w, got, info
}

// payload is a deterministic payload of n bytes for record seq.
func payload(seq uint64, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seq*131 + uint64(i)*7)
	}
	return p
}

// appendN appends n records with payloads of size bytes and returns them.
func appendN(t tb, w *wal.WAL, n, size int) []rec {
	t.Helper()
	var out []rec
	for range n {
		seq := w.NextSeq()
		r := rec{seq, wal.RecordType(1 + seq%200), payload(seq, size)}
		pos, err := w.Append(r.Typ, r.Payload)
		require.NoError(t, err)
		require.Equal(t, seq, pos.Seq)
		out = append(out, r)
	}
	return out
}

// segName is the default name of the segment starting at first.
func segName(first uint64) string { return fmt.Sprintf("wal-%016x.log", first) }

// idleNode is a node that does nothing: the tests drive its disk directly.
type idleNode struct{}

func (idleNode) Start(nodes.Env)                     {}
func (idleNode) Receive(nodes.NodeID, nodes.Message) {}
func (idleNode) Fire(nodes.Timer)                    {}

// simHarness is a one-node simulated world whose disk the tests use.
type simHarness struct {
	t tb
	w *sim.World
}

func newSim(t tb, seed uint64, cfg sim.DiskConfig) *simHarness {
	t.Helper()
	w, err := sim.New(sim.Config{
		Seed:    sim.Seed(seed),
		Nodes:   []nodes.NodeID{"n1"},
		Factory: func(nodes.NodeID) nodes.Node { return idleNode{} },
		Disk:    cfg,
	})
	require.NoError(t, err)
	require.NoError(t, w.Run(0))
	return &simHarness{t: t, w: w}
}

// disk returns the node's disk; files opened on it before a crash are
// stale after it.
func (h *simHarness) disk() nodes.Disk {
	h.t.Helper()
	d, err := h.w.NodeDisk("n1")
	require.NoError(h.t, err)
	return d
}

// crash crashes the node (losing unsynced writes, maybe tearing the last)
// and boots it again.
func (h *simHarness) crash() {
	h.t.Helper()
	require.NoError(h.t, h.w.Crash("n1"))
	require.NoError(h.t, h.w.Restart("n1"))
	require.NoError(h.t, h.w.Run(h.w.Now()))
	require.True(h.t, h.w.Up("n1"))
}

// read returns a file's content.
func (h *simHarness) read(name string) []byte {
	h.t.Helper()
	f, err := h.disk().Open(name)
	require.NoError(h.t, err)
	b := make([]byte, f.Size())
	n, err := f.ReadAt(b, 0)
	if err != io.EOF {
		require.NoError(h.t, err)
	}
	require.Equal(h.t, len(b), n)
	return b
}

// write replaces a file's content durably: the only way to change bytes in
// place on an append-only Disk.
func (h *simHarness) write(name string, b []byte) {
	h.t.Helper()
	f, err := h.disk().Open(name)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Truncate(0))
	_, err = f.Append(b)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Sync())
}

// requireRecs compares records, treating nil and empty alike.
func requireRecs(t tb, want, got []rec, msgAndArgs ...any) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	require.Equal(t, want, got, msgAndArgs...)
}
