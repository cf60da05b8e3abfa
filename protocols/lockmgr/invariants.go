package lockmgr

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/distsync/distsync/protocols/deadlock"
)

// ErrInvariant is wrapped by every error CheckInvariants returns.
var ErrInvariant = errors.New("lockmgr: invariant violated")

// CheckInvariants verifies the whole lock table and returns the first
// violation found, or nil. It visits everything in sorted order, so the
// error for a given state is always the same. The checks:
//   - no conflicting grants: a resource has at least one holder, all in its
//     mode, and an exclusive resource exactly one;
//   - fencing tokens: every token is a past log index (<= LastApplied), and
//     holders' tokens never decrease in grant order. Since a token is the
//     index of the granting entry and Apply only accepts increasing indexes,
//     every grant on a resource carries a larger token than every grant
//     before it (grants made by the same entry share its index);
//   - no waiter blocked on a free, compatible lock: the head of a non-empty
//     queue conflicts with the holders; upgrades are only at the head;
//   - every holder and waiter has a live session, and the sessions' held
//     and waited resources match the table;
//   - the wait-for graph has exactly the edges the queues imply, and no
//     cycle;
//   - the exactly-once table: live-session counts, the idle list (clients
//     without sessions, in touched order, within Config.MaxIdleClients);
//   - the gauges of Stats match the table.
func (m *Manager) CheckInvariants() error {
	// The simulator calls this after every applied entry, so the first
	// pass walks the maps in Go's order, without sorting. Only if it finds
	// a violation does a second, sorted pass run, so that the violation
	// reported is the same in every run.
	if m.checkAll(false) == nil {
		return nil
	}
	return m.checkAll(true)
}

func (m *Manager) checkAll(sorted bool) error {
	m.checkSorted = sorted
	checks := []func() error{m.checkResources, m.checkSessions, m.checkGraph, m.checkClients, m.checkGauges}
	for _, check := range checks {
		if err := check(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvariant, err)
		}
	}
	return nil
}

// keysOf returns m's keys: sorted when the checker must be deterministic,
// in Go's map order otherwise.
func keysOf[K cmp.Ordered, V any](mp map[K]V, sorted bool) []K {
	if sorted {
		return slices.Sorted(maps.Keys(mp))
	}
	out := make([]K, 0, len(mp))
	for k := range mp { //det:ordered only the fast pass of CheckInvariants, whose errors are recomputed sorted
		out = append(out, k)
	}
	return out
}

// checkResources checks every resource's holders and queue.
func (m *Manager) checkResources() error {
	for _, name := range keysOf(m.resources, m.checkSorted) {
		r := m.resources[name]
		if err := m.checkHolders(name, r); err != nil {
			return err
		}
		if err := m.checkQueue(name, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) checkHolders(name Resource, r *resource) error {
	n := r.numHolders()
	switch {
	case n == 0 || r.session == 0:
		return fmt.Errorf("resource %q: %d holders, first session %d", name, n, r.session)
	case r.mode() == Exclusive && n != 1:
		return fmt.Errorf("resource %q: held exclusive by %d sessions", name, n)
	}
	var last Token
	for i := range n {
		h := r.holderAt(i)
		s := m.sessions[h.session]
		if s == nil {
			return fmt.Errorf("resource %q: holder %d has no live session", name, h.session)
		}
		if r.holderIndex(h.session) != i {
			return fmt.Errorf("resource %q: session %d holds it twice", name, h.session)
		}
		if _, found := slices.BinarySearch(s.held, name); !found {
			return fmt.Errorf("resource %q: holder %d does not list it", name, h.session)
		}
		if h.token == 0 || uint64(h.token) > m.lastIndex || h.token < last {
			return fmt.Errorf("resource %q: holder %d token %d (previous %d, last index %d)",
				name, h.session, h.token, last, m.lastIndex)
		}
		last = h.token
	}
	return nil
}

func (m *Manager) checkQueue(name Resource, r *resource) error {
	q := r.queue()
	if len(q) > m.cfg.MaxQueueLength {
		return fmt.Errorf("resource %q: %d waiters, bound %d", name, len(q), m.cfg.MaxQueueLength)
	}
	if len(q) > 0 && r.grantable(q[0].session, q[0].mode) {
		return fmt.Errorf("resource %q: head waiter %d (%v, request %d) is compatible with the holders (%s)",
			name, q[0].session, q[0].mode, q[0].request, r.describe())
	}
	upgrades := r.upgrades()
	for i, w := range q {
		s := m.sessions[w.session]
		switch {
		case s == nil:
			return fmt.Errorf("resource %q: waiter %d has no live session", name, w.session)
		case s.waitRes != name || r.waiterIndex(w.session) != i:
			return fmt.Errorf("resource %q: waiter %d at %d, session waits for %q", name, w.session, i, s.waitRes)
		case !w.mode.valid() || w.timeout < 0 || w.request == 0 || w.request > m.lastIndex:
			return fmt.Errorf("resource %q: waiter %d: mode %d timeout %v request %d", name, w.session, w.mode, w.timeout, w.request)
		case r.holderIndex(w.session) >= 0 && (i >= upgrades || w.mode != Exclusive || r.mode() != Shared):
			return fmt.Errorf("resource %q: waiter %d holds it: upgrade at %d of %d, %v over %v",
				name, w.session, i, upgrades, w.mode, r.mode())
		}
	}
	return nil
}

// checkSessions checks that each session's lists match the table.
func (m *Manager) checkSessions() error {
	for _, sid := range keysOf(m.sessions, m.checkSorted) {
		s := m.sessions[sid]
		if m.clients[s.client] == nil {
			return fmt.Errorf("session %d: client %q has no entry", sid, s.client)
		}
		if len(s.held) > m.cfg.MaxLocksPerSession {
			return fmt.Errorf("session %d holds %d locks, bound %d", sid, len(s.held), m.cfg.MaxLocksPerSession)
		}
		for i, name := range s.held {
			if i > 0 && s.held[i-1] >= name {
				return fmt.Errorf("session %d: held list not sorted at %d", sid, i)
			}
			if r := m.resources[name]; r == nil || r.holderIndex(sid) < 0 {
				return fmt.Errorf("session %d lists %q but does not hold it", sid, name)
			}
		}
		if s.waitRes != "" {
			if r := m.resources[s.waitRes]; r == nil || r.waiterIndex(sid) < 0 {
				return fmt.Errorf("session %d waits for %q but is not queued", sid, s.waitRes)
			}
		}
	}
	return nil
}

// checkGraph checks that the wait-for graph is exactly the one the queues
// imply, and acyclic.
func (m *Manager) checkGraph() error {
	var want []deadlock.OwnerID
	for _, sid := range keysOf(m.sessions, m.checkSorted) {
		if m.sessions[sid].waitRes != "" {
			want = append(want, owner(sid))
		}
	}
	if got := m.graph.Waiters(); !slices.Equal(got, want) {
		return fmt.Errorf("wait-for graph waiters %v, queued sessions %v", got, want)
	}
	for _, o := range want {
		name := m.sessions[SessionID(o)].waitRes
		r := m.resources[name]
		q := r.queue()
		i := r.waiterIndex(SessionID(o))
		targets := slices.Clone(m.edgeTargets(r, q, i))
		slices.Sort(targets)
		targets = slices.Compact(targets)
		if got := m.graph.WaitsFor(o); !slices.Equal(got, targets) {
			return fmt.Errorf("session %d waiting for %q: edges %v, queue implies %v", o, name, got, targets)
		}
		if idx, _ := m.graph.RequestIndex(o); idx != q[i].request {
			return fmt.Errorf("session %d: graph request %d, queue request %d", o, idx, q[i].request)
		}
	}
	return m.graph.CheckInvariants()
}

// checkClients checks the exactly-once table and the idle list.
func (m *Manager) checkClients() error {
	live := make(map[ClientID]int)
	for _, sid := range keysOf(m.sessions, m.checkSorted) {
		live[m.sessions[sid].client]++
	}
	idle := 0
	for _, id := range keysOf(m.clients, m.checkSorted) {
		c := m.clients[id]
		switch {
		case c.id != id:
			return fmt.Errorf("client %q filed under %q", c.id, id)
		case c.sessions != live[id]:
			return fmt.Errorf("client %q: %d sessions counted, %d live", id, c.sessions, live[id])
		case c.lastSeq == 0 || c.lastIndex > m.lastIndex || c.touched < c.lastIndex || c.touched > m.lastIndex:
			return fmt.Errorf("client %q: seq %d, last index %d, touched %d, applied %d", id, c.lastSeq, c.lastIndex, c.touched, m.lastIndex)
		}
		if c.sessions == 0 {
			idle++
		}
	}
	return m.checkIdleList(idle)
}

func (m *Manager) checkIdleList(idle int) error {
	n := 0
	var prev *client
	for c := m.idle.head; c != nil; c = c.next {
		if n++; n > m.idle.len {
			return fmt.Errorf("idle list longer than its count %d", m.idle.len)
		}
		if c.sessions != 0 || m.clients[c.id] != c || c.prev != prev || (prev != nil && prev.touched >= c.touched) {
			return fmt.Errorf("idle list broken at client %q (%d sessions, touched %d)", c.id, c.sessions, c.touched)
		}
		prev = c
	}
	switch {
	case n != m.idle.len || n != idle || m.idle.tail != prev:
		return fmt.Errorf("idle list has %d clients, counts %d, %d clients are idle", n, m.idle.len, idle)
	case n > m.cfg.MaxIdleClients:
		return fmt.Errorf("%d idle clients, bound %d", n, m.cfg.MaxIdleClients)
	}
	return nil
}

// checkGauges checks the current-state counters of Stats.
func (m *Manager) checkGauges() error {
	var locks, waiting uint64
	for _, name := range keysOf(m.resources, m.checkSorted) {
		r := m.resources[name]
		locks += uint64(r.numHolders())
		waiting += uint64(len(r.queue()))
	}
	if m.stats.ActiveLocks != locks || m.stats.Waiting != waiting || m.stats.Sessions != uint64(len(m.sessions)) {
		return fmt.Errorf("stats say %d locks, %d waiting, %d sessions; table has %d, %d, %d",
			m.stats.ActiveLocks, m.stats.Waiting, m.stats.Sessions, locks, waiting, len(m.sessions))
	}
	return nil
}
