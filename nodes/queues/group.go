package queues

import (
	"errors"
	"fmt"
	"slices"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/raftstore"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

// group is this node's replica of one queue's Raft group.
type group struct {
	id      GroupID
	peers   []nodes.NodeID // sorted
	raft    *raft.RawNode
	mgr     *queue.Manager
	applied uint64
	role    raft.Role
	lead    raft.NodeID
	// pending: client requests proposed here, answered when applied.
	pending map[queue.ClientID]pendingReq
	// imports: Import chunks proposed here, by source group key: the
	// exporter to answer once the chunk is applied.
	imports map[string]nodes.NodeID
	// visRounds counts visibility rounds, to expire dedup entries now and
	// then even with nothing in flight.
	visRounds uint64
	// Leader-only move state (the queue's placement moved away).
	exportNext   uint64 // next chunk the target expects
	exportLast   int64  // index of the last chunk once known, else -1
	dropProposed bool
	// gone: peers that answered GroupGone (a stale replica drops itself
	// once a majority of the others have).
	gone    map[nodes.NodeID]bool
	dropped bool
	// open: the group serves clients (see Server.gated); once true it
	// stays true.
	open bool
	// Leader-only: members of the previous group that said they do not
	// host it, and whether its absence was proposed.
	absent         map[nodes.NodeID]bool
	absentProposed bool
}

type pendingReq struct {
	seq  uint64
	from nodes.NodeID
}

// dropMarker is the entry a moved group's leader proposes once the target
// has committed every chunk: applying it deletes the replica. Its first
// byte is no queue command kind.
var dropMarker = []byte{0xff, 'd', 'r', 'o', 'p'}

// Replica is a read-only view of one group replica, for checkers and
// tools.
type Replica struct{ g *group }

// ID returns the group's id.
func (r *Replica) ID() GroupID { return r.g.id }

// Peers returns the group's members, sorted.
func (r *Replica) Peers() []nodes.NodeID { return slices.Clone(r.g.peers) }

// Raft returns the replica's Raft state machine.
func (r *Replica) Raft() *raft.RawNode { return r.g.raft }

// Manager returns the replica's queue state machine.
func (r *Replica) Manager() *queue.Manager { return r.g.mgr }

// Applied returns the index of the last applied entry.
func (r *Replica) Applied() uint64 { return r.g.applied }

// newGroup builds a replica of gid from durable state st.
func (s *Server) newGroup(gid GroupID, st raft.Storage) *group {
	peers, ok := s.place.peers(gid)
	if !ok || !slices.Contains(peers, s.env.ID()) {
		panic(fmt.Sprintf("queues %s: group %s: peers %v (known=%v) do not include this node at ring epoch %d", s.env.ID(), gid, peers, ok, s.place.epoch()))
	}
	qc := s.cfg.Queue
	qc.IDPrefix = gid.Epoch
	g := &group{
		id: gid, peers: peers, mgr: queue.New(qc), exportLast: -1,
		pending: map[queue.ClientID]pendingReq{}, imports: map[string]nodes.NodeID{}, gone: map[nodes.NodeID]bool{},
		absent: map[nodes.NodeID]bool{},
	}
	if st.Snapshot.Index > 0 {
		if err := g.mgr.Restore(st.Snapshot.Data); err != nil {
			panic(fmt.Sprintf("queues %s: %s: restore snapshot %d: %v", s.env.ID(), gid, st.Snapshot.Index, err))
		}
		g.applied = st.Snapshot.Index
	}
	rc := raft.DefaultConfig(raft.NodeID(s.env.ID()), toRaftIDs(peers), s.env.Rand())
	if s.cfg.ElectionTicks > 0 {
		rc.ElectionTicks = s.cfg.ElectionTicks
	}
	if s.cfg.HeartbeatTicks > 0 {
		rc.HeartbeatTicks = s.cfg.HeartbeatTicks
	}
	rc.PreVote, rc.CheckQuorum = true, true
	id := s.env.ID()
	rc.Logf = func(format string, args ...any) { s.env.Logf("%s: "+format, append([]any{gid}, args...)...) }
	r, err := raft.New(rc, st)
	if err != nil {
		panic(fmt.Sprintf("queues %s: %s: %v", id, gid, err))
	}
	g.raft = r
	s.groups[gid] = g
	i, _ := slices.BinarySearchFunc(s.keys, gid, CompareGroups)
	s.keys = slices.Insert(s.keys, i, gid)
	if s.cfg.Observer != nil && st.Snapshot.Index > 0 {
		s.cfg.Observer.Restored(id, gid, st.Snapshot, g.mgr)
	}
	return g
}

// CompareGroups orders group ids by queue, then epoch: the order in which a
// node walks its groups.
func CompareGroups(a, b GroupID) int {
	if a.Queue != b.Queue {
		if a.Queue < b.Queue {
			return -1
		}
		return 1
	}
	switch {
	case a.Epoch < b.Epoch:
		return -1
	case a.Epoch > b.Epoch:
		return 1
	}
	return 0
}

func toRaftIDs(ids []nodes.NodeID) []raft.NodeID {
	out := make([]raft.NodeID, len(ids))
	for i, id := range ids {
		out[i] = raft.NodeID(id)
	}
	return out
}

// recoverGroup rebuilds a group from the log at boot.
func (s *Server) recoverGroup(gid GroupID, st raft.Storage) {
	s.newGroup(gid, st)
}

// createGroup starts an empty replica of gid, the current group of its
// queue, or returns nil if this node hosts MaxGroups already. The queue's
// owner campaigns at once when asked (a client is waiting).
func (s *Server) createGroup(gid GroupID, campaign bool) *group {
	if len(s.groups) >= s.cfg.MaxGroups {
		s.env.Logf("group %s not created: %d groups hosted already", gid, len(s.groups))
		return nil
	}
	// Whatever a peer says, a group is created only for a queue name of a
	// valid length (the placement key of ".dlq" is empty, and valid),
	// on one of its members, and not while this node's ring is older than
	// the seal of a group of the same queue it dropped (it would recreate,
	// empty, a group its peers emptied on purpose).
	peers, ok := s.place.peers(gid)
	if len(gid.Queue) > queue.MaxNameBytes || !ok || !slices.Contains(peers, s.env.ID()) {
		s.env.Logf("group %s not created: not a member (peers %v) or a bad name", gid, peers)
		return nil
	}
	if e := s.sealedAt[gid.Queue]; e > s.place.epoch() {
		s.env.Logf("group %s not created: this node's ring (epoch %d) is older than a move it applied (epoch %d)", gid, s.place.epoch(), e)
		return nil
	}
	g := s.newGroup(gid, raft.Storage{})
	s.Stats.GroupsCreated++
	if campaign {
		g.raft.Campaign()
	}
	return g
}

// removeGroup forgets a dropped group and logs its deletion.
func (s *Server) removeGroup(g *group) {
	if err := s.store.Drop(g.id.key()); err != nil {
		panic(fmt.Sprintf("queues %s: %s: %v", s.env.ID(), g.id, err))
	}
	delete(s.groups, g.id)
	if i, ok := slices.BinarySearchFunc(s.keys, g.id, CompareGroups); ok {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
	s.Stats.GroupsDropped++
	if s.cfg.Observer != nil {
		s.cfg.Observer.Dropped(s.env.ID(), g.id)
	}
	s.env.Logf("dropped group %s", g.id)
}

func (s *Server) roleChanged(g *group, ss raft.SoftState) {
	if g.role == raft.RoleLeader && ss.Role != raft.RoleLeader {
		g.exportNext, g.exportLast, g.dropProposed = 0, -1, false
		clear(g.absent)
		g.absentProposed = false
	}
	g.role, g.lead = ss.Role, ss.Lead
}

func (s *Server) restore(g *group, snap raft.Snapshot) {
	if err := g.mgr.Restore(snap.Data); err != nil {
		panic(fmt.Sprintf("queues %s: %s: restore snapshot %d from leader: %v", s.env.ID(), g.id, snap.Index, err))
	}
	g.applied = snap.Index
	if s.cfg.Observer != nil {
		s.cfg.Observer.Restored(s.env.ID(), g.id, snap, g.mgr)
	}
}

// apply applies one committed entry and answers whoever proposed it here.
func (s *Server) apply(g *group, e raft.Entry) {
	if e.Index <= g.applied {
		return // covered by a snapshot restored in this Ready
	}
	if e.Index != g.applied+1 {
		panic(fmt.Sprintf("queues %s: %s: applying entry %d after %d", s.env.ID(), g.id, e.Index, g.applied))
	}
	g.applied = e.Index
	if e.Type == raft.EntryNormal && len(e.Data) > 0 {
		if slices.Equal(e.Data, dropMarker) {
			g.dropped = true
			if epoch, ok := g.mgr.Sealed(); ok && epoch > s.place.epoch() {
				s.sealedAt[g.id.Queue] = max(s.sealedAt[g.id.Queue], epoch)
				s.broadcast(&RingHello{Epoch: s.place.epoch()}) // someone knows the newer ring
			}
		} else {
			s.applyCommand(g, e)
		}
	}
	if s.cfg.Observer != nil {
		s.cfg.Observer.Applied(s.env.ID(), g.id, e, g.mgr)
	}
}

func (s *Server) applyCommand(g *group, e raft.Entry) {
	cmd, err := queue.DecodeCommand(e.Data)
	if err != nil {
		panic(fmt.Sprintf("queues %s: %s: committed entry %d does not decode: %v", s.env.ID(), g.id, e.Index, err))
	}
	res := g.mgr.Apply(e.Index, cmd)
	if imp, ok := cmd.(queue.Import); ok {
		s.Stats.ChunksImported++
		if to, ok := g.imports[imp.Source]; ok {
			delete(g.imports, imp.Source)
			src, err := parseGroupKey(imp.Source)
			if err == nil {
				s.env.Send(to, &ImportAck{Source: src, Target: g.id, Next: res.ID, Moved: errors.Is(res.Err, queue.ErrMoved)})
			}
		}
		return
	}
	client, seq := clientOf(cmd)
	if p, ok := g.pending[client]; ok && p.seq == seq {
		delete(g.pending, client)
		s.env.Send(p.from, &Reply{Client: client, Seq: seq, Result: res})
	}
}

// clientOf returns a client command's (client, seq).
func clientOf(cmd queue.Command) (queue.ClientID, uint64) {
	switch c := cmd.(type) {
	case queue.Enqueue:
		return c.Client, c.Seq
	case queue.Dequeue:
		return c.Client, c.Seq
	case queue.Ack:
		return c.Client, c.Seq
	case queue.Nack:
		return c.Client, c.Seq
	}
	return "", 0
}

// maybeSnapshot snapshots a group's state machine and trims its Raft log
// every SnapshotEvery applied entries.
func (s *Server) maybeSnapshot(g *group) {
	if g.applied < g.raft.Snapshot().Index+s.cfg.SnapshotEvery {
		return
	}
	if err := g.raft.Compact(g.applied, g.mgr.Snapshot()); err != nil {
		panic(fmt.Sprintf("queues %s: %s: compact at %d: %v", s.env.ID(), g.id, g.applied, err))
	}
}

// maybeCompact rewrites the log once it has grown past CompactBytes: every
// group is snapshotted at its applied index, and the new log holds the
// ring, those snapshots and the entries not yet applied.
func (s *Server) maybeCompact() {
	if s.store.Size() < s.cfg.CompactBytes {
		return
	}
	states := make([]raftstore.GroupState, 0, len(s.keys))
	for _, gid := range s.keys {
		g := s.groups[gid]
		if g.applied > g.raft.Snapshot().Index {
			if err := g.raft.Compact(g.applied, g.mgr.Snapshot()); err != nil {
				panic(fmt.Sprintf("queues %s: %s: compact at %d: %v", s.env.ID(), gid, g.applied, err))
			}
		}
		snap := g.raft.Snapshot()
		st := g.raft.Status()
		after, err := g.raft.Entries(snap.Index+1, st.LastIndex+1)
		if err != nil {
			panic(fmt.Sprintf("queues %s: %s: entries after snapshot %d: %v", s.env.ID(), gid, snap.Index, err))
		}
		states = append(states, raftstore.GroupState{
			Key: gid.key(), Snapshot: snap, Entries: after,
			HardState: raft.HardState{Term: st.Term, Vote: st.Vote, Commit: st.Commit},
		})
	}
	if err := s.store.Compact(encodeMeta(s.place.history), states); err != nil {
		panic(fmt.Sprintf("queues %s: %v", s.env.ID(), err))
	}
	s.Stats.Compactions++
	s.env.Logf("log compacted: %d groups", len(states))
}
