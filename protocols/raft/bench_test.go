package raft_test

import (
	"runtime"
	"testing"

	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/raft/raftbench"
)

// benchOptions is the offered load: 64-byte commands, proposed in batches
// of 64 with up to 1024 in flight (pipelining).
var benchOptions = raftbench.Options{PayloadBytes: 64, Batch: 64, Window: 1024}

// BenchmarkRaftPropose3 measures a 3-replica cluster in one process, with
// Ready messages passed straight between replicas (no I/O). One op is one
// proposal committed and applied on the leader. It also reports the heap
// bytes held per in-memory log entry with a 64-byte payload.
func BenchmarkRaftPropose3(b *testing.B) {
	c, err := raftbench.NewRaftCluster(3, 1, nil, raftbench.RaftOptions{CompactEvery: 20000})
	if err != nil {
		b.Fatal(err)
	}
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
	if res.Dropped > 0 {
		b.Logf("%d proposals dropped by flow control", res.Dropped)
	}
	b.ReportMetric(float64(res.Committed)/b.Elapsed().Seconds(), "proposals/s")
	b.ReportMetric(float64(res.Messages)/float64(res.Committed), "msgs/op")
	b.ReportMetric(bytesPerEntry(b, 20000), "B/entry")
}

// bytesPerEntry commits n 64-byte commands on a fresh 3-replica cluster
// that never compacts, each replica holding its own copy of the payloads,
// and returns the heap growth divided by the 3n log entries.
func bytesPerEntry(b *testing.B, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := raftbench.NewRaftCluster(3, 2, func(cfg *raft.Config) { cfg.CompactionOverhead = 0 },
		raftbench.RaftOptions{CopyOnStep: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := raftbench.Elect(c, 0, 10000); err != nil {
		b.Fatal(err)
	}
	if _, err := raftbench.Run(c, 0, n, benchOptions); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, p := range c.Peers {
		if st := p.(*raftbench.RaftPeer).Node.Status(); st.LastIndex-st.FirstIndex+1 < uint64(n) {
			b.Fatalf("replica holds %d entries, want at least %d", st.LastIndex-st.FirstIndex+1, n)
		}
	}
	runtime.KeepAlive(c)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(3*n)
}
