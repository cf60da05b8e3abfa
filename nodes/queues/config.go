package queues

import (
	"fmt"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/hashring"
	"github.com/distsync/distsync/protocols/queue"
	"github.com/distsync/distsync/protocols/raft"
	"github.com/distsync/distsync/protocols/wal"
)

// Config configures a queue node. Every node of a cluster must use the same
// Servers, VNodes, Hash, Replicas and Queue settings.
type Config struct {
	// Servers is the ring at epoch 0: the queue nodes the cluster starts
	// with. Joins and leaves come later as RingUpdates.
	Servers []nodes.NodeID
	// VNodes is the number of virtual nodes per node (default 150).
	VNodes int
	// Hash names the ring's hash: "md5" (default, the original design's)
	// or "xxhash".
	Hash string
	// Replicas is R, the size of each queue's Raft group: the first R nodes
	// of the queue's preference list (default 3, capped by the ring size).
	Replicas int
	// Tick is one Raft tick (default 10ms; elections in 150-300ms).
	Tick time.Duration
	// ElectionTicks and HeartbeatTicks override Raft's defaults if set.
	ElectionTicks, HeartbeatTicks int
	// VisibilityCheck is how often a group's leader proposes a Tick that
	// expires overdue deliveries (default 100ms): a delivery becomes ready
	// again within this long after its deadline.
	VisibilityCheck time.Duration
	// SnapshotEvery is how many applied entries of a group trigger its
	// snapshot (default 10,000).
	SnapshotEvery uint64
	// CompactBytes is how large the log may grow before it is rewritten
	// with only the live groups' snapshots and recent entries (default 64
	// MiB).
	CompactBytes int64
	// MaxGroups bounds the groups one node hosts (default 4096); a request
	// that would create one more is answered busy.
	MaxGroups int
	// DisableGroupCommit syncs after every event instead of once for all
	// the events already waiting (see nodes/locks.Config).
	DisableGroupCommit bool
	// Queue bounds each group's state machine (its IDPrefix is set per
	// group).
	Queue queue.Config
	// Observer, if not nil, is told what every group applies.
	Observer Observer
}

// Observer watches what a node's groups do; the simulator's checkers use
// it.
type Observer interface {
	// Started: node id boots (or reboots), before it recovers anything.
	Started(id nodes.NodeID)
	// Applied: group g on node id applied entry e; mgr is its state after.
	Applied(id nodes.NodeID, g GroupID, e raft.Entry, mgr *queue.Manager)
	// Restored: group g on node id replaced its state by a snapshot.
	Restored(id nodes.NodeID, g GroupID, snap raft.Snapshot, mgr *queue.Manager)
	// Dropped: node id deleted its replica of group g (the queue moved).
	Dropped(id nodes.NodeID, g GroupID)
}

// Defaults of Config.
const (
	DefaultReplicas        = 3
	DefaultTick            = 10 * time.Millisecond
	DefaultVisibilityCheck = 100 * time.Millisecond
	DefaultSnapshotEvery   = 10000
	DefaultCompactBytes    = 64 << 20
	DefaultMaxGroups       = 4096
)

// walOptions sizes a queue node's log: a group snapshot must fit a record.
var walOptions = wal.Options{Prefix: "queues", SegmentBytes: 16 << 20, MaxRecordBytes: 64 << 20}

// withDefaults validates c and fills its defaults; errors name the field.
func (c Config) withDefaults() (Config, hashring.Hash, error) {
	if len(c.Servers) == 0 || len(c.Servers) > MaxMembers {
		return c, nil, fmt.Errorf("queues config: servers: %d, want 1..%d", len(c.Servers), MaxMembers)
	}
	for i, id := range c.Servers {
		if err := id.Validate(); err != nil {
			return c, nil, fmt.Errorf("queues config: servers[%d]: %w", i, err)
		}
	}
	c.Servers = slices.Clone(c.Servers)
	slices.Sort(c.Servers)
	if i := duplicateAt(c.Servers); i >= 0 {
		return c, nil, fmt.Errorf("queues config: servers: %q listed twice", c.Servers[i])
	}
	if c.Hash == "" {
		c.Hash = "md5"
	}
	h, err := hashring.HashByName(c.Hash)
	if err != nil {
		return c, nil, fmt.Errorf("queues config: hash: %w", err)
	}
	if c.VNodes == 0 {
		c.VNodes = hashring.DefaultVNodes
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	for _, f := range []struct {
		name string
		bad  bool
	}{
		{"vnodes", c.VNodes < 1 || c.VNodes > hashring.MaxVNodes},
		{"replicas", c.Replicas < 1 || c.Replicas > raft.MaxPeers},
		{"tick", c.Tick < 0},
		{"visibility_check", c.VisibilityCheck < 0},
		{"compact_bytes", c.CompactBytes < 0},
		{"max_groups", c.MaxGroups < 0},
		{"queue.max_payload", c.Queue.MaxPayload < 0 || c.Queue.MaxPayload > queue.MaxWirePayload},
	} {
		if f.bad {
			return c, nil, fmt.Errorf("queues config: %s: out of range in %+v", f.name, c)
		}
	}
	c.Tick = orDefault(c.Tick, DefaultTick)
	c.VisibilityCheck = orDefault(c.VisibilityCheck, DefaultVisibilityCheck)
	c.SnapshotEvery = orDefault(c.SnapshotEvery, DefaultSnapshotEvery)
	c.CompactBytes = orDefault(c.CompactBytes, DefaultCompactBytes)
	c.MaxGroups = orDefault(c.MaxGroups, DefaultMaxGroups)
	if c.Queue.MaxPayload == 0 {
		c.Queue.MaxPayload = queue.DefaultMaxPayload
	}
	maxBytes := orDefault(c.Queue.MaxBytes, queue.DefaultMaxBytes)
	if maxBytes < int64(c.Queue.MaxPayload) || c.Queue.MaxMessages < 0 || c.Queue.MaxClients < 0 || c.Queue.DedupWindow < 0 {
		return c, nil, fmt.Errorf("queues config: queue: max_bytes %d below max_payload %d, or a negative bound in %+v", maxBytes, c.Queue.MaxPayload, c.Queue)
	}
	return c, h, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func duplicateAt(sorted []nodes.NodeID) int {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return i
		}
	}
	return -1
}
