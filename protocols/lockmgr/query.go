package lockmgr

import (
	"cmp"
	"maps"
	"slices"
	"time"
)

// The queries below are read-only: a node serves them after a ReadIndex
// round (or from a lease), without going through the log. Their results are
// copies, ordered deterministically.

// HolderInfo describes one held lock.
type HolderInfo struct {
	Session SessionID
	Client  ClientID
	Mode    Mode
	Token   Token
}

// WaiterInfo describes one queued Acquire.
type WaiterInfo struct {
	Session  SessionID
	Client   ClientID
	Resource Resource
	Mode     Mode
	// Request is the log index of the Acquire (the one CancelWait names).
	Request uint64
	Wait    WaitPolicy
	// Upgrade is set when the session already holds the resource in shared
	// mode and waits to hold it exclusively.
	Upgrade bool
}

// SessionInfo describes a live session. A new leader arms an expiry timer
// of TTL for every session, and proposes ExpireSession{ID, Renewed} when
// it fires without an intervening KeepAlive.
type SessionInfo struct {
	ID      SessionID
	Client  ClientID
	TTL     time.Duration
	Renewed uint64     // index of the OpenSession or last KeepAlive
	Held    []Resource // sorted
	// Waiting is the resource the session waits for, "" if none.
	Waiting Resource
}

// Holders returns the holders of r in grant order (nil if r is free).
func (m *Manager) Holders(r Resource) []HolderInfo {
	res := m.resources[r]
	if res == nil {
		return nil
	}
	out := make([]HolderInfo, res.numHolders())
	for i := range out {
		h := res.holderAt(i)
		out[i] = HolderInfo{Session: h.session, Client: m.sessions[h.session].client, Mode: res.mode(), Token: h.token}
	}
	return out
}

// Waiters returns the waiters of r in FIFO order (nil if none).
func (m *Manager) Waiters(r Resource) []WaiterInfo {
	res := m.resources[r]
	if res == nil || len(res.queue()) == 0 {
		return nil
	}
	out := make([]WaiterInfo, len(res.queue()))
	for i, w := range res.queue() {
		out[i] = m.waiterInfo(r, res, w)
	}
	return out
}

// waiterInfo describes waiter w of resource r.
func (m *Manager) waiterInfo(name Resource, r *resource, w waiter) WaiterInfo {
	return WaiterInfo{
		Session: w.session, Client: m.sessions[w.session].client, Resource: name,
		Mode: w.mode, Request: w.request, Wait: w.policy(), Upgrade: r.holderIndex(w.session) >= 0,
	}
}

// Waiting returns every queued Acquire, oldest request first. A new leader
// uses it to arm the timers of Timeout waits.
func (m *Manager) Waiting() []WaiterInfo {
	var out []WaiterInfo
	for _, sid := range slices.Sorted(maps.Keys(m.sessions)) {
		s := m.sessions[sid]
		if s.waitRes == "" {
			continue
		}
		r := m.resources[s.waitRes]
		out = append(out, m.waiterInfo(s.waitRes, r, r.queue()[r.waiterIndex(sid)]))
	}
	slices.SortFunc(out, func(a, b WaiterInfo) int { return cmp.Compare(a.Request, b.Request) })
	return out
}

// Session returns the live session sid.
func (m *Manager) Session(sid SessionID) (SessionInfo, bool) {
	s := m.sessions[sid]
	if s == nil {
		return SessionInfo{}, false
	}
	return SessionInfo{
		ID: sid, Client: s.client, TTL: s.ttl, Renewed: s.renewed,
		Held: slices.Clone(s.held), Waiting: s.waitRes,
	}, true
}

// Sessions returns every live session, by id.
func (m *Manager) Sessions() []SessionInfo {
	ids := slices.Sorted(maps.Keys(m.sessions))
	out := make([]SessionInfo, 0, len(ids))
	for _, sid := range ids {
		info, _ := m.Session(sid)
		out = append(out, info)
	}
	return out
}

// Resources returns the names of every held resource, sorted.
func (m *Manager) Resources() []Resource {
	return slices.Sorted(maps.Keys(m.resources))
}

// WaitsFor returns the sessions that session sid waits for in the wait-for
// graph, sorted (nil if it is not waiting).
func (m *Manager) WaitsFor(sid SessionID) []SessionID {
	var out []SessionID
	for _, o := range m.graph.WaitsFor(owner(sid)) {
		out = append(out, SessionID(o))
	}
	return out
}

// Stats returns the metrics.
func (m *Manager) Stats() Stats { return m.stats }
