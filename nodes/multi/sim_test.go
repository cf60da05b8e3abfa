package multi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/multi"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/sim"
)

// watch is the harness's view of the three services: it observes them
// through their Config's observers and clients' recorders, and keeps the
// first violation of a service's own invariants.
type watch struct {
	err error

	raft     *raft.ClusterChecker
	lastSeen map[nodes.NodeID]raftSeen // what the checker last saw of each lock part

	lockCalls, lockDone int
	queueCalls          int
	queueDone           map[queues.OpKind]int
}

func (x *watch) fail(err error) {
	if x.err == nil && err != nil {
		x.err = err
	}
}

// locks.ApplyObserver: Raft's state machine safety.
func (x *watch) Started(id nodes.NodeID) { x.raft.ObserveRestart(raft.NodeID(id)) }
func (x *watch) Applied(id nodes.NodeID, e raft.Entry) {
	x.fail(x.raft.ObserveApplied(raft.NodeID(id), e.Index, e.Term, raft.EntryHash(e)))
}
func (x *watch) Restored(id nodes.NodeID, snap raft.Snapshot) {
	x.fail(x.raft.ObserveSnapshot(raft.NodeID(id), snap.Index))
}
func (x *watch) RoleChanged(nodes.NodeID, raft.SoftState, uint64) {}

// locks.Recorder.
func (x *watch) Invoke(locks.Op)                   { x.lockCalls++ }
func (x *watch) Complete(locks.Op, lockmgr.Result) { x.lockDone++ }

func (x *watch) lockObserver() locks.ApplyObserver { return x }
func (x *watch) lockRecorder() locks.Recorder      { return x }
func (x *watch) queueObserver() queues.Observer    { return queueObs{x} }
func (x *watch) queueRecorder() queues.Recorder    { return queueRec{x} }

// queues.Recorder: completed operations, by kind.

type queueRec struct{ x *watch }

func (r queueRec) Invoke(queues.Op) { r.x.queueCalls++ }
func (r queueRec) Complete(op queues.Op, res queue.Result) {
	if res.Status == queue.StatusOK {
		r.x.queueDone[op.Kind]++
	}
}

// queues.Observer: every group's state machine keeps its invariants.
type queueObs struct{ x *watch }

func (o queueObs) Started(nodes.NodeID) {}
func (o queueObs) Applied(id nodes.NodeID, g queues.GroupID, _ raft.Entry, mgr *queue.Manager) {
	if err := mgr.CheckInvariants(); err != nil {
		o.x.fail(fmt.Errorf("queue group %s on %s: %w", g, id, err))
	}
}
func (o queueObs) Restored(id nodes.NodeID, g queues.GroupID, _ raft.Snapshot, mgr *queue.Manager) {
	o.Applied(id, g, raft.Entry{}, mgr)
}
func (o queueObs) Dropped(nodes.NodeID, queues.GroupID) {}

// raftSeen is what a check covers of a lock part: nothing to check while
// it is unchanged.
type raftSeen struct {
	server                                   *locks.Server
	term, commit, first, last, snap, applied uint64
	role                                     raft.Role
	lead                                     raft.NodeID
}

// partOf returns the part name of the live composite id, or the zero T.
func partOf[T nodes.Node](w *sim.World, id nodes.NodeID, name string) T {
	var zero T
	n, ok := w.Node(id).(*multi.Node)
	if !ok {
		return zero
	}
	p, ok := n.Part(name).(T)
	if !ok {
		return zero
	}
	return p
}

// check is run after every event: Raft safety and the lock table's
// invariants on every live lock part, SWMR across the live cache parts,
// and what the observers found.
func (x *watch) check(servers []nodes.NodeID) sim.Checker {
	return func(w *sim.World) error {
		if x.err != nil {
			return x.err
		}
		lines := map[mesi.NodeID][]mesi.Line{}
		for _, id := range servers {
			n, ok := w.Node(id).(*multi.Node)
			if !ok {
				continue
			}
			if d := n.Dropped(); d != 0 {
				return fmt.Errorf("%s dropped %d events", id, d)
			}
			if s := partOf[*locks.Server](w, id, "locks"); s != nil && s.Raft() != nil {
				r := s.Raft()
				st := r.Status()
				seen := raftSeen{s, st.Term, st.Commit, st.FirstIndex, st.LastIndex, st.SnapshotIndex, s.Applied(), st.Role, st.Lead}
				if x.lastSeen[id] != seen {
					x.lastSeen[id] = seen
					if err := x.raft.Observe(raft.NodeID(id), st, r.LogView()); err != nil {
						return err
					}
					if err := s.Manager().CheckInvariants(); err != nil {
						return fmt.Errorf("lock table of %s: %w", id, err)
					}
				}
			}
			if s := partOf[*caches.Server](w, id, "caches"); s != nil && s.Protocol() != nil {
				lines[mesi.NodeID(id)] = s.Protocol().Lines()
			}
		}
		return mesi.CheckSWMRAll(lines)
	}
}

func numbered(prefix string, n int) []nodes.NodeID {
	out := make([]nodes.NodeID, n)
	for i := range out {
		out[i] = nodes.NodeID(fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

// multiWorld is a 3-node world in which every node is a composite hosting
// the lock, queue and cache services (each service's Config lists the
// three composites), with two simulated clients of each service
// addressing the composites and the wire check on.
type multiWorld struct {
	w                                       *sim.World
	x                                       *watch
	servers                                 []nodes.NodeID
	lockClients, queueClients, cacheClients []nodes.NodeID
}

func newMultiWorld(t *testing.T, seed sim.Seed) *multiWorld {
	t.Helper()
	servers := numbered("n", 3)
	lockClients, queueClients, cacheClients := numbered("l", 2), numbered("q", 2), numbered("c", 2)
	x := &watch{raft: raft.NewClusterChecker(), lastSeen: map[nodes.NodeID]raftSeen{}, queueDone: map[queues.OpKind]int{}}

	newLocks, err := locks.NewServer(locks.Config{Servers: servers, Observer: x.lockObserver()})
	require.NoError(t, err)
	newQueues, err := queues.NewServer(queues.Config{Servers: servers, Observer: x.queueObserver()})
	require.NoError(t, err)
	newCaches, err := caches.NewServer(caches.Config{Nodes: servers})
	require.NoError(t, err)
	newServer, err := multi.New(
		multi.Part{Name: "locks", Factory: newLocks, Types: locks.ServerMessageTypes()},
		multi.Part{Name: "queues", Factory: newQueues, Types: queues.ServerMessageTypes()},
		multi.Part{Name: "caches", Factory: newCaches, Types: caches.ServerMessageTypes()},
	)
	require.NoError(t, err)

	newLockClient, err := locks.NewClient(locks.ClientConfig{Servers: servers, Resources: 4, Think: 10 * time.Millisecond,
		Hold: 10 * time.Millisecond, Wait: lockmgr.WaitPolicy{Kind: lockmgr.Timeout, Timeout: 500 * time.Millisecond}, Recorder: x.lockRecorder()})
	require.NoError(t, err)
	newQueueClient, err := queues.NewClient(queues.ClientConfig{Servers: servers, Queues: []string{"jobs", "mail"}, Produce: 0.6,
		Recorder: x.queueRecorder()})
	require.NoError(t, err)
	newCacheClient, err := caches.NewClient(caches.ClientConfig{Servers: servers, Keys: 8, Writes: 0.4, Think: 5 * time.Millisecond,
		RequestTimeout: 200 * time.Millisecond})
	require.NoError(t, err)

	all := slices.Concat(servers, lockClients, queueClients, cacheClients)
	w, err := sim.New(sim.Config{
		Seed: seed, Nodes: all,
		Network: sim.LinkConfig{Latency: sim.Uniform(500*time.Microsecond, 2*time.Millisecond)},
		Disk:    sim.DiskConfig{WriteLatency: sim.Constant(10 * time.Microsecond), SyncLatency: sim.Constant(100 * time.Microsecond)},
		Factory: func(id nodes.NodeID) nodes.Node {
			switch {
			case slices.Contains(servers, id):
				return newServer(id)
			case slices.Contains(lockClients, id):
				return newLockClient(id)
			case slices.Contains(queueClients, id):
				return newQueueClient(id)
			}
			return newCacheClient(id)
		},
		WireCheck: true,
	})
	require.NoError(t, err)
	w.AddChecker("services", x.check(servers))
	return &multiWorld{w: w, x: x, servers: servers, lockClients: lockClients, queueClients: queueClients, cacheClients: cacheClients}
}

// TestMultiSimAllServicesOnOneNode runs a 3-node world in which every node
// is a composite hosting the lock, queue and cache services, with the
// services' own simulated clients addressing the composites, the wire
// check on, and a crash and restart of one composite: every service makes
// progress, the clients' operations complete, and the services' checks
// hold after every event.
func TestMultiSimAllServicesOnOneNode(t *testing.T) {
	mw := newMultiWorld(t, 11)
	w, x, servers := mw.w, mw.x, mw.servers
	lockClients, queueClients, cacheClients := mw.lockClients, mw.queueClients, mw.cacheClients
	w.At(1500*time.Millisecond, "crash n2", func(w *sim.World) { require.NoError(t, w.Crash("n2")) })
	w.At(1800*time.Millisecond, "restart n2", func(w *sim.World) { require.NoError(t, w.Restart("n2")) })

	require.NoError(t, w.Run(3*time.Second))
	locksAt, queuesAt := x.lockDone, x.queueDone[queues.OpEnqueue]

	// Drain: no new cache operations and no new enqueues; every cache
	// operation must complete, and the lock clients go on.
	for _, id := range cacheClients {
		w.Node(id).(*caches.Client).Stop()
	}
	for _, id := range queueClients {
		w.Node(id).(*queues.Client).StopProducing()
	}
	require.NoError(t, w.Run(w.Now()+2*time.Second))
	require.Nil(t, w.Violation())

	t.Logf("locks: %d/%d ops; queues: %d calls, done %v; sim %+v", x.lockDone, x.lockCalls, x.queueCalls, x.queueDone, w.Stats())
	require.Greater(t, x.lockDone, 100, "lock operations complete")
	require.Greater(t, x.lockDone, locksAt, "lock operations go on after the drain started")
	require.LessOrEqual(t, x.lockCalls-x.lockDone, len(lockClients), "at most one operation in flight per lock client")
	require.Greater(t, queuesAt, 30, "enqueues complete")
	require.Greater(t, x.queueDone[queues.OpDequeue], 10, "dequeues deliver")
	require.Greater(t, x.queueDone[queues.OpAck], 10, "acks complete")
	var cacheOps uint64
	for _, id := range cacheClients {
		c := w.Node(id).(*caches.Client)
		require.True(t, c.Idle(), "cache client %s is stuck", id)
		require.Equal(t, c.Invoked, c.Completed, "cache client %s", id)
		require.Zero(t, c.Refused, "cache client %s", id)
		cacheOps += c.Completed
	}
	t.Logf("caches: %d ops", cacheOps)
	require.Greater(t, cacheOps, uint64(200), "cache operations complete")

	// The crashed composite came back with every part recovered from its
	// own files, and each part's files are where its view puts them.
	require.Equal(t, uint64(2), partOf[*caches.Server](w, "n2", "caches").Epoch(), "the cache part counted its second boot")
	require.NotNil(t, partOf[*locks.Server](w, "n2", "locks").Raft())
	require.NotEmpty(t, partOf[*queues.Server](w, "n2", "queues").History(), "the queue part knows the ring")
	for _, id := range servers {
		n := w.Node(id).(*multi.Node)
		require.Equal(t, []string{"locks", "queues", "caches"}, n.Parts())
		require.Zero(t, n.Dropped(), "%s", id)
		d, err := w.NodeDisk(id)
		require.NoError(t, err)
		files, err := d.List()
		require.NoError(t, err)
		owners := map[string]int{}
		for _, f := range files {
			part, _, ok := strings.Cut(f, ".")
			require.True(t, ok && slices.Contains(n.Parts(), part), "%s: file %q belongs to no part", id, f)
			owners[part]++
		}
		require.Len(t, owners, 3, "%s: every part persisted something: %v", id, files)
	}

	st := w.Stats()
	require.Positive(t, st.Net.WireChecked)
	require.Equal(t, st.Net.Delivered, st.Net.WireChecked, "every delivered message went through the codec")
	require.Zero(t, st.Net.DroppedUnknown)
}

// TestMultiSimDeterministic runs the composite world twice on one seed:
// the same trace, bit for bit.
func TestMultiSimDeterministic(t *testing.T) {
	var hashes []string
	for range 2 {
		mw := newMultiWorld(t, 5)
		require.NoError(t, mw.w.Run(time.Second))
		require.Positive(t, mw.x.lockDone)
		hashes = append(hashes, mw.w.Trace().HashString())
	}
	require.Equal(t, hashes[0], hashes[1])
}
