package raftbench

import (
	"fmt"
	"math/rand/v2"

	"github.com/distsync/distsync/protocols/raft"
)

// RaftOptions tune the adapter for distsync's raft.
type RaftOptions struct {
	// CompactEvery compacts a replica's log whenever that many entries
	// were applied since its last snapshot (0: never), as an application
	// taking periodic snapshots would. It keeps long runs' memory flat.
	CompactEvery uint64
	// CopyOnStep gives each replica its own copy of the entries it
	// receives, as a real network would (decoding allocates); without it
	// replicas share the leader's payload buffers.
	CopyOnStep bool
}

// RaftPeer adapts a raft.RawNode to Peer.
type RaftPeer struct {
	// Node is the replica.
	Node    *raft.RawNode
	opt     RaftOptions
	applied uint64
}

var _ Peer[raft.Message] = (*RaftPeer)(nil)

// Tick implements Peer.
func (p *RaftPeer) Tick() { p.Node.Tick() }

// Campaign implements Peer.
func (p *RaftPeer) Campaign() { p.Node.Campaign() }

// Propose implements Peer.
func (p *RaftPeer) Propose(data []byte) error { return p.Node.Propose(data) }

// IsLeader implements Peer.
func (p *RaftPeer) IsLeader() bool { return p.Node.Status().Role == raft.RoleLeader }

// Step implements Peer.
func (p *RaftPeer) Step(m raft.Message) error {
	if p.opt.CopyOnStep && len(m.Entries) > 0 {
		ents := make([]raft.Entry, len(m.Entries))
		for i, e := range m.Entries {
			e.Data = append([]byte(nil), e.Data...)
			ents[i] = e
		}
		m.Entries = ents
	}
	return p.Node.Step(m)
}

// Cycle implements Peer. Persisting is a no-op: the benchmark measures the
// consensus core, not storage.
func (p *RaftPeer) Cycle(out []raft.Message) ([]raft.Message, int, bool) {
	if !p.Node.HasReady() {
		return out, 0, false
	}
	rd := p.Node.Ready()
	out = append(out, rd.Messages...)
	applied := 0
	for _, e := range rd.CommittedEntries {
		if e.Type == raft.EntryNormal {
			applied++
		}
		p.applied = e.Index
	}
	if rd.Snapshot != nil {
		p.applied = max(p.applied, rd.Snapshot.Index)
	}
	p.Node.Advance()
	if p.opt.CompactEvery > 0 && p.applied >= p.Node.Snapshot().Index+p.opt.CompactEvery {
		if err := p.Node.Compact(p.applied, nil); err != nil {
			panic(fmt.Sprintf("raftbench: compact at %d: %v", p.applied, err))
		}
	}
	return out, applied, true
}

// NewRaftCluster builds n replicas of distsync's raft with DefaultConfig
// (seeded from seed), adjusted by configure if not nil.
func NewRaftCluster(n int, seed uint64, configure func(*raft.Config), opt RaftOptions) (*Cluster[raft.Message], error) {
	ids := make([]raft.NodeID, n)
	index := make(map[raft.NodeID]int, n)
	for i := range ids {
		ids[i] = raft.NodeID(fmt.Sprintf("p%d", i+1))
		index[ids[i]] = i
	}
	c := &Cluster[raft.Message]{To: func(m raft.Message) int { return index[m.To] }}
	for i, id := range ids {
		cfg := raft.DefaultConfig(id, ids, rand.New(rand.NewPCG(seed, uint64(i))))
		if configure != nil {
			configure(&cfg)
		}
		node, err := raft.New(cfg, raft.Storage{})
		if err != nil {
			return nil, fmt.Errorf("raftbench: replica %s: %w", id, err)
		}
		c.Peers = append(c.Peers, &RaftPeer{Node: node, opt: opt})
	}
	return c, nil
}
