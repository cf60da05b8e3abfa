package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/distsync/distsync/nodes"
)

// LinkConfig is the behaviour of one directed link, or the default of all.
type LinkConfig struct {
	Latency   Latency // delay of each message
	Loss      float64 // probability that a message is dropped
	Duplicate float64 // probability that a message is delivered twice
	// Reorder is the probability that a message leaves the link's FIFO
	// order: it is held back by up to ReorderDelay extra and may be passed
	// by later messages. Without it a link delivers in order, as TCP does.
	Reorder      float64
	ReorderDelay time.Duration
}

// Validate reports an impossible link configuration, naming field.
func (c LinkConfig) Validate(field string) error {
	if err := c.Latency.Validate(field + ".latency"); err != nil {
		return err
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", c.Loss}, {"duplicate", c.Duplicate}, {"reorder", c.Reorder}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s.%s: probability %v outside [0,1]", field, p.name, p.v)
		}
	}
	if c.ReorderDelay < 0 {
		return fmt.Errorf("%s.reorder_delay: negative %v", field, c.ReorderDelay)
	}
	return nil
}

// link is the state of one directed link.
type link struct {
	cfg         LinkConfig
	blocked     bool          // a partition drops everything on it
	clogUntil   time.Duration // until then, messages get clogDelay more
	clogDelay   time.Duration
	lastArrival time.Duration // FIFO: no in-order message arrives before this
}

// NetStats counts what the network did. Each fault counter counts faults
// that actually fired, not ones that were merely configured.
type NetStats struct {
	Sent             uint64 // messages handed to the network
	Delivered        uint64 // messages handed to a live node
	DroppedLoss      uint64 // dropped by random loss
	DroppedPartition uint64 // dropped by a partition (at send or in flight)
	DroppedDead      uint64 // reached a crashed node
	DroppedUnknown   uint64 // addressed to a node that does not exist
	Duplicated       uint64 // delivered an extra time
	Reordered        uint64 // taken out of FIFO order
	Clogged          uint64 // delayed by a clog
	WireChecked      uint64 // round-tripped through the codec
}

// network is the simulated network: an n×n matrix of directed links.
type network struct {
	n     int
	links []link
	rng   *rand.Rand
	stats NetStats
}

func newNetwork(n int, cfg LinkConfig, rng *rand.Rand) *network {
	nw := &network{n: n, links: make([]link, n*n), rng: rng}
	for i := range nw.links {
		nw.links[i].cfg = cfg
	}
	return nw
}

func (nw *network) link(from, to int32) *link { return &nw.links[int(from)*nw.n+int(to)] }

// route decides the fate of one message sent at time at: whether it is lost,
// when it arrives, and whether a duplicate arrives too (dupAt >= 0).
func (nw *network) route(from, to int32, at time.Duration) (arrive, dupAt time.Duration, lost bool) {
	l := nw.link(from, to)
	nw.stats.Sent++
	if l.blocked {
		nw.stats.DroppedPartition++
		return 0, -1, true
	}
	r := nw.rng
	if l.cfg.Loss > 0 && r.Float64() < l.cfg.Loss {
		nw.stats.DroppedLoss++
		return 0, -1, true
	}
	arrive = at + l.cfg.Latency.Draw(r)
	if at < l.clogUntil {
		arrive += l.clogDelay
		nw.stats.Clogged++
	}
	if l.cfg.Reorder > 0 && r.Float64() < l.cfg.Reorder {
		nw.stats.Reordered++
		if l.cfg.ReorderDelay > 0 {
			arrive += time.Duration(r.Int64N(int64(l.cfg.ReorderDelay) + 1))
		}
	} else {
		if arrive < l.lastArrival {
			arrive = l.lastArrival
		}
		l.lastArrival = arrive
	}
	dupAt = -1
	if l.cfg.Duplicate > 0 && r.Float64() < l.cfg.Duplicate {
		nw.stats.Duplicated++
		dupAt = at + l.cfg.Latency.Draw(r)
		if dupAt < arrive {
			dupAt = arrive
		}
	}
	return arrive, dupAt, false
}

// PartitionKind names a shape of partition, for traces and scenario files.
type PartitionKind string

// Partition shapes.
const (
	PartitionGroups  PartitionKind = "groups"  // nodes talk only within their group
	PartitionOneWay  PartitionKind = "one-way" // messages from one set to another are dropped
	PartitionIsolate PartitionKind = "isolate" // one node talks to nobody
	PartitionBridge  PartitionKind = "bridge"  // two halves that talk only through one node
)

// indices resolves node ids, naming field in errors.
func (w *World) indices(field string, ids []nodes.NodeID) ([]int32, error) {
	out := make([]int32, 0, len(ids))
	seen := make(map[int32]bool, len(ids))
	for _, id := range ids {
		i, ok := w.index[id]
		if !ok {
			return nil, fmt.Errorf("%s: unknown node %q", field, id)
		}
		if seen[i] {
			return nil, fmt.Errorf("%s: node %q listed twice", field, id)
		}
		seen[i] = true
		out = append(out, i)
	}
	return out, nil
}

// Partition splits the cluster into groups: a node talks only to the nodes
// of its own group. Nodes named in no group form one more group together.
// Messages already in flight between groups are dropped when they arrive.
func (w *World) Partition(groups [][]nodes.NodeID) error {
	group := make([]int, w.net.n)
	for i := range group {
		group[i] = -1
	}
	for g, ids := range groups {
		idx, err := w.indices(fmt.Sprintf("partition.groups[%d]", g), ids)
		if err != nil {
			return err
		}
		for _, i := range idx {
			if group[i] >= 0 {
				return fmt.Errorf("partition.groups[%d]: node %q is also in group %d", g, w.procs[i].id, group[i])
			}
			group[i] = g
		}
	}
	for a := 0; a < w.net.n; a++ {
		for b := 0; b < w.net.n; b++ {
			w.net.links[a*w.net.n+b].blocked = group[a] != group[b]
		}
	}
	w.stats.Partitions++
	w.traceFault(fmt.Sprintf("partition %s %v", PartitionGroups, groups))
	return nil
}

// PartitionOneWay drops every message from a node of from to a node of to;
// the other direction keeps working.
func (w *World) PartitionOneWay(from, to []nodes.NodeID) error {
	fi, err := w.indices("partition.from", from)
	if err != nil {
		return err
	}
	ti, err := w.indices("partition.to", to)
	if err != nil {
		return err
	}
	for _, a := range fi {
		for _, b := range ti {
			if a != b {
				w.net.link(a, b).blocked = true
			}
		}
	}
	w.stats.Partitions++
	w.traceFault(fmt.Sprintf("partition %s %v -> %v", PartitionOneWay, from, to))
	return nil
}

// Isolate cuts one node off from every other, both ways.
func (w *World) Isolate(id nodes.NodeID) error {
	idx, err := w.indices("isolate", []nodes.NodeID{id})
	if err != nil {
		return err
	}
	n := idx[0]
	for o := int32(0); o < int32(w.net.n); o++ {
		if o != n {
			w.net.link(n, o).blocked = true
			w.net.link(o, n).blocked = true
		}
	}
	w.stats.Partitions++
	w.traceFault(fmt.Sprintf("partition %s %s", PartitionIsolate, id))
	return nil
}

// Bridge splits the cluster into halves a and b that cannot talk to each
// other, except through bridge, which talks to both (Jepsen's bridge). Every
// node must be in a, in b, or be the bridge.
func (w *World) Bridge(a []nodes.NodeID, bridge nodes.NodeID, b []nodes.NodeID) error {
	ai, err := w.indices("bridge.a", a)
	if err != nil {
		return err
	}
	bi, err := w.indices("bridge.b", b)
	if err != nil {
		return err
	}
	br, err := w.indices("bridge.node", []nodes.NodeID{bridge})
	if err != nil {
		return err
	}
	side := make([]int, w.net.n)
	for _, i := range ai {
		side[i] = 1
	}
	for _, i := range bi {
		if side[i] != 0 {
			return fmt.Errorf("bridge.b: node %q is also in a", w.procs[i].id)
		}
		side[i] = 2
	}
	if side[br[0]] != 0 {
		return fmt.Errorf("bridge.node: %q is also in a half", bridge)
	}
	for i, s := range side {
		if s == 0 && int32(i) != br[0] {
			return fmt.Errorf("bridge: node %q is in neither half", w.procs[i].id)
		}
	}
	for x := 0; x < w.net.n; x++ {
		for y := 0; y < w.net.n; y++ {
			w.net.links[x*w.net.n+y].blocked = side[x] != 0 && side[y] != 0 && side[x] != side[y]
		}
	}
	w.stats.Partitions++
	w.traceFault(fmt.Sprintf("partition %s %v <%s> %v", PartitionBridge, a, bridge, b))
	return nil
}

// Heal removes every partition.
func (w *World) Heal() {
	for i := range w.net.links {
		w.net.links[i].blocked = false
	}
	w.traceFault("heal")
}

// Clog adds delay to every message sent from `from` to `to` during the next
// window of virtual time: a delay spike on one link.
func (w *World) Clog(from, to nodes.NodeID, delay, window time.Duration) error {
	idx, err := w.indices("clog", []nodes.NodeID{from, to})
	if err != nil {
		return err
	}
	if delay < 0 || window < 0 {
		return fmt.Errorf("clog %s->%s: negative delay %v or window %v", from, to, delay, window)
	}
	l := w.net.link(idx[0], idx[1])
	l.clogUntil = w.now + window
	l.clogDelay = delay
	w.traceFault(fmt.Sprintf("clog %s->%s +%v for %v", from, to, delay, window))
	return nil
}

// SetLink changes the behaviour of the directed link from -> to.
func (w *World) SetLink(from, to nodes.NodeID, cfg LinkConfig) error {
	idx, err := w.indices("link", []nodes.NodeID{from, to})
	if err != nil {
		return err
	}
	if err := cfg.Validate(fmt.Sprintf("link[%s->%s]", from, to)); err != nil {
		return err
	}
	w.net.link(idx[0], idx[1]).cfg = cfg
	w.traceFault(fmt.Sprintf("link %s->%s %+v", from, to, cfg))
	return nil
}

// SetNetwork changes the behaviour of every link.
func (w *World) SetNetwork(cfg LinkConfig) error {
	if err := cfg.Validate("network"); err != nil {
		return err
	}
	for i := range w.net.links {
		w.net.links[i].cfg = cfg
	}
	w.traceFault(fmt.Sprintf("network %+v", cfg))
	return nil
}

// Link returns the current configuration of the link from -> to.
func (w *World) Link(from, to nodes.NodeID) (LinkConfig, error) {
	idx, err := w.indices("link", []nodes.NodeID{from, to})
	if err != nil {
		return LinkConfig{}, err
	}
	return w.net.link(idx[0], idx[1]).cfg, nil
}
