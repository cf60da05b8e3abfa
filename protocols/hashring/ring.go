// Package hashring is the consistent-hash ring that places queues on nodes,
// as in the original design: every node gets V virtual nodes (150 by
// default) at the positions Hash("<node>:<i>") for i in [0, V) on a ring of
// 2^128 positions, and a key belongs to the first virtual node clockwise
// from Hash(key), one at the very same position included, wrapping around
// past the end of the ring. The default hash is MD5, as in the original.
//
// The ring is pure protocol state: no goroutines, clock, I/O or global
// randomness, and it depends only on the set of nodes, the number of
// virtual nodes and the hash, never on the order nodes were added in.
//
// Collisions: when several virtual nodes share a position, they are
// ordered by node name, then by virtual-node index, and the first of them
// (the smallest node name) owns the position: a key hashing at or just
// below it goes to that node. The others follow it, in that order, in a
// Preference list. (The original's Python dict silently kept whichever node
// was inserted last, so its result depended on insertion order.)
package hashring

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// NodeID names a physical node on the ring.
type NodeID string

// DefaultVNodes is the number of virtual nodes per node in the original
// design; MaxVNodes the most a ring accepts.
const (
	DefaultVNodes = 150
	MaxVNodes     = 10_000
)

// Errors returned, wrapped with the node's name, by New, Add and Remove.
var (
	ErrDuplicateNode = errors.New("already on the ring")
	ErrUnknownNode   = errors.New("not on the ring")
	ErrEmptyNode     = errors.New("node id must not be empty")
)

// point is one virtual node: its position, the index of its node in
// Ring.nodes and its virtual-node index.
type point struct {
	pos   Position
	node  uint32
	vnode uint32
}

// Ring is a consistent-hash ring. The zero value is not usable: call New.
// A Ring is not safe for concurrent mutation (nothing in node code is).
type Ring struct {
	hash   Hash
	vnodes int
	nodes  []NodeID // sorted
	points []point  // sorted by (pos, node name, vnode)
}

// New returns a ring with vnodes virtual nodes per node, placed by hash
// (MD5 if nil), holding nodes. vnodes must be in [1, MaxVNodes]; node ids
// must be non-empty and distinct.
func New(vnodes int, hash Hash, nodes ...NodeID) (*Ring, error) {
	if vnodes < 1 || vnodes > MaxVNodes {
		return nil, fmt.Errorf("hashring: vnodes = %d: must be between 1 and %d", vnodes, MaxVNodes)
	}
	if hash == nil {
		hash = MD5
	}
	r := &Ring{hash: hash, vnodes: vnodes}
	for _, n := range nodes {
		if err := r.Add(n); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// VNodes returns the number of virtual nodes per node.
func (r *Ring) VNodes() int { return r.vnodes }

// Hash returns the ring's hash.
func (r *Ring) Hash() Hash { return r.hash }

// Len returns the number of physical nodes.
func (r *Ring) Len() int { return len(r.nodes) }

// Nodes returns the nodes, sorted by name, in a new slice.
func (r *Ring) Nodes() []NodeID { return slices.Clone(r.nodes) }

// Has reports whether node is on the ring.
func (r *Ring) Has(node NodeID) bool {
	_, ok := slices.BinarySearch(r.nodes, node)
	return ok
}

// VNodeLabel is the string hashed to place virtual node i of node:
// "<node>:<i>", as in the original design.
func VNodeLabel(node NodeID, i int) string {
	return string(node) + ":" + strconv.Itoa(i)
}

// Add puts node and its virtual nodes on the ring. It fails, naming the
// node, if the id is empty or the node is already there.
func (r *Ring) Add(node NodeID) error {
	if node == "" {
		return fmt.Errorf("hashring: node id %q: %w", node, ErrEmptyNode)
	}
	at, found := slices.BinarySearch(r.nodes, node)
	if found {
		return fmt.Errorf("hashring: add node %q: %w", node, ErrDuplicateNode)
	}
	r.nodes = slices.Insert(r.nodes, at, node)
	for i := range r.points {
		if r.points[i].node >= uint32(at) {
			r.points[i].node++
		}
	}
	for i := 0; i < r.vnodes; i++ {
		r.points = append(r.points, point{pos: r.hash.Position(VNodeLabel(node, i)), node: uint32(at), vnode: uint32(i)})
	}
	r.sortPoints()
	return nil
}

// Remove takes node and its virtual nodes off the ring. It fails, naming
// the node, if the node is not there.
func (r *Ring) Remove(node NodeID) error {
	at, found := slices.BinarySearch(r.nodes, node)
	if !found {
		return fmt.Errorf("hashring: remove node %q: %w", node, ErrUnknownNode)
	}
	r.nodes = slices.Delete(r.nodes, at, at+1)
	r.points = slices.DeleteFunc(r.points, func(p point) bool { return p.node == uint32(at) })
	for i := range r.points {
		if r.points[i].node > uint32(at) {
			r.points[i].node--
		}
	}
	return nil
}

// sortPoints orders the points by position, then node name, then
// virtual-node index. Node indices follow the sorted node names, so
// comparing them compares names.
func (r *Ring) sortPoints() {
	slices.SortFunc(r.points, func(a, b point) int {
		if c := a.pos.Compare(b.pos); c != 0 {
			return c
		}
		if a.node != b.node {
			if a.node < b.node {
				return -1
			}
			return 1
		}
		if a.vnode < b.vnode {
			return -1
		}
		if a.vnode > b.vnode {
			return 1
		}
		return 0
	})
}

// search returns the index of the first point at or clockwise after pos,
// wrapping to 0 past the end. The ring must not be empty.
func (r *Ring) search(pos Position) int {
	lo, hi := 0, len(r.points)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		p := r.points[mid].pos
		if p.Hi < pos.Hi || p.Hi == pos.Hi && p.Lo < pos.Lo {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(r.points) {
		return 0
	}
	return lo
}

// Lookup returns the node that owns key: the node of the first virtual
// node at or clockwise after Hash(key). It returns "" if the ring is
// empty. It takes O(log NV) time.
func (r *Ring) Lookup(key string) NodeID {
	if len(r.points) == 0 {
		return ""
	}
	return r.nodes[r.points[r.search(r.hash.Position(key))].node]
}

// Preference returns the first n distinct nodes met walking clockwise from
// Hash(key): the owner of key first (Lookup(key)), then the nodes to
// replicate it on. n is capped at Len(); n <= 0 or an empty ring gives an
// empty list.
func (r *Ring) Preference(key string, n int) []NodeID {
	n = min(n, len(r.nodes))
	if n <= 0 {
		return nil
	}
	out := make([]NodeID, 0, n)
	seen := make([]bool, len(r.nodes))
	start := r.search(r.hash.Position(key))
	for k := 0; k < len(r.points) && len(out) < n; k++ {
		p := r.points[(start+k)%len(r.points)]
		if !seen[p.node] {
			seen[p.node] = true
			out = append(out, r.nodes[p.node])
		}
	}
	return out
}

// String describes the ring in one line.
func (r *Ring) String() string {
	names := make([]string, len(r.nodes))
	for i, n := range r.nodes {
		names[i] = string(n)
	}
	return fmt.Sprintf("ring{%s, %d vnodes, nodes [%s]}", r.hash.Name(), r.vnodes, strings.Join(names, " "))
}
