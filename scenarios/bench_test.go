package scenarios_test

import (
	"testing"
	"time"

	"github.com/distsync/distsync/nodes/locks"
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
