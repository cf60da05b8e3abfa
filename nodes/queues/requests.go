package queues

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
)

// dedupRounds is how many visibility rounds a leader lets pass, with
// nothing in flight, before it proposes a Tick anyway to expire old dedup
// entries.
const dedupRounds = 50

// handleRequest routes a client's command to its queue's group: a node
// outside the group redirects to the queue's owner, a follower to its
// leader; the leader stamps the command with its clock and proposes it,
// and answers once it is applied.
func (s *Server) handleRequest(from nodes.NodeID, req *Request) {
	cmd, client, seq, err := s.validate(req)
	if err != nil {
		s.Stats.Rejected++
		s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceBadRequest, Detail: err.Error()})
		return
	}
	gid, pref := s.place.current(PlacementKey(req.Queue))
	if !slices.Contains(pref, s.env.ID()) {
		s.Stats.Redirects++
		s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceNotLeader, Leader: pref[0]})
		return
	}
	g := s.groups[gid]
	if g == nil {
		if g = s.createGroup(gid, pref[0] == s.env.ID()); g == nil {
			s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceBusy, Detail: fmt.Sprintf("cannot host group %s now (it hosts %d groups, at most %d; or its ring is behind)", gid, len(s.groups), s.cfg.MaxGroups)})
			return
		}
	}
	if g.role != raft.RoleLeader {
		if g.lead != "" {
			s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceNotLeader, Leader: nodes.NodeID(g.lead)})
		} else {
			s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceNoQuorum})
		}
		return
	}
	if s.gated(g) {
		s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceBusy, Detail: fmt.Sprintf("queue %s is moving to group %s: waiting for its earlier state", req.Queue, gid)})
		return
	}
	if err := g.raft.Propose(stamp(cmd, s.env.Now()).Encode()); err != nil {
		s.env.Send(from, &Reply{Client: client, Seq: seq, Service: nodes.ServiceBusy, Detail: err.Error()})
		return
	}
	g.pending[client] = pendingReq{seq: seq, from: from}
}

// validate decodes a request and checks what routing depends on: the
// queue name, the command kind, and the payload size (refused before it
// reaches the log). Everything else the state machine checks when it
// applies the command, naming the field.
func (s *Server) validate(req *Request) (queue.Command, queue.ClientID, uint64, error) {
	cmd, err := queue.DecodeCommand(req.Cmd)
	if err != nil {
		return nil, "", 0, fmt.Errorf("queues: Request.Cmd: %w", err)
	}
	client, seq := clientOf(cmd)
	if client == "" && seq == 0 {
		return nil, "", 0, fmt.Errorf("queues: Request.Cmd: %s is not a client command", describeCommand(cmd))
	}
	if err := ValidateQueueName("Request.Queue", req.Queue); err != nil {
		return nil, client, seq, fmt.Errorf("queues: %w", err)
	}
	switch c := cmd.(type) {
	case queue.Enqueue:
		if c.Queue != req.Queue {
			return nil, client, seq, fmt.Errorf("queues: Enqueue.Queue = %q differs from Request.Queue = %q", c.Queue, req.Queue)
		}
		if len(c.Payload) > s.cfg.Queue.MaxPayload {
			return nil, client, seq, fmt.Errorf("queues: Enqueue.Payload = %d bytes: %w: max %d", len(c.Payload), queue.ErrPayloadTooLarge, s.cfg.Queue.MaxPayload)
		}
	case queue.Dequeue:
		if c.Queue != req.Queue {
			return nil, client, seq, fmt.Errorf("queues: Dequeue.Queue = %q differs from Request.Queue = %q", c.Queue, req.Queue)
		}
	}
	return cmd, client, seq, nil
}

// stamp sets the leader's clock on the commands that read time.
func stamp(cmd queue.Command, now time.Time) queue.Command {
	switch c := cmd.(type) {
	case queue.Enqueue:
		c.Now = now.UnixNano()
		return c
	case queue.Dequeue:
		c.Now = now.UnixNano()
		return c
	}
	return cmd
}

// proposeTick lets a leader expire overdue deliveries (and, now and then,
// old dedup entries) by proposing a Tick with its clock.
func (s *Server) proposeTick(g *group, now time.Time) {
	g.visRounds++
	if g.mgr.Stats().InFlight == 0 && g.visRounds%dedupRounds != 0 {
		return
	}
	if _, sealed := g.mgr.Sealed(); sealed {
		return
	}
	if err := g.raft.Propose(queue.Tick{Now: now.UnixNano()}.Encode()); err != nil {
		s.env.Logf("%s: tick: %v", g.id, err)
	}
}
