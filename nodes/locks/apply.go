package locks

import (
	"fmt"
	"strconv"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/lockmgr"
	"github.com/distsync/distsync/protocols/raft"
)

// ready drains Raft's output in the order correctness demands: persist,
// send, apply, answer, advance. A leader sends its appends before it
// persists, and anyone applies (and answers) what was durable before the
// Ready first, so that neither the followers' disks nor the clients wait
// for this node's fsync (raft.Ready.SendFirst, StableCommitted).
func (s *Server) ready() {
	for s.raft.HasReady() {
		rd := s.raft.Ready()
		if rd.SendFirst {
			s.send(rd.Messages)
		}
		var early []raft.Entry
		if rd.SoftState == nil { // apply in the role the entries were committed in
			early = rd.CommittedEntries[:rd.StableCommitted]
		}
		for _, e := range early {
			s.apply(e)
		}
		if err := persist(s.store, &rd); err != nil {
			panic(fmt.Sprintf("locks %s: %v", s.env.ID(), err))
		}
		// Only now, with the Ready durable, may the rest be sent.
		if rd.SoftState != nil {
			s.roleChanged(*rd.SoftState)
		}
		if rd.Snapshot != nil {
			s.restore(*rd.Snapshot)
		}
		if !rd.SendFirst {
			s.send(rd.Messages)
		}
		for _, e := range rd.CommittedEntries[len(early):] {
			s.apply(e)
		}
		for _, rs := range rd.ReadStates {
			s.readReady(rs)
		}
		s.raft.Advance()
		s.serveReads()
		s.maybeCompact()
	}
}

// send sends Raft's messages to their peers.
func (s *Server) send(msgs []raft.Message) {
	for _, m := range msgs {
		s.env.Send(nodes.NodeID(m.To), &RaftMsg{M: m})
	}
}

// restore replaces the lock table with a snapshot received from the leader.
func (s *Server) restore(snap raft.Snapshot) {
	if err := s.mgr.Restore(snap.Data); err != nil {
		panic(fmt.Sprintf("locks %s: restore snapshot %d from leader: %v", s.env.ID(), snap.Index, err))
	}
	s.applied = snap.Index
	if s.cfg.Observer != nil {
		s.cfg.Observer.Restored(s.env.ID(), snap)
	}
	s.env.Logf("restored snapshot %d", snap.Index)
}

func (s *Server) roleChanged(ss raft.SoftState) {
	wasLeader := s.role == raft.RoleLeader
	if ss.Lead != "" && ss.Lead != s.lead {
		s.leaderChanges++
	}
	s.role, s.lead = ss.Role, ss.Lead
	if s.cfg.Observer != nil {
		s.cfg.Observer.RoleChanged(s.env.ID(), ss, s.raft.Status().Term)
	}
	if wasLeader && ss.Role != raft.RoleLeader {
		s.loseLeadership()
	}
	if !wasLeader && ss.Role == raft.RoleLeader {
		s.gainLeadership()
	}
}

// loseLeadership answers every read in flight: it can no longer be
// confirmed here. Pending writes stay: their entries may still commit and
// be applied here, and a client that gives up retries with the same
// sequence number, which is applied at most once.
func (s *Server) loseLeadership() {
	for _, ctx := range sortedKeys(s.reads) {
		r := s.reads[ctx]
		s.reply(r.from, &QueryReply{Client: r.q.Client, ID: r.q.ID, Service: nodes.ServiceNotLeader, Leader: nodes.NodeID(s.lead)})
		delete(s.reads, ctx)
	}
	for _, req := range sortedKeys(s.waitTimers) {
		s.env.CancelTimer(s.waitTimers[req])
	}
	s.renewed, s.expiring, s.waitTimers = nil, nil, nil
}

// gainLeadership starts the leader's clocks: every session gets a full TTL
// from now (a grace period, as Chubby gives after a fail-over) and every
// timed wait a full timeout.
func (s *Server) gainLeadership() {
	now := s.env.Now()
	s.renewed = map[lockmgr.SessionID]time.Time{}
	s.expiring = map[lockmgr.SessionID]bool{}
	s.waitTimers = map[uint64]nodes.TimerID{}
	for _, info := range s.mgr.Sessions() {
		s.renewed[info.ID] = now
	}
	for _, w := range s.mgr.Waiting() {
		s.startWaitTimer(w.Request, w.Wait)
	}
}

func (s *Server) apply(e raft.Entry) {
	if e.Index <= s.applied {
		return // covered by a snapshot restored in this Ready
	}
	if e.Index != s.applied+1 {
		panic(fmt.Sprintf("locks %s: applying entry %d after %d", s.env.ID(), e.Index, s.applied))
	}
	s.applied = e.Index
	if s.cfg.Observer != nil {
		s.cfg.Observer.Applied(s.env.ID(), e)
	}
	if e.Type != raft.EntryNormal || len(e.Data) == 0 {
		return
	}
	cmd, err := lockmgr.DecodeCommand(e.Data)
	if err != nil {
		panic(fmt.Sprintf("locks %s: committed entry %d does not decode: %v", s.env.ID(), e.Index, err))
	}
	res := s.mgr.Apply(e.Index, cmd)
	s.afterApply(e.Index, cmd, res)
	for _, ev := range s.mgr.Events() {
		s.onEvent(ev)
	}
}

// afterApply answers the client whose request this was, if it asked this
// server, and keeps the leader's session and wait clocks.
func (s *Server) afterApply(index uint64, cmd lockmgr.Command, res lockmgr.Result) {
	if client, seq, ok := clientOf(cmd); ok {
		if p, found := s.pending[client]; found && p.seq == seq {
			delete(s.pending, client)
			s.reply(p.from, &Reply{Client: client, Seq: seq, Result: res})
		}
	}
	if s.role != raft.RoleLeader {
		return
	}
	now := s.env.Now()
	switch c := cmd.(type) {
	case lockmgr.OpenSession:
		if res.Status != lockmgr.StatusRejected {
			s.renewed[res.Session] = now
		}
	case lockmgr.KeepAlive:
		if res.Status != lockmgr.StatusRejected {
			s.renewed[c.Session] = now
			delete(s.expiring, c.Session)
		}
	case lockmgr.Acquire:
		if res.Status == lockmgr.StatusQueued {
			s.startWaitTimer(res.Request, c.Wait)
		}
	case lockmgr.ExpireSession:
		delete(s.expiring, c.Session)
		if res.Status != lockmgr.StatusRejected {
			delete(s.renewed, c.Session)
		}
	case lockmgr.CloseSession:
		delete(s.renewed, c.Session)
	}
}

// onEvent tells a waiting client that its wait ended. Only the leader
// sends, so a client hears once; a client that misses it (the leader
// changed) learns the outcome by retrying its Acquire, whose cached result
// the lock table updates.
func (s *Server) onEvent(ev lockmgr.Event) {
	if s.role != raft.RoleLeader {
		return
	}
	if id, ok := s.waitTimers[ev.Request]; ok {
		s.env.CancelTimer(id)
		delete(s.waitTimers, ev.Request)
	}
	s.reply(nodes.NodeID(ev.Client), &Notify{Event: ev})
}

func (s *Server) startWaitTimer(request uint64, w lockmgr.WaitPolicy) {
	if w.Kind != lockmgr.Timeout || s.waitTimers == nil {
		return
	}
	s.waitTimers[request] = s.env.SetTimer(w.Timeout, nodes.Timer{Kind: timerWait, Arg: request})
}

// cancelWait proposes the end of a timed wait, if this node still leads
// and the request still waits. If the proposal is dropped (flow control, a
// leadership transfer) it tries again a tick later, so a timed wait never
// hangs on a leader that stays.
func (s *Server) cancelWait(request uint64) {
	if s.role != raft.RoleLeader {
		return
	}
	for _, w := range s.mgr.Waiting() {
		if w.Request == request {
			cmd := lockmgr.CancelWait{Session: w.Session, Resource: w.Resource, RequestIndex: request}
			if err := s.raft.Propose(cmd.Encode()); err != nil {
				s.env.Logf("cancel wait %d: %v (retrying)", request, err)
				s.waitTimers[request] = s.env.SetTimer(s.cfg.Tick, nodes.Timer{Kind: timerWait, Arg: request})
			}
			return
		}
	}
}

// expireSessions proposes the expiry of every session whose TTL has passed
// on the leader's clock since the leader last saw it renewed. Replicas never
// read their own clocks for this: they apply the leader's decision.
func (s *Server) expireSessions() {
	now := s.env.Now()
	for _, info := range s.mgr.Sessions() {
		last, ok := s.renewed[info.ID]
		if !ok {
			s.renewed[info.ID] = now
			continue
		}
		if s.expiring[info.ID] || now.Sub(last) <= info.TTL {
			continue
		}
		cmd := lockmgr.ExpireSession{Session: info.ID, LastRenewal: info.Renewed}
		if err := s.raft.Propose(cmd.Encode()); err != nil {
			s.env.Logf("expire session %d: %v", info.ID, err)
			continue
		}
		s.expiring[info.ID] = true
	}
}

func (s *Server) readReady(rs raft.ReadState) {
	ctx, err := strconv.ParseUint(string(rs.Ctx), 10, 64)
	if err != nil {
		return // not one of ours (a forwarded read of another incarnation)
	}
	if r, ok := s.reads[ctx]; ok {
		r.index = rs.Index
	}
}

// serveReads answers every confirmed read whose index has been applied.
func (s *Server) serveReads() {
	if len(s.reads) == 0 {
		return
	}
	for _, ctx := range sortedKeys(s.reads) {
		r := s.reads[ctx]
		if r.index == 0 || r.index > s.applied {
			continue
		}
		s.reply(r.from, &QueryReply{
			Client: r.q.Client, ID: r.q.ID,
			Holders: s.mgr.Holders(r.q.Resource), Waiters: s.mgr.Waiters(r.q.Resource),
		})
		delete(s.reads, ctx)
	}
}

// maybeCompact snapshots the lock table and trims Raft's log and the WAL
// every SnapshotEvery applied entries.
func (s *Server) maybeCompact() {
	snap := s.raft.Snapshot()
	if s.applied < snap.Index+s.cfg.SnapshotEvery {
		return
	}
	if err := s.raft.Compact(s.applied, s.mgr.Snapshot()); err != nil {
		panic(fmt.Sprintf("locks %s: compact at %d: %v", s.env.ID(), s.applied, err))
	}
	snap = s.raft.Snapshot()
	st := s.raft.Status()
	after, err := s.raft.Entries(snap.Index+1, st.LastIndex+1)
	if err != nil {
		panic(fmt.Sprintf("locks %s: entries after snapshot %d: %v", s.env.ID(), snap.Index, err))
	}
	hs := raft.HardState{Term: st.Term, Vote: st.Vote, Commit: st.Commit}
	if err := compactStorage(s.store, snap, hs, after); err != nil {
		panic(fmt.Sprintf("locks %s: %v", s.env.ID(), err))
	}
	s.env.Logf("snapshot at %d", snap.Index)
}
