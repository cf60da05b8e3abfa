package scenarios_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/scenarios"
	"github.com/distsync/distsync/sim"
)

// The schedule of the lease experiment, in virtual time. Clients stay idle
// until leaseStart, so the leader elected by then depends only on the seed.
const (
	leaseStart    = 600 * time.Millisecond  // A takes r0 through the leader L; B opens a session
	leaseDriftAt  = 900 * time.Millisecond  // L's clock starts running at half speed
	leaseCut      = 1200 * time.Millisecond // L is cut off from the other servers (clients keep their links)
	leaseQueryAt  = leaseCut - 50*time.Millisecond
	leaseQueries  = 100                   // Q's queries to L, one every leaseQueryGap
	leaseQueryGap = 10 * time.Millisecond // pause between Q's queries
	leaseHeal     = leaseCut + 2*time.Second
	leaseEnd      = leaseHeal + time.Second
	leaseDrift    = -0.5 // L's timers fire twice late: its lease, counted in its ticks, lasts twice as long
	leaseResource = lockmgr.Resource("r0")
)

// Clients of the lease experiment.
const (
	leaseA = 0 // holds r0 through L, then releases it through the majority
	leaseB = 1 // acquires r0 through the majority
	leaseQ = 2 // queries r0 at L only
)

func leaseSeeds(t *testing.T) []sim.Seed {
	n := 10
	if testing.Short() {
		n = 5
	}
	out := make([]sim.Seed, n)
	for i := range out {
		out[i] = sim.Seed(8200 + i)
	}
	return out
}

func leaseCluster(seed sim.Seed, ro raft.ReadOnlyOption, scripts []scenarios.Script) scenarios.ScriptedCluster {
	return scenarios.ScriptedCluster{
		Seed: seed, Servers: 3, Scripts: scripts,
		Server:  locks.Config{ReadOnly: ro},
		Network: sim.LinkConfig{Latency: sim.Uniform(time.Millisecond, 5*time.Millisecond)},
		Disk:    sim.DiskConfig{SyncLatency: sim.Constant(500 * time.Microsecond)},
	}
}

// leaseLeader returns the server that leads at leaseStart for seed: a run
// whose clients do nothing before leaseStart evolves exactly like the real
// one until then.
func leaseLeader(t *testing.T, seed sim.Seed, ro raft.ReadOnlyOption) (nodes.NodeID, []nodes.NodeID) {
	t.Helper()
	idle := []scenarios.Step{{Kind: scenarios.StepUntil, At: leaseStart}}
	ss, err := scenarios.NewScriptedLockSim(leaseCluster(seed, ro, []scenarios.Script{{Steps: idle}, {Steps: idle}, {Steps: idle}}))
	require.NoError(t, err)
	require.NoError(t, ss.World.Run(leaseStart))
	l := ss.Leader()
	require.NotEmpty(t, l, "seed %d: no leader by %v", seed, leaseStart)
	return l, ss.Servers
}

// committedState is the holders of r0 in the committed lock table from At
// on: the table of the live server that applied the most entries (every
// applied entry is committed; the Raft checker checks that replicas agree).
type committedState struct {
	At      time.Duration
	Index   uint64
	Holders []lockmgr.HolderInfo
}

// leaseRun is what one run of the lease experiment showed.
type leaseRun struct {
	leader    nodes.NodeID
	timeline  []committedState
	changed   time.Duration // when r0 left A in the committed state (-1: never)
	ledUntil  time.Duration // last time L was leader
	queries   []scenarios.QueryOutcome
	stale     []scenarios.QueryOutcome
	atRisk    int // queries invoked after the change while L still led
	answered  int // of those, answered OK
	lastStale time.Duration
	after     map[string]int // how the queries invoked after the change ended
}

func at(tm time.Time) time.Duration { return tm.Sub(sim.Epoch) }

// stateBefore returns the committed state just before t (strictly).
func stateBefore(tl []committedState, t time.Duration) []lockmgr.HolderInfo {
	var h []lockmgr.HolderInfo
	for _, s := range tl {
		if s.At >= t {
			break
		}
		h = s.Holders
	}
	return h
}

// isStale reports whether an answered query read a state that the
// committed lock table did not have at any instant from just before the
// query was invoked until its answer arrived: no linearization point
// exists for it. The states it is compared with are the last committed
// state before the invocation and every committed state entered up to the
// answer; in particular, the state at the moment the reply was sent.
func isStale(tl []committedState, q scenarios.QueryOutcome) bool {
	inv, ret := at(q.Invoked), at(q.Returned)
	if slices.Equal(stateBefore(tl, inv), q.Holders) {
		return false
	}
	for _, s := range tl {
		if s.At >= inv && s.At <= ret && slices.Equal(s.Holders, q.Holders) {
			return false
		}
	}
	return true
}

func describeHolders(hs []lockmgr.HolderInfo) string {
	var parts []string
	for _, h := range hs {
		parts = append(parts, fmt.Sprintf("%s(session %d, token %d)", h.Client, h.Session, h.Token))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// runLease runs the experiment: 3 servers with read option ro; A holds r0
// through the leader L; L's clock drifts (its timers fire late); L is cut
// off from the other servers, its client links intact; the majority elects
// a new leader, A releases r0 there and B acquires it; meanwhile Q queries
// r0 at L every leaseQueryGap.
func runLease(t *testing.T, seed sim.Seed, ro raft.ReadOnlyOption, drift float64) leaseRun {
	t.Helper()
	l, servers := leaseLeader(t, seed, ro)
	var others []nodes.NodeID
	for _, id := range servers {
		if id != l {
			others = append(others, id)
		}
	}
	onL := []nodes.NodeID{l}
	fast := func(steps ...scenarios.Step) scenarios.Script {
		return scenarios.Script{Steps: steps, RequestTimeout: 30 * time.Millisecond, Backoff: 5 * time.Millisecond}
	}
	scripts := []scenarios.Script{
		leaseA: fast(
			scenarios.Step{Kind: scenarios.StepUntil, At: leaseStart},
			scenarios.Step{Kind: scenarios.StepOpen, TTL: time.Minute, Servers: onL},
			scenarios.Step{Kind: scenarios.StepAcquire, Resource: leaseResource, Mode: lockmgr.Exclusive, Servers: onL},
			scenarios.Step{Kind: scenarios.StepUntil, At: leaseCut},
			scenarios.Step{Kind: scenarios.StepRelease, Resource: leaseResource, Servers: others},
		),
		leaseB: fast(
			scenarios.Step{Kind: scenarios.StepUntil, At: leaseStart},
			scenarios.Step{Kind: scenarios.StepOpen, TTL: time.Minute, Servers: others},
			scenarios.Step{Kind: scenarios.StepUntil, At: leaseCut},
			scenarios.Step{Kind: scenarios.StepAcquire, Resource: leaseResource, Mode: lockmgr.Exclusive,
				Wait: lockmgr.WaitPolicy{Kind: lockmgr.Forever}, Servers: others},
		),
		leaseQ: {
			Steps: []scenarios.Step{
				{Kind: scenarios.StepUntil, At: leaseQueryAt},
				{Kind: scenarios.StepQuery, Resource: leaseResource, Count: leaseQueries, Delay: leaseQueryGap, Servers: onL},
			},
			RequestTimeout: 40 * time.Millisecond,
		},
	}
	ss, err := scenarios.NewScriptedLockSim(leaseCluster(seed, ro, scripts))
	require.NoError(t, err)
	w := ss.World

	run := leaseRun{leader: l, changed: -1, after: map[string]int{}}
	var lastIndex uint64
	w.AddChecker("record-committed-r0", func(w *sim.World) error {
		var best *locks.Server
		for _, id := range ss.Servers {
			if s := ss.Server(id); s != nil && (best == nil || s.Applied() > best.Applied()) {
				best = s
			}
		}
		if s := ss.Server(l); s != nil && s.Raft().Status().Role == raft.RoleLeader {
			run.ledUntil = w.Now()
		}
		if best == nil || best.Applied() == lastIndex {
			return nil
		}
		lastIndex = best.Applied()
		h := best.Manager().Holders(leaseResource)
		if n := len(run.timeline); n == 0 || !slices.Equal(run.timeline[n-1].Holders, h) {
			run.timeline = append(run.timeline, committedState{At: w.Now(), Index: lastIndex, Holders: h})
		}
		return nil
	})
	w.At(leaseDriftAt, "drift", func(w *sim.World) { require.NoError(t, w.SetDrift(l, drift)) })
	w.At(leaseCut, "cut-leader", func(w *sim.World) {
		require.NoError(t, w.PartitionOneWay(onL, others))
		require.NoError(t, w.PartitionOneWay(others, onL))
	})
	w.At(leaseHeal, "heal", func(w *sim.World) { w.Heal() })

	require.NoError(t, w.Run(leaseStart), "seed %d", seed)
	require.Equal(t, l, ss.Leader(), "seed %d: the dry run and the real run disagree on the leader", seed)
	require.NoError(t, w.Run(leaseDriftAt), "seed %d", seed)
	a, b, q := ss.Client(ss.Clients[leaseA]), ss.Client(ss.Clients[leaseB]), ss.Client(ss.Clients[leaseQ])
	require.True(t, a.Holds(leaseResource), "seed %d: A does not hold r0 before the drift", seed)
	require.NoError(t, w.Run(leaseEnd), "seed %d", seed)
	require.Empty(t, ss.ScriptErrors(), "seed %d", seed)
	require.True(t, a.Done && b.Done && q.Done, "seed %d: steps A %d B %d Q %d", seed, a.Step(), b.Step(), q.Step())
	require.True(t, b.Holds(leaseResource), "seed %d: B never got r0 from the majority", seed)
	v, _ := ss.History.CheckLinearizable(10 * time.Second)
	require.Equal(t, scenarios.Linearizable, v, "seed %d: the lock operations themselves must stay linearizable", seed)

	// When r0 left A in the committed state (to nobody, or to B).
	aHolds := func(hs []lockmgr.HolderInfo) bool { return len(hs) == 1 && hs[0].Session == a.Session() }
	held := false
	for _, s := range run.timeline {
		switch {
		case aHolds(s.Holders):
			held = true
		case held && run.changed < 0:
			run.changed = s.At
		}
	}
	require.Positive(t, run.changed, "seed %d: r0 never changed hands in the committed state", seed)

	run.queries = q.Queries
	require.Len(t, run.queries, leaseQueries)
	for _, qo := range run.queries {
		inv := at(qo.Invoked)
		if inv > run.changed {
			switch {
			case qo.TimedOut:
				run.after["timed out"]++
			case qo.Service != nodes.ServiceOK:
				run.after[qo.Service.String()]++
			case isStale(run.timeline, qo):
				run.after["stale"]++
			default:
				run.after["current"]++
			}
		}
		if inv > run.changed && inv < run.ledUntil {
			run.atRisk++
			if !qo.TimedOut && qo.Service == nodes.ServiceOK {
				run.answered++
			}
		}
		if qo.TimedOut || qo.Service != nodes.ServiceOK {
			continue
		}
		if isStale(run.timeline, qo) {
			require.Less(t, run.changed, inv, "seed %d: a stale read invoked before the state changed", seed)
			run.stale = append(run.stale, qo)
			run.lastStale = at(qo.Returned)
		}
	}
	return run
}

func (r leaseRun) summary(seed sim.Seed) string {
	s := fmt.Sprintf("seed %d: L=%s, r0 changed hands at cut+%v, L led until cut+%v, %d queries after the change while L led (%d answered), %d stale; after the change: %v",
		seed, r.leader, r.changed-leaseCut, r.ledUntil-leaseCut, r.atRisk, r.answered, len(r.stale), r.after)
	if len(r.stale) > 0 {
		q := r.stale[0]
		s += fmt.Sprintf(" (first: invoked at cut+%v, answered %s while the committed holder was %s; last answered at cut+%v)",
			at(q.Invoked)-leaseCut, describeHolders(q.Holders), describeHolders(stateBefore(r.timeline, at(q.Invoked))), r.lastStale-leaseCut)
	}
	return s
}

// TestLockLeaseReadsUnsafeUnderDrift shows that lease-based reads are not
// linearizable when the leader's clock runs slow: the leader, cut off from
// the majority, still counts its lease valid in its own late ticks while
// the majority (whose followers stopped honouring it after their own
// election timeout) elects a new leader and moves r0 from A to B. Queries
// answered by the old leader in that window return A as r0's holder:
// stale reads.
func TestLockLeaseReadsUnsafeUnderDrift(t *testing.T) {
	staleSeeds, staleReads := 0, 0
	seedsRun := leaseSeeds(t)
	for _, seed := range seedsRun {
		r := runLease(t, seed, raft.ReadOnlyLeaseBased, leaseDrift)
		t.Log(r.summary(seed))
		if len(r.stale) > 0 {
			staleSeeds++
			staleReads += len(r.stale)
		}
		for _, q := range r.stale {
			require.Equal(t, r.leader, q.Server)
			require.Less(t, at(q.Returned), r.ledUntil+leaseQueryGap, "seed %d: a stale read after L stepped down", seed)
		}
	}
	t.Logf("stale reads in %d of %d seeds (%d stale reads in all)", staleSeeds, len(seedsRun), staleReads)
	require.Positive(t, staleSeeds, "no seed showed a stale lease read under drift")
}

// TestLockSafeReadsUnderDrift runs the same schedule with ReadOnlySafe
// (ReadIndex confirmed by a quorum heartbeat round): the cut-off leader
// can confirm nothing, so every query after the change times out or is
// refused, and no answer is ever stale.
func TestLockSafeReadsUnderDrift(t *testing.T) {
	atRisk := 0
	for _, seed := range leaseSeeds(t) {
		r := runLease(t, seed, raft.ReadOnlySafe, leaseDrift)
		t.Log(r.summary(seed))
		require.Zero(t, len(r.stale), "stale read with ReadOnlySafe: %s", r.summary(seed))
		require.Zero(t, r.answered, "seed %d: the cut-off leader answered a read it could not confirm", seed)
		atRisk += r.atRisk
	}
	require.Positive(t, atRisk, "no query reached the cut-off leader after the change while it still led: the schedule tests nothing")
}

// TestLockLeaseReadsSafeWithoutDrift is the control of the experiment:
// the same schedule with lease-based reads but no drift never reads stale,
// because the leader's lease (ElectionTicks-1 of its ticks since a quorum
// acknowledged a heartbeat) ends before the followers' stickiness
// (ElectionTicks of their own ticks since they received it) when the
// clocks tick at the same rate. The drift is what breaks the reads.
func TestLockLeaseReadsSafeWithoutDrift(t *testing.T) {
	for _, seed := range leaseSeeds(t) {
		r := runLease(t, seed, raft.ReadOnlyLeaseBased, 0)
		t.Log(r.summary(seed))
		require.Zero(t, len(r.stale), "stale lease read without drift: %s", r.summary(seed))
	}
}
