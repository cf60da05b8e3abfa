package lockmgr

import (
	"fmt"
	"slices"

	"github.com/distsync/distsync/protocols/deadlock"
)

// owner maps a session to its wait-for graph node.
func owner(s SessionID) deadlock.OwnerID { return deadlock.OwnerID(s) }

// grant gives session sid the lock on name in mode, with the token of the
// entry being applied. For a session that already holds it (an upgrade) the
// mode becomes exclusive and the token is renewed.
func (m *Manager) grant(name Resource, sid SessionID, mode Mode) Token {
	token := Token(m.index)
	r := m.resources[name]
	if r == nil {
		r = newResource(mode)
		m.resources[name] = r
	}
	if last := r.maxToken(); last > token {
		panic(fmt.Sprintf("lockmgr: apply %d: grant of %q to session %d: token %d below last token %d",
			m.index, name, sid, token, last))
	}
	if !r.grantable(sid, mode) {
		panic(fmt.Sprintf("lockmgr: apply %d: grant of %q %v to session %d conflicts: %s",
			m.index, name, mode, sid, r.describe()))
	}
	m.stats.Grants++
	if i := r.holderIndex(sid); i >= 0 {
		r.setMode(Exclusive)
		r.setToken(i, token)
		return token
	}
	if r.numHolders() == 0 {
		r.setMode(mode)
	}
	r.addHolder(holder{session: sid, token: token})
	s := m.sessions[sid]
	i, found := slices.BinarySearch(s.held, name)
	if found {
		panic(fmt.Sprintf("lockmgr: apply %d: session %d already lists %q as held", m.index, sid, name))
	}
	s.held = slices.Insert(s.held, i, name)
	m.stats.ActiveLocks++
	return token
}

// unhold removes session sid's lock on name, and marks name for settling.
func (m *Manager) unhold(name Resource, sid SessionID) {
	r := m.resources[name]
	i := -1
	if r != nil {
		i = r.holderIndex(sid)
	}
	s := m.sessions[sid]
	j, found := slices.BinarySearch(s.held, name)
	if i < 0 || !found {
		panic(fmt.Sprintf("lockmgr: apply %d: release of %q by session %d: holder position %d, listed %v",
			m.index, name, sid, i, found))
	}
	r.removeHolder(i)
	s.held = slices.Delete(s.held, j, j+1)
	m.stats.ActiveLocks--
	m.markDirty(name)
}

// enqueue queues w on name at position pos and marks name for settling.
func (m *Manager) enqueue(name Resource, r *resource, pos int, w waiter) {
	r.insertWaiter(pos, w)
	m.sessions[w.session].waitRes = name
	m.stats.Waiting++
	m.stats.Waits++
	m.markDirty(name)
}

// abortWait ends the wait of session sid without the lock, with an error
// wrapping cause, and marks its resource for settling.
func (m *Manager) abortWait(sid SessionID, cause error) {
	s := m.sessions[sid]
	name := s.waitRes
	r := m.resources[name]
	i := -1
	if r != nil {
		i = r.waiterIndex(sid)
	}
	if i < 0 {
		panic(fmt.Sprintf("lockmgr: apply %d: session %d waits for %q but is not in its queue", m.index, sid, name))
	}
	w := r.queue()[i]
	r.removeWaiter(i)
	m.dropWaiter(s, w)
	m.markDirty(name)
	err := newError(cause, "wait of session %d for %q (request %d)", sid, name, w.request)
	m.finishWait(s, name, w, Result{Status: StatusRejected, Request: w.request, Err: err})
}

// dropWaiter forgets a waiter that left the queue.
func (m *Manager) dropWaiter(s *session, w waiter) {
	s.waitRes = ""
	m.graph.RemoveWaiter(owner(w.session))
	m.stats.Waiting--
}

// finishWait reports the end of a wait. For the Acquire being applied the
// outcome becomes its Result; for an earlier one it becomes an Event, and
// the client's cached Result is updated if that Acquire is still its last
// command, so a retry learns the outcome too.
func (m *Manager) finishWait(s *session, name Resource, w waiter, res Result) {
	if w.request == m.current {
		m.currentResult = &res
		return
	}
	ev := Event{
		Kind: EventGranted, Client: s.client, Session: w.session, Resource: name,
		Mode: w.mode, Request: w.request, Token: res.Token, Err: res.Err,
	}
	if res.Status == StatusRejected {
		ev.Kind = EventAborted
	}
	m.events = append(m.events, ev)
	if c := m.clients[s.client]; c != nil && c.lastIndex == w.request && c.result.Status == StatusQueued {
		c.result = res
	}
}

// markDirty records that name's holders or queue changed.
func (m *Manager) markDirty(name Resource) {
	if m.dirtySet[name] {
		return
	}
	m.dirtySet[name] = true
	m.dirty = append(m.dirty, name)
}

// drain settles every dirty resource and breaks every cycle the new edges
// closed, until nothing changes. Settling a resource may abort a deadlock
// victim elsewhere and dirty that resource, so it loops; each round either
// settles a resource or removes a waiter, so it ends.
func (m *Manager) drain() {
	budget := 2*(len(m.dirty)+int(m.stats.Waiting)) + 1
	for rounds := 0; ; rounds++ {
		if rounds > 4*budget*budget {
			panic(fmt.Sprintf("lockmgr: apply %d: drain did not settle after %d rounds (%d dirty, %d suspects)",
				m.index, rounds, len(m.dirty), len(m.suspects)))
		}
		if len(m.dirty) > 0 {
			name := m.dirty[0]
			m.dirty = m.dirty[1:]
			delete(m.dirtySet, name)
			m.settle(name)
			continue
		}
		if len(m.suspects) == 0 {
			m.dirty, m.suspects = m.dirty[:0], m.suspects[:0]
			return
		}
		sid := m.suspects[0]
		m.suspects = m.suspects[1:]
		if m.breakCycle(sid) {
			m.suspects = append(m.suspects, sid)
		}
	}
}

// settle restores name's invariants after a change: it grants waiters from
// the head of the queue while they are compatible with the holders, drops
// the resource once nobody holds it, and recomputes the wait-for edges of
// the remaining waiters, noting those whose new edges closed a cycle.
func (m *Manager) settle(name Resource) {
	r := m.resources[name]
	if r == nil {
		return
	}
	m.promote(name, r)
	if r.numHolders() == 0 {
		if len(r.queue()) != 0 {
			panic(fmt.Sprintf("lockmgr: apply %d: %q has %d waiters and no holder after promotion", m.index, name, len(r.queue())))
		}
		delete(m.resources, name)
		return
	}
	m.refreshEdges(r)
}

// promote grants waiters from the head of name's queue, in FIFO order, as
// long as each is compatible with the holders (no barging: it stops at the
// first that is not).
func (m *Manager) promote(name Resource, r *resource) {
	for len(r.queue()) > 0 {
		w := r.queue()[0]
		if !r.grantable(w.session, w.mode) {
			return
		}
		r.removeWaiter(0)
		s := m.sessions[w.session]
		m.dropWaiter(s, w)
		token := m.grant(name, w.session, w.mode)
		m.finishWait(s, name, w, Result{Status: StatusGranted, Token: token, Request: w.request})
	}
}

// refreshEdges sets the wait-for edges of every waiter of r: to every
// holder and every earlier waiter whose mode conflicts with the waiter's
// (other than its own session, for an upgrade).
func (m *Manager) refreshEdges(r *resource) {
	q := r.queue()
	for i, w := range q {
		targets := m.edgeTargets(r, q, i)
		if cycle := m.graph.SetWait(owner(w.session), targets, w.request); cycle != nil {
			m.suspects = append(m.suspects, w.session)
		}
	}
}

// edgeTargets returns the owners the i-th waiter of r waits for, in a
// scratch slice valid until the next call.
func (m *Manager) edgeTargets(r *resource, q []waiter, i int) []deadlock.OwnerID {
	w := q[i]
	targets := m.scratch[:0]
	if conflicts(w.mode, r.mode()) {
		for j := range r.numHolders() {
			if h := r.holderAt(j); h.session != w.session {
				targets = append(targets, owner(h.session))
			}
		}
	}
	for _, ahead := range q[:i] {
		if ahead.session != w.session && conflicts(w.mode, ahead.mode) {
			targets = append(targets, owner(ahead.session))
		}
	}
	m.scratch = targets
	return targets
}

// breakCycle looks for a cycle through session sid's wait and, if there is
// one, aborts the youngest request in it with ErrDeadlockVictim. It reports
// whether it aborted one (sid must then be checked again).
func (m *Manager) breakCycle(sid SessionID) bool {
	s := m.sessions[sid]
	if s == nil || s.waitRes == "" {
		return false
	}
	cycle := m.graph.FindCycle(owner(sid))
	if cycle == nil {
		return false
	}
	victim := deadlock.Victim(cycle, func(o deadlock.OwnerID) uint64 {
		idx, ok := m.graph.RequestIndex(o)
		if !ok {
			panic(fmt.Sprintf("lockmgr: apply %d: cycle %v member %d is not waiting", m.index, cycle, o))
		}
		return idx
	})
	m.stats.Deadlocks++
	m.stats.Victims++
	m.abortWait(SessionID(victim), ErrDeadlockVictim)
	return true
}
