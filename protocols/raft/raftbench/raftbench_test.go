package raftbench

import (
	"errors"
	"testing"

	"github.com/distsync/distsync/protocols/raft"
)

func TestRunCommitsEveryProposal(t *testing.T) {
	for _, opt := range []RaftOptions{{}, {CompactEvery: 100, CopyOnStep: true}} {
		c, err := NewRaftCluster(3, 7, func(cfg *raft.Config) { cfg.CompactionOverhead = 10 }, opt)
		if err != nil {
			t.Fatal(err)
		}
		if err := Elect(c, 1, 10000); err != nil {
			t.Fatal(err)
		}
		res, err := Run(c, 1, 5000, Options{PayloadBytes: 64, Batch: 16, Window: 256})
		if err != nil {
			t.Fatal(err)
		}
		if res.Committed != 5000 || res.Proposed != 5000 || res.Dropped != 0 {
			t.Fatalf("result %+v, want 5000 committed", res)
		}
		for i, p := range c.Peers {
			st := p.(*RaftPeer).Node.Status()
			if st.Commit < 5001 || (opt.CompactEvery > 0 && st.SnapshotIndex == 0) {
				t.Errorf("replica %d: commit %d snapshot %d", i, st.Commit, st.SnapshotIndex)
			}
		}
	}
}

func TestRunErrors(t *testing.T) {
	c, err := NewRaftCluster(3, 7, nil, RaftOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(c, 0, 10, Options{}); err == nil {
		t.Errorf("Run accepted zero options")
	}
	if _, err := Run(c, 0, 10, Options{PayloadBytes: 1, Batch: 1, Window: 1}); err == nil {
		t.Errorf("Run on a follower succeeded")
	}
	if err := Elect(c, 0, 1); !errors.Is(err, ErrStuck) {
		t.Errorf("Elect within 1 round: %v, want ErrStuck", err)
	}
	if _, err := NewRaftCluster(3, 7, func(cfg *raft.Config) { cfg.HeartbeatTicks = 0 }, RaftOptions{}); err == nil {
		t.Errorf("invalid config accepted")
	}
}
