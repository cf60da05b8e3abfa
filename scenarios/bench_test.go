package scenarios_test

import (
	"testing"
	"time"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

// BenchmarkLockCluster runs a simulated 5-server lock cluster whose clients
// acquire and release about 200 locks per virtual second, on a network
// that loses 1% of messages, with every checker on. One op is one virtual
// second; sim-s/wall-s is how many virtual seconds run per wall second.
// "checked" runs every checker after every event and round-trips every
// message through the codec, as the test suites do; "unchecked" measures
// the simulation alone.
func BenchmarkLockCluster(b *testing.B) {
	b.Run("checked", func(b *testing.B) { benchLockCluster(b, false) })
	b.Run("unchecked", func(b *testing.B) { benchLockCluster(b, true) })
}

func benchLockCluster(b *testing.B, unchecked bool) {
	ls, err := scenarios.NewLockSim(scenarios.LockCluster{
		Unchecked: unchecked,
		Seed:      1, Servers: 5, Clients: 16,
		Client: locks.ClientConfig{
			Resources: 32, Shared: 0.2, Think: 15 * time.Millisecond, Hold: 15 * time.Millisecond,
			Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second}, TTL: 30 * time.Second,
		},
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 3*time.Millisecond), Loss: 0.01},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := ls.World.Run(time.Second); err != nil { // elect, open sessions
		b.Fatal(err)
	}
	g0, _, _ := ls.ClientStats()
	start := ls.World.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ls.World.Run(ls.World.Now() + time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	g1, _, _ := ls.ClientStats()
	virtual := (ls.World.Now() - start).Seconds()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sim-s/wall-s")
	b.ReportMetric(float64(g1-g0)/virtual, "grants/sim-s")
	b.ReportMetric(float64(ls.World.Stats().Events)/ls.World.Now().Seconds(), "events/sim-s")
}

// BenchmarkQueueEnqueue measures simulated durable enqueue throughput: a
// 3-node queue cluster (R=3) whose 256 producers enqueue 64-byte messages
// into 4 queues as fast as they are acknowledged, on disks whose sync
// takes 1ms. An enqueue is acknowledged once its entry is synced on a
// majority of its group. One op is one virtual second; msgs/sim-s is the
// acknowledged enqueues per virtual second. "group-commit" persists all
// the requests and Raft messages that queued while a sync ran with one
// sync; "sync-each" syncs after every event, about once per message.
func BenchmarkQueueEnqueue(b *testing.B) {
	b.Run("group-commit", func(b *testing.B) { benchQueueEnqueue(b, false) })
	b.Run("sync-each", func(b *testing.B) { benchQueueEnqueue(b, true) })
}

func benchQueueEnqueue(b *testing.B, syncEach bool) {
	qs, err := scenarios.NewQueueSim(scenarios.QueueCluster{
		Unchecked: true, Seed: 1, Servers: 3,
		Server: queues.Config{DisableGroupCommit: syncEach},
		Groups: []scenarios.QueueClientGroup{{Count: 256, Config: queues.ClientConfig{
			Queues: []string{"q0", "q1", "q2", "q3"}, Produce: 1, PayloadBytes: 64, Think: 100 * time.Microsecond,
		}}},
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 3*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(time.Millisecond)},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := qs.World.Run(time.Second); err != nil { // elect the groups
		b.Fatal(err)
	}
	e0 := qs.History.Counts().Enqueued
	start := qs.World.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := qs.World.Run(qs.World.Now() + time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	enqueued := qs.History.Counts().Enqueued - e0
	virtual := (qs.World.Now() - start).Seconds()
	var syncs uint64
	for _, id := range qs.Servers {
		syncs += qs.Server(id).Stats.Syncs
	}
	b.ReportMetric(float64(enqueued)/virtual, "msgs/sim-s")
	b.ReportMetric(float64(enqueued)/float64(max(syncs, 1))*3, "msgs/sync")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sim-s/wall-s")
}
