package queues

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
)

// Membership is the ring of one epoch: the queue nodes on it. Epoch 0 is
// the configured ring (Config.Servers); each join or leave makes the next
// epoch.
type Membership struct {
	Epoch   uint64
	Members []nodes.NodeID // sorted
}

// MaxEpochs bounds the ring history a node keeps and accepts. Groups are
// named by the epoch their replica set was established in, so the whole
// history is kept; a cluster that needs more membership changes than this
// is re-created.
const MaxEpochs = 4096

// MaxMembers bounds the nodes of one ring.
const MaxMembers = 64

// GroupID names a Raft group: the placement key of the queue it serves and
// the ring epoch in which its replica set was established. While the ring
// changes without changing a queue's replica set, its group stays; when the
// set changes, the queue moves to a new group with a later epoch.
type GroupID struct {
	Queue string // placement key: the queue's name without DLQSuffix
	Epoch uint64
}

// String renders the id as "<queue>@<epoch>".
func (g GroupID) String() string { return g.Queue + "@" + strconv.FormatUint(g.Epoch, 10) }

// key is the group's name in the node's write-ahead log: "<epoch>/<queue>".
func (g GroupID) key() string { return strconv.FormatUint(g.Epoch, 10) + "/" + g.Queue }

// parseGroupKey reads a key written by GroupID.key.
func parseGroupKey(k string) (GroupID, error) {
	e, q, ok := strings.Cut(k, "/")
	epoch, err := strconv.ParseUint(e, 10, 64)
	if !ok || err != nil {
		return GroupID{}, fmt.Errorf("queues: bad group key %q", k)
	}
	return GroupID{Queue: q, Epoch: epoch}, nil
}

// PlacementKey is the ring key of a queue: its name, without the dead-letter
// suffix, so that a queue and its dead-letter queue live in one group.
func PlacementKey(name string) string { return strings.TrimSuffix(name, queue.DLQSuffix) }

// ValidateQueueName checks a queue name as every node does before routing
// it: 1 to queue.MaxNameBytes bytes. The error names field; callers add
// their context.
func ValidateQueueName(field, name string) error {
	if name == "" || len(name) > queue.MaxNameBytes {
		shown := name
		if len(shown) > 32 {
			shown = shown[:32] + "..."
		}
		return fmt.Errorf("%s = %q (%d bytes): %w: want 1..%d bytes", field, shown, len(name), queue.ErrInvalidQueue, queue.MaxNameBytes)
	}
	return nil
}

// placement is a node's view of the ring history and the groups it
// implies. Every node that knows the same history computes the same
// groups.
type placement struct {
	vnodes   int
	hash     hashring.Hash
	replicas int
	history  []Membership
	rings    []*hashring.Ring
	cache    map[string]placed // current group by placement key
}

// placed is a key's current group and its preference list.
type placed struct {
	group GroupID
	pref  []nodes.NodeID
}

func newPlacement(vnodes int, hash hashring.Hash, replicas int, initial []nodes.NodeID) (*placement, error) {
	p := &placement{vnodes: vnodes, hash: hash, replicas: replicas}
	if err := p.extend([]Membership{{Epoch: 0, Members: initial}}); err != nil {
		return nil, err
	}
	return p, nil
}

// epoch is the latest epoch known.
func (p *placement) epoch() uint64 { return uint64(len(p.history) - 1) }

// latest is the latest membership.
func (p *placement) latest() Membership { return p.history[len(p.history)-1] }

// validateHistory checks that h is a well-formed history: epochs 0..n-1 in
// order, each with 1..MaxMembers distinct valid members, sorted.
func validateHistory(h []Membership) error {
	if len(h) == 0 || len(h) > MaxEpochs {
		return fmt.Errorf("queues: ring history of %d epochs: want 1..%d", len(h), MaxEpochs)
	}
	for i, m := range h {
		if m.Epoch != uint64(i) {
			return fmt.Errorf("queues: ring history[%d].Epoch = %d, want %d", i, m.Epoch, i)
		}
		if len(m.Members) == 0 || len(m.Members) > MaxMembers {
			return fmt.Errorf("queues: ring epoch %d has %d members: want 1..%d", i, len(m.Members), MaxMembers)
		}
		for j, id := range m.Members {
			if err := id.Validate(); err != nil {
				return fmt.Errorf("queues: ring epoch %d member %d: %w", i, j, err)
			}
			if j > 0 && m.Members[j-1] >= id {
				return fmt.Errorf("queues: ring epoch %d members not sorted and distinct at %q", i, id)
			}
		}
	}
	return nil
}

// extend adopts history h if it is longer than the known one and agrees
// with it on every common epoch. It returns an error (and changes nothing)
// if h is malformed or conflicts.
func (p *placement) extend(h []Membership) error {
	if err := validateHistory(h); err != nil {
		return err
	}
	for i := range min(len(h), len(p.history)) {
		if !slices.Equal(h[i].Members, p.history[i].Members) {
			return fmt.Errorf("queues: ring epoch %d conflicts: %v here, %v offered", i, p.history[i].Members, h[i].Members)
		}
	}
	for i := len(p.history); i < len(h); i++ {
		ids := make([]hashring.NodeID, len(h[i].Members))
		for j, id := range h[i].Members {
			ids[j] = hashring.NodeID(id)
		}
		r, err := hashring.New(p.vnodes, p.hash, ids...)
		if err != nil {
			return fmt.Errorf("queues: ring epoch %d: %w", i, err)
		}
		p.rings = append(p.rings, r)
		p.history = append(p.history, Membership{Epoch: uint64(i), Members: slices.Clone(h[i].Members)})
	}
	p.cache = map[string]placed{}
	return nil
}

// pref returns the preference list of key at epoch e.
func (p *placement) pref(key string, e uint64) []nodes.NodeID {
	ids := p.rings[e].Preference(key, p.replicas)
	out := make([]nodes.NodeID, len(ids))
	for i, id := range ids {
		out[i] = nodes.NodeID(id)
	}
	return out
}

func sortedSet(ids []nodes.NodeID) []nodes.NodeID {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

// current returns key's group at the latest epoch and its preference list
// (owner first).
func (p *placement) current(key string) (GroupID, []nodes.NodeID) {
	if c, ok := p.cache[key]; ok {
		return c.group, c.pref
	}
	g, pref := p.groupAt(key, p.epoch())
	if len(p.cache) > 1<<16 {
		p.cache = map[string]placed{}
	}
	p.cache[key] = placed{group: g, pref: pref}
	return g, pref
}

// groupAt returns key's group as the ring stood at epoch last: named by the
// earliest epoch from which its replica set stayed the same up to last.
func (p *placement) groupAt(key string, last uint64) (GroupID, []nodes.NodeID) {
	pref := p.pref(key, last)
	set := sortedSet(pref)
	e := last
	for e > 0 && slices.Equal(sortedSet(p.pref(key, e-1)), set) {
		e--
	}
	return GroupID{Queue: key, Epoch: e}, pref
}

// previous returns the group g's queue had just before g's replica set was
// established, and false for a group of epoch 0.
func (p *placement) previous(g GroupID) (GroupID, bool) {
	if g.Epoch == 0 || g.Epoch > p.epoch() {
		return GroupID{}, false
	}
	prev, _ := p.groupAt(g.Queue, g.Epoch-1)
	return prev, true
}

// peers returns the sorted replica set of group g, and false if g's epoch
// is not known here yet.
func (p *placement) peers(g GroupID) ([]nodes.NodeID, bool) {
	if g.Epoch > p.epoch() {
		return nil, false
	}
	return sortedSet(p.pref(g.Queue, g.Epoch)), true
}

// isCurrent reports whether g is its queue's group at the latest epoch.
func (p *placement) isCurrent(g GroupID) bool {
	cur, _ := p.current(g.Queue)
	return cur == g
}
