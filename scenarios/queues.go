package scenarios

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/queues"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/sim"
)

// QueueCluster configures a simulated queue service: nodes, clients, the
// world they run in, and checks.
type QueueCluster struct {
	Seed sim.Seed
	// Servers are the queue nodes n1..nN of the initial ring; Spares more
	// nodes n(N+1).. that run but are on no ring until they join.
	Servers, Spares int
	Server          queues.Config
	// Groups are the clients c1..cM, numbered across groups in order.
	Groups   []QueueClientGroup
	Network  sim.LinkConfig
	Disk     sim.DiskConfig
	Duration time.Duration
	Settle   time.Duration
	// Unchecked turns off the per-event checkers and the wire check.
	Unchecked bool
}

// QueueClientGroup is Count clients sharing one configuration.
type QueueClientGroup struct {
	Count  int
	Config queues.ClientConfig
}

// QueueSim is a built queue cluster: the world and the checkers that watch
// it after every event.
type QueueSim struct {
	World   *sim.World
	Servers []nodes.NodeID // every queue node, spares included
	Clients []nodes.NodeID
	History *QueueHistory
	// Ring is the operator's ring history: epoch 0 is the initial ring;
	// Join and Leave add epochs, once no move is pending.
	Ring []queues.Membership
	// planned are the rings Join and Leave asked for, not yet applied.
	planned [][]nodes.NodeID
	// Elections and LeaderLost are the leader changes of every group.
	Elections  []Election
	LeaderLost []time.Duration
	raft       map[queues.GroupID]*raft.ClusterChecker
	lastRaft   map[replicaKey]raftSeen
	states     map[stateKey]uint64 // state hash of a group at an applied index
	applyErr   error
	leaders    map[queues.GroupID]nodes.NodeID
}

type replicaKey struct {
	node  nodes.NodeID
	group queues.GroupID
}

type stateKey struct {
	group queues.GroupID
	index uint64
}

// stateEvery: every this many applied entries, each replica's state is
// hashed and compared with the other replicas' at the same index. The
// state machine's invariants are checked after every entry while a group
// holds at most smallState messages, and every stateEvery entries beyond,
// so that a deep queue does not make each check cost its whole depth.
const (
	stateEvery = 16
	smallState = 512
)

// maxQueueClients bounds the clients of a simulated queue cluster (the
// scenario format allows fewer; benchmarks use more).
const maxQueueClients = 1024

// NewQueueSim builds the world of c with its checkers registered.
func NewQueueSim(c QueueCluster) (*QueueSim, error) {
	if c.Servers < 1 || c.Servers+c.Spares > 16 || c.Spares < 0 {
		return nil, fmt.Errorf("queue cluster: servers %d + spares %d: want 1..16 nodes", c.Servers, c.Spares)
	}
	total := 0
	for _, g := range c.Groups {
		total += g.Count
	}
	if total < 0 || total > maxQueueClients {
		return nil, fmt.Errorf("queue cluster: clients: %d outside [0, %d]", total, maxQueueClients)
	}
	qs := &QueueSim{
		Servers: serverIDs(c.Servers + c.Spares), Clients: clientIDs(total), History: newQueueHistory(),
		raft: map[queues.GroupID]*raft.ClusterChecker{}, lastRaft: map[replicaKey]raftSeen{},
		states: map[stateKey]uint64{}, leaders: map[queues.GroupID]nodes.NodeID{},
	}
	initial := qs.Servers[:c.Servers]
	qs.Ring = []queues.Membership{{Epoch: 0, Members: sortedNodes(initial)}}
	scfg := c.Server
	scfg.Servers = initial
	if !c.Unchecked {
		scfg.Observer = qs
	}
	newServer, err := queues.NewServer(scfg)
	if err != nil {
		return nil, fmt.Errorf("queue cluster: %w", err)
	}
	factories := map[nodes.NodeID]nodes.Factory{}
	for _, id := range qs.Servers {
		factories[id] = newServer
	}
	next := 0
	for i, g := range c.Groups {
		ccfg := g.Config
		ccfg.Servers = qs.Servers
		ccfg.Recorder = qs.History
		f, err := queues.NewClient(ccfg)
		if err != nil {
			return nil, fmt.Errorf("queue cluster: client group %d: %w", i, err)
		}
		for range g.Count {
			factories[qs.Clients[next]] = f
			next++
		}
	}
	all := append(slices.Clone(qs.Servers), qs.Clients...)
	w, err := sim.New(sim.Config{
		Seed: c.Seed, Nodes: all, Network: c.Network, Disk: c.Disk, WireCheck: !c.Unchecked,
		Factory: func(id nodes.NodeID) nodes.Node { return factories[id](id) },
	})
	if err != nil {
		return nil, err
	}
	qs.World = w
	qs.History.now = w.Now
	if !c.Unchecked {
		w.AddChecker("raft-safety", qs.checkRaft)
		w.AddChecker("queue-safety", qs.checkQueue)
	}
	return qs, nil
}

// server returns the live queue node id, or nil.
func (qs *QueueSim) server(id nodes.NodeID) *queues.Server {
	if !qs.World.Up(id) {
		return nil
	}
	s, _ := qs.World.Node(id).(*queues.Server)
	return s
}

// Server returns queue node id if it is up, or nil.
func (qs *QueueSim) Server(id nodes.NodeID) *queues.Server { return qs.server(id) }

func (qs *QueueSim) checker(g queues.GroupID) *raft.ClusterChecker {
	c := qs.raft[g]
	if c == nil {
		c = raft.NewClusterChecker()
		qs.raft[g] = c
	}
	return c
}

// Started implements queues.Observer.
func (qs *QueueSim) Started(id nodes.NodeID) {
	for _, g := range sortedGroupIDs(qs.raft) {
		qs.raft[g].ObserveRestart(raft.NodeID(id))
	}
	for k := range qs.lastRaft { //det:ordered deleting entries; order cannot matter
		if k.node == id {
			delete(qs.lastRaft, k)
		}
	}
}

// Applied implements queues.Observer: state machine safety, the state
// machine's invariants, and replicas' states compared at equal indexes
// (which also checks that recovery is idempotent: a replica that restarted
// and replayed its log must reach the very same states).
func (qs *QueueSim) Applied(id nodes.NodeID, g queues.GroupID, e raft.Entry, mgr *queue.Manager) {
	if qs.applyErr != nil {
		return
	}
	if err := qs.checker(g).ObserveApplied(raft.NodeID(id), e.Index, e.Term, raft.EntryHash(e)); err != nil {
		qs.applyErr = fmt.Errorf("group %s: %w", g, err)
		return
	}
	st := mgr.Stats()
	small := st.Ready+st.InFlight <= smallState
	if small || e.Index%stateEvery == 0 {
		if err := mgr.CheckInvariants(); err != nil {
			qs.applyErr = fmt.Errorf("node %s group %s at index %d: %w", id, g, e.Index, err)
			return
		}
	}
	if e.Index%stateEvery == 0 && (small || e.Index%(stateEvery*stateEvery) == 0) {
		qs.compareState(id, g, e.Index, mgr)
	}
}

func (qs *QueueSim) compareState(id nodes.NodeID, g queues.GroupID, index uint64, mgr *queue.Manager) {
	f := fnv.New64a()
	f.Write(mgr.Snapshot())
	h := f.Sum64()
	k := stateKey{g, index}
	if prev, ok := qs.states[k]; ok && prev != h {
		qs.applyErr = fmt.Errorf("group %s: node %s's state at index %d differs from another replica's at the same index", g, id, index)
		return
	}
	qs.states[k] = h
}

// Restored implements queues.Observer.
func (qs *QueueSim) Restored(id nodes.NodeID, g queues.GroupID, snap raft.Snapshot, mgr *queue.Manager) {
	if qs.applyErr != nil {
		return
	}
	if err := qs.checker(g).ObserveSnapshot(raft.NodeID(id), snap.Index); err != nil {
		qs.applyErr = fmt.Errorf("group %s: %w", g, err)
		return
	}
	if err := mgr.CheckInvariants(); err != nil {
		qs.applyErr = fmt.Errorf("node %s group %s restored at %d: %w", id, g, snap.Index, err)
	}
}

// Dropped implements queues.Observer.
func (qs *QueueSim) Dropped(id nodes.NodeID, g queues.GroupID) {
	delete(qs.lastRaft, replicaKey{id, g})
}

// checkRaft checks every group replica whose Raft state changed.
func (qs *QueueSim) checkRaft(*sim.World) error {
	if qs.applyErr != nil {
		return qs.applyErr
	}
	for _, id := range qs.Servers {
		s := qs.server(id)
		if s == nil {
			continue
		}
		for _, gid := range s.Groups() {
			r := s.Group(gid).Raft()
			st := r.Status()
			lastTerm, _ := r.Term(st.LastIndex)
			seen := raftSeen{term: st.Term, commit: st.Commit, first: st.FirstIndex, last: st.LastIndex,
				lastTerm: lastTerm, snap: st.SnapshotIndex, role: st.Role, lead: st.Lead}
			k := replicaKey{id, gid}
			prev, had := qs.lastRaft[k]
			if had && prev == seen {
				continue
			}
			qs.lastRaft[k] = seen
			qs.noteRole(id, gid, prev.role, st)
			if err := qs.checker(gid).Observe(raft.NodeID(id), st, r.LogView()); err != nil {
				return fmt.Errorf("group %s: %w", gid, err)
			}
		}
	}
	return nil
}

// noteRole keeps the election timeline of every group.
func (qs *QueueSim) noteRole(id nodes.NodeID, g queues.GroupID, was raft.Role, st raft.Status) {
	now := qs.World.Now()
	if st.Role == raft.RoleLeader && was != raft.RoleLeader {
		qs.Elections = append(qs.Elections, Election{At: now, Node: string(id), Term: st.Term})
		qs.leaders[g] = id
	}
	if st.Role != raft.RoleLeader && qs.leaders[g] == id {
		qs.LeaderLost = append(qs.LeaderLost, now)
		delete(qs.leaders, g)
	}
}

// noteCrash records the loss of every group the crashed node led.
func (qs *QueueSim) noteCrash(id nodes.NodeID) {
	for _, g := range sortedGroupIDs(qs.leaders) {
		if qs.leaders[g] == id {
			qs.LeaderLost = append(qs.LeaderLost, qs.World.Now())
			delete(qs.leaders, g)
		}
	}
}

// checkQueue checks the clients' history as it grows: no message is
// delivered again after a successful ack of it.
func (qs *QueueSim) checkQueue(*sim.World) error { return qs.History.violation }

// Leader returns the node leading the current group of the first queue
// the clients use ("q0"), as the first live server sees the ring, or "".
func (qs *QueueSim) Leader() nodes.NodeID {
	return qs.leaderOf("q0")
}

func (qs *QueueSim) leaderOf(name string) nodes.NodeID {
	var best nodes.NodeID
	var term uint64
	for _, id := range qs.Servers {
		s := qs.server(id)
		if s == nil {
			continue
		}
		gid, _ := s.Placement(name)
		if r := s.Group(gid); r != nil {
			if st := r.Raft().Status(); st.Role == raft.RoleLeader && st.Term >= term {
				best, term = id, st.Term
			}
		}
	}
	return best
}

// Owner returns the ring owner of queue name at the operator's latest
// epoch.
func (qs *QueueSim) Owner(name string) nodes.NodeID {
	for _, id := range qs.Servers {
		if s := qs.server(id); s != nil && s.Epoch() == uint64(len(qs.Ring)-1) {
			_, pref := s.Placement(name)
			return pref[0]
		}
	}
	return ""
}

// Join adds node id to the ring (a new epoch) and tells every live node.
// Ring changes are applied one at a time: a change waits until no live node
// reports a move pending (Server.MovesPending), as an operator must do.
func (qs *QueueSim) Join(id nodes.NodeID) error {
	members := qs.plannedRing()
	if slices.Contains(members, id) {
		return fmt.Errorf("join %s: already on the ring", id)
	}
	if !slices.Contains(qs.Servers, id) {
		return fmt.Errorf("join %s: not a queue node", id)
	}
	qs.plan(sortedNodes(append(slices.Clone(members), id)))
	return nil
}

// Leave removes node id from the ring (a new epoch), one change at a time
// as Join does; its queues move to the remaining nodes.
func (qs *QueueSim) Leave(id nodes.NodeID) error {
	members := qs.plannedRing()
	i := slices.Index(members, id)
	if i < 0 {
		return fmt.Errorf("leave %s: not on the ring", id)
	}
	if len(members) == 1 {
		return fmt.Errorf("leave %s: the last node cannot leave", id)
	}
	qs.plan(slices.Delete(slices.Clone(members), i, i+1))
	return nil
}

// plannedRing is the ring once every planned change is applied.
func (qs *QueueSim) plannedRing() []nodes.NodeID {
	if n := len(qs.planned); n > 0 {
		return qs.planned[n-1]
	}
	return qs.Ring[len(qs.Ring)-1].Members
}

// plan queues a ring change and applies it as soon as no move is pending.
func (qs *QueueSim) plan(members []nodes.NodeID) {
	qs.planned = append(qs.planned, members)
	if len(qs.planned) == 1 {
		qs.applyPlanned(qs.World)
	}
}

// applyPlanned announces the next planned ring if no live node is in a
// move, or looks again a little later.
func (qs *QueueSim) applyPlanned(w *sim.World) {
	if len(qs.planned) == 0 {
		return
	}
	if !qs.ringSettled() {
		w.At(w.Now()+movePoll, "ring-change-waits", qs.applyPlanned)
		return
	}
	members := qs.planned[0]
	qs.planned = qs.planned[1:]
	qs.Ring = append(qs.Ring, queues.Membership{Epoch: uint64(len(qs.Ring)), Members: members})
	h := slices.Clone(qs.Ring)
	for _, id := range qs.Servers {
		if w.Up(id) {
			if err := w.Inject(id, &queues.RingUpdate{History: h}); err != nil {
				panic(fmt.Sprintf("queue sim: ring epoch %d: %v", len(h)-1, err))
			}
		}
	}
	if len(qs.planned) > 0 {
		w.At(w.Now()+movePoll, "ring-change-waits", qs.applyPlanned)
	}
}

// ringSettled reports whether the next ring change may be applied: every
// node on the ring is up, and no live node reports a move pending. A down
// node may hold the only copies of a group that still has to move (its
// whole replica set may be down), and a change made meanwhile would send
// that group's queue on without it.
func (qs *QueueSim) ringSettled() bool {
	for _, id := range qs.Ring[len(qs.Ring)-1].Members {
		if !qs.World.Up(id) || qs.World.Restarting(id) {
			return false
		}
	}
	for _, id := range qs.Servers {
		if s := qs.server(id); s != nil && s.MovesPending() > 0 {
			return false
		}
	}
	return true
}

// movePoll is how often a waiting ring change looks for pending moves.
const movePoll = 50 * time.Millisecond

// StopProducing starts the drain: every client stops enqueuing.
func (qs *QueueSim) StopProducing() {
	for _, id := range qs.Clients {
		if c, ok := qs.World.Node(id).(*queues.Client); ok {
			c.StopProducing()
		}
	}
}

func sortedGroupIDs[V any](m map[queues.GroupID]V) []queues.GroupID {
	out := make([]queues.GroupID, 0, len(m))
	for g := range m { //det:ordered sorted below
		out = append(out, g)
	}
	slices.SortFunc(out, queues.CompareGroups)
	return out
}
