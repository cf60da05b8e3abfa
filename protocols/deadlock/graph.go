// Package deadlock keeps a wait-for graph over lock owners and finds the
// cycles in it, the way the original design's lock manager detects
// deadlocks: a DFS from the owner that just started waiting, and the
// youngest request in the cycle as the victim.
//
// An edge waiter -> holder means "waiter cannot proceed until holder lets go
// of something". A node is waiting when it has a recorded wait (with the log
// index of the request that made it wait); only waiting nodes have outgoing
// edges. Because the graph is kept acyclic (every cycle is resolved as soon
// as it is closed), a new cycle must pass through the owner whose edges were
// just added, so a DFS from that owner alone finds it.
//
// The graph is a pure, deterministic data structure: out-edges are kept
// sorted, every search visits them in that order, and no map iteration order
// reaches a result. Replicas that apply the same operations in the same order
// hold the same graph and find the same cycles.
package deadlock

import (
	"fmt"
	"slices"
)

// OwnerID identifies a node of the graph: the owner of locks and of waiting
// requests. The lock manager uses its session ids (log indexes), so the ids
// are compact and ordered, and ordering them breaks ties deterministically.
type OwnerID uint64

// Edge is one wait-for edge: From waits for To.
type Edge struct {
	From OwnerID
	To   OwnerID
}

// Stats counts what the graph has seen over its life.
type Stats struct {
	// Deadlocks is the number of cycles found by AddWait and SetWait
	// (FindCycle, a pure query, does not count).
	Deadlocks uint64
}

// wait is the outstanding wait of one owner: the log index of the request
// that made it wait and the owners it waits for, sorted and without
// duplicates.
type wait struct {
	request uint64
	out     []OwnerID
}

// Graph is a wait-for graph. The zero value is not usable; call New.
type Graph struct {
	waits map[OwnerID]wait
	edges int
	stats Stats
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{waits: make(map[OwnerID]wait)}
}

// AddWait records that waiter waits, because of the request at log index
// requestIndex, for every owner in holders (in addition to the owners it
// already waits for), and returns the cycle through waiter that an added
// edge closed, or nil. The cycle starts at waiter and follows edges; its
// last element waits for waiter. A DFS runs only when at least one edge is
// new, so re-adding known edges is cheap and never reports a cycle twice.
//
// A waiter that waits for itself is a caller bug: AddWait panics.
func (g *Graph) AddWait(waiter OwnerID, holders []OwnerID, requestIndex uint64) []OwnerID {
	w := g.waits[waiter]
	merged := normalize(waiter, append(slices.Clone(w.out), holders...))
	grew := len(merged) > len(w.out)
	return g.store(waiter, merged, requestIndex, grew)
}

// SetWait replaces the edges out of waiter by targets (the owners it now
// waits for) and records requestIndex, and returns the cycle through waiter
// that a new edge closed, or nil, as AddWait does. The lock manager calls it
// whenever the holders or the queue ahead of a waiter change, so the graph
// follows the lock table exactly.
func (g *Graph) SetWait(waiter OwnerID, targets []OwnerID, requestIndex uint64) []OwnerID {
	old := g.waits[waiter].out
	merged := normalize(waiter, slices.Clone(targets))
	grew := false
	for _, t := range merged {
		if _, found := slices.BinarySearch(old, t); !found {
			grew = true
			break
		}
	}
	return g.store(waiter, merged, requestIndex, grew)
}

// store installs the wait of waiter and runs the cycle check if it grew.
func (g *Graph) store(waiter OwnerID, out []OwnerID, requestIndex uint64, grew bool) []OwnerID {
	old, existed := g.waits[waiter]
	if existed {
		g.edges -= len(old.out)
	}
	if len(out) == 0 {
		out = nil
	}
	g.waits[waiter] = wait{request: requestIndex, out: out}
	g.edges += len(out)
	if !grew {
		return nil
	}
	cycle := g.FindCycle(waiter)
	if cycle != nil {
		g.stats.Deadlocks++
	}
	return cycle
}

// normalize sorts ids, drops duplicates and panics on a self-loop.
func normalize(waiter OwnerID, ids []OwnerID) []OwnerID {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if _, found := slices.BinarySearch(ids, waiter); found {
		panic(fmt.Sprintf("deadlock: owner %d cannot wait for itself", waiter))
	}
	return ids
}

// frame is one step of an iterative DFS: a node and the position of the
// next out-edge to follow.
type frame struct {
	node OwnerID
	next int
}

// RemoveWaiter ends the wait of waiter: its outgoing edges go, edges into
// it (it may still hold locks others wait for) stay. Removing an owner that
// is not waiting is a no-op.
func (g *Graph) RemoveWaiter(waiter OwnerID) {
	w, ok := g.waits[waiter]
	if !ok {
		return
	}
	g.edges -= len(w.out)
	delete(g.waits, waiter)
}

// RemoveOwner drops every edge into and out of owner, for an owner that is
// gone (its session closed or expired). It visits every waiter, so it costs
// O(waiters + edges); the lock manager does not need it on its hot path
// because it recomputes the edges of each affected queue instead.
func (g *Graph) RemoveOwner(owner OwnerID) {
	g.RemoveWaiter(owner)
	//det:ordered each waiter's list is edited on its own; nothing is output
	for id, w := range g.waits {
		i, found := slices.BinarySearch(w.out, owner)
		if !found {
			continue
		}
		w.out = slices.Delete(w.out, i, i+1)
		if len(w.out) == 0 {
			w.out = nil
		}
		g.waits[id] = w
		g.edges--
	}
}

// FindCycle returns a cycle through from, or nil: from, then the owners
// along a path of edges, the last of which waits for from. It is a pure
// query. The search is a DFS over sorted out-edges with an explicit stack,
// so it visits each node at most once and always returns the same cycle
// for the same graph.
func (g *Graph) FindCycle(from OwnerID) []OwnerID {
	if _, ok := g.waits[from]; !ok {
		return nil
	}
	visited := map[OwnerID]bool{from: true}
	stack := []frame{{node: from}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		out := g.waits[top.node].out
		if top.next >= len(out) {
			stack = stack[:len(stack)-1]
			continue
		}
		n := out[top.next]
		top.next++
		if n == from {
			cycle := make([]OwnerID, len(stack))
			for i, f := range stack {
				cycle[i] = f.node
			}
			return cycle
		}
		if visited[n] {
			continue
		}
		visited[n] = true
		if _, waiting := g.waits[n]; waiting {
			stack = append(stack, frame{node: n})
		}
	}
	return nil
}

// Victim picks the owner of a cycle to abort: the one whose request is the
// youngest, that is has the largest log index according to indexOf; of two
// with the same index, the larger OwnerID (the younger session, for the
// lock manager). Aborting the youngest wastes the least work, as in the
// original design. An empty cycle is a caller bug: Victim panics.
func Victim(cycle []OwnerID, indexOf func(OwnerID) uint64) OwnerID {
	if len(cycle) == 0 {
		panic("deadlock: victim of an empty cycle")
	}
	best, bestIndex := cycle[0], indexOf(cycle[0])
	for _, o := range cycle[1:] {
		i := indexOf(o)
		if i > bestIndex || (i == bestIndex && o > best) {
			best, bestIndex = o, i
		}
	}
	return best
}

// RequestIndex returns the log index of the request that made owner wait,
// and whether owner is waiting. It suits Victim's indexOf.
func (g *Graph) RequestIndex(owner OwnerID) (uint64, bool) {
	w, ok := g.waits[owner]
	return w.request, ok
}

// IsWaiting reports whether owner has a recorded wait.
func (g *Graph) IsWaiting(owner OwnerID) bool {
	_, ok := g.waits[owner]
	return ok
}

// WaitsFor returns the owners that owner waits for, sorted (a copy).
func (g *Graph) WaitsFor(owner OwnerID) []OwnerID {
	return slices.Clone(g.waits[owner].out)
}

// Waiters returns every waiting owner, sorted.
func (g *Graph) Waiters() []OwnerID {
	ids := make([]OwnerID, 0, len(g.waits))
	//det:ordered the ids are sorted before they are returned
	for id := range g.waits {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Edges returns every edge, sorted by From then To.
func (g *Graph) Edges() []Edge {
	edges := make([]Edge, 0, g.edges)
	for _, id := range g.Waiters() {
		for _, to := range g.waits[id].out {
			edges = append(edges, Edge{From: id, To: to})
		}
	}
	return edges
}

// Len returns the number of waiting owners and of edges.
func (g *Graph) Len() (waiters, edges int) {
	return len(g.waits), g.edges
}

// Stats returns the graph's counters.
func (g *Graph) Stats() Stats {
	return g.stats
}
