package queues

import (
	"errors"
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
		panic("queues " + string(s.env.ID()) + ": " + g.id.String() + ": export: " + err.Error())
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
	if g == nil || s.place.isCurrent(g.id) || from == s.env.ID() || !slices.Contains(g.peers, from) {
		return
	}
	g.gone[from] = true
	if len(g.gone) >= len(g.peers)/2+1 {
		s.env.Logf("%s: a majority of its members dropped it", g.id)
		s.removeGroup(g)
	}
}

// errMoved reports whether a result says the group has moved.
func errMoved(r queue.Result) bool { return errors.Is(r.Err, queue.ErrMoved) }
