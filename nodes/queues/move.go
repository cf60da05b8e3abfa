package queues

import (
	"slices"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

// chunkBytes bounds one exported chunk of a moving queue.
const chunkBytes = 256 << 10

// pushMove drives the move of a queue whose replica set changed, on the
// leader of its old group: seal the group (through its log, so every
// replica freezes at the same entry), send its contents chunk by chunk to
// the queue's current group until that group has committed them all, then
// commit the drop marker, which deletes every replica of the old group.
func (s *Server) pushMove(g *group) {
	if _, sealed := g.mgr.Sealed(); !sealed {
		if err := g.raft.Propose(queue.Seal{Epoch: s.place.epoch()}.Encode()); err != nil {
			s.env.Logf("%s: seal: %v", g.id, err)
		}
		return
	}
	if g.exportLast >= 0 && int64(g.exportNext) > g.exportLast {
		s.proposeDrop(g)
		return
	}
	s.sendChunk(g)
}

func (s *Server) proposeDrop(g *group) {
	if g.dropProposed {
		return
	}
	if err := g.raft.Propose(dropMarker); err != nil {
		s.env.Logf("%s: drop: %v", g.id, err)
		return
	}
	g.dropProposed = true
}

// sendChunk sends the chunk the target expects to every member of the
// queue's current group; its leader proposes it.
func (s *Server) sendChunk(g *group) {
	target, _ := s.place.current(g.id.Queue)
	peers, _ := s.place.peers(target)
	imp, more, err := g.mgr.Export(int(g.exportNext), chunkBytes)
	if err != nil {
		// The group is sealed, so the only error is a chunk past the end:
		// a leader that took over learned from the target that it has
		// every chunk already.
		if g.exportNext == 0 {
			panic("queues " + string(s.env.ID()) + ": " + g.id.String() + ": export: " + err.Error())
		}
		g.exportLast = int64(g.exportNext) - 1
		s.proposeDrop(g)
		return
	}
	imp.Source, imp.Chunk = g.id.key(), uint32(g.exportNext)
	if !more {
		g.exportLast = int64(g.exportNext)
	}
	m := &Import{Source: g.id, Target: target, Cmd: imp.Encode()}
	for _, id := range peers {
		s.env.Send(id, m)
	}
	s.Stats.ChunksExported++
}

// handleImport proposes a chunk of a moving queue in the target group, if
// this node leads it.
func (s *Server) handleImport(from nodes.NodeID, m *Import) {
	if m.Target.Epoch > s.place.epoch() {
		s.env.Send(from, &RingHello{Epoch: s.place.epoch()})
		return
	}
	g := s.groups[m.Target]
	if g == nil {
		if !s.place.isCurrent(m.Target) {
			s.env.Send(from, &ImportAck{Source: m.Source, Target: m.Target, Moved: true})
			return
		}
		if g = s.createGroup(m.Target, false); g == nil {
			return
		}
	}
	if g.role != raft.RoleLeader {
		return
	}
	cmd, err := queue.DecodeCommand(m.Cmd)
	imp, ok := cmd.(queue.Import)
	if err != nil || !ok || imp.Source != m.Source.key() {
		s.env.Logf("%s: import from %s refused: not an Import of %s (%v)", g.id, from, m.Source, err)
		return
	}
	if err := g.raft.Propose(m.Cmd); err != nil {
		s.env.Logf("%s: import %s chunk %d: %v", g.id, m.Source, imp.Chunk, err)
		return
	}
	g.imports[imp.Source] = from
}

// handleImportAck moves the export on: the next chunk, or the drop.
func (s *Server) handleImportAck(m *ImportAck) {
	g := s.groups[m.Source]
	if g == nil || g.role != raft.RoleLeader || m.Moved {
		return
	}
	if target, _ := s.place.current(g.id.Queue); target != m.Target {
		return
	}
	if m.Next <= g.exportNext {
		return
	}
	g.exportNext = m.Next
	if g.exportLast >= 0 && int64(g.exportNext) > g.exportLast {
		s.proposeDrop(g)
		return
	}
	s.sendChunk(g)
}

// handleGroupGone drops a replica left behind by a move: once a majority
// of the group's members have dropped the group, its drop marker was
// committed, so every message it held is committed in the new group.
// (Any committed entry is on a majority; that majority shares a member
// with the one that dropped, and a member drops only by applying the
// committed drop marker.)
func (s *Server) handleGroupGone(from nodes.NodeID, m *GroupGone) {
	g := s.groups[m.Group]
	if g == nil {
		s.noteAbsent(from, m.Group)
		return
	}
	if s.place.isCurrent(g.id) || from == s.env.ID() || !slices.Contains(g.peers, from) {
		return
	}
	g.gone[from] = true
	if len(g.gone) >= len(g.peers)/2+1 {
		s.env.Logf("%s: a majority of its members dropped it", g.id)
		s.removeGroup(g)
	}
}

// gated reports whether group g must not serve clients yet. A queue's
// group of epoch 0 serves at once. A group its queue moved to serves only
// once the whole state of the previous group is committed in its log
// (every chunk imported, and every import that group was itself waiting
// for), or once a majority of the previous group's members have shown it
// never held anything: otherwise a client's retry of a command the old
// group applied could be applied again here, before the old group's
// exactly-once table arrives.
func (s *Server) gated(g *group) bool {
	if g.open {
		return false
	}
	prev, ok := s.place.previous(g.id)
	if !ok {
		g.open = true
		return false
	}
	if _, done := g.mgr.ImportNext(prev.key()); done && len(g.mgr.UnfinishedSources()) == 0 {
		g.open = true
		return false
	}
	return true
}

// probePrevious asks the members of a gated group's predecessor whether
// they host it, unless it has started sending its state.
func (s *Server) probePrevious(g *group) {
	prev, _ := s.place.previous(g.id)
	if next, _ := g.mgr.ImportNext(prev.key()); next > 0 {
		return // it exists and is exporting: wait for it
	}
	peers, _ := s.place.peers(prev)
	m := &GroupProbe{Group: prev}
	for _, id := range peers {
		if id != s.env.ID() {
			s.env.Send(id, m)
		}
	}
	s.maybeDeclareAbsent(g, prev, peers)
}

// handleGroupProbe answers a probe for a group this node does not host
// and, knowing a later ring, never will.
func (s *Server) handleGroupProbe(from nodes.NodeID, m *GroupProbe) {
	switch {
	case s.groups[m.Group] != nil:
		// Hosted: its leader exports it to the prober's group.
	case m.Group.Epoch > s.place.epoch() || s.place.isCurrent(m.Group):
		s.env.Send(from, &RingHello{Epoch: s.place.epoch()}) // behind: ask for the ring first
	default:
		s.env.Send(from, &GroupGone{Group: m.Group})
	}
}

// noteAbsent counts a member's word that a gated group's predecessor is
// not hosted there.
func (s *Server) noteAbsent(from nodes.NodeID, prev GroupID) {
	for _, gid := range s.keys {
		g := s.groups[gid]
		if gid.Queue != prev.Queue || g.role != raft.RoleLeader || !s.gated(g) {
			continue
		}
		if p, _ := s.place.previous(gid); p != prev {
			continue
		}
		peers, _ := s.place.peers(prev)
		if slices.Contains(peers, from) {
			g.absent[from] = true
		}
		s.maybeDeclareAbsent(g, prev, peers)
	}
}

// maybeDeclareAbsent lets a gated group serve when a majority of its
// predecessor's members (this node included, if it is one) do not host
// the predecessor and never will: then the predecessor can commit nothing
// more, and it committed nothing it has not exported here (a member drops
// a group only after its whole state was imported). The decision goes
// through the log as an empty last chunk from the predecessor, so every
// replica opens at the same entry.
func (s *Server) maybeDeclareAbsent(g *group, prev GroupID, peers []nodes.NodeID) {
	if g.absentProposed {
		return
	}
	votes := len(g.absent)
	if slices.Contains(peers, s.env.ID()) && s.groups[prev] == nil && !s.place.isCurrent(prev) {
		votes++
	}
	if votes < len(peers)/2+1 {
		return
	}
	if next, _ := g.mgr.ImportNext(prev.key()); next > 0 {
		return
	}
	cmd := queue.Import{Source: prev.key(), Chunk: 0, Last: true}
	if err := g.raft.Propose(cmd.Encode()); err != nil {
		s.env.Logf("%s: declare %s absent: %v", g.id, prev, err)
		return
	}
	g.absentProposed = true
	s.env.Logf("%s: %s is hosted by no majority of %v: serving", g.id, prev, peers)
}
