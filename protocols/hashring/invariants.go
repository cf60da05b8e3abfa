package hashring

import "fmt"

// CheckInvariants checks the ring's internal state: the nodes are sorted
// and distinct, every node has exactly VNodes() virtual nodes at the
// positions its labels hash to, and the points are sorted by (position,
// node name, virtual-node index). It returns the first violation found.
func (r *Ring) CheckInvariants() error {
	if r.vnodes < 1 || r.vnodes > MaxVNodes {
		return fmt.Errorf("hashring: vnodes = %d out of range", r.vnodes)
	}
	for i := 1; i < len(r.nodes); i++ {
		if r.nodes[i-1] >= r.nodes[i] {
			return fmt.Errorf("hashring: nodes not sorted and distinct at %d: %q, %q", i, r.nodes[i-1], r.nodes[i])
		}
	}
	if want := len(r.nodes) * r.vnodes; len(r.points) != want {
		return fmt.Errorf("hashring: %d points, want %d nodes × %d vnodes = %d", len(r.points), len(r.nodes), r.vnodes, want)
	}
	count := make([]int, len(r.nodes))
	for i, p := range r.points {
		if int(p.node) >= len(r.nodes) || int(p.vnode) >= r.vnodes {
			return fmt.Errorf("hashring: point %d refers to node %d vnode %d", i, p.node, p.vnode)
		}
		count[p.node]++
		node := r.nodes[p.node]
		if got := r.hash.Position(VNodeLabel(node, int(p.vnode))); got != p.pos {
			return fmt.Errorf("hashring: point %d of %q vnode %d at %s, want %s", i, node, p.vnode, p.pos, got)
		}
		if i > 0 && !pointLess(r.points[i-1], p) {
			return fmt.Errorf("hashring: points %d and %d out of order", i-1, i)
		}
	}
	for i, c := range count {
		if c != r.vnodes {
			return fmt.Errorf("hashring: node %q has %d points, want %d", r.nodes[i], c, r.vnodes)
		}
	}
	return nil
}

// pointLess reports whether a sorts strictly before b.
func pointLess(a, b point) bool {
	if c := a.pos.Compare(b.pos); c != 0 {
		return c < 0
	}
	if a.node != b.node {
		return a.node < b.node
	}
	return a.vnode < b.vnode
}
