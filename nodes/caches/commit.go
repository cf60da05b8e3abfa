package caches

import (
	"fmt"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/mesi"
)

// Durability. The home side of a Directory (or the memory node's store)
// is persisted key by key: a log record of each key an event dirtied,
// then one Sync, with a snapshot now and then (see store). Nothing an
// event causes leaves the node before the keys it dirtied are synced:
//
//   - payloads go to the reliable streams at the end of the event, but
//     the packets that carry them (and every other packet: acks,
//     retransmissions) are held;
//   - client replies are held, and so are the Observer's completions.
//
// All of it goes out at the next commit, after the sync. With group
// commit (the default) the commit is a timer of 1ns armed by the first
// event that dirties the durable state, so the events already waiting
// are handled first and share its one sync; until it fires, every event
// holds its output too, which keeps each stream's packets in order. An
// event that dirties nothing while no commit is pending commits at once,
// without any disk write: a cache hit is answered at once.
//
// Payloads handed to a stream before the sync are never transmitted
// before it: the endpoint makes packets only while the node handles an
// event, and those are held while a commit is pending, i.e. while some
// state is not synced. A peer's restart discards what its old stream
// held as before, synced or not (resendToNewIncarnation); the node
// commits before it crashes its cache side for that restart, so that the
// replies and completions of earlier events are not reported after the
// crash that loses their writes (cache-swarm seed 71 with group commit).

// heldReply is a client reply, or an Observer completion, waiting for the
// next commit.
type heldReply struct {
	to    nodes.NodeID
	reply *Reply // nil: only the completion to report
	// c is the completion to report to the Observer, if done.
	c    mesi.Completion
	done bool
}

// afterEvent finishes an event: it hands the payloads the event produced
// to the streams, prepares the replies of the operations it completed,
// then commits now (no durable change, or Config.DisableGroupCommit) or
// arms the group commit; if a commit is pending already, it holds
// everything for it.
func (s *Server) afterEvent() {
	s.drainOutbox()
	for _, c := range s.proto.Completions() {
		s.complete(c)
	}
	now := s.now()
	for _, peer := range s.cfg.members() {
		s.flushBacklog(peer, now)
	}
	for _, o := range s.sends {
		s.send(o.to, o.payload, now)
	}
	s.sends = s.sends[:0]
	switch {
	case s.flushArmed:
	case s.cfg.DisableGroupCommit || !s.dur.DurableDirty():
		s.commit()
	default:
		s.flushArmed = true
		s.env.SetTimer(time.Nanosecond, nodes.Timer{Kind: timerFlush})
	}
}

// commit persists the keys dirtied since the last commit (one Sync), then
// transmits the held packets and sends the held replies, in order.
func (s *Server) commit() {
	if err := s.store.persist(); err != nil {
		panic(fmt.Sprintf("caches: node %s: persist: %v", s.self, err))
	}
	for _, p := range s.pkts {
		s.env.Send(nodes.NodeID(p.To), &Packet{P: p})
	}
	clear(s.pkts)
	s.pkts = s.pkts[:0]
	for _, h := range s.held {
		if h.done && s.cfg.Observer != nil {
			s.cfg.Observer.Completed(s.self, h.c)
		}
		if h.reply != nil {
			s.env.Send(h.to, h.reply)
		}
	}
	clear(s.held)
	s.held = s.held[:0]
}

// reply sends a client a reply it was sent before (a retry's answer): at
// once, or at the pending commit (after the replies held for it).
func (s *Server) reply(to nodes.NodeID, r *Reply) {
	if s.flushArmed {
		s.held = append(s.held, heldReply{to: to, reply: r})
		return
	}
	s.env.Send(to, r)
}

// complete prepares the answer to the client waiting for a completed
// operation and records it as the client's last reply; both it and the
// Observer's completion wait for the next commit.
func (s *Server) complete(c mesi.Completion) {
	h := heldReply{c: c, done: true}
	if w, ok := s.waiting[c.Req]; ok {
		delete(s.waiting, c.Req)
		r := &Reply{Client: w.client, Req: w.req, Found: c.Version != 0 || w.put, Value: c.Value, Version: c.Version, Hit: c.Hit}
		if len(r.Value) == 0 {
			r.Value = nil
		}
		if cs := s.clients[w.client]; cs != nil && cs.inflight == w.req {
			cs.inflight, cs.lastReq, cs.reply = 0, w.req, r
		}
		s.stats.Replies++
		h.to, h.reply = w.from, r
	}
	s.held = append(s.held, h)
}
