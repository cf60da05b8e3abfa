// Package bench compares distsync's raft with etcd's (go.etcd.io/raft/v3)
// through the same in-process driver, raftbench. It is a separate module
// so that the main module never depends on etcd.
//
// EtcdPeer adapts an etcd raft.RawNode backed by a raft.MemoryStorage to
// raftbench.Peer; NewEtcdCluster builds a cluster of them configured as
// close as etcd allows to distsync's raft.DefaultConfig.
package bench

import (
	"errors"
	"fmt"

	dsraft "github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/raft/raftbench"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// EtcdOptions tune the etcd adapter; they mirror raftbench.RaftOptions.
type EtcdOptions struct {
	// CompactEvery snapshots and compacts a replica's storage whenever
	// that many entries were applied since its last snapshot (0: never),
	// keeping CompactionOverhead entries before the snapshot index, as
	// etcd's server does (SnapshotCount / SnapshotCatchUpEntries).
	CompactEvery uint64
	// CompactionOverhead is the number of entries kept before the
	// snapshot index when compacting, for slow followers; it plays the
	// role of distsync's Config.CompactionOverhead.
	CompactionOverhead uint64
	// CopyOnStep gives each replica its own copy of the entries it
	// receives, as a real network would (decoding allocates); without it
	// replicas share the leader's payload buffers.
	CopyOnStep bool
	// BatchProposals gathers the proposals made between two Ready cycles
	// into one MsgProp, as etcd's server does with its proposal channel,
	// so the leader sends one append per follower per batch instead of
	// one per proposal.
	BatchProposals bool
}

// EtcdPeer adapts an etcd raft.RawNode with a raft.MemoryStorage to
// raftbench.Peer.
type EtcdPeer struct {
	// Node is the replica.
	Node *raft.RawNode
	// Storage is the replica's stable storage: every Ready's entries and
	// hard state are appended to it before its messages are sent.
	Storage *raft.MemoryStorage

	opt      EtcdOptions
	pending  []raftpb.Entry
	conf     raftpb.ConfState
	applied  uint64
	snapshot uint64
}

var _ raftbench.Peer[raftpb.Message] = (*EtcdPeer)(nil)

// Tick implements raftbench.Peer.
func (p *EtcdPeer) Tick() { p.Node.Tick() }

// Campaign implements raftbench.Peer. RawNode.Campaign only steps a local
// MsgHup, which does not fail; a replica that cannot campaign shows up as
// raftbench.Elect reporting ErrStuck.
func (p *EtcdPeer) Campaign() { _ = p.Node.Campaign() }

// Propose implements raftbench.Peer.
func (p *EtcdPeer) Propose(data []byte) error {
	if p.opt.BatchProposals {
		p.pending = append(p.pending, raftpb.Entry{Data: data})
		return nil
	}
	return p.Node.Propose(data)
}

// flush proposes the gathered batch as one message.
func (p *EtcdPeer) flush() error {
	if len(p.pending) == 0 {
		return nil
	}
	m := raftpb.Message{Type: raftpb.MsgProp, From: p.Node.BasicStatus().ID, Entries: p.pending}
	p.pending = nil
	return p.Node.Step(m)
}

// IsLeader implements raftbench.Peer. It uses BasicStatus, which does not
// allocate (Status copies the leader's progress map).
func (p *EtcdPeer) IsLeader() bool { return p.Node.BasicStatus().RaftState == raft.StateLeader }

// Step implements raftbench.Peer.
func (p *EtcdPeer) Step(m raftpb.Message) error {
	if p.opt.CopyOnStep && len(m.Entries) > 0 {
		ents := make([]raftpb.Entry, len(m.Entries))
		for i, e := range m.Entries {
			e.Data = append([]byte(nil), e.Data...)
			ents[i] = e
		}
		m.Entries = ents
	}
	return p.Node.Step(m)
}

// Cycle implements raftbench.Peer, handling a Ready the way etcd's
// documentation and examples do with synchronous storage writes: persist
// the snapshot, entries and hard state to the MemoryStorage, send the
// messages, apply the committed entries, Advance.
func (p *EtcdPeer) Cycle(out []raftpb.Message) ([]raftpb.Message, int, bool) {
	if err := p.flush(); err != nil {
		panic(fmt.Sprintf("bench: propose batch: %v", err))
	}
	if !p.Node.HasReady() {
		return out, 0, false
	}
	rd := p.Node.Ready()
	if !raft.IsEmptySnap(rd.Snapshot) {
		if err := p.Storage.ApplySnapshot(rd.Snapshot); err != nil {
			panic(fmt.Sprintf("bench: apply snapshot %d: %v", rd.Snapshot.Metadata.Index, err))
		}
		p.applied = max(p.applied, rd.Snapshot.Metadata.Index)
		p.snapshot = max(p.snapshot, rd.Snapshot.Metadata.Index)
	}
	if err := p.Storage.Append(rd.Entries); err != nil {
		panic(fmt.Sprintf("bench: append %d entries: %v", len(rd.Entries), err))
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := p.Storage.SetHardState(rd.HardState); err != nil {
			panic(fmt.Sprintf("bench: set hard state: %v", err))
		}
	}
	out = append(out, rd.Messages...)
	applied := 0
	for _, e := range rd.CommittedEntries {
		// A new leader's empty entry is EntryNormal with no data;
		// every command of the benchmark has a payload.
		if e.Type == raftpb.EntryNormal && len(e.Data) > 0 {
			applied++
		}
		p.applied = e.Index
	}
	p.Node.Advance(rd)
	if p.opt.CompactEvery > 0 && p.applied >= p.snapshot+p.opt.CompactEvery {
		p.compact()
	}
	return out, applied, true
}

// compact snapshots the storage at the applied index and discards the
// entries before it, except CompactionOverhead of them, as etcd's server
// does after a snapshot.
func (p *EtcdPeer) compact() {
	if _, err := p.Storage.CreateSnapshot(p.applied, &p.conf, nil); err != nil {
		panic(fmt.Sprintf("bench: snapshot at %d: %v", p.applied, err))
	}
	p.snapshot = p.applied
	if p.applied <= p.opt.CompactionOverhead {
		return
	}
	if err := p.Storage.Compact(p.applied - p.opt.CompactionOverhead); err != nil && !errors.Is(err, raft.ErrCompacted) {
		panic(fmt.Sprintf("bench: compact at %d: %v", p.applied-p.opt.CompactionOverhead, err))
	}
}

// EtcdConfig returns the etcd configuration closest to distsync's
// raft.DefaultConfig: same election and heartbeat ticks (etcd also draws
// the election timeout in [ElectionTick, 2*ElectionTick)), PreVote and
// CheckQuorum on, safe reads, proposal forwarding on, and the same message,
// inflight, uncommitted and committed-per-Ready bounds. Logging is
// discarded, as distsync's Logf is nil by default.
func EtcdConfig(id uint64, storage raft.Storage) *raft.Config {
	return &raft.Config{
		ID:                        id,
		ElectionTick:              dsraft.DefaultElectionTicks,
		HeartbeatTick:             dsraft.DefaultHeartbeatTicks,
		Storage:                   storage,
		PreVote:                   true,
		CheckQuorum:               true,
		ReadOnlyOption:            raft.ReadOnlySafe,
		MaxSizePerMsg:             dsraft.DefaultMaxSizePerMsg,
		MaxInflightMsgs:           dsraft.DefaultMaxInflightMsgs,
		MaxInflightBytes:          dsraft.DefaultMaxInflightBytes,
		MaxUncommittedEntriesSize: dsraft.DefaultMaxUncommittedBytes,
		MaxCommittedSizePerReady:  dsraft.DefaultMaxCommittedBytesPerReady,
		Logger:                    discardLogger{},
	}
}

// NewEtcdCluster builds n replicas of etcd's raft (ids 1..n) with
// EtcdConfig, adjusted by configure if not nil. Each storage starts from a
// snapshot at index 1, term 1 holding the membership, the bootstrap etcd
// recommends over RawNode.Bootstrap; membership then never changes.
func NewEtcdCluster(n int, configure func(*raft.Config), opt EtcdOptions) (*raftbench.Cluster[raftpb.Message], error) {
	conf := raftpb.ConfState{}
	for i := range n {
		conf.Voters = append(conf.Voters, uint64(i+1))
	}
	c := &raftbench.Cluster[raftpb.Message]{To: func(m raftpb.Message) int { return int(m.To) - 1 }}
	for _, id := range conf.Voters {
		storage := raft.NewMemoryStorage()
		snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 1, Term: 1, ConfState: conf}}
		if err := storage.ApplySnapshot(snap); err != nil {
			return nil, fmt.Errorf("bench: replica %d: bootstrap: %w", id, err)
		}
		cfg := EtcdConfig(id, storage)
		if configure != nil {
			configure(cfg)
		}
		node, err := newRawNode(cfg)
		if err != nil {
			return nil, fmt.Errorf("bench: replica %d: %w", id, err)
		}
		c.Peers = append(c.Peers, &EtcdPeer{Node: node, Storage: storage, opt: opt, conf: conf, applied: 1, snapshot: 1})
	}
	return c, nil
}

// newRawNode is raft.NewRawNode, turning its panic on an invalid
// configuration into an error.
func newRawNode(cfg *raft.Config) (node *raft.RawNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			node, err = nil, fmt.Errorf("invalid config: %v", r)
		}
	}()
	return raft.NewRawNode(cfg)
}

// discardLogger drops etcd's log lines but still fails loudly.
type discardLogger struct{}

func (discardLogger) Debug(...any)            {}
func (discardLogger) Debugf(string, ...any)   {}
func (discardLogger) Error(...any)            {}
func (discardLogger) Errorf(string, ...any)   {}
func (discardLogger) Info(...any)             {}
func (discardLogger) Infof(string, ...any)    {}
func (discardLogger) Warning(...any)          {}
func (discardLogger) Warningf(string, ...any) {}
func (discardLogger) Fatal(v ...any)          { panic(fmt.Sprint(v...)) }
func (discardLogger) Fatalf(f string, v ...any) {
	panic(fmt.Sprintf(f, v...))
}
func (discardLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (discardLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
