// Package locks is the lock service node: it wires Raft (protocols/raft),
// the write-ahead log (protocols/wal) and the lock table
// (protocols/lockmgr) together through nodes.Env, and defines the client
// request and reply messages. The same Server runs in the simulator and,
// through nodes/runtime, as a real process.
//
// Order of work for each batch of Raft output (etcd's Ready contract):
// persist the hard state, entries and snapshot to the WAL and sync; then
// send Raft's messages; then apply committed entries to the lock table and
// answer the clients whose requests they were; then Advance.
package locks

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/raftstore"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
)

// Config configures a lock server.
type Config struct {
	// Servers are the Raft peers: every lock server, this one included.
	Servers []nodes.NodeID
	// Tick is the duration of one Raft tick (default 10ms): with the
	// default 15 election ticks and 5 heartbeat ticks, elections time out
	// in 150-300ms and heartbeats go every 50ms.
	Tick time.Duration
	// ElectionTicks and HeartbeatTicks override Raft's defaults if set.
	ElectionTicks, HeartbeatTicks int
	// ReadOnly picks ReadIndex (safe, default) or lease-based reads.
	ReadOnly raft.ReadOnlyOption
	// DisablePreVote and DisableCheckQuorum turn those Raft features off
	// (they are on by default), for experiments.
	DisablePreVote, DisableCheckQuorum bool
	// SnapshotEvery is how many applied entries trigger a snapshot and a
	// compaction of the log (default 1000).
	SnapshotEvery uint64
	// CompactionOverhead is how many entries before a snapshot Raft keeps
	// for slow followers (0 means Raft's default); a follower further
	// behind gets the snapshot.
	CompactionOverhead uint64
	// DisableGroupCommit makes the server persist and sync after every
	// event. By default it defers Raft's output to a flush timer of 1ns,
	// which the runtime fires after the events already waiting for this
	// node: the requests and appends that queued while the disk was
	// syncing are persisted with one fsync (group commit), not one each.
	DisableGroupCommit bool
	// Locks configures the lock table.
	Locks lockmgr.Config
	// Observer, if not nil, is told of every applied entry and restored
	// snapshot: the simulator's checkers compare replicas with it.
	Observer ApplyObserver
}

// ApplyObserver watches what a server applies.
type ApplyObserver interface {
	// Started is called when server id boots (or reboots after a crash),
	// before it recovers and applies anything.
	Started(id nodes.NodeID)
	// Applied is called after entry e was applied on server id.
	Applied(id nodes.NodeID, e raft.Entry)
	// Restored is called after server id replaced its state by a snapshot
	// (at boot or from the leader).
	Restored(id nodes.NodeID, snap raft.Snapshot)
	// RoleChanged is called when server id's Raft role or known leader
	// changes.
	RoleChanged(id nodes.NodeID, ss raft.SoftState, term uint64)
}

// DefaultTick is the default Raft tick.
const DefaultTick = 10 * time.Millisecond

// DefaultSnapshotEvery is the default number of applied entries between
// snapshots.
const DefaultSnapshotEvery = 1000

// sessionCheckTicks is how often, in ticks, a leader looks for expired
// sessions.
const sessionCheckTicks = 5

const (
	timerTick  = "tick"
	timerWait  = "wait-timeout"
	timerFlush = "flush"
)

type pendingRead struct {
	from  nodes.NodeID
	q     Query
	index uint64 // 0 until the ReadState arrives
}

// Server is one lock server.
type Server struct {
	cfg     Config
	env     nodes.Env
	raft    *raft.RawNode
	mgr     *lockmgr.Manager
	store   *raftstore.Store
	applied uint64
	role    raft.Role
	lead    raft.NodeID
	ticks   uint64
	// leaderChanges counts the leaders this incarnation has seen.
	leaderChanges uint64
	// flushArmed: a flush timer is pending (GroupCommit).
	flushArmed bool

	pending map[lockmgr.ClientID]pendingReq // request awaiting its entry, by client
	reads   map[uint64]*pendingRead         // ReadIndex requests, by context
	readSeq uint64

	// Leader-only volatile state, rebuilt on every election win.
	renewed    map[lockmgr.SessionID]time.Time // local time of the last renewal seen
	expiring   map[lockmgr.SessionID]bool      // ExpireSession proposed
	waitTimers map[uint64]nodes.TimerID        // timed waits, by request index
}

type pendingReq struct {
	seq  uint64
	from nodes.NodeID
}

// NewServer returns a factory of lock servers.
func NewServer(cfg Config) (nodes.Factory, error) {
	if len(cfg.Servers) == 0 {
		return nil, fmt.Errorf("locks config: servers: empty")
	}
	for i, id := range cfg.Servers {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("locks config: servers[%d]: %w", i, err)
		}
	}
	if cfg.Tick < 0 {
		return nil, fmt.Errorf("locks config: tick: negative %v", cfg.Tick)
	}
	if cfg.Tick == 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = DefaultSnapshotEvery
	}
	cfg.Servers = slices.Clone(cfg.Servers)
	slices.Sort(cfg.Servers)
	return func(nodes.NodeID) nodes.Node { return &Server{cfg: cfg} }, nil
}

// Start implements nodes.Node: recover Raft's state and the lock table
// from the WAL, then start ticking.
func (s *Server) Start(env nodes.Env) {
	s.env = env
	if s.cfg.Observer != nil {
		s.cfg.Observer.Started(env.ID())
	}
	s.pending = map[lockmgr.ClientID]pendingReq{}
	s.reads = map[uint64]*pendingRead{}
	store, rec, err := raftstore.Open(env.Disk(), walOptions)
	if err != nil {
		panic(fmt.Sprintf("locks %s: lock storage: %v", env.ID(), err))
	}
	s.store = store
	st := rec.Groups[lockGroup] // the zero Storage on a fresh node
	s.mgr = lockmgr.New(s.cfg.Locks)
	if st.Snapshot.Index > 0 {
		if err := s.mgr.Restore(st.Snapshot.Data); err != nil {
			panic(fmt.Sprintf("locks %s: restore snapshot %d: %v", env.ID(), st.Snapshot.Index, err))
		}
		s.applied = st.Snapshot.Index
		if s.cfg.Observer != nil {
			s.cfg.Observer.Restored(env.ID(), st.Snapshot)
		}
	}
	r, err := raft.New(s.raftConfig(), st)
	if err != nil {
		panic(fmt.Sprintf("locks %s: %v", env.ID(), err))
	}
	s.raft = r
	env.Logf("recovered term=%d commit=%d snapshot=%d entries=%d", st.HardState.Term, st.HardState.Commit, st.Snapshot.Index, len(st.Entries))
	env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	s.ready()
}

func (s *Server) raftConfig() raft.Config {
	peers := make([]raft.NodeID, len(s.cfg.Servers))
	for i, p := range s.cfg.Servers {
		peers[i] = raft.NodeID(p)
	}
	c := raft.DefaultConfig(raft.NodeID(s.env.ID()), peers, s.env.Rand())
	if s.cfg.ElectionTicks > 0 {
		c.ElectionTicks = s.cfg.ElectionTicks
	}
	if s.cfg.HeartbeatTicks > 0 {
		c.HeartbeatTicks = s.cfg.HeartbeatTicks
	}
	c.ReadOnly = s.cfg.ReadOnly
	c.PreVote = !s.cfg.DisablePreVote
	c.CheckQuorum = !s.cfg.DisableCheckQuorum
	c.Logf = s.env.Logf
	if s.cfg.CompactionOverhead > 0 {
		c.CompactionOverhead = s.cfg.CompactionOverhead
	}
	return c
}

// Raft returns the server's Raft state machine, for checkers.
func (s *Server) Raft() *raft.RawNode { return s.raft }

// Manager returns the server's lock table, for checkers. It reflects every
// applied entry.
func (s *Server) Manager() *lockmgr.Manager { return s.mgr }

// Applied returns the index of the last applied entry.
func (s *Server) Applied() uint64 { return s.applied }

// Status is what an operator reads of a lock server (an HTTP /status page,
// metrics): its Raft role and progress, and the lock table's gauges.
type Status struct {
	Role    raft.Role
	Term    uint64
	Leader  nodes.NodeID // "" if unknown
	Commit  uint64       // the commit index
	Applied uint64       // the index of the last applied entry
	// LeaderChanges counts the leaders this incarnation has seen (a new
	// known leader, after none or another); it restarts at 0 on a reboot.
	LeaderChanges uint64
	// Locks are the lock table's gauges and counters (ActiveLocks,
	// Waiting, Deadlocks...), as of the last applied entry.
	Locks lockmgr.Stats
}

// Status returns the server's status. Like every method, call it on the
// node's event loop, after Start.
func (s *Server) Status() Status {
	st := s.raft.Status()
	return Status{
		Role: st.Role, Term: st.Term, Leader: nodes.NodeID(st.Lead), Commit: st.Commit,
		Applied: s.applied, LeaderChanges: s.leaderChanges, Locks: s.mgr.Stats(),
	}
}

// SessionOwner returns the client that opened live session sid, as of the
// last applied entry: the only client whose commands may use the session.
func (s *Server) SessionOwner(sid lockmgr.SessionID) (lockmgr.ClientID, bool) {
	info, ok := s.mgr.Session(sid)
	return info.Client, ok
}

// Fire implements nodes.Node.
func (s *Server) Fire(t nodes.Timer) {
	switch t.Kind {
	case timerTick:
		s.raft.Tick()
		s.ticks++
		if s.role == raft.RoleLeader && s.ticks%sessionCheckTicks == 0 {
			s.expireSessions()
		}
		s.env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	case timerWait:
		delete(s.waitTimers, t.Arg)
		s.cancelWait(t.Arg)
	case timerFlush:
		s.flushArmed = false
		s.ready()
		return
	default:
		panic(fmt.Sprintf("locks %s: unknown timer %v", s.env.ID(), t))
	}
	s.afterEvent()
}

// afterEvent processes Raft's output now, or, with GroupCommit, once the
// events already waiting have been handled.
func (s *Server) afterEvent() {
	if s.cfg.DisableGroupCommit {
		s.ready()
		return
	}
	if !s.flushArmed && s.raft.HasReady() {
		s.flushArmed = true
		s.env.SetTimer(time.Nanosecond, nodes.Timer{Kind: timerFlush})
	}
}

// Receive implements nodes.Node.
func (s *Server) Receive(from nodes.NodeID, m nodes.Message) {
	switch m := m.(type) {
	case *RaftMsg:
		if err := s.raft.Step(m.M); err != nil {
			s.env.Logf("step %s from %s: %v", m.M.Type, from, err)
		}
	case *Request:
		s.handleRequest(from, m)
	case *Query:
		s.handleQuery(from, m)
	default:
		s.env.Logf("ignored %s from %s", nodes.TypeName(m.Type()), from)
	}
	s.afterEvent()
}

// reply sends m to a client. Clients need not be cluster peers (in TCP
// mode an HTTP request is a client of its own); a reply to an id nobody
// answers to is dropped by the network.
func (s *Server) reply(to nodes.NodeID, m nodes.Message) {
	if to != "" {
		s.env.Send(to, m)
	}
}

// unavailable says why this server cannot take a request now.
func (s *Server) unavailable() (nodes.ServiceError, nodes.NodeID) {
	st := s.raft.Status()
	if st.Role == raft.RoleLeader {
		return nodes.ServiceOK, ""
	}
	if st.Lead == "" {
		return nodes.ServiceNoQuorum, ""
	}
	return nodes.ServiceNotLeader, nodes.NodeID(st.Lead)
}

func (s *Server) handleRequest(from nodes.NodeID, req *Request) {
	cmd, err := lockmgr.DecodeCommand(req.Cmd)
	if err != nil {
		s.reply(from, &Reply{Service: nodes.ServiceBadRequest, Detail: err.Error()})
		return
	}
	client, seq, ok := clientOf(cmd)
	if !ok {
		s.reply(from, &Reply{Service: nodes.ServiceBadRequest, Detail: fmt.Sprintf("%T is not a client command", cmd)})
		return
	}
	if err := s.mgr.Validate(cmd); err != nil {
		s.reply(from, &Reply{Client: client, Seq: seq, Result: lockmgr.Result{Status: lockmgr.StatusRejected, Err: err}})
		return
	}
	// A follower that knows the leader forwards the proposal, unless the
	// client asked for the leader; one that does not is on the minority
	// side and says so at once.
	if svc, lead := s.unavailable(); svc == nodes.ServiceNoQuorum || svc == nodes.ServiceNotLeader && req.LeaderOnly {
		s.reply(from, &Reply{Client: client, Seq: seq, Service: svc, Leader: lead})
		return
	}
	if err := s.raft.Propose(req.Cmd); err != nil {
		svc, lead := s.unavailable()
		if svc == nodes.ServiceOK {
			svc = nodes.ServiceBusy
		}
		s.reply(from, &Reply{Client: client, Seq: seq, Service: svc, Leader: lead})
		return
	}
	s.pending[client] = pendingReq{seq: seq, from: from}
}

// clientOf returns the client and sequence number of a client command, and
// false for commands only a leader may propose.
func clientOf(cmd lockmgr.Command) (lockmgr.ClientID, uint64, bool) {
	switch c := cmd.(type) {
	case lockmgr.OpenSession:
		return c.Client, c.Seq, true
	case lockmgr.KeepAlive:
		return c.Client, c.Seq, true
	case lockmgr.CloseSession:
		return c.Client, c.Seq, true
	case lockmgr.Acquire:
		return c.Client, c.Seq, true
	case lockmgr.Release:
		return c.Client, c.Seq, true
	}
	return "", 0, false
}

func (s *Server) handleQuery(from nodes.NodeID, q *Query) {
	if svc, lead := s.unavailable(); svc != nodes.ServiceOK {
		s.reply(from, &QueryReply{Client: q.Client, ID: q.ID, Service: svc, Leader: lead})
		return
	}
	s.readSeq++
	ctx := fmt.Appendf(nil, "%d", s.readSeq)
	if err := s.raft.ReadIndex(ctx); err != nil {
		s.reply(from, &QueryReply{Client: q.Client, ID: q.ID, Service: nodes.ServiceBusy})
		return
	}
	s.reads[s.readSeq] = &pendingRead{from: from, q: *q}
}
