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

func TestLockClusterSmoke(t *testing.T) {
	ls, err := scenarios.NewLockSim(scenarios.LockCluster{
		Seed: 1, Servers: 3, Clients: 4,
		Client:  lockmgrClient(),
		Network: sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 5*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
	})
	require.NoError(t, err)
	require.NoError(t, ls.Run(5*time.Second, 2*time.Second))
	g, r, retries := ls.ClientStats()
	t.Logf("granted %d rejected %d retries %d events %d leader %s", g, r, retries, ls.World.Stats().Events, ls.Leader())
	require.Positive(t, g)
	v, _ := ls.History.CheckLinearizable(10 * time.Second)
	require.Equal(t, scenarios.Linearizable, v)
}

func lockmgrClient() locks.ClientConfig {
	return locks.ClientConfig{Resources: 3, Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second}}
}
