package bench

import (
	"runtime"
	"testing"

	dsraft "github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/raft/raftbench"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// benchOptions is the offered load, the same as the main module's
// BenchmarkRaftPropose3: 64-byte commands, proposed in batches of 64 with
// up to 1024 in flight (pipelining).
var benchOptions = raftbench.Options{PayloadBytes: 64, Batch: 64, Window: 1024}

// Both adapters compact every compactEvery applied entries, keeping
// dsraft.DefaultCompactionOverhead entries, so long runs stay flat.
const (
	compactEvery = 20000
	memEntries   = 20000
)

// BenchmarkRaftPropose3 runs distsync's raft and etcd's raft through the
// same driver and load: 3 replicas in one process, Ready messages passed
// straight between them (no I/O, storage in memory). One op is one
// proposal committed and applied on the leader. Each sub-benchmark also
// reports the messages delivered per op and the heap bytes held per
// in-memory log entry with a 64-byte payload.
func BenchmarkRaftPropose3(b *testing.B) {
	b.Run("distsync", func(b *testing.B) {
		c, err := raftbench.NewRaftCluster(3, 1, nil, raftbench.RaftOptions{CompactEvery: compactEvery})
		if err != nil {
			b.Fatal(err)
		}
		benchCluster(b, c)
		b.ReportMetric(bytesPerEntry(b, newDistsyncMem, distsyncHeld), "B/entry")
	})
	b.Run("etcd", func(b *testing.B) {
		c, err := NewEtcdCluster(3, nil, EtcdOptions{
			CompactEvery:       compactEvery,
			CompactionOverhead: dsraft.DefaultCompactionOverhead,
		})
		if err != nil {
			b.Fatal(err)
		}
		benchCluster(b, c)
		b.ReportMetric(bytesPerEntry(b, newEtcdMem, etcdHeld), "B/entry")
	})
	// etcd with the proposals of each round in one message, as its server
	// batches them: the like-for-like comparison of the two cores.
	b.Run("etcd-batched", func(b *testing.B) {
		c, err := NewEtcdCluster(3, nil, EtcdOptions{
			CompactEvery:       compactEvery,
			CompactionOverhead: dsraft.DefaultCompactionOverhead,
			BatchProposals:     true,
		})
		if err != nil {
			b.Fatal(err)
		}
		benchCluster(b, c)
	})
}

// benchCluster elects peer 0 of c, then commits b.N proposals through it,
// timed, and reports proposals/s and msgs/op.
func benchCluster[M any](b *testing.B, c *raftbench.Cluster[M]) {
	if err := raftbench.Elect(c, 0, 10000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	res, err := raftbench.Run(c, 0, b.N, benchOptions)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Committed != b.N {
		b.Fatalf("committed %d, want %d", res.Committed, b.N)
	}
	if res.Dropped > 0 {
		b.Logf("%d proposals dropped by flow control", res.Dropped)
	}
	b.ReportMetric(float64(res.Committed)/b.Elapsed().Seconds(), "proposals/s")
	b.ReportMetric(float64(res.Messages)/float64(res.Committed), "msgs/op")
}

func newDistsyncMem() (*raftbench.Cluster[dsraft.Message], error) {
	return raftbench.NewRaftCluster(3, 2, func(cfg *dsraft.Config) { cfg.CompactionOverhead = 0 },
		raftbench.RaftOptions{CopyOnStep: true})
}

func distsyncHeld(p raftbench.Peer[dsraft.Message]) uint64 {
	st := p.(*raftbench.RaftPeer).Node.Status()
	return st.LastIndex - st.FirstIndex + 1
}

func newEtcdMem() (*raftbench.Cluster[raftpb.Message], error) {
	return NewEtcdCluster(3, nil, EtcdOptions{CopyOnStep: true})
}

func etcdHeld(p raftbench.Peer[raftpb.Message]) uint64 {
	return storedEntries(p.(*EtcdPeer).Storage)
}

// storedEntries returns the number of entries held by s.
func storedEntries(s *raft.MemoryStorage) uint64 {
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	return last - first + 1
}

// bytesPerEntry commits memEntries 64-byte commands on a fresh 3-replica
// cluster built by newCluster that never compacts, each replica holding
// its own copy of the payloads, and returns the heap growth divided by the
// 3*memEntries log entries. held returns the entries a replica holds.
func bytesPerEntry[M any](b *testing.B, newCluster func() (*raftbench.Cluster[M], error), held func(raftbench.Peer[M]) uint64) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := newCluster()
	if err != nil {
		b.Fatal(err)
	}
	if err := raftbench.Elect(c, 0, 10000); err != nil {
		b.Fatal(err)
	}
	if _, err := raftbench.Run(c, 0, memEntries, benchOptions); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for i, p := range c.Peers {
		if n := held(p); n < memEntries {
			b.Fatalf("replica %d holds %d entries, want at least %d", i, n, memEntries)
		}
	}
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(3*memEntries)
}
