package queues

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/raftstore"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/raft"
)

const (
	timerTick  = "tick"
	timerFlush = "flush"
)

// moveTicks is how often, in ticks, the leader of a group whose queue has
// moved pushes the move on (seal, resend the current chunk, drop).
const moveTicks = 10

// Server is one queue node: it hosts a replica of the Raft group of every
// queue whose preference list names it, all persisted in one write-ahead
// log.
type Server struct {
	cfg   Config
	hash  hashring.Hash
	env   nodes.Env
	place *placement
	store *raftstore.Store
	// groups by GroupID; keys is their sorted list, the order every loop
	// over groups follows.
	groups map[GroupID]*group
	keys   []GroupID
	ticks  uint64
	// flushArmed: a flush timer is pending (group commit).
	flushArmed bool
	// metaDirty: the ring history changed and must be logged.
	metaDirty bool
	// lastVisibility is the local time of the last visibility round.
	lastVisibility time.Time
	// sealedAt: for a queue whose group this node dropped while its ring
	// was older than the move, the epoch of that move; no group of the
	// queue is created until the ring catches up.
	sealedAt map[string]uint64
	// Stats of what the node did.
	Stats ServerStats
}

// ServerStats counts a node's notable events.
type ServerStats struct {
	GroupsCreated, GroupsDropped   uint64
	ChunksExported, ChunksImported uint64
	Redirects, Rejected            uint64
	Syncs, Compactions             uint64
}

// NewServer returns a factory of queue nodes configured by cfg, or an
// error naming the bad field.
func NewServer(cfg Config) (nodes.Factory, error) {
	cfg, h, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return func(nodes.NodeID) nodes.Node { return &Server{cfg: cfg, hash: h} }, nil
}

// Start implements nodes.Node: recover the ring history and every group
// from the log, then start ticking and greet the peers.
func (s *Server) Start(env nodes.Env) {
	s.env = env
	if s.cfg.Observer != nil {
		s.cfg.Observer.Started(env.ID())
	}
	p, err := newPlacement(s.cfg.VNodes, s.hash, s.cfg.Replicas, s.cfg.Servers)
	if err != nil {
		panic(fmt.Sprintf("queues %s: %v", env.ID(), err))
	}
	s.place = p
	s.groups = map[GroupID]*group{}
	s.keys = nil
	s.sealedAt = map[string]uint64{}
	store, rec, err := raftstore.Open(env.Disk(), walOptions)
	if err != nil {
		panic(fmt.Sprintf("queues %s: %v", env.ID(), err))
	}
	s.store = store
	if rec.Meta != nil {
		h, err := decodeMeta(rec.Meta)
		if err == nil {
			err = s.place.extend(h)
		}
		if err != nil {
			panic(fmt.Sprintf("queues %s: recovered ring: %v", env.ID(), err))
		}
	}
	for _, k := range rec.Keys() {
		gid, err := parseGroupKey(k)
		if err != nil {
			panic(fmt.Sprintf("queues %s: %v", env.ID(), err))
		}
		s.recoverGroup(gid, rec.Groups[k])
	}
	env.Logf("recovered ring epoch %d, %d groups", s.place.epoch(), len(s.keys))
	env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	s.broadcast(&RingHello{Epoch: s.place.epoch()})
	s.ready()
}

// Epoch returns the latest ring epoch this node knows.
// It is 0 before the node has started.
func (s *Server) Epoch() uint64 {
	if s.place == nil {
		return 0
	}
	return s.place.epoch()
}

// Members returns the nodes of the latest ring epoch this node knows,
// sorted (nil before the node has started).
func (s *Server) Members() []nodes.NodeID {
	if s.place == nil {
		return nil
	}
	return slices.Clone(s.place.latest().Members)
}

// QueueStat is one queue of a group this node leads: how many messages
// wait (Depth) and how many are delivered and not yet acked (InFlight).
type QueueStat struct {
	Queue           string
	Group           GroupID
	Depth, InFlight int
}

// QueueStats returns a QueueStat for every queue (dead-letter queues
// included) held by a current group this node leads, by group then queue
// name. Only the leader reports a queue, so summing over nodes counts each
// once; a replica that does not lead reports nothing.
func (s *Server) QueueStats() []QueueStat {
	var out []QueueStat
	for _, gid := range s.keys {
		g := s.groups[gid]
		if g.role != raft.RoleLeader || !s.place.isCurrent(gid) {
			continue
		}
		for _, q := range g.mgr.Queues() {
			out = append(out, QueueStat{Queue: q, Group: gid, Depth: g.mgr.Depth(q), InFlight: g.mgr.InFlight(q)})
		}
	}
	return out
}

// MovesPending returns how many of this node's groups are in a move: a
// group whose queue moved away and that is not yet dropped, or a group a
// queue moved to that does not serve yet. An operator applies the next
// ring change only once every live node reports none (see doc.go).
func (s *Server) MovesPending() int {
	n := 0
	for _, gid := range s.keys {
		if !s.place.isCurrent(gid) || s.gated(s.groups[gid]) {
			n++
		}
	}
	return n
}

// History returns the ring history this node knows (nil before it has
// started).
func (s *Server) History() []Membership {
	if s.place == nil {
		return nil
	}
	return slices.Clone(s.place.history)
}

// Groups returns the ids of the groups this node hosts, sorted.
func (s *Server) Groups() []GroupID { return slices.Clone(s.keys) }

// Group returns this node's replica of group g, or nil.
func (s *Server) Group(g GroupID) *Replica {
	if gr := s.groups[g]; gr != nil {
		return &Replica{g: gr}
	}
	return nil
}

// Placement returns queue name's current group and preference list (owner
// first) as this node sees the ring.
// It must not be called before the node has started.
func (s *Server) Placement(name string) (GroupID, []nodes.NodeID) {
	g, pref := s.place.current(PlacementKey(name))
	return g, slices.Clone(pref)
}

// Fire implements nodes.Node.
func (s *Server) Fire(t nodes.Timer) {
	switch t.Kind {
	case timerTick:
		s.tick()
		s.env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerTick})
	case timerFlush:
		s.flushArmed = false
		s.ready()
		return
	default:
		panic(fmt.Sprintf("queues %s: unknown timer %v", s.env.ID(), t))
	}
	s.afterEvent()
}

// tick ticks every group's Raft, lets leaders expire overdue deliveries,
// and pushes moves on.
func (s *Server) tick() {
	s.ticks++
	now := s.env.Now()
	visibility := now.Sub(s.lastVisibility) >= s.cfg.VisibilityCheck
	if visibility {
		s.lastVisibility = now
	}
	for _, gid := range slices.Clone(s.keys) {
		g := s.groups[gid]
		if g == nil {
			continue
		}
		g.raft.Tick()
		if g.role != raft.RoleLeader {
			continue
		}
		if !s.place.isCurrent(gid) {
			if s.ticks%moveTicks == 0 {
				s.pushMove(g)
			}
			continue
		}
		if s.gated(g) && s.ticks%moveTicks == 0 {
			s.probePrevious(g)
		}
		if visibility {
			s.proposeTick(g, now)
		}
	}
}

// afterEvent processes Raft's output now, or, with group commit, once the
// events already waiting have been handled.
func (s *Server) afterEvent() {
	if s.cfg.DisableGroupCommit {
		s.ready()
		return
	}
	if s.flushArmed {
		return
	}
	if s.metaDirty || s.anyReady() {
		s.flushArmed = true
		s.env.SetTimer(time.Nanosecond, nodes.Timer{Kind: timerFlush})
	}
}

func (s *Server) anyReady() bool {
	for _, gid := range s.keys {
		if s.groups[gid].raft.HasReady() {
			return true
		}
	}
	return false
}

// Receive implements nodes.Node.
func (s *Server) Receive(from nodes.NodeID, m nodes.Message) {
	switch m := m.(type) {
	case *GroupMsg:
		s.handleGroupMsg(from, m)
	case *Request:
		s.handleRequest(from, m)
	case *RingUpdate:
		s.adoptRing(from, m.History)
	case *RingHello:
		if m.Epoch < s.place.epoch() {
			s.env.Send(from, &RingUpdate{History: s.place.history})
		}
	case *Import:
		s.handleImport(from, m)
	case *ImportAck:
		s.handleImportAck(m)
	case *GroupGone:
		s.handleGroupGone(from, m)
	case *GroupProbe:
		s.handleGroupProbe(from, m)
	default:
		s.env.Logf("ignored %s from %s", nodes.TypeName(m.Type()), from)
	}
	s.afterEvent()
}

// broadcast sends m to every member of every known epoch but this node.
func (s *Server) broadcast(m nodes.Message) {
	seen := map[nodes.NodeID]bool{s.env.ID(): true}
	for _, mem := range s.place.history {
		for _, id := range mem.Members {
			if !seen[id] {
				seen[id] = true
				s.env.Send(id, m)
			}
		}
	}
}

// adoptRing takes a newer ring history and passes it on; groups whose
// queue moved are sealed and exported by their leaders from the next tick.
func (s *Server) adoptRing(from nodes.NodeID, h []Membership) {
	if uint64(len(h)) <= s.place.epoch()+1 {
		return
	}
	if err := s.place.extend(h); err != nil {
		s.env.Logf("ring update from %s refused: %v", from, err)
		return
	}
	s.metaDirty = true
	s.env.Logf("ring epoch %d: %v", s.place.epoch(), s.place.latest().Members)
	s.broadcast(&RingUpdate{History: s.place.history})
}

func (s *Server) handleGroupMsg(from nodes.NodeID, m *GroupMsg) {
	if m.Epoch > s.place.epoch() {
		s.env.Send(from, &RingHello{Epoch: s.place.epoch()})
	}
	g := s.groups[m.Group]
	if g == nil {
		if !s.place.isCurrent(m.Group) {
			if m.Group.Epoch <= s.place.epoch() {
				s.env.Send(from, &GroupGone{Group: m.Group})
			}
			return
		}
		if g = s.createGroup(m.Group, false); g == nil {
			return
		}
	}
	if err := g.raft.Step(m.M); err != nil {
		s.env.Logf("%s: step %s from %s: %v", m.Group, m.M.Type, from, err)
	}
}

// ready drains every group's Raft output in the order correctness
// demands: persist all of it, sync once, then send, apply, answer and
// advance, group by group.
func (s *Server) ready() {
	for {
		var batch []*group
		var rds []raft.Ready
		sync := false
		if s.metaDirty {
			if err := s.store.SaveMeta(encodeMeta(s.place.history)); err != nil {
				panic(fmt.Sprintf("queues %s: %v", s.env.ID(), err))
			}
			s.metaDirty, sync = false, true
		}
		for _, gid := range s.keys {
			g := s.groups[gid]
			if !g.raft.HasReady() {
				continue
			}
			rd := g.raft.Ready()
			if err := s.store.Save(gid.key(), &rd); err != nil {
				panic(fmt.Sprintf("queues %s: %s: %v", s.env.ID(), gid, err))
			}
			sync = sync || rd.MustSync || rd.Snapshot != nil
			if rd.SendFirst {
				// A leader's appends go out now: the followers write
				// while this node syncs (raft.Ready.SendFirst).
				s.sendGroup(g, rd.Messages)
				rd.Messages = nil
			}
			batch, rds = append(batch, g), append(rds, rd)
		}
		if sync {
			if err := s.store.Sync(); err != nil {
				panic(fmt.Sprintf("queues %s: %v", s.env.ID(), err))
			}
			s.Stats.Syncs++
		}
		if len(batch) == 0 {
			break
		}
		// Only now, with every Ready durable, may anything be sent.
		for i, g := range batch {
			s.process(g, &rds[i])
		}
	}
	s.maybeCompact()
}

// process hands out one group's durable Ready.
func (s *Server) process(g *group, rd *raft.Ready) {
	if rd.SoftState != nil {
		s.roleChanged(g, *rd.SoftState)
	}
	if rd.Snapshot != nil {
		s.restore(g, *rd.Snapshot)
	}
	s.sendGroup(g, rd.Messages)
	for _, e := range rd.CommittedEntries {
		if g.dropped {
			break
		}
		s.apply(g, e)
	}
	if g.dropped {
		s.removeGroup(g)
		return
	}
	g.raft.Advance()
	s.maybeSnapshot(g)
}

// sendGroup sends group g's Raft messages.
func (s *Server) sendGroup(g *group, msgs []raft.Message) {
	for _, m := range msgs {
		s.env.Send(nodes.NodeID(m.To), &GroupMsg{Group: g.id, Epoch: s.place.epoch(), M: m})
	}
}

// meta is the node-level state in the log: the ring history.
func encodeMeta(h []Membership) []byte {
	e := wire.NewEncoder(nil)
	encodeHistory(e, h)
	return e.Bytes()
}

func decodeMeta(b []byte) ([]Membership, error) {
	d := wire.NewDecoder(b)
	h := decodeHistory(d)
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("ring history: %w", err)
	}
	return h, nil
}
