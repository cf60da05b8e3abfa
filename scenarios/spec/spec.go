// Package spec is the scenario file format of distsync: what a scenario
// says (cluster, network, disk, workloads, a fault timeline, swarm faults
// and checks), how it is decoded from YAML strictly, and how it is
// validated before anything runs. It knows nothing of how a scenario runs;
// package scenarios compiles a Scenario into a simulated world.
//
// A scenario file:
//
//	name: leader-crash-under-load
//	description: The lock leader crashes while eight clients contend.
//	duration: 30s
//	cluster: {locks: 5}
//	network:
//	  latency: {dist: uniform, min: 1ms, max: 10ms}
//	  loss: 0.01
//	disk: {sync_latency: {dist: constant, value: 1ms}, torn_writes: 0.5}
//	workload:
//	  - {service: locks, clients: 8, rate: 200/s, resources: 16, shared: 0.3}
//	faults:
//	  - {at: 5s, crash: leader(locks), restart_after: 2s}
//	  - {at: 12s, partition: [[n1, n2], [n3, n4, n5]], heal_after: 4s}
//	  - {from: 20s, to: 24s, loss: 0.3}
//	check: [raft-safety, lock-safety, linearizable, liveness]
//
// A queue scenario sizes the queue service instead (a scenario sizes one
// service for now), here with a spare node that joins the ring later:
//
//	name: queue-node-joins
//	description: A spare queue node joins the ring under load, then n1 leaves.
//	duration: 20s
//	cluster: {queues: 3, spares: 1}
//	workload:
//	  - {service: queues, clients: 6, rate: 300/s, resources: 8, produce: 0.6, poison: 0.01, dlq: 0.05, visibility: 1s, process: 5ms, payload: 64}
//	faults:
//	  - {at: 4s, join: n4}
//	  - {at: 8s, crash: leader(queues), restart_after: 1s}
//	  - {at: 12s, leave: n1}
//	check: [raft-safety, queue-safety, at-least-once, liveness]
//
// A cache scenario sizes the cache service, and may set its protocol,
// write policy and capacity in a cache section; in broadcast mode a memory
// node, mem, runs beside the cache nodes and can be faulted by name:
//
//	name: cache-memory-crash
//	description: The memory node of a broadcast cache crashes under writes.
//	duration: 20s
//	cluster: {caches: 3}
//	cache: {protocol: broadcast, write_policy: write-back, capacity: 32}
//	workload:
//	  - {service: caches, clients: 6, rate: 400/s, resources: 16, distribution: zipf, writes: 0.3, payload: 32}
//	faults:
//	  - {at: 4s, crash: mem, restart_after: 1s}
//	  - {at: 8s, crash: random(caches), restart_after: 1s}
//	  - {at: 12s, partition: [[n1, mem], [n2, n3]], heal_after: 2s}
//	check: [coherence, linearizable, liveness]
//
// Node names: the servers of the sized service are n1..nN (N is
// cluster.locks, cluster.queues or cluster.caches); a queue scenario's
// spares follow them as n(N+1)..n(N+S), and a broadcast cache scenario's
// memory node is named mem (MemoryNode). Clients are c1..cM, numbered
// across workloads in file order.
//
// Parse, Load and LoadDir decode strictly and validate (see Validate for
// the rules); every error is an *Error naming the file, the line and the
// field, and matches ErrInvalid. Marshal writes a scenario back.
package spec

import "time"

// Scenario is one parsed, validated scenario file.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Duration    Duration `yaml:"duration"`
	Cluster     Cluster  `yaml:"cluster"`
	// Cache configures the cache service (only when cluster.caches > 0;
	// nil for the defaults, see CacheProtocol, WriteThrough and
	// CacheCapacity).
	Cache    *CacheConfig `yaml:"cache,omitempty"`
	Network  Network      `yaml:"network"`
	Disk     Disk         `yaml:"disk"`
	Workload []Workload   `yaml:"workload"`
	Faults   []Fault      `yaml:"faults"`
	Check    []string     `yaml:"check"`
	Swarm    *Swarm       `yaml:"swarm,omitempty"`
	// Settle is the quiet time at the end of the run, after every fault
	// has healed, in which liveness must return (default 3s). Every fault
	// must end by Duration - Settle.
	Settle Duration `yaml:"settle,omitempty"`

	// File is the path the scenario was loaded from ("" if parsed from
	// bytes); not part of the YAML.
	File string `yaml:"-"`
}

// Duration is a time.Duration written as "1.5s", "200ms" in YAML.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Cluster sizes each service: how many server nodes run it. Zero means the
// service is absent. A scenario sizes exactly one service for now (locks,
// queues or caches). Its servers are n1..nN.
type Cluster struct {
	Locks  int `yaml:"locks,omitempty"`
	Queues int `yaml:"queues,omitempty"`
	Caches int `yaml:"caches,omitempty"`
	// Spares (queues only) are extra queue nodes n(N+1)..n(N+S), N being
	// Queues: they run from the start but are on no ring, and own no
	// queue, until a join fault adds them. 0..MaxServers, and Queues +
	// Spares is at most MaxQueueNodes.
	Spares int `yaml:"spares,omitempty"`
}

// CacheConfig is the cache service's cluster-wide configuration (the
// scenario's cache section). Validate fills in its defaults when the
// section is present.
type CacheConfig struct {
	// Protocol is the coherence protocol: "directory" (the default; homes
	// placed on a ring of the cache nodes) or "broadcast" (snooping over
	// a memory node, MemoryNode, which runs beside the cache nodes).
	Protocol string `yaml:"protocol"`
	// WritePolicy is "write-back" (the default) or "write-through" (every
	// put reaches memory before it completes).
	WritePolicy string `yaml:"write_policy"`
	// Capacity is the number of lines each cache node holds (0 for
	// DefaultCacheCapacity; at most MaxCacheCapacity).
	Capacity int `yaml:"capacity"`
}

// CacheProtocol returns the cache's coherence protocol, "directory" when
// the scenario names none.
func (s *Scenario) CacheProtocol() string {
	if s.Cache == nil || s.Cache.Protocol == "" {
		return CacheProtocolDirectory
	}
	return s.Cache.Protocol
}

// WriteThrough reports whether the cache's write policy is write-through
// (the default is write-back).
func (s *Scenario) WriteThrough() bool {
	return s.Cache != nil && s.Cache.WritePolicy == WritePolicyWriteThrough
}

// CacheCapacity returns the lines each cache node holds,
// DefaultCacheCapacity when the scenario gives none.
func (s *Scenario) CacheCapacity() int {
	if s.Cache == nil || s.Cache.Capacity == 0 {
		return DefaultCacheCapacity
	}
	return s.Cache.Capacity
}

// Latency is a delay distribution: {dist: constant, value}, {dist: uniform,
// min, max}, {dist: normal, mean, stddev} or {dist: exponential, min,
// mean}.
type Latency struct {
	Dist   string   `yaml:"dist"`
	Value  Duration `yaml:"value,omitempty"`
	Min    Duration `yaml:"min,omitempty"`
	Max    Duration `yaml:"max,omitempty"`
	Mean   Duration `yaml:"mean,omitempty"`
	StdDev Duration `yaml:"stddev,omitempty"`
}

// Network is the default behaviour of every link.
type Network struct {
	Latency      *Latency `yaml:"latency,omitempty"`
	Loss         float64  `yaml:"loss,omitempty"`
	Duplicate    float64  `yaml:"duplicate,omitempty"`
	Reorder      float64  `yaml:"reorder,omitempty"`
	ReorderDelay Duration `yaml:"reorder_delay,omitempty"`
}

// Disk is every node's disk.
type Disk struct {
	WriteLatency *Latency `yaml:"write_latency,omitempty"`
	SyncLatency  *Latency `yaml:"sync_latency,omitempty"`
	TornWrites   float64  `yaml:"torn_writes,omitempty"`
	CorruptRead  float64  `yaml:"corrupt_read,omitempty"`
	SectorBytes  int      `yaml:"sector_bytes,omitempty"`
}

// Workload is a group of simulated clients of one service. Rate,
// Resources, Distribution and ZipfS are for every service; Shared, Hold,
// Wait and TTL only for locks; Produce, Poison, DLQ, Visibility and
// Process only for queues; Writes only for caches; and Payload for queues
// and caches (setting one on a workload of another service is an error).
type Workload struct {
	Service string `yaml:"service"` // locks, queues or caches
	Clients int    `yaml:"clients"`
	// Rate is the target operations per second of the whole group, as
	// "200/s"; clients pace themselves to it.
	Rate string `yaml:"rate,omitempty"`
	// Resources is the size of the key or resource space (required): the
	// number of locks, for queues the number of queues, q0..q(N-1), and
	// for caches the number of keys, k0..k(N-1).
	Resources int `yaml:"resources,omitempty"`
	// Distribution picks keys (their popularity): uniform (default) or
	// zipf.
	Distribution string  `yaml:"distribution,omitempty"`
	ZipfS        float64 `yaml:"zipf_s,omitempty"`
	// Locks: the fraction of shared acquires, how long a lock is held, how
	// an acquire waits (none, forever, or a duration up to 10m; empty for
	// the client's default), the session TTL (up to 60s; 0 for the
	// default).
	Shared float64  `yaml:"shared,omitempty"`
	Hold   Duration `yaml:"hold,omitempty"`
	Wait   string   `yaml:"wait,omitempty"`
	TTL    Duration `yaml:"ttl,omitempty"`

	// Queues: Produce is the probability that an operation is an enqueue
	// (the rest are dequeues, each followed by an ack or a nack); nil
	// means DefaultProduce, which Validate fills in, and 0 is a
	// consumers-only workload (see ProduceOrDefault).
	Produce *float64 `yaml:"produce,omitempty"`
	// Poison is the probability that an enqueued message is poison:
	// consumers nack it every time, so it ends in the dead-letter queue.
	Poison float64 `yaml:"poison,omitempty"`
	// DLQ is the probability that a dequeue reads a dead-letter queue
	// (whose messages are acked), so poison messages are drained too.
	DLQ float64 `yaml:"dlq,omitempty"`
	// Visibility is the visibility timeout a dequeue asks for: a message
	// not acked that long after its delivery is delivered again (0 for
	// the client's default; at most MaxVisibility).
	Visibility Duration `yaml:"visibility,omitempty"`
	// Process is the mean time a consumer works on a message before it
	// acks it (0 for the client's default; at most the scenario's
	// duration). Above Visibility, consumers are slow and their messages
	// are redelivered to others.
	Process Duration `yaml:"process,omitempty"`
	// Payload is the size in bytes of each message's payload (queues) or
	// of each value put (caches): 0 for the client's default; at most
	// MaxPayload.
	Payload int `yaml:"payload,omitempty"`

	// Caches: Writes is the probability that an operation is a put (the
	// rest are gets); nil means DefaultWrites, which Validate fills in,
	// and 0 is a read-only workload (see WritesOrDefault).
	Writes *float64 `yaml:"writes,omitempty"`
}

// WritesOrDefault returns the workload's Writes, or DefaultWrites when it
// has none.
func (w Workload) WritesOrDefault() float64 {
	if w.Writes == nil {
		return DefaultWrites
	}
	return *w.Writes
}

// ProduceOrDefault returns the workload's Produce, or DefaultProduce when
// it has none.
func (w Workload) ProduceOrDefault() float64 {
	if w.Produce == nil {
		return DefaultProduce
	}
	return *w.Produce
}

// Fault is one entry of the fault timeline. Exactly one trigger (At, or
// From/To for windows, or On) and exactly one action are set; loss,
// duplicate and reorder together count as one action (a network window).
// A fault that does not end by itself (a crash without restart_after, a
// partition without heal_after, a clock or disk fault without for) lasts
// until the settle phase, when the runner heals everything but the ring:
// joins and leaves are never undone.
type Fault struct {
	// Triggers.
	At   *Duration `yaml:"at,omitempty"`
	From *Duration `yaml:"from,omitempty"`
	To   *Duration `yaml:"to,omitempty"`
	On   *Trigger  `yaml:"on,omitempty"`

	// Process faults. A target is a node name or a role selector:
	// leader(locks), follower(locks), random(locks); caches have no
	// leader, so only random(caches) selects among them (never mem, which
	// is named). Restart takes a node
	// name, or the selector of an earlier crash (it restarts what that
	// crash took down); Resume takes a node name. A restart needs an
	// earlier crash, a resume an earlier pause.
	Crash        string    `yaml:"crash,omitempty"`
	RestartAfter *Duration `yaml:"restart_after,omitempty"`
	Restart      string    `yaml:"restart,omitempty"`
	Pause        string    `yaml:"pause,omitempty"`
	ResumeAfter  *Duration `yaml:"resume_after,omitempty"`
	Resume       string    `yaml:"resume,omitempty"`

	// Ring changes, for queue scenarios only (cluster.queues > 0): Join
	// adds a queue node to the ring, Leave removes one, each making a new
	// ring epoch whose queues move to their new owners. Both take a node
	// name (a spare, say, or a node that left), not a selector, and are
	// instantaneous: triggered with at or on, never from/to. The settle
	// phase does not undo them; the ring stays as the last change left
	// it. A join of a node already on the ring, a leave of one not on it
	// and a leave of the ring's last node are errors.
	Join  string `yaml:"join,omitempty"`
	Leave string `yaml:"leave,omitempty"`

	// Network faults. Partition cuts every link between two of its
	// groups (two or more, of node names); nodes in no group keep talking
	// to every node. OneWay and Isolate (a node or a selector) cut links
	// the same way. HealAfter heals every partition that long after.
	Partition [][]string `yaml:"partition,omitempty"`
	OneWay    *OneWay    `yaml:"one_way,omitempty"`
	Isolate   string     `yaml:"isolate,omitempty"`
	Bridge    *Bridge    `yaml:"bridge,omitempty"`
	HealAfter *Duration  `yaml:"heal_after,omitempty"`
	Heal      bool       `yaml:"heal,omitempty"`
	// Windows (with From/To, or At or On plus For): loss, duplication and
	// reordering on all links, or on Link only; and clogs, which need a
	// window too.
	Loss      *float64  `yaml:"loss,omitempty"`
	Duplicate *float64  `yaml:"duplicate,omitempty"`
	Reorder   *float64  `yaml:"reorder,omitempty"`
	Link      *Link     `yaml:"link,omitempty"`
	Clog      *Clog     `yaml:"clog,omitempty"`
	For       *Duration `yaml:"for,omitempty"`

	// Clock faults.
	Skew  *Skew  `yaml:"skew,omitempty"`
	Drift *Drift `yaml:"drift,omitempty"`

	// Disk faults (for a window with For, or until the end).
	DiskFault *DiskFault `yaml:"disk,omitempty"`

	// Line is the fault's line in its file, for messages; not YAML.
	Line int `yaml:"-"`
}

// Trigger fires a fault on an event instead of at a time, once, at the
// first moment after After when its condition holds.
type Trigger struct {
	// Event is "leader-elected" (the first time a leader of Service is
	// elected after After; Service defaults to the service the scenario
	// sizes, and for queues it is the leader of queue q0's group, as in
	// leader(queues); caches have no leader, so not for them) or "" with
	// Ops set.
	Event   string   `yaml:"event,omitempty"`
	Service string   `yaml:"service,omitempty"`
	After   Duration `yaml:"after,omitempty"`
	// Ops fires after that many client operations completed.
	Ops int `yaml:"ops,omitempty"`
}

// OneWay drops messages from From to To.
type OneWay struct {
	From []string `yaml:"from"`
	To   []string `yaml:"to"`
}

// Bridge splits nodes into halves A and B that talk only through Node.
// Every server is in A, in B or is Node; clients need not be placed (they
// keep talking to every node).
type Bridge struct {
	A    []string `yaml:"a"`
	Node string   `yaml:"node"`
	B    []string `yaml:"b"`
}

// Link names one directed link.
type Link struct {
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Clog adds Delay to messages on a link for the fault's For window.
type Clog struct {
	From  string   `yaml:"from"`
	To    string   `yaml:"to"`
	Delay Duration `yaml:"delay"`
}

// Skew jumps a node's clock by Offset, which may be negative (the only
// Duration that may).
type Skew struct {
	Node   string   `yaml:"node"`
	Offset Duration `yaml:"offset"`
}

// Drift makes a node's clock run at (1+Rate) times real speed; Rate is in
// [-0.5, 0.5].
type Drift struct {
	Node string  `yaml:"node"`
	Rate float64 `yaml:"rate"`
}

// DiskFault changes one node's disk (a node name or a selector):
// TornWrites and CorruptRead are probabilities, SlowSync a factor of at
// least 1 by which syncs slow down (0 leaves them alone).
type DiskFault struct {
	Node        string  `yaml:"node"`
	TornWrites  float64 `yaml:"torn_writes,omitempty"`
	CorruptRead float64 `yaml:"corrupt_read,omitempty"`
	SlowSync    float64 `yaml:"slow_sync,omitempty"`
}

// Swarm asks for random faults: per seed, each listed kind is switched on
// or off and its rate drawn from the given ranges (FoundationDB's and
// TigerBeetle's swarm testing).
type Swarm struct {
	// Faults are the kinds the seed may switch on: crash, partition,
	// pause, clog, loss, duplicate, reorder, clock, disk.
	Faults []string `yaml:"faults"`
	// Every is the range the mean time between faults is drawn from.
	Every Range `yaml:"every"`
	// Loss, Duplicate and Reorder are the ranges of the background
	// probabilities drawn per seed (when those kinds are on).
	Loss      *FloatRange `yaml:"loss,omitempty"`
	Duplicate *FloatRange `yaml:"duplicate,omitempty"`
	Reorder   *FloatRange `yaml:"reorder,omitempty"`
}

// Range is a range of durations.
type Range struct {
	Min Duration `yaml:"min"`
	Max Duration `yaml:"max"`
}

// FloatRange is a range of probabilities.
type FloatRange struct {
	Min float64 `yaml:"min"`
	Max float64 `yaml:"max"`
}

// Checks a scenario may ask for. Liveness suits every service;
// raft-safety needs locks or queues (the cache service runs no Raft);
// lock-safety needs cluster.locks > 0; linearizable cluster.locks or
// cluster.caches > 0; queue-safety and at-least-once cluster.queues > 0;
// coherence cluster.caches > 0.
const (
	// CheckRaftSafety checks Raft's safety properties after every event.
	CheckRaftSafety = "raft-safety"
	// CheckLockSafety checks the lock table's invariants after every
	// event (locks only).
	CheckLockSafety = "lock-safety"
	// CheckLinearizable checks the clients' history for linearizability
	// at the end (locks and caches; needs a workload). For caches it is
	// per-key linearizability of the get/put history.
	CheckLinearizable = "linearizable"
	// CheckLiveness checks that the service recovers in the settle phase.
	CheckLiveness = "liveness"
	// CheckQueueSafety checks after every event (queues only): Raft
	// safety of every queue group, the queue state machine's invariants
	// on every replica, that replicas' states are equal at equal indexes,
	// and that no message is delivered after a successful ack of it.
	CheckQueueSafety = "queue-safety"
	// CheckAtLeastOnce checks at the end, after the settle phase in which
	// producers stop and consumers drain (queues only; needs a
	// workload): every acknowledged enqueue was delivered at least once,
	// or is still held by a replica.
	CheckAtLeastOnce = "at-least-once"
	// CheckCoherence checks after every event (caches only): the
	// single-writer/multiple-reader invariant per key, and the data-value
	// invariant: every S or E copy holds the last write, and memory does
	// when no M copy exists. Writes lost with a crashed node's M lines are
	// counted, not hidden.
	CheckCoherence = "coherence"
)
