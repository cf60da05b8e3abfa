package caches

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/internal/reliable"
	"github.com/distsync/distsync/nodes/wire"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/mesi"
)

// Protocol names accepted by Config.Protocol.
const (
	ProtocolDirectory = "directory"
	ProtocolBroadcast = "broadcast"
)

// Defaults and bounds of Config.
const (
	DefaultCapacity      = 64
	DefaultTick          = 10 * time.Millisecond
	DefaultMaxValueBytes = 1 << 20
	// MaxNodes bounds Config.Nodes.
	MaxNodes = 1024
	// MaxCapacity bounds Config.Capacity.
	MaxCapacity = 1 << 20
	// MaxValueBytesLimit bounds Config.MaxValueBytes (a value must fit one
	// wire string of a Request).
	MaxValueBytesLimit = wire.MaxStringBytes
)

// Config configures a cache node. Every node of a cluster must use the
// same configuration.
type Config struct {
	// Nodes lists every cache node (kept sorted); in directory mode they
	// are the homes too, placed by a consistent-hash ring.
	Nodes []nodes.NodeID
	// Memory is the memory node (broadcast mode only, required there; not
	// one of Nodes): it runs this same Server, in memory role.
	Memory nodes.NodeID
	// Protocol is "directory" (the default) or "broadcast".
	Protocol string
	// WriteThrough makes every put reach memory before it completes.
	WriteThrough bool
	// Capacity is the number of lines each node caches (default 64).
	Capacity int
	// VNodes is the number of virtual nodes per node on the ring of homes
	// (default 150).
	VNodes int
	// Tick is how often the reliable streams retransmit and ack (default
	// 10ms); their retransmission timeout is 10*Tick.
	Tick time.Duration
	// MaxValueBytes bounds a put's value (default 1 MiB, at most
	// MaxValueBytesLimit).
	MaxValueBytes int
	// DisableGroupCommit makes a node persist and sync the keys an event
	// dirtied at the end of that event, before sending what it caused. By
	// default it defers that, and everything the event would send, to a
	// flush timer of 1ns, which the runtime fires after the events already
	// waiting for the node: the keys dirtied by all of them are persisted
	// with one fsync (group commit), and their messages and replies sent
	// after it.
	DisableGroupCommit bool
	// Observer, if not nil, watches every node.
	Observer Observer
}

// Observer watches what the cache nodes do; the simulator's checkers use
// it.
type Observer interface {
	// Started: node id boots (or reboots), after it recovered its durable
	// state.
	Started(id nodes.NodeID)
	// Completed: node id completed a client operation.
	Completed(id nodes.NodeID, c mesi.Completion)
	// Lost: node id's cache side crashed (a peer restarted) while it held
	// these keys in M: their last writes are gone in write-back mode.
	Lost(id nodes.NodeID, keys []string)
}

// withDefaults validates c and fills its defaults; errors name the field
// and its value.
func (c Config) withDefaults() (Config, error) {
	if len(c.Nodes) == 0 || len(c.Nodes) > MaxNodes {
		return c, fmt.Errorf("caches config: nodes: %d listed, want 1..%d", len(c.Nodes), MaxNodes)
	}
	for i, id := range c.Nodes {
		if err := id.Validate(); err != nil {
			return c, fmt.Errorf("caches config: nodes[%d]: %w", i, err)
		}
	}
	c.Nodes = slices.Clone(c.Nodes)
	slices.Sort(c.Nodes)
	for i := 1; i < len(c.Nodes); i++ {
		if c.Nodes[i] == c.Nodes[i-1] {
			return c, fmt.Errorf("caches config: nodes: %q listed twice", c.Nodes[i])
		}
	}
	if c.Protocol == "" {
		c.Protocol = ProtocolDirectory
	}
	switch c.Protocol {
	case ProtocolDirectory:
		if c.Memory != "" {
			return c, fmt.Errorf("caches config: memory: %q set, but protocol %q has no memory node", c.Memory, c.Protocol)
		}
	case ProtocolBroadcast:
		if c.Memory == "" {
			return c, fmt.Errorf("caches config: memory: empty, but protocol %q needs a memory node", c.Protocol)
		}
		if err := c.Memory.Validate(); err != nil {
			return c, fmt.Errorf("caches config: memory: %w", err)
		}
		if _, ok := slices.BinarySearch(c.Nodes, c.Memory); ok {
			return c, fmt.Errorf("caches config: memory: %q is also one of nodes", c.Memory)
		}
	default:
		return c, fmt.Errorf("caches config: protocol: %q unknown, want %q or %q", c.Protocol, ProtocolDirectory, ProtocolBroadcast)
	}
	c.Capacity = orDefault(c.Capacity, DefaultCapacity)
	c.VNodes = orDefault(c.VNodes, hashring.DefaultVNodes)
	c.Tick = orDefault(c.Tick, DefaultTick)
	c.MaxValueBytes = orDefault(c.MaxValueBytes, DefaultMaxValueBytes)
	switch {
	case c.Capacity < 1 || c.Capacity > MaxCapacity:
		return c, fmt.Errorf("caches config: capacity: %d not in [1, %d]", c.Capacity, MaxCapacity)
	case c.VNodes < 1 || c.VNodes > hashring.MaxVNodes:
		return c, fmt.Errorf("caches config: vnodes: %d not in [1, %d]", c.VNodes, hashring.MaxVNodes)
	case c.Tick < 0 || 10*c.Tick > reliable.MaxRTO:
		return c, fmt.Errorf("caches config: tick: %v not in (0, %v]", c.Tick, reliable.MaxRTO/10)
	case c.MaxValueBytes < 0 || c.MaxValueBytes > MaxValueBytesLimit:
		return c, fmt.Errorf("caches config: max_value_bytes: %d not in [1, %d]", c.MaxValueBytes, MaxValueBytesLimit)
	}
	return c, nil
}

// members returns every node of the cluster, sorted: Nodes and, in
// broadcast mode, Memory.
func (c Config) members() []nodes.NodeID {
	all := slices.Clone(c.Nodes)
	if c.Memory != "" {
		all = append(all, c.Memory)
		slices.Sort(all)
	}
	return all
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
