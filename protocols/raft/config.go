package raft

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// ReadOnlyOption chooses how ReadIndex confirms leadership.
type ReadOnlyOption uint8

const (
	// ReadOnlySafe confirms leadership for every read with a heartbeat
	// round acknowledged by a quorum. Linearizable whatever the clocks do.
	ReadOnlySafe ReadOnlyOption = iota
	// ReadOnlyLeaseBased answers reads from the leader alone while its
	// lease is valid: a quorum acknowledged a heartbeat sent less than
	// ElectionTicks-1 of the leader's ticks ago, and followers refuse to
	// vote within ElectionTicks of hearing from a leader (leader
	// stickiness, so CheckQuorum is required). It saves a round trip but is
	// UNSAFE when clocks drift: a leader whose ticks run slow keeps a lease
	// that the followers already consider expired, and may serve stale
	// reads while a new leader commits writes. When the lease is not valid
	// the read falls back to the safe heartbeat round.
	ReadOnlyLeaseBased
)

// String returns the option's name.
func (o ReadOnlyOption) String() string {
	switch o {
	case ReadOnlySafe:
		return "safe"
	case ReadOnlyLeaseBased:
		return "lease-based"
	}
	return fmt.Sprintf("read-only(%d)", uint8(o))
}

// Config parameterizes a RawNode. Every bound is explicit; DefaultConfig
// fills in the values used by distsync's nodes.
type Config struct {
	// ID is this node's id. It must be one of Peers.
	ID NodeID
	// Peers lists every voting member, this node included. Membership is
	// fixed: the list must be the same on every node, forever.
	Peers []NodeID

	// ElectionTicks is the minimum election timeout, in ticks. A follower
	// that hears nothing from a leader for a randomized timeout in
	// [ElectionTicks, MaxElectionTicks) campaigns. It is also the window
	// of CheckQuorum, of leader stickiness and of a leadership transfer.
	ElectionTicks int
	// MaxElectionTicks is the exclusive upper bound of the randomized
	// election timeout. Zero means 2*ElectionTicks, as in etcd.
	MaxElectionTicks int
	// HeartbeatTicks is the interval between a leader's heartbeats. It
	// must be less than ElectionTicks.
	HeartbeatTicks int
	// Rand draws the randomized election timeouts. The node passes its
	// seeded Env.Rand(), which makes runs reproducible.
	Rand *rand.Rand

	// PreVote makes a node ask "would you vote for me?" before
	// incrementing its term, so a partitioned node rejoining does not
	// disrupt the cluster with a higher term.
	PreVote bool
	// CheckQuorum makes a leader step down when it has not heard from a
	// quorum within ElectionTicks, and makes followers that heard from a
	// leader within ElectionTicks ignore vote requests (leader
	// stickiness).
	CheckQuorum bool
	// ReadOnly chooses how ReadIndex confirms leadership.
	ReadOnly ReadOnlyOption
	// DisableProposalForwarding makes Propose on a follower fail with
	// ErrProposalDropped instead of forwarding the command to the leader.
	DisableProposalForwarding bool

	// MaxSizePerMsg bounds the encoded bytes of entries in one append
	// message (one entry is always allowed, whatever its size).
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the append messages sent to one follower and
	// not yet acknowledged (pipelining window).
	MaxInflightMsgs int
	// MaxInflightBytes bounds the entry bytes sent to one follower and not
	// yet acknowledged. It must be at least MaxSizePerMsg.
	MaxInflightBytes uint64
	// MaxUncommittedBytes bounds the payload bytes a leader holds in
	// uncommitted entries; Propose returns ErrProposalDropped beyond it
	// (a single proposal is always accepted when nothing is uncommitted).
	MaxUncommittedBytes uint64
	// MaxCommittedBytesPerReady bounds the payload bytes of
	// Ready.CommittedEntries (at least one entry is always returned).
	MaxCommittedBytesPerReady uint64
	// CompactionOverhead is the number of entries Compact keeps before the
	// snapshot index, so slow followers can catch up from the log instead
	// of receiving a snapshot.
	CompactionOverhead uint64

	// Logf, if not nil, receives one line per role change, for traces.
	Logf func(format string, args ...any)
}

// Defaults used by DefaultConfig. The node ticks every 10 ms, so elections
// time out after 150-300 ms and heartbeats go out every 50 ms.
const (
	DefaultElectionTicks             = 15
	DefaultHeartbeatTicks            = 5
	DefaultMaxSizePerMsg             = 1 << 20
	DefaultMaxInflightMsgs           = 256
	DefaultMaxInflightBytes          = 32 << 20
	DefaultMaxUncommittedBytes       = 64 << 20
	DefaultMaxCommittedBytesPerReady = 16 << 20
	DefaultCompactionOverhead        = 5000
)

// MaxPeers bounds the group size; Raft groups are small.
const MaxPeers = 64

// DefaultConfig returns the configuration distsync's nodes use: default
// timeouts and limits, PreVote and CheckQuorum on, safe reads.
func DefaultConfig(id NodeID, peers []NodeID, rng *rand.Rand) Config {
	return Config{
		ID:                        id,
		Peers:                     slices.Clone(peers),
		ElectionTicks:             DefaultElectionTicks,
		HeartbeatTicks:            DefaultHeartbeatTicks,
		Rand:                      rng,
		PreVote:                   true,
		CheckQuorum:               true,
		ReadOnly:                  ReadOnlySafe,
		MaxSizePerMsg:             DefaultMaxSizePerMsg,
		MaxInflightMsgs:           DefaultMaxInflightMsgs,
		MaxInflightBytes:          DefaultMaxInflightBytes,
		MaxUncommittedBytes:       DefaultMaxUncommittedBytes,
		MaxCommittedBytesPerReady: DefaultMaxCommittedBytesPerReady,
		CompactionOverhead:        DefaultCompactionOverhead,
	}
}

// Validate reports every problem of c at once, each naming the field and
// its value. The errors wrap ErrInvalidConfig.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...))
	}
	c.validateIdentity(bad)
	c.validateTicks(bad)
	c.validateLimits(bad)
	if c.Rand == nil {
		bad("Rand is nil (pass the node's seeded Env.Rand())")
	}
	if c.ReadOnly > ReadOnlyLeaseBased {
		bad("ReadOnly %d is not ReadOnlySafe or ReadOnlyLeaseBased", c.ReadOnly)
	}
	if c.ReadOnly == ReadOnlyLeaseBased && !c.CheckQuorum {
		bad("ReadOnly %s requires CheckQuorum (leases rely on leader stickiness)", c.ReadOnly)
	}
	return errors.Join(errs...)
}

func (c *Config) validateIdentity(bad func(string, ...any)) {
	if err := c.ID.Validate(); err != nil {
		bad("ID: %v", err)
	}
	if len(c.Peers) == 0 {
		bad("Peers is empty")
	}
	if len(c.Peers) > MaxPeers {
		bad("Peers has %d members, more than %d", len(c.Peers), MaxPeers)
	}
	seen := make(map[NodeID]bool, len(c.Peers))
	for i, p := range c.Peers {
		if err := p.Validate(); err != nil {
			bad("Peers[%d]: %v", i, err)
		}
		if seen[p] {
			bad("Peers[%d] %q is a duplicate", i, string(p))
		}
		seen[p] = true
	}
	if c.ID != "" && !seen[c.ID] {
		bad("ID %q is not in Peers %v", string(c.ID), c.Peers)
	}
}

func (c *Config) validateTicks(bad func(string, ...any)) {
	if c.ElectionTicks <= 0 {
		bad("ElectionTicks %d must be positive", c.ElectionTicks)
	}
	if c.HeartbeatTicks <= 0 {
		bad("HeartbeatTicks %d must be positive", c.HeartbeatTicks)
	}
	if c.ElectionTicks > 0 && c.HeartbeatTicks >= c.ElectionTicks {
		bad("HeartbeatTicks %d must be less than ElectionTicks %d", c.HeartbeatTicks, c.ElectionTicks)
	}
	if c.MaxElectionTicks != 0 && c.MaxElectionTicks <= c.ElectionTicks {
		bad("MaxElectionTicks %d must be greater than ElectionTicks %d (or 0 for 2*ElectionTicks)", c.MaxElectionTicks, c.ElectionTicks)
	}
	if c.MaxElectionTicks < 0 {
		bad("MaxElectionTicks %d is negative", c.MaxElectionTicks)
	}
}

func (c *Config) validateLimits(bad func(string, ...any)) {
	if c.MaxSizePerMsg == 0 {
		bad("MaxSizePerMsg %d must be positive", c.MaxSizePerMsg)
	}
	if c.MaxInflightMsgs <= 0 {
		bad("MaxInflightMsgs %d must be positive", c.MaxInflightMsgs)
	}
	if c.MaxInflightMsgs > MaxInflightMsgsLimit {
		bad("MaxInflightMsgs %d exceeds %d", c.MaxInflightMsgs, MaxInflightMsgsLimit)
	}
	if c.MaxInflightBytes < c.MaxSizePerMsg {
		bad("MaxInflightBytes %d must be at least MaxSizePerMsg %d", c.MaxInflightBytes, c.MaxSizePerMsg)
	}
	if c.MaxUncommittedBytes == 0 {
		bad("MaxUncommittedBytes %d must be positive", c.MaxUncommittedBytes)
	}
	if c.MaxCommittedBytesPerReady == 0 {
		bad("MaxCommittedBytesPerReady %d must be positive", c.MaxCommittedBytesPerReady)
	}
}

// MaxInflightMsgsLimit bounds Config.MaxInflightMsgs, the size of each
// follower's inflight ring.
const MaxInflightMsgsLimit = 1 << 14

// maxElectionTicks returns the exclusive upper bound of the randomized
// election timeout.
func (c *Config) maxElectionTicks() int {
	if c.MaxElectionTicks != 0 {
		return c.MaxElectionTicks
	}
	return 2 * c.ElectionTicks
}
