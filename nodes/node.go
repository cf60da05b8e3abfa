// Package nodes holds the node contract of distsync: the Node and Env
// interfaces, messages and their codec, timers and the Disk a node persists
// to.
//
// Node code is a set of event handlers. It never starts a goroutine, never
// reads the wall clock, never touches a socket or a file, and never uses the
// global random source: everything comes through Env. That is what lets the
// very same node run inside the deterministic simulator (package sim) and as
// a real process over TCP (package nodes/runtime).
package nodes

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// NodeID names a node in a cluster, such as "n1". It is stable across
// restarts and is what traces, partitions and scenario files refer to.
type NodeID string

// Validate reports whether id is usable: non-empty, at most 64 bytes, and
// made only of letters, digits, '-', '_' and '.', so it can appear in traces,
// file names and URLs without escaping.
func (id NodeID) Validate() error {
	if id == "" {
		return fmt.Errorf("node id: empty")
	}
	if len(id) > 64 {
		return fmt.Errorf("node id %q: longer than 64 bytes", string(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("node id %q: byte %q at %d is not allowed", string(id), c, i)
		}
	}
	return nil
}

// Timer is what a node asks to be woken with. It is a plain value (no
// pointers), so the scheduler stores it inline in its events without
// allocating, and it reads well in a trace: Kind says what the timer is for
// ("election", "heartbeat"), Arg carries whatever the node needs to tell two
// timers of one kind apart (a request number, say).
type Timer struct {
	Kind string
	Arg  uint64
}

// String renders the timer for traces.
func (t Timer) String() string { return fmt.Sprintf("%s/%d", t.Kind, t.Arg) }

// TimerID identifies a pending timer so that it can be cancelled. IDs are
// never reused within one incarnation of a node; the zero TimerID is never
// returned, so it can mean "no timer".
type TimerID uint64

// Env is everything a node may touch. In the simulator every call is
// deterministic given the run's seed; in TCP mode the same calls reach the
// wall clock, real timers, files and sockets.
type Env interface {
	// ID returns this node's id.
	ID() NodeID
	// Peers returns every node of the cluster, this one included, sorted.
	Peers() []NodeID
	// Now returns the node's local clock: virtual in the simulator (with
	// the node's injected offset and drift), the wall clock in TCP mode.
	Now() time.Time
	// Send sends m to node to. Delivery is not guaranteed: the message may
	// be lost, delayed, duplicated or reordered; a message to an unknown
	// node is dropped (and counted). Sending to oneself is allowed and
	// goes through the network like any other message. The receiver may
	// get the very value sent (no copy is made unless the wire check is
	// on), so neither side may modify a message after sending it.
	Send(to NodeID, m Message)
	// SetTimer arranges for Fire(t) after local duration d (d >= 0).
	SetTimer(d time.Duration, t Timer) TimerID
	// CancelTimer cancels a pending timer; cancelling a fired or unknown
	// timer does nothing.
	CancelTimer(id TimerID)
	// Rand returns the node's random source, derived from the run's seed
	// in the simulator.
	Rand() *rand.Rand
	// Disk returns the node's durable storage. It survives crashes up to
	// the last Sync of each file.
	Disk() Disk
	// Logf writes a line to the trace (simulator) or the log (TCP mode).
	Logf(format string, args ...any)
}

// Node is a participant: a server of one of distsync's services, or a
// simulated client. All its methods run on one goroutine (or the
// simulator's single thread), never concurrently.
type Node interface {
	// Start boots the node. After a crash the runtime builds a fresh node
	// value and calls Start again with the same Disk, so Start is also
	// where a node recovers its durable state.
	Start(env Env)
	// Receive handles a message from another node.
	Receive(from NodeID, m Message)
	// Fire handles a timer set with Env.SetTimer.
	Fire(t Timer)
}

// Factory builds a fresh node value for id: at boot and after each crash, so
// no volatile state survives a crash.
type Factory func(id NodeID) Node
