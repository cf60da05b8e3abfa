package bench

import (
	"math"
	"testing"

	dsraft "github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/raft/raftbench"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

const commitOps = 5000

// settle runs rounds without proposing or ticking until no replica has
// anything to do, so that followers learn the final commit index.
func settle[M any](t *testing.T, c *raftbench.Cluster[M]) {
	t.Helper()
	for range 1000 {
		var queue []M
		for _, p := range c.Peers {
			for {
				var ok bool
				if queue, _, ok = p.Cycle(queue); !ok {
					break
				}
			}
		}
		if len(queue) == 0 {
			return
		}
		for _, m := range queue {
			if err := c.Peers[c.To(m)].Step(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Fatal("cluster did not settle")
}

// run elects peer 1 of c and commits commitOps proposals through it,
// checking the driver's counts.
func run[M any](t *testing.T, c *raftbench.Cluster[M]) {
	t.Helper()
	if err := raftbench.Elect(c, 1, 10000); err != nil {
		t.Fatal(err)
	}
	res, err := raftbench.Run(c, 1, commitOps, benchOptions)
	if err != nil {
		t.Fatal(err)
	}
	if res.Committed != commitOps || res.Proposed != commitOps || res.Dropped != 0 {
		t.Fatalf("result %+v, want %d committed", res, commitOps)
	}
	settle(t, c)
}

// TestBothCommit checks that both adapters really commit every proposal
// on every replica, so that the benchmark compares like with like.
func TestBothCommit(t *testing.T) {
	t.Run("distsync", func(t *testing.T) {
		c, err := raftbench.NewRaftCluster(3, 7, nil, raftbench.RaftOptions{CopyOnStep: true})
		if err != nil {
			t.Fatal(err)
		}
		run(t, c)
		for i, p := range c.Peers {
			node := p.(*raftbench.RaftPeer).Node
			// Index 1 is the leader's no-op.
			if st := node.Status(); st.Commit != commitOps+1 || st.Applied != commitOps+1 {
				t.Errorf("replica %d: commit %d applied %d, want %d", i, st.Commit, st.Applied, commitOps+1)
			}
		}
	})
	for name, opt := range map[string]EtcdOptions{
		"etcd":         {},
		"etcd-copy":    {CopyOnStep: true},
		"etcd-compact": {CompactEvery: 100, CompactionOverhead: 10},
		"etcd-batched": {BatchProposals: true},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := NewEtcdCluster(3, nil, opt)
			if err != nil {
				t.Fatal(err)
			}
			run(t, c)
			// Index 1 is the bootstrap snapshot, index 2 the leader's
			// empty entry.
			const last = commitOps + 2
			for i, p := range c.Peers {
				ep := p.(*EtcdPeer)
				st := ep.Node.BasicStatus()
				if st.Commit != last || st.Applied != last {
					t.Errorf("replica %d: commit %d applied %d, want %d", i, st.Commit, st.Applied, last)
				}
				if hs, _, _ := ep.Storage.InitialState(); hs.Commit != last {
					t.Errorf("replica %d: stored commit %d, want %d", i, hs.Commit, last)
				}
				checkStored(t, i, ep.Storage, opt.CompactEvery > 0)
			}
		})
	}
}

// checkStored checks that s holds the committed commands, each with its
// 64-byte payload, and that it was compacted if compacted is set.
func checkStored(t *testing.T, replica int, s *raft.MemoryStorage, compacted bool) {
	t.Helper()
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	if compacted != (first > 3) {
		t.Errorf("replica %d: first stored index %d, compacted %v", replica, first, compacted)
	}
	ents, err := s.Entries(first, last+1, math.MaxUint64)
	if err != nil {
		t.Fatalf("replica %d: %v", replica, err)
	}
	for _, e := range ents {
		if e.Index > 2 && (e.Type != raftpb.EntryNormal || len(e.Data) != benchOptions.PayloadBytes) {
			t.Fatalf("replica %d: entry %d type %v with %d bytes", replica, e.Index, e.Type, len(e.Data))
		}
	}
}

// TestEtcdConfig checks that the etcd configuration mirrors distsync's
// defaults and that an invalid one is reported, not panicked.
func TestEtcdConfig(t *testing.T) {
	cfg := EtcdConfig(1, raft.NewMemoryStorage())
	ds := dsraft.DefaultConfig("p1", []dsraft.NodeID{"p1"}, nil)
	if cfg.ElectionTick != ds.ElectionTicks || cfg.HeartbeatTick != ds.HeartbeatTicks ||
		cfg.PreVote != ds.PreVote || cfg.CheckQuorum != ds.CheckQuorum ||
		cfg.MaxSizePerMsg != ds.MaxSizePerMsg || cfg.MaxInflightMsgs != ds.MaxInflightMsgs ||
		cfg.MaxInflightBytes != ds.MaxInflightBytes ||
		cfg.MaxUncommittedEntriesSize != ds.MaxUncommittedBytes ||
		cfg.MaxCommittedSizePerReady != ds.MaxCommittedBytesPerReady {
		t.Errorf("etcd config %+v does not mirror distsync's %+v", cfg, ds)
	}
	if _, err := NewEtcdCluster(3, func(c *raft.Config) { c.HeartbeatTick = 0 }, EtcdOptions{}); err == nil {
		t.Errorf("invalid config accepted")
	}
}
