package scenarios

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/sim"
)

// LockCluster configures a simulated lock service: servers, clients, the
// world they run in, and checks.
type LockCluster struct {
	Seed    sim.Seed
	Servers int // lock servers n1..nN (1..9)
	Clients int // clients c1..cM (0..64), all configured by Client
	Server  locks.Config
	Client  locks.ClientConfig
	// Groups, if set, replaces Clients and Client: clients are numbered
	// across the groups in order, each group with its own configuration.
	Groups   []ClientGroup
	Network  sim.LinkConfig
	Disk     sim.DiskConfig
	Duration time.Duration // how long to run
	// Chaos, if Every > 0, injects random faults into the servers until
	// Duration-Settle.
	Chaos  sim.Chaos
	Settle time.Duration
	// Unchecked turns off the per-event checkers and the wire check: for
	// measuring the cost of the simulation itself.
	Unchecked bool
	// SkipRaftSafety and SkipLockSafety leave out one checker each.
	SkipRaftSafety, SkipLockSafety bool
}

// ClientGroup is Count clients sharing one configuration.
type ClientGroup struct {
	Count  int
	Config locks.ClientConfig
}

// LockSim is a built lock cluster: the world and the checkers that watch it
// after every event.
type LockSim struct {
	// Elections is every leader taking office; LeaderLost the times a
	// leader crashed or stepped down (for time-to-recover plots).
	Elections  []Election
	LeaderLost []time.Duration
	leader     nodes.NodeID
	World      *sim.World
	Servers    []nodes.NodeID
	Clients    []nodes.NodeID
	History    *History
	Raft       *raft.ClusterChecker
	applyErr   error
	booting    map[nodes.NodeID]bool
	installed  map[nodes.NodeID]int
	// What each server looked like when last checked: a check is skipped
	// while nothing it covers changed (the lock table changes only when an
	// entry is applied; Raft's observable state is its status and log).
	lastLocks map[nodes.NodeID]checkedAt
	lastRaft  map[nodes.NodeID]raftSeen
}

type checkedAt struct {
	server  *locks.Server
	applied uint64
}

type raftSeen struct {
	server                    *locks.Server
	term, commit, first, last uint64
	lastTerm                  uint64
	snap                      uint64
	role                      raft.Role
	lead                      raft.NodeID
}

// serverIDs and clientIDs name the nodes of a lock cluster: servers n1..nN
// (as DESIGN.md's scenario example names them), clients c1..cM.
func serverIDs(n int) []nodes.NodeID { return numbered("n", n) }
func clientIDs(n int) []nodes.NodeID { return numbered("c", n) }

func numbered(prefix string, n int) []nodes.NodeID {
	out := make([]nodes.NodeID, n)
	for i := range out {
		out[i] = nodes.NodeID(fmt.Sprintf("%s%d", prefix, i+1))
	}
	return out
}

// NewLockSim builds the world of c, with the Raft and lock-table checkers
// registered.
func NewLockSim(c LockCluster) (*LockSim, error) {
	if c.Servers < 1 || c.Servers > 9 {
		return nil, fmt.Errorf("lock cluster: servers: %d outside [1, 9]", c.Servers)
	}
	groups := c.Groups
	if groups == nil {
		groups = []ClientGroup{{Count: c.Clients, Config: c.Client}}
	}
	total := 0
	for _, g := range groups {
		total += g.Count
	}
	if total < 0 || total > 64 {
		return nil, fmt.Errorf("lock cluster: clients: %d outside [0, 64]", total)
	}
	ls := &LockSim{
		Servers: serverIDs(c.Servers), Clients: clientIDs(total),
		History: &History{}, Raft: raft.NewClusterChecker(),
		booting: map[nodes.NodeID]bool{}, installed: map[nodes.NodeID]int{},
		lastLocks: map[nodes.NodeID]checkedAt{}, lastRaft: map[nodes.NodeID]raftSeen{},
	}
	scfg := c.Server
	scfg.Servers = ls.Servers
	scfg.Observer = ls
	newServer, err := locks.NewServer(scfg)
	if err != nil {
		return nil, err
	}
	clientOf := map[nodes.NodeID]nodes.Factory{}
	next := 0
	for i, g := range groups {
		ccfg := g.Config
		ccfg.Servers = ls.Servers
		ccfg.Recorder = ls.History
		f, err := locks.NewClient(ccfg)
		if err != nil {
			return nil, fmt.Errorf("lock cluster: client group %d: %w", i, err)
		}
		for range g.Count {
			clientOf[ls.Clients[next]] = f
			next++
		}
	}
	isServer := map[nodes.NodeID]bool{}
	for _, id := range ls.Servers {
		isServer[id] = true
	}
	all := append(append([]nodes.NodeID(nil), ls.Servers...), ls.Clients...)
	w, err := sim.New(sim.Config{
		Seed: c.Seed, Nodes: all, Network: c.Network, Disk: c.Disk, WireCheck: !c.Unchecked,
		Factory: func(id nodes.NodeID) nodes.Node {
			if isServer[id] {
				return newServer(id)
			}
			return clientOf[id](id)
		},
	})
	if err != nil {
		return nil, err
	}
	ls.World = w
	ls.History.now = w.Now
	if c.Chaos.Every > 0 {
		ch := c.Chaos
		ch.Nodes = ls.Servers
		if err := ch.Schedule(w, c.Duration-c.Settle); err != nil {
			return nil, err
		}
	}
	if !c.Unchecked && !c.SkipRaftSafety {
		w.AddChecker("raft-safety", ls.checkRaft)
	}
	if !c.Unchecked && !c.SkipLockSafety {
		w.AddChecker("lock-safety", ls.checkLocks)
	}
	return ls, nil
}

// Applied implements locks.ApplyObserver: state machine safety.
func (ls *LockSim) Applied(id nodes.NodeID, e raft.Entry) {
	if err := ls.Raft.ObserveApplied(raft.NodeID(id), e.Index, e.Term, raft.EntryHash(e)); err != nil && ls.applyErr == nil {
		ls.applyErr = err
	}
}

// Restored implements locks.ApplyObserver.
func (ls *LockSim) Restored(id nodes.NodeID, snap raft.Snapshot) {
	if !ls.booting[id] {
		ls.installed[id]++
	}
	if err := ls.Raft.ObserveSnapshot(raft.NodeID(id), snap.Index); err != nil && ls.applyErr == nil {
		ls.applyErr = err
	}
}

// Election is a leader taking office.
type Election struct {
	At   time.Duration `json:"at_ns"`
	Node string        `json:"node"`
	Term uint64        `json:"term"`
}

// RoleChanged implements locks.ApplyObserver: it keeps the election
// timeline, and notes when the leader steps down.
func (ls *LockSim) RoleChanged(id nodes.NodeID, ss raft.SoftState, term uint64) {
	now := ls.World.Now()
	if ss.Role == raft.RoleLeader {
		ls.Elections = append(ls.Elections, Election{At: now, Node: string(id), Term: term})
		ls.leader = id
		return
	}
	if ls.leader == id {
		ls.LeaderLost = append(ls.LeaderLost, now)
		ls.leader = ""
	}
}

// noteCrash records the loss of the leader when it crashes.
func (ls *LockSim) noteCrash(id nodes.NodeID) {
	if ls.leader == id {
		ls.LeaderLost = append(ls.LeaderLost, ls.World.Now())
		ls.leader = ""
	}
}

// Started implements locks.ApplyObserver.
func (ls *LockSim) Started(id nodes.NodeID) {
	ls.Raft.ObserveRestart(raft.NodeID(id))
	ls.booting[id] = true
}

// server returns the live server id, or nil.
func (ls *LockSim) server(id nodes.NodeID) *locks.Server {
	s, _ := ls.World.Node(id).(*locks.Server)
	if s == nil || s.Raft() == nil {
		return nil
	}
	return s
}

func (ls *LockSim) checkRaft(*sim.World) error {
	clear(ls.booting) // a boot ends with the event that started it
	if ls.applyErr != nil {
		return ls.applyErr
	}
	for _, id := range ls.Servers {
		s := ls.server(id)
		if s == nil {
			continue
		}
		r := s.Raft()
		st := r.Status()
		lastTerm, _ := r.Term(st.LastIndex)
		seen := raftSeen{server: s, term: st.Term, commit: st.Commit, first: st.FirstIndex, last: st.LastIndex,
			lastTerm: lastTerm, snap: st.SnapshotIndex, role: st.Role, lead: st.Lead}
		if ls.lastRaft[id] == seen {
			continue
		}
		ls.lastRaft[id] = seen
		if err := ls.Raft.Observe(raft.NodeID(id), st, r.LogView()); err != nil {
			return err
		}
	}
	return nil
}

func (ls *LockSim) checkLocks(*sim.World) error {
	for _, id := range ls.Servers {
		s := ls.server(id)
		if s == nil || ls.lastLocks[id] == (checkedAt{s, s.Applied()}) {
			continue
		}
		ls.lastLocks[id] = checkedAt{s, s.Applied()}
		if err := s.Manager().CheckInvariants(); err != nil {
			return fmt.Errorf("server %s: %w", id, err)
		}
	}
	return nil
}

// Leader returns the server that leads the highest term among live
// servers, or "".
func (ls *LockSim) Leader() nodes.NodeID {
	var best nodes.NodeID
	var term uint64
	for _, id := range ls.Servers {
		if s := ls.server(id); s != nil {
			st := s.Raft().Status()
			if st.Role == raft.RoleLeader && st.Term >= term {
				best, term = id, st.Term
			}
		}
	}
	return best
}

// ElectionTimeout is the lock servers' default minimum election timeout.
const ElectionTimeout = 150 * time.Millisecond

// Run runs the world until virtual time until and checks liveness: the
// faults must be over by until-quiet; from then, a leader must exist within
// 10 election timeouts, and at until no client operation invoked before
// until-quiet may still be waiting. It returns the first violation.
func (ls *LockSim) Run(until, quiet time.Duration) error {
	if err := ls.World.Run(until - quiet); err != nil {
		return err
	}
	if _, err := ls.RunUntilLeader(10 * ElectionTimeout); err != nil {
		return err
	}
	if ls.Leader() == "" {
		return fmt.Errorf("liveness at t=%v: no leader within 10 election timeouts of the last fault", ls.World.Now())
	}
	if err := ls.World.Run(until); err != nil {
		return err
	}
	if op, ok := ls.History.OldestPending(); ok && op.Call < until-quiet {
		return fmt.Errorf("liveness at t=%v: %s of %s (seq %d) invoked at %v never completed",
			ls.World.Now(), op.Op.Kind, op.Op.Client, op.Op.Seq, op.Call)
	}
	return ls.checkNoLeakedLocks()
}

// checkNoLeakedLocks compares, for every idle client, the locks the
// leader's table says its session holds with the lock the client believes
// it holds: a lock the table gives a client that does not know it would
// block its resource forever without any request hanging.
func (ls *LockSim) checkNoLeakedLocks() error {
	leader := ls.Server(ls.Leader())
	if leader == nil {
		return nil
	}
	for _, id := range ls.Clients {
		c, ok := ls.World.Node(id).(*locks.Client)
		if !ok || c.Busy() || c.Session() == 0 {
			continue
		}
		info, ok := leader.Manager().Session(c.Session())
		if !ok {
			continue // expired: the client learns it at its next request
		}
		want := []lockmgr.Resource{}
		if h := c.Held(); h != "" {
			want = append(want, h)
		}
		if !slices.Equal(info.Held, want) {
			return fmt.Errorf("liveness at t=%v: session %d of %s holds %v in the lock table, the client believes it holds %v",
				ls.World.Now(), c.Session(), id, info.Held, want)
		}
	}
	return nil
}

// Results of the clients, summed.
func (ls *LockSim) ClientStats() (granted, rejected, retries uint64) {
	for _, id := range ls.Clients {
		if c, ok := ls.World.Node(id).(*locks.Client); ok {
			granted += c.Granted
			rejected += c.Rejected
			retries += c.Retries
		}
	}
	return
}

// sessionHolder is a (session, mode) pair in the linearizability model.
type sessionHolder struct {
	session lockmgr.SessionID
	mode    lockmgr.Mode
	token   lockmgr.Token
}

// Server returns the live lock server id, or nil if it is down.
func (ls *LockSim) Server(id nodes.NodeID) *locks.Server { return ls.server(id) }

// MaxTerm returns the highest Raft term among live servers.
func (ls *LockSim) MaxTerm() uint64 {
	var term uint64
	for _, id := range ls.Servers {
		if s := ls.server(id); s != nil {
			term = max(term, s.Raft().Status().Term)
		}
	}
	return term
}

// RunUntilLeader runs until some server leads, for at most limit more
// virtual time, and returns it ("" if none).
func (ls *LockSim) RunUntilLeader(limit time.Duration) (nodes.NodeID, error) {
	end := ls.World.Now() + limit
	for ls.World.Now() < end {
		if err := ls.World.Run(ls.World.Now() + 10*time.Millisecond); err != nil {
			return "", err
		}
		if l := ls.Leader(); l != "" {
			return l, nil
		}
	}
	return "", nil
}

// SnapshotsInstalled returns how many snapshots server id restored from a
// leader (not counting its own at boot).
func (ls *LockSim) SnapshotsInstalled(id nodes.NodeID) int { return ls.installed[id] }
