package scenarios_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

// churn is the lock cluster under every server fault the kernel has, with
// an unreliable network, for one seed.
func churn(seed sim.Seed) scenarios.LockCluster {
	return scenarios.LockCluster{
		Seed: seed, Servers: 5, Clients: 6,
		Server: locks.Config{SnapshotEvery: 200},
		Client: locks.ClientConfig{Resources: 4, Shared: 0.3, Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second}, TTL: 30 * time.Second},
		Network: sim.LinkConfig{
			Latency: sim.Exponential(time.Millisecond, 3*time.Millisecond),
			Loss:    0.05, Duplicate: 0.02, Reorder: 0.05, ReorderDelay: 30 * time.Millisecond,
		},
		Disk:     sim.DiskConfig{SyncLatency: sim.Normal(time.Millisecond, 200*time.Microsecond), TornWrites: 0.5},
		Duration: 20 * time.Second, Settle: 5 * time.Second,
		Chaos: sim.Chaos{Every: 500 * time.Millisecond, Crashes: true, Partitions: true, Pauses: true, Clogs: true, Disk: true},
	}
}

func TestLockChurn(t *testing.T) {
	seeds := 20
	if testing.Short() {
		seeds = 4
	}
	for seed := sim.Seed(1); seed <= sim.Seed(seeds); seed++ {
		c := churn(seed)
		ls, err := scenarios.NewLockSim(c)
		require.NoError(t, err)
		err = ls.Run(c.Duration, c.Settle)
		require.NoError(t, err, "seed %d", seed)
		g, _, _ := ls.ClientStats()
		require.Positive(t, g, "seed %d: no lock was ever granted", seed)
		v, _ := ls.History.CheckLinearizable(10 * time.Second)
		require.NotEqual(t, scenarios.NotLinearizable, v, "seed %d", seed)
		// Every grant a client saw was committed: its token is a log index
		// the final leader has applied.
		var maxToken lockmgr.Token
		for _, op := range ls.History.Ops {
			if op.Done && op.Result.Status == lockmgr.StatusGranted {
				maxToken = max(maxToken, op.Result.Token)
			}
		}
		leader := ls.Server(ls.Leader())
		require.NotNil(t, leader, "seed %d", seed)
		require.GreaterOrEqual(t, leader.Applied(), uint64(maxToken), "seed %d", seed)
		st := ls.World.Stats()
		t.Logf("seed %d: %s grants=%d crashes=%d partitions=%d events=%d", seed, v, g, st.Crashes, st.Partitions, st.Events)
	}
}
