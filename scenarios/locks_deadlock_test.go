package scenarios_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

// The timeline of a deadlock ring, in virtual time.
const (
	ringStart = 500 * time.Millisecond  // clients open sessions and take their first lock
	ringClose = 1500 * time.Millisecond // clients ask for their second lock
	ringSlot  = 40 * time.Millisecond   // crash variant: gap between second requests
	ringHold  = 10 * time.Millisecond   // how long a second lock is held
	ringRun   = 5 * time.Second         // time after ringClose for the ring to drain
)

// Steps of a ring client's script.
const (
	ringStepFirst   = 2 // acquire r_i, NoWait
	ringStepSecond  = 4 // acquire r_(i+1), Forever
	ringStepRelLast = 7 // release r_i
)

func ringResource(i, n int) lockmgr.Resource { return lockmgr.Resource(fmt.Sprintf("r%d", i%n)) }

func ringSeeds(t *testing.T) []sim.Seed {
	n := 8
	if testing.Short() {
		n = 3
	}
	out := make([]sim.Seed, n)
	for i := range out {
		out[i] = sim.Seed(7100 + i)
	}
	return out
}

// acquireLog records, for every Acquire applied by any server, the index at
// which (client, seq) was first applied: a retry with the same pair is
// applied again later (and answered from the cache), but the request's
// identity is its first index.
type acquireLog struct {
	first map[string]uint64
	err   error
}

func newAcquireLog() *acquireLog { return &acquireLog{first: map[string]uint64{}} }

func acquireKey(client lockmgr.ClientID, seq uint64) string { return fmt.Sprintf("%s/%d", client, seq) }

func (a *acquireLog) Started(nodes.NodeID)                             {}
func (a *acquireLog) Restored(nodes.NodeID, raft.Snapshot)             {}
func (a *acquireLog) RoleChanged(nodes.NodeID, raft.SoftState, uint64) {}
func (a *acquireLog) Applied(id nodes.NodeID, e raft.Entry) {
	if e.Type != raft.EntryNormal || len(e.Data) == 0 {
		return
	}
	cmd, err := lockmgr.DecodeCommand(e.Data)
	if err != nil {
		if a.err == nil {
			a.err = fmt.Errorf("%s applied entry %d that does not decode: %w", id, e.Index, err)
		}
		return
	}
	if c, ok := cmd.(lockmgr.Acquire); ok {
		k := acquireKey(c.Client, c.Seq)
		if old, seen := a.first[k]; !seen || e.Index < old {
			a.first[k] = e.Index
		}
	}
}

// ringScripts builds the scripts of an n-client ring: client i opens a
// session, takes r_i, waits until its second-request time (closeAt(i)),
// asks for r_(i+1) forever, then, if it got it, holds it for ringHold and
// releases it; last it releases r_i.
func ringScripts(n int, closeAt func(i int) time.Duration) []scenarios.Script {
	scripts := make([]scenarios.Script, n)
	for i := range n {
		scripts[i] = scenarios.Script{Steps: []scenarios.Step{
			{Kind: scenarios.StepUntil, At: ringStart},
			{Kind: scenarios.StepOpen, TTL: time.Minute},
			{Kind: scenarios.StepAcquire, Resource: ringResource(i, n), Mode: lockmgr.Exclusive},
			{Kind: scenarios.StepUntil, At: closeAt(i)},
			{Kind: scenarios.StepAcquire, Resource: ringResource(i+1, n), Mode: lockmgr.Exclusive,
				Wait: lockmgr.WaitPolicy{Kind: lockmgr.Forever}},
			{Kind: scenarios.StepSleep, Delay: ringHold},
			{Kind: scenarios.StepRelease, Resource: ringResource(i+1, n), IfHeld: true},
			{Kind: scenarios.StepRelease, Resource: ringResource(i, n)},
		}}
	}
	return scripts
}

func ringCluster(seed sim.Seed, scripts []scenarios.Script, obs *acquireLog) scenarios.ScriptedCluster {
	return scenarios.ScriptedCluster{
		Seed: seed, Servers: 3, Scripts: scripts, Observer: obs,
		Network: sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 5*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
	}
}

// ringResult is what one ring run showed.
type ringResult struct {
	victim   int
	notified int // non-victims whose grant came by Notify
	end      time.Duration
	hash     string
}

// runRing runs an n-client deadlock ring with 3 servers. With crash, the
// second requests go out one slot apart in a seeded random order and the
// leader crashes in the middle of the ring's formation (it restarts later).
func runRing(t *testing.T, seed sim.Seed, n int, crash bool) ringResult {
	t.Helper()
	closeAt := func(int) time.Duration { return ringClose }
	perm := rand.New(rand.NewPCG(uint64(seed), uint64(n))).Perm(n)
	if crash {
		closeAt = func(i int) time.Duration { return ringClose + time.Duration(perm[i])*ringSlot }
	}
	obs := newAcquireLog()
	ss, err := scenarios.NewScriptedLockSim(ringCluster(seed, ringScripts(n, closeAt), obs))
	require.NoError(t, err)
	w := ss.World

	// Phase 1: every client holds its first lock before any asks for a
	// second one.
	require.NoError(t, w.Run(ringClose-time.Millisecond), "seed %d", seed)
	leader := ss.Server(ss.Leader())
	require.NotNil(t, leader, "seed %d: no leader before the ring closes", seed)
	for i, id := range ss.Clients {
		c := ss.Client(id)
		require.NotNil(t, c)
		o, ok := c.OutcomeOf(ringStepFirst)
		require.True(t, ok, "seed %d: %s has no answer to its first acquire by %v", seed, id, w.Now())
		require.Equal(t, lockmgr.StatusGranted, o.Result.Status, "seed %d: %s first acquire: %v", seed, id, o.Result.Err)
		holders := leader.Manager().Holders(ringResource(i, n))
		require.Len(t, holders, 1, "seed %d: holders of %s", seed, ringResource(i, n))
		require.Equal(t, lockmgr.ClientID(id), holders[0].Client)
	}

	// Crash variant: the leader dies once about half the second requests
	// went out, and restarts 600ms later from its WAL.
	var crashed nodes.NodeID
	var waitingAtCrash, termAtCrash uint64
	if crash {
		at := ringClose + time.Duration(n/2)*ringSlot - ringSlot/4
		w.At(at, "crash-leader", func(w *sim.World) {
			crashed = ss.Leader()
			require.NotEmpty(t, crashed, "seed %d: no leader to crash", seed)
			waitingAtCrash = ss.Server(crashed).Manager().Stats().Waiting
			termAtCrash = ss.MaxTerm()
			require.NoError(t, w.Crash(crashed))
			w.At(w.Now()+600*time.Millisecond, "restart", func(w *sim.World) { require.NoError(t, w.Restart(crashed)) })
		})
	}
	require.NoError(t, w.Run(ringClose+ringRun), "seed %d", seed)
	require.Empty(t, ss.ScriptErrors(), "seed %d", seed)
	if crash {
		require.NotEmpty(t, crashed)
		require.GreaterOrEqual(t, waitingAtCrash, uint64(1), "seed %d: the crash came before any second request was applied", seed)
		require.Less(t, waitingAtCrash, uint64(n), "seed %d: the crash came after the ring closed", seed)
		require.Greater(t, ss.MaxTerm(), termAtCrash, "seed %d: no new leader after the crash of %s", seed, crashed)
	}
	require.NoError(t, obs.err)

	// Exactly one victim, the youngest request; everyone else queued and
	// was granted after the victim let its first lock go.
	res := ringResult{victim: -1, end: w.Now()}
	second := make([]scenarios.Outcome, n)
	var last lockmgr.Token
	for i, id := range ss.Clients {
		c := ss.Client(id)
		require.True(t, c.Done, "seed %d: %s stuck at step %d", seed, id, c.Step())
		o, ok := c.OutcomeOf(ringStepSecond)
		require.True(t, ok)
		second[i] = o
		require.NotZero(t, o.Result.Request, "seed %d: %s second acquire carries no request index", seed, id)
		require.Equal(t, obs.first[acquireKey(o.Op.Client, o.Op.Seq)], o.Result.Request,
			"seed %d: %s's request index is not where its Acquire was first applied", seed, id)
		switch o.Result.Status {
		case lockmgr.StatusRejected:
			require.True(t, errors.Is(o.Result.Err, lockmgr.ErrDeadlockVictim), "seed %d: %s rejected: %v", seed, id, o.Result.Err)
			require.Equal(t, -1, res.victim, "seed %d: two victims, %d and %d", seed, res.victim, i)
			res.victim = i
		case lockmgr.StatusGranted:
			require.True(t, o.Queued, "seed %d: %s got r%d at once: the ring never closed", seed, id, (i+1)%n)
			if o.Notified {
				res.notified++
			}
			last = max(last, o.Result.Token)
		default:
			require.Failf(t, "unexpected status", "seed %d: %s second acquire %v", seed, id, o.Result.Status)
		}
	}
	require.GreaterOrEqual(t, res.victim, 0, "seed %d: no victim", seed)
	v := second[res.victim]
	for i, o := range second {
		if i == res.victim {
			continue
		}
		require.Less(t, o.Result.Request, v.Result.Request,
			"seed %d: victim c%d (request %d) is not the youngest: c%d asked at %d", seed, res.victim+1, v.Result.Request, i+1, o.Result.Request)
	}
	rel, ok := ss.Client(ss.Clients[res.victim]).OutcomeOf(ringStepRelLast)
	require.True(t, ok)
	require.Equal(t, lockmgr.StatusOK, rel.Result.Status)
	for i, o := range second {
		if i != res.victim {
			require.False(t, o.Returned.Before(rel.Invoked),
				"seed %d: c%d was granted before the victim released its lock", seed, i+1)
		}
	}

	// Detection is part of the replicated state machine: every server,
	// the restarted one included, counted exactly one deadlock and one
	// victim, and the table drained.
	leader = ss.Server(ss.Leader())
	require.NotNil(t, leader)
	for _, id := range ss.Servers {
		s := ss.Server(id)
		require.NotNil(t, s, "seed %d: %s is down", seed, id)
		require.Equal(t, leader.Applied(), s.Applied(), "seed %d: %s lags", seed, id)
		st := s.Manager().Stats()
		require.Equal(t, uint64(1), st.Deadlocks, "seed %d: %s deadlocks", seed, id)
		require.Equal(t, uint64(1), st.Victims, "seed %d: %s victims", seed, id)
		require.Zero(t, st.Waiting, "seed %d: %s still has waiters", seed, id)
		require.Zero(t, st.ActiveLocks, "seed %d: %s still has locks", seed, id)
		require.NoError(t, s.Manager().CheckInvariants())
	}
	v2, _ := ss.History.CheckLinearizable(10 * time.Second)
	require.Equal(t, scenarios.Linearizable, v2, "seed %d", seed)
	res.hash = w.Trace().HashString()
	return res
}

// TestLockDeadlockRing builds rings of 2..8 scripted clients over 3 lock
// servers: client i holds r_i, then asks for r_(i+1) with no timeout. The
// last request applied closes a cycle: exactly one deadlock must be
// detected, its victim must be that youngest request, and once the victim
// releases its lock every other client must get its second lock.
func TestLockDeadlockRing(t *testing.T) {
	for n := 2; n <= 8; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			victims := map[int]int{}
			for _, seed := range ringSeeds(t) {
				r := runRing(t, seed, n, false)
				require.Equal(t, n-1, r.notified, "seed %d: every waiter hears of its grant from the leader", seed)
				victims[r.victim]++
			}
			t.Logf("victims (client index: runs): %v", victims)
		})
	}
}

// TestLockDeadlockRingLeaderCrash closes the same rings while the leader
// crashes half-way through their formation: the new leader applies the
// rest, and the cycle is still detected exactly once, on every replica.
func TestLockDeadlockRingLeaderCrash(t *testing.T) {
	for n := 2; n <= 8; n++ {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			notified, waiters := 0, 0
			for _, seed := range ringSeeds(t) {
				r := runRing(t, seed, n, true)
				notified += r.notified
				waiters += n - 1
			}
			t.Logf("grants learned by Notify: %d of %d (the others by resending the Acquire)", notified, waiters)
		})
	}
}

// TestLockDeadlockRingDeterministic runs one ring twice: same seed, same
// trace.
func TestLockDeadlockRingDeterministic(t *testing.T) {
	a := runRing(t, 7, 5, true)
	b := runRing(t, 7, 5, true)
	require.Equal(t, a.hash, b.hash)
	require.Equal(t, a.victim, b.victim)
}
