package scenarios_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

// electionTimeout is the default minimum election timeout (15 ticks of 10ms).
const electionTimeout = 150 * time.Millisecond

func cluster(seed sim.Seed, servers, clients int) scenarios.LockCluster {
	return scenarios.LockCluster{
		Seed: seed, Servers: servers, Clients: clients,
		Client: locks.ClientConfig{
			Resources: 4, Shared: 0.2, TTL: 30 * time.Second,
			Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: time.Second},
		},
		Network: sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 5*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
	}
}

func build(t *testing.T, c scenarios.LockCluster) *scenarios.LockSim {
	t.Helper()
	ls, err := scenarios.NewLockSim(c)
	require.NoError(t, err)
	return ls
}

// linearizable fails the test if the history is not linearizable; an
// Unknown verdict is logged, never counted as a pass of the check.
func linearizable(t *testing.T, ls *scenarios.LockSim) {
	t.Helper()
	v, _ := ls.History.CheckLinearizable(10 * time.Second)
	require.NotEqual(t, scenarios.NotLinearizable, v)
	if v == scenarios.LinUnknown {
		t.Logf("linearizability: unknown (checker timed out)")
	}
}

func seeds(t *testing.T, n int) []sim.Seed {
	if testing.Short() {
		n = min(n, 3)
	}
	out := make([]sim.Seed, n)
	for i := range out {
		out[i] = sim.Seed(1000 + i)
	}
	return out
}

func TestLockElectionAndReelection(t *testing.T) {
	for _, seed := range seeds(t, 10) {
		ls := build(t, cluster(seed, 5, 0))
		first, err := ls.RunUntilLeader(10 * electionTimeout)
		require.NoError(t, err)
		require.NotEmpty(t, first, "seed %d: no initial leader within 10 election timeouts", seed)
		term := ls.MaxTerm()
		require.NoError(t, ls.World.Crash(first))
		second, err := ls.RunUntilLeader(10 * electionTimeout)
		require.NoError(t, err)
		require.NotEmpty(t, second, "seed %d: no leader after the crash of %s", seed, first)
		assert.NotEqual(t, first, second)
		assert.Greater(t, ls.MaxTerm(), term)
	}
}

func TestLockNoLeaderWithoutQuorum(t *testing.T) {
	for _, seed := range seeds(t, 5) {
		ls := build(t, cluster(seed, 3, 2))
		leader, err := ls.RunUntilLeader(time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, leader)
		require.NoError(t, ls.World.Run(time.Second))
		// Crash two of three: the survivor must not lead, and nothing
		// commits while the quorum is gone.
		for _, id := range ls.Servers[:2] {
			require.NoError(t, ls.World.Crash(id))
		}
		// Messages the leader sent before it crashed may still raise the
		// survivor's commit index; after they land, nothing may.
		require.NoError(t, ls.World.Run(ls.World.Now()+50*time.Millisecond))
		survivor := ls.Server(ls.Servers[2])
		commit := survivor.Raft().Status().Commit
		require.NoError(t, ls.World.Run(ls.World.Now()+3*time.Second))
		assert.Empty(t, ls.Leader(), "seed %d: a leader without a quorum", seed)
		assert.Equal(t, commit, survivor.Raft().Status().Commit, "seed %d: commits without a quorum", seed)
		during, _, _ := ls.ClientStats()
		for _, id := range ls.Servers[:2] {
			require.NoError(t, ls.World.Restart(id))
		}
		require.NoError(t, ls.Run(ls.World.Now()+5*time.Second, 4*time.Second))
		after, _, _ := ls.ClientStats()
		assert.Greater(t, after, during, "seed %d: no progress after the quorum came back", seed)
		linearizable(t, ls)
	}
}

func TestLockPartitionedLeaderRejoins(t *testing.T) {
	for _, seed := range seeds(t, 8) {
		ls := build(t, cluster(seed, 5, 4))
		old, err := ls.RunUntilLeader(time.Second)
		require.NoError(t, err)
		require.NoError(t, ls.World.Run(time.Second))
		// Clients keep sending to the isolated leader: its new entries can
		// never commit and must be overwritten after the heal.
		require.NoError(t, ls.World.Isolate(old))
		require.NoError(t, ls.World.Run(ls.World.Now()+3*time.Second))
		s := ls.Server(old)
		require.NotNil(t, s)
		assert.NotEqual(t, "leader", s.Raft().Status().Role.String(), "seed %d: isolated leader %s did not step down (CheckQuorum)", seed, old)
		ls.World.Heal()
		committed := ls.Server(ls.Leader()).Raft().Status().Commit
		require.NoError(t, ls.Run(ls.World.Now()+5*time.Second, 4*time.Second))
		// After the heal the old leader has applied everything committed
		// while it was away (its own uncommitted tail was overwritten; the
		// raft-safety checker watched every step).
		assert.GreaterOrEqual(t, s.Applied(), committed, "seed %d: %s did not catch up", seed, old)
		linearizable(t, ls)
	}
}

func TestLockCrashRestartKeepsState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(ls *scenarios.LockSim) []nodes.NodeID
	}{
		{"all", func(ls *scenarios.LockSim) []nodes.NodeID { return ls.Servers }},
		{"leader", func(ls *scenarios.LockSim) []nodes.NodeID { return []nodes.NodeID{ls.Leader()} }},
		{"followers", func(ls *scenarios.LockSim) []nodes.NodeID {
			return slices.DeleteFunc(slices.Clone(ls.Servers), func(id nodes.NodeID) bool { return id == ls.Leader() })[:2]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, seed := range seeds(t, 4) {
				c := cluster(seed, 5, 4)
				c.Server.SnapshotEvery = 100
				ls := build(t, c)
				require.NoError(t, ls.World.Run(3*time.Second))
				leader := ls.Server(ls.Leader())
				require.NotNil(t, leader)
				commit := leader.Raft().Status().Commit
				victims := tc.crash(ls)
				for _, id := range victims {
					require.NoError(t, ls.World.Crash(id))
				}
				require.NoError(t, ls.World.Run(ls.World.Now()+500*time.Millisecond))
				for _, id := range victims {
					require.NoError(t, ls.World.Restart(id))
				}
				require.NoError(t, ls.Run(ls.World.Now()+5*time.Second, 4*time.Second))
				for _, id := range victims {
					s := ls.Server(id)
					require.NotNil(t, s)
					assert.GreaterOrEqual(t, s.Applied(), commit, "seed %d: %s lost committed entries", seed, id)
				}
				linearizable(t, ls)
			}
		})
	}
}

// TestLockFigure8 crashes the leader again and again, just after clients
// propose, on a lossy network with long reordering: the setting of the
// Raft paper's Figure 8, where counting replicas of an old term's entry
// would commit an entry that a later leader overwrites.
func TestLockFigure8(t *testing.T) {
	for _, seed := range seeds(t, 8) {
		c := cluster(seed, 5, 5)
		c.Network = sim.LinkConfig{
			Latency: sim.Uniform(time.Millisecond, 10*time.Millisecond),
			Loss:    0.1, Reorder: 0.3, ReorderDelay: 100 * time.Millisecond,
		}
		ls := build(t, c)
		var crashed []nodes.NodeID
		for i := 0; i < 12; i++ {
			at := time.Second + time.Duration(i)*700*time.Millisecond
			ls.World.At(at, "crash-leader", func(w *sim.World) {
				if l := ls.Leader(); l != "" && len(crashed) < 2 {
					require.NoError(t, w.Crash(l))
					crashed = append(crashed, l)
				}
			})
			ls.World.At(at+350*time.Millisecond, "restart", func(w *sim.World) {
				for _, id := range crashed {
					require.NoError(t, w.Restart(id))
				}
				crashed = crashed[:0]
			})
		}
		require.NoError(t, ls.Run(16*time.Second, 5*time.Second), "seed %d", seed)
		assert.GreaterOrEqual(t, ls.World.Stats().Crashes, uint64(8), "seed %d", seed)
		linearizable(t, ls)
	}
}

func TestLockSnapshotInstallForLaggingFollower(t *testing.T) {
	for _, seed := range seeds(t, 4) {
		c := cluster(seed, 3, 6)
		c.Server.SnapshotEvery, c.Server.CompactionOverhead = 50, 10
		ls := build(t, c)
		lagging := ls.Servers[2]
		ls.World.At(500*time.Millisecond, "crash", func(w *sim.World) { require.NoError(t, w.Crash(lagging)) })
		ls.World.At(6*time.Second, "restart", func(w *sim.World) { require.NoError(t, w.Restart(lagging)) })
		require.NoError(t, ls.Run(10*time.Second, 3*time.Second))
		assert.Positive(t, ls.SnapshotsInstalled(lagging), "seed %d: %s caught up without a snapshot", seed, lagging)
		leader := ls.Server(ls.Leader())
		assert.GreaterOrEqual(t, ls.Server(lagging).Applied()+50, leader.Raft().Status().Commit, "seed %d: %s did not catch up", seed, lagging)
		linearizable(t, ls)
	}
}

func TestLockPreVoteRejoinDoesNotBumpTerm(t *testing.T) {
	for _, seed := range seeds(t, 6) {
		ls := build(t, cluster(seed, 5, 2))
		leader, err := ls.RunUntilLeader(time.Second)
		require.NoError(t, err)
		follower := ls.Servers[0]
		if follower == leader {
			follower = ls.Servers[1]
		}
		require.NoError(t, ls.World.Isolate(follower))
		require.NoError(t, ls.World.Run(ls.World.Now()+3*time.Second))
		term := ls.Server(leader).Raft().Status().Term
		ls.World.Heal()
		require.NoError(t, ls.World.Run(ls.World.Now()+2*time.Second))
		assert.Equal(t, leader, ls.Leader(), "seed %d: the rejoin disrupted the leader", seed)
		assert.Equal(t, term, ls.MaxTerm(), "seed %d: the rejoin bumped the term", seed)
	}
}

func TestLockContentionOnOneResource(t *testing.T) {
	for _, seed := range seeds(t, 6) {
		c := cluster(seed, 3, 8)
		c.Client.Resources, c.Client.Shared = 1, 0
		ls := build(t, c)
		require.NoError(t, ls.Run(8*time.Second, 3*time.Second))
		granted, _, _ := ls.ClientStats()
		assert.Greater(t, granted, uint64(50), "seed %d", seed)
		// Exclusive grants of one resource: each new holder got the lock
		// after the previous one released it, so in the order the clients
		// learned of their grants, fencing tokens strictly increase.
		var last lockmgr.Token
		for _, op := range grantsByReturn(ls.History) {
			require.Greater(t, op.Result.Token, last, "seed %d: token %d after %d", seed, op.Result.Token, last)
			last = op.Result.Token
		}
		linearizable(t, ls)
	}
}

func grantsByReturn(h *scenarios.History) []scenarios.HistOp {
	var out []scenarios.HistOp
	for _, op := range h.Ops {
		if op.Done && op.Op.Kind == locks.OpAcquire && op.Result.Status == lockmgr.StatusGranted {
			out = append(out, op)
		}
	}
	slices.SortStableFunc(out, func(a, b scenarios.HistOp) int { return int(a.Return - b.Return) })
	return out
}

func TestLockFencingUnderLeaderChange(t *testing.T) {
	for _, seed := range seeds(t, 6) {
		c := cluster(seed, 5, 6)
		c.Client.Resources, c.Client.Shared = 2, 0
		ls := build(t, c)
		for i := 1; i <= 6; i++ {
			ls.World.At(time.Duration(i)*time.Second, "crash-leader", func(w *sim.World) {
				if l := ls.Leader(); l != "" {
					require.NoError(t, w.Crash(l))
					w.At(w.Now()+400*time.Millisecond, "restart", func(w *sim.World) { require.NoError(t, w.Restart(l)) })
				}
			})
		}
		require.NoError(t, ls.Run(12*time.Second, 4*time.Second))
		last := map[lockmgr.Resource]lockmgr.Token{}
		for _, op := range grantsByReturn(ls.History) {
			r := op.Op.Resource
			require.Greater(t, op.Result.Token, last[r], "seed %d: %s token %d after %d", seed, r, op.Result.Token, last[r])
			last[r] = op.Result.Token
		}
		linearizable(t, ls)
	}
}

func TestLockSessionExpiresDuringPartition(t *testing.T) {
	for _, seed := range seeds(t, 5) {
		c := cluster(seed, 3, 3)
		c.Client.Resources, c.Client.Shared, c.Client.TTL = 1, 0, time.Second
		c.Client.Hold = 400 * time.Millisecond
		c.Client.Wait = lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: 200 * time.Millisecond}
		ls := build(t, c)
		require.NoError(t, ls.World.Run(2*time.Second))
		// Cut one client off from every server for five TTLs: its session
		// must expire, its lock go to the others.
		victim := ls.Clients[0]
		require.NoError(t, ls.World.Isolate(victim))
		before, _, _ := ls.ClientStats()
		require.NoError(t, ls.World.Run(ls.World.Now()+5*time.Second))
		leader := ls.Server(ls.Leader())
		require.NotNil(t, leader)
		st := leader.Manager().Stats()
		assert.Positive(t, st.Expired, "seed %d: no session expired", seed)
		for _, h := range leader.Manager().Holders("r0") {
			assert.NotEqual(t, lockmgr.ClientID(victim), h.Client, "seed %d: an expired session still holds r0", seed)
		}
		after, _, _ := ls.ClientStats()
		assert.Greater(t, after, before, "seed %d: the others made no progress", seed)
	}
}

func TestLockSameSeedSameTrace(t *testing.T) {
	for _, seed := range []sim.Seed{1, 2} {
		var hashes []string
		for range 2 {
			c := churn(seed)
			c.Duration = 8 * time.Second
			ls := build(t, c)
			require.NoError(t, ls.World.Run(c.Duration))
			hashes = append(hashes, ls.World.Trace().HashString())
		}
		assert.Equal(t, hashes[0], hashes[1], "seed %d", seed)
	}
}
