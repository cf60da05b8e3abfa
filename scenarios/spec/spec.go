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
// Node names: lock servers are n1..nN, clients c1..cM (numbered across
// workloads in file order).
//
// Parse, Load and LoadDir decode strictly and validate (see Validate for
// the rules); every error is an *Error naming the file, the line and the
// field, and matches ErrInvalid. Marshal writes a scenario back.
package spec

import "time"

// Scenario is one parsed, validated scenario file.
type Scenario struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Duration    Duration   `yaml:"duration"`
	Cluster     Cluster    `yaml:"cluster"`
	Network     Network    `yaml:"network"`
	Disk        Disk       `yaml:"disk"`
	Workload    []Workload `yaml:"workload"`
	Faults      []Fault    `yaml:"faults"`
	Check       []string   `yaml:"check"`
	Swarm       *Swarm     `yaml:"swarm,omitempty"`
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
// service is absent.
type Cluster struct {
	Locks  int `yaml:"locks"`
	Queues int `yaml:"queues,omitempty"`
	Caches int `yaml:"caches,omitempty"`
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

// Workload is a group of simulated clients of one service.
type Workload struct {
	Service string `yaml:"service"` // locks (queues and caches come later)
	Clients int    `yaml:"clients"`
	// Rate is the target operations per second of the whole group, as
	// "200/s"; clients pace themselves to it.
	Rate string `yaml:"rate,omitempty"`
	// Resources is the size of the key or resource space (required).
	Resources int `yaml:"resources,omitempty"`
	// Distribution picks keys: uniform (default) or zipf.
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
}

// Fault is one entry of the fault timeline. Exactly one trigger (At, or
// From/To for windows, or On) and exactly one action are set; loss,
// duplicate and reorder together count as one action (a network window).
// A fault that does not end by itself (a crash without restart_after, a
// partition without heal_after, a clock or disk fault without for) lasts
// until the settle phase, when the runner heals everything.
type Fault struct {
	// Triggers.
	At   *Duration `yaml:"at,omitempty"`
	From *Duration `yaml:"from,omitempty"`
	To   *Duration `yaml:"to,omitempty"`
	On   *Trigger  `yaml:"on,omitempty"`

	// Process faults. A target is a node name or a role selector:
	// leader(locks), follower(locks), random(locks). Restart takes a node
	// name, or the selector of an earlier crash (it restarts what that
	// crash took down); Resume takes a node name. A restart needs an
	// earlier crash, a resume an earlier pause.
	Crash        string    `yaml:"crash,omitempty"`
	RestartAfter *Duration `yaml:"restart_after,omitempty"`
	Restart      string    `yaml:"restart,omitempty"`
	Pause        string    `yaml:"pause,omitempty"`
	ResumeAfter  *Duration `yaml:"resume_after,omitempty"`
	Resume       string    `yaml:"resume,omitempty"`

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
	// elected after After; Service defaults to locks) or "" with Ops set.
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

// Checks a scenario may ask for.
const (
	CheckRaftSafety   = "raft-safety"
	CheckLockSafety   = "lock-safety"
	CheckLinearizable = "linearizable"
	CheckLiveness     = "liveness"
)
