package deadlock

import (
	"errors"
	"fmt"
)

// ErrInvariant is wrapped by every error CheckInvariants returns, so a
// checker can tell a broken graph from other failures with errors.Is.
var ErrInvariant = errors.New("deadlock: invariant violated")

// CheckInvariants verifies the graph's own invariants and returns the first
// violation, or nil:
//   - no self-loop;
//   - only waiting owners have outgoing edges, each list sorted and free of
//     duplicates, and the edge count matches the lists;
//   - the graph is acyclic (it must be checked after every cycle found has
//     been resolved).
//
// Waiters are visited in sorted order, so the error reported for a given
// graph is always the same.
func (g *Graph) CheckInvariants() error {
	total := 0
	for _, id := range g.Waiters() {
		out := g.waits[id].out
		total += len(out)
		for i, to := range out {
			if to == id {
				return fmt.Errorf("%w: self-loop on owner %d", ErrInvariant, id)
			}
			if i > 0 && out[i-1] >= to {
				return fmt.Errorf("%w: edges of owner %d not sorted and unique at %d: %d then %d",
					ErrInvariant, id, i, out[i-1], to)
			}
		}
	}
	if total != g.edges {
		return fmt.Errorf("%w: edge count %d, lists hold %d", ErrInvariant, g.edges, total)
	}
	if cycle := g.FindAnyCycle(); cycle != nil {
		return fmt.Errorf("%w: cycle %v", ErrInvariant, cycle)
	}
	return nil
}

// FindAnyCycle returns a cycle anywhere in the graph, or nil if the graph is
// acyclic. It is one three-colour DFS over all waiters, started from each in
// sorted order and following sorted edges, so it costs O(waiters + edges)
// and returns the same cycle for the same graph.
func (g *Graph) FindAnyCycle() []OwnerID {
	const (
		white = iota
		grey
		black
	)
	colour := make(map[OwnerID]int, len(g.waits))
	for _, root := range g.Waiters() {
		if colour[root] != white {
			continue
		}
		colour[root] = grey
		stack := []frame{{node: root}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			out := g.waits[top.node].out
			if top.next >= len(out) {
				colour[top.node] = black
				stack = stack[:len(stack)-1]
				continue
			}
			n := out[top.next]
			top.next++
			switch colour[n] {
			case grey:
				return cycleFrom(stack, n)
			case white:
				colour[n] = grey
				stack = append(stack, frame{node: n})
			}
		}
	}
	return nil
}

// cycleFrom returns the part of the DFS path that starts at n, the grey node
// an edge from the top of the path leads back to.
func cycleFrom(stack []frame, n OwnerID) []OwnerID {
	for i, f := range stack {
		if f.node == n {
			cycle := make([]OwnerID, 0, len(stack)-i)
			for _, g := range stack[i:] {
				cycle = append(cycle, g.node)
			}
			return cycle
		}
	}
	panic(fmt.Sprintf("deadlock: grey owner %d is not on the DFS path", n))
}
